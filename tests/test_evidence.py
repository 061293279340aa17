"""Each answer mechanism on small synthetic texts with a stand-in embedder (milliseconds, no index):
typed extractors, the query plan, evidence features, the decision (abstention, current facts),
the stored model file, and the fitting helpers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pytest

from indexer.settings import Settings, get_settings
from searchapi.answers.answerer import decide
from searchapi.answers.extract import asked_type, matches, states
from searchapi.answers.features import FEATURES, QUESTION_FEATURES, Candidate, Featurizer, question_features
from searchapi.learning import conditional_logit
from searchapi.answers.fit import (fit_calibration, holds_evidence, signed_logistic, threshold_for,
                                   threshold_for_rate)
from searchapi.answers.model import MODEL_PATH, EvidenceModel, load_model
from searchapi.answers.plan import plan_query
from searchapi.answers.query_encoder import QueryEncoder, fit_query_encoder, query_encoder_of
from searchapi.retrieval.lexical import CorpusStats, stem
from searchapi.retrieval.query import tokens

TEXTS = [
    "The Violence Reduction Unit works with partners across the county.",
    "In 2016/17 the annual budget for policing was £313.3m.",
    "The appointment was extended to 30 September 2018.",
    "Medway has 12 speed cameras, and the county has 140.",
    "The Chief of Staff, Adrian Harper, was appointed in June 2015.",
]
TERMS = CorpusStats.from_texts(TEXTS)


def word_vector(word: str) -> np.ndarray:
    """A stand-in embedding: a unit vector seeded by the word's stem (same stem, same vector)."""
    seed = int(hashlib.md5(stem(word).encode()).hexdigest()[:8], 16)
    v = np.random.default_rng(seed).normal(size=16)
    return v / np.linalg.norm(v)


def encode_words(words: list[str]) -> np.ndarray:
    return np.vstack([word_vector(w) for w in words]) if words else np.zeros((0, 16))


def sentence_vector(text: str) -> np.ndarray:
    v = encode_words(text.split()).sum(axis=0)
    return v / np.linalg.norm(v)


def plan(question: str, history=None):
    return plan_query(question, {"VRU": "Violence Reduction Unit"}, lambda t: t, TERMS.idf, get_settings(), history)


@dataclass
class FakeChunk:
    id: str
    document_id: str
    text: str
    heading: str = ""
    start: int = 0
    end: int = 0
    rowid: int = 0


def candidate(text: str, doc: str = "d1", date: str = "2017-07-20", rank: int = 0) -> Candidate:
    chunk = FakeChunk(f"{doc}-{text[:10]}", doc, text, end=len(text))
    return Candidate(chunk, rank, 1.0, 0, len(text), text, sentence_vector(text), paper_date=date)


# ---- typed extractors -----------------------------------------------------------------------------
def test_extractors_tell_sums_counts_percentages_dates_durations_and_names():
    assert "money" in states("The PCC paid £25,000.00 to Salus.") and "money" in states("a saving of 1.2 million")
    assert "money" not in states("There are 1706 registered sex offenders.")
    assert "count" in states("There are 1706 registered sex offenders.") and "count" not in states("It opened in 2017.")
    assert "percent" in states("The repeat rate was 33% in December.")
    assert "date" in states("It was extended to 30 September 2018.") and "date" in states("in Spring 2017")
    assert "date" not in states("The hub will use video technology.")
    assert "duration" in states("a 12 week programme") and "duration" not in states("the programme")
    assert "person" in states("chaired by Councillor Smith") and "person" not in states("The Chief Constable stated this.")
    # A given name before a capitalised word names a person, first in a sentence or after a title too.
    assert "person" in states("Margaret Olsen presented the work of the group.")
    assert "person" in states("Board President Maria Delgado-Ruiz")
    assert "person" not in states("Kent Police recorded the crime.") and "person" not in states("The Board agreed.")


def test_a_sum_needs_its_currency_written_next_to_the_number():
    # price-parser alone finds a currency code inside any word of a sentence ('Br' of 'Brock', 'SR' of 'SRO').
    assert "money" not in states("Plans were stood down after the removal of Brock M20 on the 31st January 2020.")
    assert "money" not in states("The plan agreed by the SRO closed on the 10th January 2020.")
    assert "money" in states("The contract is worth GBP 1,200 a year.") and "money" in states("It cost £500 in all.")


def test_a_count_is_a_whole_number_that_is_no_date_percentage_or_paragraph_number():
    for text in ("In 2015, it rose.", "at 86.6% for high risk", "1.2 The Regulations set out the rules.", "on 30 September 2018"):
        assert "count" not in states(text), text
    assert "count" in states("4 premises will be visited.") and "count" in states("It rose from 30 to 68.")


