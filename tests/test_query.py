"""Query understanding on the sample corpus: mined acronyms, references, phrases, concept overlap."""

from searchapi.retrieval.lexical import concepts
from searchapi.retrieval.rerank import paper_match
from searchapi.retrieval.query import parse_query, respell


def test_acronyms_are_mined_from_the_reports(engine):
    assert engine.acronyms["PEQF"] == "Policing Education Qualifications Framework"
    assert engine.acronyms["VAWG"].lower() == "violence against women and girls"
    assert len(engine.acronyms) > 50


def test_acronyms_expand_both_ways(engine):
    short = parse_query("PEQF contract award", engine.acronyms)
    assert "Policing Education Qualifications Framework" in short.expansions
    long = parse_query("policing education qualifications framework award", engine.acronyms)
    assert "PEQF" in long.expansions
    assert "\"peqf\"" in long.fts_query()


def test_references_and_phrases_are_recognised():
    q = parse_query('what does section 3.2 say about "single procurement function" and item B2, decision OPCC.D.015.17')
    assert q.section_refs == ["3.2"]
    assert q.item_refs == ["B2"]
    assert q.decision_refs == ["OPCC.D.015.17"]
    assert q.phrases == ["single procurement function"]
    assert '"single procurement function"' in q.fts_query()


def test_an_acronym_and_its_long_form_are_one_concept(engine):
    """'VAWG' is met by 'violence against women and girls' but counts once, beside 'exemplar'."""
    terms = concepts("VAWG exemplar force", engine.acronyms)
    assert len(terms) == 3
    spelled_out = "a strategy to tackle violence against women and girls in every force"
    assert engine.terms.coverage(terms, spelled_out) < engine.terms.coverage(terms, "one of three exemplar forces")
    assert engine.terms.coverage(terms, spelled_out) == engine.terms.coverage(terms, "the VAWG strategy for every force")
    assert engine.terms.coverage(terms, "women") == 0.0, "part of a long form does not stand for the acronym"


def test_unknown_spellings_are_respelled_as_the_reports_write_them(engine):
    knows = engine.terms.knows
    assert respell("how much for relaunching cadets", knows) == "how much for re-launching cadets"
    assert respell("how many SFOs does kent have", knows) == "how many SFO does kent have"
    assert respell("para 14 of the Sept 2017 paper", knows) == "paragraph 14 of the September 2017 paper"
    # Known words and words the reports never use are left alone (so 'helicopter' stays unknown).
    assert respell("reoffending", knows) == "re-offending"
    assert respell("deprioritising ICT work", knows) == "de-prioritising ICT work"  # reports: "de-prioritise"
    assert respell("helicopter fines", knows) == "helicopter fines"
    codes = {"ab361", "q3"}.__contains__
    assert respell("when was AB 361 signed, and Q3 or Q 3 or Q-3?", lambda w: codes(w.lower())) == "when was AB361 signed, and Q3 or Q3 or Q3?"
    assert respell("section 3 and item 5", lambda w: codes(w.lower())) == "section 3 and item 5"
    glued = {"in2019", "may2019"}.__contains__  # text extraction glues words the reports write apart
    assert respell("what happened in 2019 and in May 2019", lambda w: glued(w.lower())) == "what happened in 2019 and in May 2019"
    assert not knows("helicopter")


def test_a_slip_is_respelled_as_the_reports_write_the_word(engine):
    assert engine.respell("who was summonsed over South Thanet") == "who was summoned over South Thanet"
    assert engine.respell("colaboration with Essex") == "collaboration with Essex"
    # Short words, words no report is one slip from, and known words are left alone.
    assert engine.respell("let the helicopter drones stake") == "let the helicopter drones stake"
    assert engine.respell("licencing officers") == "licencing officers"


def test_respelled_query_finds_the_hyphenated_passage(engine):
    top = engine.search("how much for relaunching cadets", k=3).results
    assert any("re-launching a Volunteer Police Cadet programme" in r.text for r in top)


