"""Answers over the whole dev set: every [n] resolves and every quote is verbatim; honest abstention.

Questions that once pinned a single behaviour live in corpus/regression.jsonl, scored by
`reportsearch eval corpus/regression.jsonl --split all`; the mechanisms are unit-tested in
tests/test_evidence.py on synthetic texts."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def check(answer, engine):
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    by_n = {c.n: c for c in answer.citations}
    for n in markers:
        assert n in by_n, f"[{n}] has no citation"
    for c in answer.citations:
        chunk = engine.snapshot.chunk_by_id[c.chunk_id]
        assert c.quote and c.quote in chunk.text, "quote is not verbatim in its chunk"
        doc_text = engine.document_text(c.document.id)
        assert doc_text[c.span[0] : c.span[1]] == c.quote
        assert c.citation.startswith(c.document.title)
    if answer.answerable:
        assert markers and set(markers) == set(by_n)
    else:
        assert not answer.citations and "don't say" in answer.answer


def test_every_citation_resolves_over_the_dev_set(answerer, engine, devset):
    for q in devset:
        check(answerer.ask(q["question"]), engine)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=120).filter(lambda s: s.strip()))
def test_any_question_gets_a_checkable_answer(answerer, engine, question):
    check(answerer.ask(question.strip()), engine)


def test_a_subject_the_reports_never_mention_is_named_when_abstaining(answerer):
    answer = answerer.ask("How much has the helicopter unit cost so far?")
    assert not answer.answerable and answer.answer.startswith("The indexed reports don't say")
    assert answer.notice and "helicopter" in answer.notice and answer.passages, "related reading is offered"


def test_a_filter_that_excludes_everything_says_so(answerer):
    from searchapi.schemas import Filters

    answer = answerer.ask("what is the budget", filters=Filters(date_from="2099-01-01"))
    assert not answer.answerable and not answer.passages
    assert answer.notice == "No paper matches the filters, so nothing was searched."


def test_follow_up_uses_previous_turn(answerer):
    from searchapi.schemas import Turn

    history = [Turn(role="user", content="How much did the PCC pay Salus?"),
               Turn(role="assistant", content="SALUS, £25,000.00 – 10 May 2017: [1]")]
    answer = answerer.ask("and what was it for?", history=history)
    assert answer.question == "and what was it for?"
    assert any("Salus" in p.text or "SALUS" in p.text for p in answer.passages[:3])


def test_year_before_rewrites_financial_year():
    from searchapi.answers.followup import rewrite_followup
    from searchapi.schemas import Turn

    out = rewrite_followup("and the year before?", [Turn(role="user", content="What was the precept in 2016/17?")])
    assert "2015/16" in out


def test_a_labelled_follow_up_is_planned_after_its_history(engine):
    """Eval and training read a follow-up set's row as the service reads a conversation."""
    from searchapi.answers.fit import plan_of

    row = {"question": "and the year before?", "history": [{"role": "user", "content": "What was the precept in 2016/17?"}]}
    plan = plan_of(engine, row)
    assert plan.question == "and the year before?" and "2015/16" in plan.text
    assert plan_of(engine, {"question": row["question"]}).text == engine.plan(row["question"]).text


def test_a_follow_up_is_compared_with_itself_as_well_as_the_conversation(answerer, engine):
    """Sentences of a follow-up are scored against the direction midway between the conversation and the
    follow-up alone, so that the previous answer's sentence has no head start."""
    from searchapi.answers.answerer import _direction
    from searchapi.schemas import Turn

    plan = engine.plan("and how much did it cost?", [Turn(role="user", content="What is the Emergency Services Network?")])
    assert plan.follow_up and not engine.plan("and how much did it cost?").follow_up
    ranked = answerer.evidence(plan, engine.search(plan).results)
    encode = engine.embedder.encode_query
    midway, conversation = _direction([encode(plan.dense_text)[0], encode(plan.asked)[0]]), encode(plan.dense_text)[0]
    assert all(abs(c.features["dense_sentence"] - float(c.vector @ midway)) < 1e-4 for c in ranked)
    assert any(abs(c.features["dense_sentence"] - float(c.vector @ conversation)) > 1e-2 for c in ranked)


def test_a_named_place_is_read_whole(answerer, engine):
    """A decision named by its reference is read whole: its operative sentence may lie below the passages."""
    question = "what does decision OPCC.D.015.17 authorise"
    plan = engine.plan(question)
    passages = engine.search(plan).results
    place = answerer.named_place(plan, passages)
    assert len(place) > 3
    read = answerer.sentences(passages[:1], place)
    assert place <= {c.chunk.rowid for c in read}
    assert any(c.in_named_place and c.text.startswith("To grant authority to the Chief of Staff") for c in read)


def test_a_question_asking_for_the_latest_reads_the_newest_paper_retrieved(answerer, engine):
    """Whatever its rank among the passages, the newest paper retrieved is read for a 'latest' question."""
    def read(question: str) -> tuple[str, set[str]]:
        plan = engine.plan(question)
        passages = engine.search(plan).results
        newest = max(passages, key=lambda p: p.document.date or "")
        others = [p for p in passages if p.document.id != newest.document.id]  # the newest paper retrieved last
        return newest.document.id, {c.chunk.document_id for c in answerer.evidence(plan, others + [newest])}

    newest, documents = read("What is the latest on victim services?")
    assert newest in documents
    newest, documents = read("What is the position on victim services?")
    assert newest not in documents


def test_the_regression_questions_are_scored_by_eval(answerer):
    """corpus/regression.jsonl holds the questions once pinned by unit tests; eval scores them."""
    import json

    from searchapi.evaluate import answer_metrics
    from tests.conftest import CORPUS

    questions = [json.loads(line) for line in (CORPUS / "regression.jsonl").read_text(encoding="utf-8").splitlines()]
    figures = answer_metrics(answerer, questions)
    assert figures["answerable_questions"] >= 15 and figures["unanswerable_questions"] >= 10
    assert figures["citation_validity"] == 1.0
    assert [p["coverage"] for p in figures["reliability"]] == sorted(p["coverage"] for p in figures["reliability"])