def test_the_question_form_says_what_kind_of_fact_is_asked():
    assert asked_type("how many speed cameras are there in Medway") == "count"
    assert asked_type("How much did the PCC pay Salus?") == "money"
    assert asked_type("What is the annual budget of the Violence Reduction Unit?") == "money"
    assert asked_type("when does the appointment end") == "date"
    assert asked_type("how long is the recovery toolkit") == "duration"
    assert asked_type("who chairs the board") == "person"
    assert asked_type("what percentage of crime was recorded") == "percent"
    assert asked_type("why was the review closed") == "reason" and asked_type("what is Op Locality") is None
    assert matches("reason", "It closed due to the high level of risk.") and not matches("reason", "It closed in May.")
    assert asked_type("how much has the precept gone up") == "amount"
    assert matches("amount", "It cost £12,500.") and matches("amount", "up by 30%") and not matches("money", "There were 12 of them.")
    assert not matches("count", "One third of searches led to an arrest.") and not matches("date", "It will operate 7 days a week.")


def test_a_wh_word_asks_wherever_the_question_puts_it():
    assert asked_type("According to the spring report, when did the new system go live?") == "date"
    assert asked_type("By when must each team finish the review?") == "date"
    assert asked_type("Since when has the council published its spending online?") == "date"
    assert asked_type("In the minutes of the last meeting, why was the item deferred?") == "reason"
    # A subordinate 'when' and a relative 'who' ask nothing.
    assert asked_type("what happened in May 2010 when the government came into office") is None
    assert asked_type("what did the officer who was appointed say about it") is None


def test_a_time_of_day_is_asked_and_stated_as_its_own_kind():
    assert asked_type("What time did the meeting adjourn?") == "time"
    assert asked_type("At what time will the public hearings begin?") == "time"
    assert asked_type("What hours is the hub open?") == "time"
    assert asked_type("What time span does the data cover?") != "time"
    for said in ("The meeting was adjourned at 9:11 p.m.", "Doors open at 7.30pm.", "Thursday, June 15, 2017 11:30 AM",
                 "15:45 – 16:05 Presentation", "The hub opens 8am – 10pm."):
        assert matches("time", said), said
    for not_said in ("Spending rose by 3.45 per cent.", "Tickets cost £3.50.", "Paragraph 3.2 sets out the rules.",
                     "The meeting was held on 15 June 2017."):
        assert not matches("time", not_said), not_said
    # A time the question gives is no answer: 'the 7:00 p.m. session' asks something else of it.
    assert not matches("time", "At the 7:00 p.m. session:", plan("Who spoke at the 7:00 p.m. session?").given)


def test_a_value_the_question_itself_gives_is_no_answer_of_its_kind():
    aircraft = plan("How many 737 MAX airplanes does the AD cover?")
    assert matches("count", "It applies to all 737 MAX airplanes.") and not matches("count", "It applies to all 737 MAX airplanes.", aircraft.given)
    assert matches("count", "The AD affects 1,800 airplanes of U.S. registry.", aircraft.given)
    # A year or month the question names stays part of the evidence's date; it invents no count either.
    assert matches("date", "It was approved on 3 March 2019.", plan("When in 2019 was the strategy approved?").given)
    assert not matches("count", "On 12 May 2014 the board met.", plan("How many officers were hired in May 2014?").given)
    meeting = plan("Who briefed the VRU at the May 2014 meeting?")
    assert not matches("date", "At the May 2014 meeting:", meeting.given)
    # An acronym's long form is given too: 'Reduction Unit' names no person.
    assert not matches("person", "the Violence Reduction Unit Agenda", meeting.given)
    assert matches("person", "The VRU was briefed by Adrian Harper.", meeting.given)


# ---- the query plan ---------------------------------------------------------------------------------
def test_the_plan_parses_a_question_once_into_typed_parts():
    p = plan('What was the VRU budget in 2016/17 and when does "section 3.2" apply?')
    assert p.question.startswith("What was the VRU")
    assert "Violence Reduction Unit" in p.expansions and p.phrases == ["section 3.2"] and p.section_refs == ["3.2"]
    assert [(y.start, y.financial) for y in p.years] == [(2016, True)]
    assert p.years[0].written_in("the 2016-17 budget") and not p.years[0].written_in("the 2017/18 budget")
    assert p.answer_type == "money" and len(p.parts) == 2
    assert p.subject == ["vru"]
    assert plan("What is the annual budget of the Violence Reduction Unit?").subject == ["violence", "reduction", "unit"]