def test_contractions_are_not_content_words():
    from searchapi.retrieval.query import tokens

    assert tokens("why won't the PCC fund it, isn't it funded") == ["pcc", "fund", "funded"]


def test_a_paragraph_reference_goes_to_the_paper_the_query_describes(engine):
    """Several papers have a paragraph 14; 'the Sept 2017 collaboration paper' names one of them."""
    top = engine.search("what does para 14 of the Sept 2017 collaboration paper conclude", k=3).results[0]
    assert top.document.title == "Collaboration" and top.document.date == "2017-09-27"
    assert "14. Collaboration continues to be a key catalyst" in top.text
    other = engine.search("para 14 of the expenditure update", k=3).results[0]
    assert other.document.title.startswith("Update on expenditure") and "14." in other.text


def test_paper_match_reads_title_type_and_date(engine):
    from searchapi.retrieval.rerank import paper_match

    docs = {(d.title, d.date): d for d in engine.documents.values()}
    query = parse_query(respell("para 14 of the Sept 2017 collaboration paper", engine.terms.knows))
    sept = paper_match(query, docs[("Collaboration", "2017-09-27")])
    later = paper_match(query, docs[("Collaboration and Partnership Working", "2020-03-04")])
    assert sept == 1.0 and 0 < later < sept


def test_scores_read_downwards_like_the_ranks(engine):
    """A named place jumps the queue and diversity moves passages down; scores must still descend."""
    for query in ["section 5.3 of the collaboration report", "item B2", "collaboration savings"]:
        scores = [r.score for r in engine.search(query, k=10).results]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores), query
        assert len(set(scores)) > 3, f"scores flattened: {scores}"


def test_paper_match_uses_the_year_and_section_title():
    from indexer.models import Document

    def doc(date):
        return Document(id=date, title="Collaboration", text="", source_path="x", date=date, doc_type="report")

    query = parse_query("para 14 of the Sept 2017 collaboration paper")
    assert paper_match(query, doc("2017-09-27")) > paper_match(query, doc("2018-09-27"))
    vetting = parse_query("para 9 vetting - what did the 7 chiefs decide")
    assert paper_match(vetting, doc("2017-09-27"), "Collaboration > Vetting") > paper_match(vetting, doc("2017-09-27"), "Collaboration > Summary")


def test_a_bare_paragraph_number_needs_its_full_stop():
    from indexer.models import Document, Section
    from indexer.store import ChunkRecord
    from searchapi.retrieval.rerank import reference_matches

    section = Section(id="s", number=None, title="Summary", path=["Summary"], span=(0, 100))
    doc = Document(id="d", title="Collaboration", text="", source_path="x")

    def chunk(text):
        return ChunkRecord(rowid=1, id="c", document_id="d", section_id="s", start=0, end=len(text), text=text, heading="", ord=0)

    query = parse_query("para 14 of the collaboration paper")
    assert reference_matches(query, section, chunk("SUMMARY\n\n14. Collaboration continues"), doc)
    assert not reference_matches(query, section, chunk("Summary\n\n14 officers were recruited"), doc)


def test_an_ambiguous_reference_names_no_place(engine):
    """'section 3' alone: several papers have one, so none jumps the queue and answers are not forced."""
    weights, named = engine.named_place(parse_query("what does section 3 say about helicopter fines"))
    assert len({engine.snapshot.chunks[r].document_id for r in weights}) > 1 and named == set()
    weights, named = engine.named_place(parse_query(respell("para 14 of the Sept 2017 collaboration paper", engine.terms.knows)))
    papers = {engine.snapshot.chunks[r].document_id for r in named}
    assert [(engine.documents[d].title, engine.documents[d].date) for d in papers] == [("Collaboration", "2017-09-27")]


def test_respell_leaves_quotes_and_unknown_compounds_alone(engine):
    knows = engine.terms.knows
    assert respell('"relaunching" relaunching', knows) == '"relaunching" re-launching'
    assert respell("interview", knows) == "interview", "only hyphenated forms the reports use"