def test_a_second_year_makes_a_financial_year_a_span_or_a_reference():
    from searchapi.answers.plan import years_named

    financial, span = years_named("the 2016-2017 budget")[0], years_named("the UK's 2013-15 action plan")[0]
    assert (financial.start, financial.financial, financial.end) == (2016, True, 2017)
    assert (span.start, span.financial, span.end) == (2013, False, 2015)
    assert span.written_in("National Action Plan 2013 to 2015") and span.written_in("the 2013-15 plan")
    assert not span.written_in("in 2013 the plan") and span.dated("2014-05-13") and not span.dated("2016-01-01")
    # More numbers after it, or a 'second year' no span reaches, make a reference number, not a year.
    assert years_named("Emergency AD 2018-23-51") == [] and years_named("item 2017-0425") == []


def test_a_follow_up_is_planned_with_its_context():
    from searchapi.schemas import Turn

    p = plan("and the year before?", [Turn(role="user", content="What was the precept in 2016/17?")])
    assert "2015/16" in p.text and p.question == "and the year before?"
    assert [y.start for y in p.years] == [2015]


def test_boilerplate_is_wanted_only_when_asked_about():
    assert plan("who sent apologies").boilerplate_wanted
    assert not plan("who won the election for PCC").boilerplate_wanted


# ---- features -----------------------------------------------------------------------------------------
def featurize(question: str, texts: list[str], dates=None):
    p = plan(question)
    cands = [candidate(t, doc=f"d{i}", date=(dates or ["2017-07-20"] * len(texts))[i], rank=i) for i, t in enumerate(texts)]
    x = Featurizer(TERMS, {"VRU": "Violence Reduction Unit"}, encode_words, 0.7).compute(p, sentence_vector(question), cands)
    return p, cands, x


def test_features_are_general_and_complete():
    p, cands, x = featurize("What is the annual budget of the Violence Reduction Unit?", TEXTS[:2])
    assert x.shape == (2, len(FEATURES)) and np.isfinite(x).all()
    vru, budget = cands
    assert budget.features["type_match"] == 1.0 and vru.features["type_match"] == 0.0
    assert budget.features["coverage_sentence"] > 0 and vru.features["coverage_sentence"] > budget.features["coverage_sentence"]


def test_a_year_the_evidence_does_not_mention_is_a_mismatch():
    _, cands, _ = featurize("what was the budget in 2016/17", [TEXTS[1], TEXTS[2]], dates=["2017-07-20", "2018-01-01"])
    assert cands[0].features["year_mismatch"] == 0.0 and cands[1].features["year_mismatch"] == 1.0


def test_a_month_the_question_names_must_be_the_evidence_month():
    p = plan("What was the warrant total for December 2022?")
    assert [(y.start, y.month) for y in p.years] == [(2022, 12)] and [y.month for y in plan("the Aug. 27, 2018 hearing").years] == [8]
    # Whole month names and abbreviations only: 'Decision 2019' names no month, 'mayor' is not 'May'.
    assert [y.month for y in plan("the Decision 2019 and Junior 2021 and Sept 2022 papers").years] == [0, 0, 9]
    assert not plan("in May 2014").years[0].written_in("the mayor said so in 2014")
    assert p.years[0].written_in("approved on 15 Dec 2022") and not p.years[0].written_in("approved on October 18, 2022")
    texts = ["The warrants for October 2022 totalled $41,000.", "The warrants totalled $52,000."]
    _, cands, _ = featurize(p.question, texts, dates=["2022-10-18", "2022-12-20"])
    assert cands[0].features["year_mismatch"] == 1.0 and cands[1].features["year_mismatch"] == 0.0


def test_a_sentence_that_dates_its_fact_otherwise_clashes_though_its_paper_is_of_the_asked_year():
    p = plan("When did the board meet in January 2023?")
    assert p.years[0].contradicted_by("The board met on February 7, 2023.")
    assert not p.years[0].contradicted_by("The board met on January 17, 2023.")
    assert not p.years[0].contradicted_by("The board meets on the first Tuesday.")  # no year: nothing to clash with
    assert plan("the November 2014 inspection").years[0].contradicted_by("for the period 1 June to 30 November 2016")
    texts = ["The board met on February 7, 2023.", "The board met on January 17, 2023.", "The board meets monthly."]
    _, cands, _ = featurize(p.question, texts, dates=["2023-01-10"] * 3)
    assert [c.features["year_clash"] for c in cands] == [1.0, 0.0, 0.0]
    assert [c.features["year_mismatch"] for c in cands] == [0.0, 0.0, 0.0]  # the paper's date makes up for the month


def test_a_number_the_evidence_gives_the_same_word_otherwise_is_a_mismatch():
    from searchapi.answers.extract import number_clash, numbered, numbered_as_read

    assert numbered("When is the 26th meeting of the board?") == {(stem("meeting"), "before", 26)}
    # Years, sums, shares, thousands and identifiers label nothing.
    assert numbered("In 2012, 10,300 datasets cost £5 and 60% of AD 2018-23-51 was done.") == frozenset()
    # A list shares its word; each numbered word is checked on its own.
    assert number_clash(numbered("Tranche 3"), "Tranche 2 of the fund") and not number_clash(numbered("Tranche 3"), "Tranches 2 and 3")
    assert not number_clash(numbered("the 5th meeting"), "the 5th and 6th meetings")
    assert number_clash(numbered("Tranche 3 of Phase 2"), "Tranche 3 of Phase 1")
    # Small numbers spelled out read as digits, and a number hyphened to its unit as apart from it.
    assert numbered_as_read("the third amendment, a 24-month extension") == {(stem("amendment"), "before", 3),
                                                                             (stem("month"), "before", 24)}
    assert number_clash(numbered_as_read("the third amendment"), "Approve the second amendment to the agreement.")
    assert number_clash(numbered_as_read("within four hours"), "assessed within one hour of the report")
    assert not number_clash(numbered_as_read("a 12-month extension"), "A twelve month extension will cost £7.3m.")
    p = plan("How much is Tranche 3 of the fund worth?")
    _, cands, _ = featurize(p.question, ["Tranche 2 of the fund totals £637,800.", "Tranche 3 of the fund totals £80,000.",
                                         "The fund totals £700,000."])
    assert [c.features["number_mismatch"] for c in cands] == [1.0, 0.0, 0.0]


def test_a_sentence_that_writes_another_name_where_the_question_writes_one_clashes():
    from searchapi.answers.extract import name_clash, name_slots

    assert name_slots("How many officers does Essex Police have?", ["Essex"]) == {(stem("Essex"), "before", stem("Police"))}
    assert name_slots("how many officers does essex police have", ["essex"]) == frozenset()  # no capital, no name
    asked = name_slots("How much did DFID give to CoST Malawi?", ["DFID", "CoST", "Malawi"])

    def said_in(text):
        return lambda name: name in {stem(w) for w in tokens(text)}

    other = "This includes £100,000 to CoST Ethiopia and £98,000 to CoST Vietnam."
    assert name_clash(asked, other, said_in(other))
    same = "This includes £100,000 to CoST Malawi and £98,000 to CoST Vietnam."
    assert not name_clash(asked, same, said_in(same))  # the asked name is written too
    jude = name_slots("How close is Jude Gentry's property to the ramp?", ["Jude", "Gentry"])
    assert not name_clash(jude, "Ms. Gentry lives beside the ramp.", said_in("Ms. Gentry lives beside the ramp."))  # a title
    p = plan("How many officers does Essex Police have?")
    _, cands, _ = featurize(p.question, ["Kent Police has 3,800 officers.", "Essex Police has 3,100 officers.",
                                         "The force has 3,800 officers."])
    assert [c.features["name_clash"] for c in cands] == [1.0, 0.0, 0.0]
    # An acronym is said by its long form: no clash with 'the Violence Reduction Unit' for 'the VRU'.
    p = plan("How many staff does the Kent VRU have?")
    _, cands, _ = featurize(p.question, ["The Medway VRU has 12 staff.", "The Kent Violence Reduction Unit has 12 staff."])
    assert [c.features["name_clash"] for c in cands] == [1.0, 0.0]


def test_the_subject_the_evidence_never_mentions_is_named():
    p = plan("What is the annual budget of the Violence Reduction Unit?")
    featurizer = Featurizer(TERMS, {}, encode_words, 0.7)
    assert featurizer.unsupported(p, TEXTS[1]) == ["violence", "reduction", "unit"]
    # The subject is there, but not what is asked of it: the question's rarest word it lacks is named.
    assert featurizer.unsupported(p, TEXTS[0]) in (["annual"], ["budget"])
    assert featurizer.unsupported(p, "The annual budget of the Violence Reduction Unit is £1.2m.") == []
    # A year the evidence does not write is named as a year, never by its parts ('18' of '2017/18').
    p = plan("What was the budget increase for 2017/18?")
    assert featurizer.unsupported(p, "The budget increase for 2016/17 was £5 a year.") == ["2017/18"]
    assert featurizer.unsupported(p, "The budget increase for 2017/18 was £5 a year.") == []
    assert str(plan("the budget in December 2022").years[0]) == "December 2022"


# ---- the decision -------------------------------------------------------------------------------------
def model_with(threshold: float) -> EvidenceModel:
    """Scores are the dense similarity alone; confidence is the best score itself."""
    n = len(QUESTION_FEATURES)
    calibration = {"features": list(QUESTION_FEATURES), "mean": [0.0] * n, "scale": [1.0] * n,
                   "coef": [1.0] + [0.0] * (n - 1), "intercept": 0.0}
    return EvidenceModel("test", ["dense_sentence"], [0.0], [1.0], [1.0], 0.0, calibration=calibration, threshold=threshold)


def ranked_by(model: EvidenceModel, cands: list[Candidate], x: np.ndarray) -> list[Candidate]:
    for c, logit in zip(cands, model.logits(x)):
        c.probability = float(logit)
    return sorted(cands, key=lambda c: c.probability, reverse=True)


def test_the_answer_abstains_below_the_threshold_and_answers_above_it():
    p, cands, x = featurize("when was the appointment extended", TEXTS[1:3])
    settings = Settings()
    low, high = model_with(threshold=0.99), model_with(threshold=0.0)
    assert not decide(p, ranked_by(low, cands, x), low, settings).answered
    decision = decide(p, ranked_by(high, cands, x), high, settings)
    assert decision.answered and decision.chosen[0].text == TEXTS[2]
    assert 0.0 < decision.confidence < 1.0 and decision.confidence == pytest.approx(
        high.confidence(question_features(p, decision.ranked)))


def test_a_subject_name_the_reports_never_write_is_never_answered_unless_its_passage_says_it_otherwise():
    model = model_with(threshold=0.0)
    p, cands, x = featurize("When was the appointment in Ruritania extended?", TEXTS[1:3])
    decision = decide(p, ranked_by(model, cands, x), model, Settings())
    assert not decision.answered and decision.confidence == 0.0  # the reports never write 'Ruritania'
    p, cands, x = featurize("When was the appointment in Chief extended?", TEXTS[1:3])  # a name they write
    assert decide(p, ranked_by(model, cands, x), model, Settings()).answered
    # Said in other words by the passage (a near-synonym at least as close as synonym_similarity): answered.
    p = plan("When was the appointment in Ruritania extended?")
    said_otherwise = lambda words: np.vstack([word_vector("appointment" if w == "ruritania" else w) for w in words])
    cands = [candidate(TEXTS[2])]
    x = Featurizer(TERMS, {}, said_otherwise, 0.7).compute(p, sentence_vector(p.question), cands)
    assert decide(p, ranked_by(model, cands, x), model, Settings()).answered
    # An acronym the reports never use, written out in full by the passage: said.
    p, cands, x = featurize("When was the appointment of the CoS extended?", TEXTS[4:5])
    assert "cos" in p.subject and decide(p, ranked_by(model, cands, x), model, Settings()).answered is False
    p, cands, x = featurize("When was the CS appointed?", TEXTS[4:5])
    assert decide(p, ranked_by(model, cands, x), model, Settings()).answered


def test_the_latest_paper_leads_and_the_earlier_one_is_cited():
    texts = ["The appointment was extended to 30 September 2018.", "The appointment was extended to 30 September 2016."]
    p, cands, x = featurize("when does the appointment end", texts, dates=["2017-07-20", "2016-03-01"])
    model = model_with(threshold=0.0)
    settings = Settings(same_fact_similarity=0.5)
    older_first = sorted(ranked_by(model, cands, x), key=lambda c: c.paper_date)
    decision = decide(p, older_first, model, settings)
    assert decision.chosen[0].paper_date == "2017-07-20" and decision.earlier.paper_date == "2016-03-01"


def test_a_question_asking_for_the_latest_is_answered_from_the_newest_paper_that_states_it():
    p = plan("What is the latest number of officers?")
    assert p.latest and "latest" not in p.terms and p.asked == "What is the number of officers?"
    assert not plan("What is the number of officers?").latest and plan("How many officers are there currently?").latest
    assert plan("When was the code last amended?").latest and not plan("How long would the reserves last?").latest
    # 'latest' is an intent, never a word the evidence lacks.
    assert "latest" not in Featurizer(TERMS, {}, encode_words, 0.7).unsupported(p, "The force had 3,182 officers.")
    texts = ["In March 2016 the force had 3,182 officers.", "Officer numbers stood at 3,900 in March 2022.",
             "Officers met residents at meetings."]
    dates = ["2017-07-20", "2022-06-08", "2023-01-10"]
    p, cands, x = featurize("What is the latest number of officers?", texts, dates)
    model, settings = model_with(threshold=0.0), Settings(answer_latest_margin=10.0, same_fact_similarity=0.99)
    older_first = sorted(ranked_by(model, cands, x), key=lambda c: c.paper_date)
    decision = decide(p, older_first, model, settings)
    # The 2023 sentence is newest but states no count: the 2022 one leads, the 2017 one is cited as earlier.
    assert decision.chosen[0].paper_date == "2022-06-08" and decision.earlier.paper_date == "2017-07-20"
    # The same question without 'latest', and a newer sentence scoring beyond the margin: the best leads.
    plain, cands, x = featurize("What is the number of officers?", texts, dates)
    assert decide(plain, sorted(ranked_by(model, cands, x), key=lambda c: c.paper_date), model, settings).earlier is None
    p, cands, x = featurize("What is the latest number of officers?", texts, dates)
    tight = Settings(answer_latest_margin=-1.0, same_fact_similarity=0.99)
    decision = decide(p, sorted(ranked_by(model, cands, x), key=lambda c: c.paper_date), model, tight)
    assert decision.chosen[0].paper_date == "2017-07-20" and decision.earlier is None


# ---- the stored model and the fitting helpers ----------------------------------------------------------
def test_the_stored_model_loads_with_a_version_and_known_features():
    model = load_model(MODEL_PATH)
    assert model.version.startswith("evidence-") and set(model.features) <= set(FEATURES)
    assert 0.0 < model.threshold < 1.0 and model.calibration["features"] == list(QUESTION_FEATURES)
    assert model.report["questions"] >= 200 and "cv_calibrated_auc" in model.report
    x = np.zeros((3, len(FEATURES)), dtype="float32")
    assert model.logits(x).shape == (3,)


TOWNS = ["Ashford", "Dover", "Medway", "Swale", "Thanet", "Canterbury", "Maidstone", "Sevenoaks", "Tonbridge", "Folkestone",
         "Gravesham", "Dartford", "Hythe", "Deal", "Whitstable", "Margate", "Ramsgate", "Sandwich", "Faversham", "Sittingbourne",
         "Rochester", "Chatham", "Gillingham", "Tenterden", "Cranbrook", "Edenbridge", "Westerham", "Herne", "Broadstairs",
         "Lydd", "Paddock", "Hawkinge", "Minster", "Snodland", "Aylesford", "Larkfield", "Swanley", "Northfleet", "Strood", "Rainham"]


def meeting_questions(towns: list[str], seed: int, plain: QueryEncoder):
    """'When did the Dover board meet?' among sentences that repeat its words and one that says when, in
    words of its own: plain MiniLM prefers the echoes. Rows as the tuning reads them, sentence vectors plain."""
    rng = np.random.default_rng(seed)
    rows = []
    for town in towns:
        texts = [f"It convened on {rng.integers(1, 28)} {rng.choice(['January', 'March', 'May', 'July'])}.",
                 f"The {town} board discussed when its meetings should take place.",
                 f"The {town} board meeting agenda was published online.",
                 f"Members of the {town} board asked about meeting times."]
        rows.append((f"When did the {town} board meet?", plain.encode(texts), np.array([1, 0, 0, 0]), 1.0))
    return rows


def test_the_tuned_query_encoder_learns_what_the_plain_cosine_misses_on_questions_it_never_saw():
    path = get_settings().model_path()
    plain = QueryEncoder(path, {})
    train, held = meeting_questions(TOWNS[:28], 1, plain), meeting_questions(TOWNS[28:], 2, plain)
    tuned = fit_query_encoder(path, train, rank=4, epochs=4, learning_rate=3e-3, batch=16)
    assert tuned["questions"] == 28 and len(tuned["layers"]) == 6 * 6  # every linear layer of the six blocks

    def top_share(encoder: QueryEncoder) -> float:
        return float(np.mean([y[np.argmax(s @ q)] for (_, s, y, _), q in zip(held, encoder.encode([r[0] for r in held]))]))

    assert top_share(plain) < 0.5 < 0.9 < top_share(QueryEncoder(path, tuned))
    # Rows of weight 0 teach nothing, and the tuning is seeded: the fit is the one without them.
    ignored = [(q, s, np.zeros(4, dtype=int), 0.0) for q, s, _, _ in held[:4]]
    small = dict(rank=2, epochs=1, learning_rate=1e-3, batch=16)
    assert fit_query_encoder(path, train[:6] + ignored, **small) == fit_query_encoder(path, train[:6], **small)
    assert fit_query_encoder(path, ignored, **small) == {}  # nothing to learn from


def test_the_stored_query_encoder_is_part_of_the_evidence_model_and_runs_on_onnx_as_on_torch(tmp_path):
    from indexer.embed import Embedder

    model, path = load_model(MODEL_PATH), get_settings().model_path()
    assert "adapted_dense" in model.features and model.query_encoder["rank"] > 0
    embedder = Embedder(path, onnx_cache=tmp_path)
    encoder = query_encoder_of(embedder, model)
    assert encoder is query_encoder_of(embedder, model) and encoder.onnx is not None  # loaded once, on ONNX
    questions = ["Who chairs the panel?", "How much was spent on the 2017 restorative justice contract?"]
    tuned, on_torch, plain = encoder.encode(questions), QueryEncoder(path, model.query_encoder).encode(questions), embedder.encode(questions)
    assert tuned.shape == plain.shape == (2, 384) and np.allclose(np.linalg.norm(tuned, axis=1), 1, atol=1e-5)
    assert np.abs(tuned - on_torch).max() < 1e-4 and (tuned * plain).sum(axis=1).max() < 0.999
    copies = [p.name for p in tmp_path.iterdir() if "-tuned-" in p.name and p.is_dir()]
    assert len(copies) == 1 and QueryEncoder(path, model.query_encoder, tmp_path).onnx is not None  # written once, reused
    assert len([p for p in tmp_path.iterdir() if "-tuned-" in p.name and p.is_dir()]) == 1


def test_a_quote_holds_the_evidence_only_when_it_says_it_itself():
    gold = ["1706 registered sex offenders (RSO) are currently managed in the community"]
    assert holds_evidence("In total 1706 registered sex offenders (RSO) are currently managed in the community.", gold)
    assert not holds_evidence("Registered sex offenders are managed by the Visor officer.", gold)
    long_gold = ["The force was rated good. It was the only force to achieve this judgement in the whole region."]
    assert holds_evidence("It was the only force to achieve this judgement in the whole region.", long_gold)


def test_the_threshold_is_the_lowest_that_reaches_the_precision():
    probabilities = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, False, True, False])
    assert threshold_for(probabilities, correct, 0.75) == 0.6
    assert threshold_for(probabilities, correct, 1.0) == 0.8
    assert threshold_for(probabilities, np.zeros(5, dtype=bool), 0.5) == 1.0


def test_calibration_orders_questions_by_their_chance_of_being_right():
    rng = np.random.default_rng(0)
    lead = QUESTION_FEATURES.index("lead_score")
    features = np.zeros((200, len(QUESTION_FEATURES)))
    features[:, lead] = rng.normal(size=200)
    correct = (features[:, lead] + rng.normal(scale=0.5, size=200)) > 0
    calibration = fit_calibration(features, correct)
    model = EvidenceModel("t", [], [], [], [], 0.0, calibration=calibration)
    confident, doubtful = np.zeros(len(QUESTION_FEATURES)), np.zeros(len(QUESTION_FEATURES))
    confident[lead], doubtful[lead] = 2.0, -2.0
    assert model.confidence(confident) > 0.8 > 0.2 > model.confidence(doubtful)


# ---- the abstention's objective ------------------------------------------------------------------
def test_subject_support_is_read_per_passage_and_the_asked_kind_from_the_lead_alone():
    question = "What is the annual budget of the Violence Reduction Unit?"
    p, cands, x = featurize(question, TEXTS[:2])
    vru, budget = cands
    assert budget.features["subject_min"] < vru.features["subject_min"] == 1.0
    vru.probability, budget.probability = 0.0, 1.0
    nearby = question_features(p, [budget, vru])
    budget.probability, vru.probability = 0.0, 1.0
    named = question_features(p, [vru, budget])
    # Whether the best sentence itself states the kind asked reads the lead alone ('£313.3m', not the VRU's sentence).
    assert nearby["lead_typed"] == 1.0 and named["lead_typed"] == 0.0
    assert set(QUESTION_FEATURES) <= set(named) and question_features(p, [])["year_mismatch"] == 1.0


def test_the_lead_must_speak_of_what_a_what_is_the_question_asks_the_value_of():
    assert plan("What is the value of the catering contract with Harbour Foods?").focus == "value"
    assert plan("According to the minutes, what was the final 2019 council vote on it?").focus == "vote"
    assert plan("What did the panel agree?").focus is None and plan("How many officers are there?").focus is None
    assert plan("What was the grant to the rowing club for?").focus is None  # what it was for, not its value
    assert plan("What are the parking offences that the wardens report on?").focus == "offences"
    # 'What' as the object asks no noun's value; a coordinated phrase keeps its head; number words are modifiers.
    assert plan("What is seen as the main obstacle?").focus is None and plan("What are volunteers paid per hour?").focus is None
    assert plan("What were the arrest and charge rates?").focus == "rates"
    assert plan("What are the four aims of the plan?").focus == "aims"
    # 'What is the date of ...' asks a date; a sentence that states one need not say 'date'.
    dated = plan("What is the date of the traffic survey?")
    assert dated.answer_type == "date" and dated.focus == "date"
    p, (named, valued), _ = featurize("What is the value of the catering contract with Harbour Foods?",
                                      ["The catering contract with Harbour Foods will be finalised in May.",
                                       "The value of the catering contract with Harbour Foods is not yet known."])
    named.probability, valued.probability = 1.0, 0.0
    assert question_features(p, [named, valued])["focus_support"] < 1.0
    assert question_features(p, [valued, named])["focus_support"] == 1.0
    _, (study,), _ = featurize("What is the date of the traffic survey?", ["The traffic survey was published on 4 August 1980."])
    assert study.features["focus_support"] == 1.0
    assert question_features(plan("Who chairs the board?"), [])["focus_support"] == 0.0


def test_the_calibration_weights_keep_the_sign_their_meaning_gives_them():
    # Two features that move together: the label follows the first, less what the second adds, so an
    # unconstrained fit gives the second a negative weight although more of it means more support.
    rng = np.random.default_rng(1)
    a = rng.normal(size=400)
    b = a + rng.normal(scale=0.3, size=400)
    y = ((2 * a - b + rng.normal(scale=0.3, size=400)) > 0).astype(float)
    z = np.column_stack([a, b])
    against, _ = signed_logistic(z, y, [1.0, -1.0])  # the second allowed only to count against
    kept, _ = signed_logistic(z, y, [1.0, 1.0])
    assert against[1] < 0 and kept[1] >= 0 and kept[0] > 0
    # The kind of fact asked is a base rate, free to go either way (sign 0).
    free, _ = signed_logistic(z, y, [1.0, 0.0])
    assert free[1] < 0


def test_the_abstention_reads_the_kind_of_fact_asked():
    asked = question_features(plan("Who chairs the board?"), [])
    assert asked["asks_person"] == 1.0 and asked["asks_amount"] == asked["asks_untyped"] == 0.0
    assert question_features(plan("What did the board decide?"), [])["asks_untyped"] == 1.0
    # A reason has no base rate of its own: it shares the untyped one, while its evidence must still state one.
    why = plan("Why did the board close the ramp?")
    assert why.answer_type == "reason" and question_features(why, [])["asks_untyped"] == 1.0
    _, (said,), _ = featurize("What did the board decide?", ["The board decided to close the ramp."])
    said.probability = 1.0
    assert question_features(plan("What did the board decide?"), [said])["lead_typed"] == 1.0  # no kind asked, none lacking


def test_the_threshold_abstains_as_often_as_the_answer_rate_floor_allows():
    probabilities = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    answerable = np.array([True, True, False, True, False, True])
    # Answering half of the four answerable questions needs a threshold of 0.8; all of them, 0.4.
    assert threshold_for_rate(probabilities, answerable, 0.5) == 0.8
    assert threshold_for_rate(probabilities, answerable, 0.6) == 0.6
    assert threshold_for_rate(probabilities, answerable, 1.0) == 0.4
    assert threshold_for_rate(probabilities, np.zeros(6, dtype=bool), 0.8) == 0.0


def test_the_conditional_logit_ranks_each_questions_evidence_first():
    from scipy.optimize import check_grad

    rng = np.random.default_rng(3)
    truth = np.array([2.0, -1.0, 0.0])
    groups = []
    for _ in range(40):  # each group's positives are its rows scoring best by `truth`; some have two
        z = rng.normal(size=(8, 3))
        positive = np.zeros(8, dtype=bool)
        positive[np.argsort(-(z @ truth))[: rng.integers(1, 3)]] = True
        groups.append((z, positive))
    w = conditional_logit(groups, 10.0, 3)
    assert np.mean([positive[np.argmax(z @ w)] for z, positive in groups]) > 0.9
    assert w[0] > 0 > w[1]
    assert conditional_logit([], 1.0, 3).tolist() == [0.0, 0.0, 0.0]  # nothing to learn from

    def value(w):
        return sum(np.log(np.exp(z @ w).sum()) - np.log(np.exp(z[p] @ w).sum()) for z, p in groups) + w @ w / 2

    def gradient(w):
        return sum(z.T @ (np.exp(z @ w) / np.exp(z @ w).sum()) - z[p].T @ (np.exp(z[p] @ w) / np.exp(z[p] @ w).sum())
                   for z, p in groups) + w

    # The fitted objective at C=1 is this one: its minimum is where this gradient vanishes.
    assert check_grad(value, gradient, rng.normal(size=3)) < 1e-4
    assert np.abs(gradient(conditional_logit(groups, 1.0, 3))).max() < 1e-3


def test_the_stored_calibration_reads_its_own_features_by_name():
    p, cands, x = featurize("when was the appointment extended", TEXTS[1:3])
    calibration = {"features": ["lead_score"], "mean": [0.0], "scale": [1.0], "coef": [1.0], "intercept": 0.0}
    model = EvidenceModel("test", ["dense_sentence"], [0.0], [1.0], [1.0], 0.0, calibration=calibration, threshold=0.0)
    decision = decide(p, ranked_by(model, cands, x), model, Settings())
    lead = decision.ranked[0].probability
    assert decision.confidence == pytest.approx(1 / (1 + np.exp(-lead))) == pytest.approx(model.confidence([lead]))


