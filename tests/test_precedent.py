"""Precedent: one passage per paper on a topic, near-identical wordings grouped, word diffs between uses."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings, strategies as st

from searchapi.meeting.precedent import PrecedentFinder, jaccard, render_text, shingles, word_diff
from tests.test_cli import run

# The minutes of two boards record the previous meeting's notes in one wording with another date.
RECORD_WORDING = "The Meeting Notes from the Governance Board were noted as a true and accurate record"


def _rebuild(diff, keep: str) -> str:
    return "".join(d.text for d in diff if d.op in ("equal", keep))


@given(st.lists(st.sampled_from(["the", "Board", "noted", "£39,000", "7", "March", "2017.", "record"]), max_size=25),
       st.lists(st.sampled_from(["the", "Board", "agreed", "£41,500", "1", "March", "2018.", "record"]), max_size=25))
@settings(max_examples=200, deadline=None)
def test_word_diff_rebuilds_both_versions(old_words, new_words):
    before, after = " ".join(old_words), " ".join(new_words)
    diff = word_diff(before, after)
    assert _rebuild(diff, "delete") == before
    assert _rebuild(diff, "insert") == after


def test_word_diff_names_the_changed_figure():
    diff = word_diff("Funding of £39,000 was released in March 2017.", "Funding of £41,500 was released in March 2017.")
    assert [(d.op, d.text.strip()) for d in diff if d.op != "equal"] == [("delete", "£39,000"), ("insert", "£41,500")]


def test_shingles_tell_reworded_from_unrelated():
    a = shingles("The Meeting Notes from the Governance Board held on 7 November 2016 were noted as a true and accurate record.")
    b = shingles("The Meeting Notes from the Governance Board held on 1 March 2017 were noted as a true and accurate record.")
    c = shingles("The Chief Constable provided a summary of the supporting paper.")
    assert jaccard(a, b) > jaccard(a, c) and jaccard(a, c) == 0.0


@pytest.fixture(scope="module")
def finder(engine):
    return PrecedentFinder(engine)


def test_same_wording_across_meetings_is_grouped_newest_first_with_diff(finder, engine):
    response = finder.find(RECORD_WORDING)
    grouped = [g for g in response.groups if g.papers >= 2]
    assert grouped, [g.wording for g in response.groups]
    group = grouped[0]
    dates = [o.document.date for o in group.occurrences]
    assert dates == sorted(dates, reverse=True) and group.last_used == dates[0] and group.first_used == dates[-1]
    assert group.first_used < group.last_used
    newest, oldest = group.occurrences[0], group.occurrences[-1]
    assert oldest.diff is None
    changed = [d for d in newest.diff if d.op != "equal"]
    assert any(d.op == "delete" and re.search(r"\d", d.text) for d in changed)
    assert any(d.op == "insert" and re.search(r"\d", d.text) for d in changed)
    assert _rebuild(newest.diff, "insert") == newest.text and _rebuild(newest.diff, "delete") == oldest.text
    for occ in group.occurrences:  # verbatim, checkable quotes
        assert engine.document_text(occ.document.id)[occ.span[0]:occ.span[1]] == occ.text


def test_one_passage_per_paper_and_oldest_first_on_request(finder):
    response = finder.find("firearms licensing backlog of renewals")
    papers = [o.document.id for g in response.groups for o in g.occurrences]
    assert len(papers) == len(set(papers)) >= 2
    assert all("firearm" in o.text.lower() for g in response.groups for o in g.occurrences)
    newest = [g.last_used for g in response.groups]
    assert newest == sorted(newest, reverse=True)
    oldest = finder.find("firearms licensing backlog of renewals", sort="oldest")
    firsts = [g.first_used for g in oldest.groups]
    assert firsts == sorted(firsts)
    assert "firearm" in render_text(response).lower()


def test_filters_narrow_the_papers(finder, engine):
    from searchapi.schemas import Filters

    response = finder.find("firearms licensing", filters=Filters(doc_types=["minutes"]))
    occurrences = [o for g in response.groups for o in g.occurrences]
    assert occurrences and all(o.document.doc_type == "minutes" for o in occurrences)
    assert not finder.find("firearms licensing", filters=Filters(date_from="2030-01-01")).groups


def test_precedent_endpoint(client):
    res = client.post("/api/precedent", json={"query": RECORD_WORDING, "k": 10})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["groups"] and body["groups"][0]["occurrences"][0]["citation"]
    assert client.post("/api/precedent", json={"query": "  "}).status_code == 422
    assert client.post("/api/precedent", json={"query": "x", "filters": {"document_ids": ["nope"]}}).status_code == 422


def test_examples_endpoint_offers_questions_from_headings(client):
    examples = client.get("/api/examples").json()
    assert 1 <= len(examples) <= 4 and all(q.endswith("?") for q in examples)
    titles = {s["title"] for d in client.get("/api/documents").json()
              for s in client.get(f"/api/documents/{d['id']}").json()["sections"]}
    assert all(any(t and t in q for t in titles) for q in examples)


def test_cli_precedent_and_filter_flags(sample_index):
    out = run("precedent", RECORD_WORDING, "--json", "--type", "minutes", index=sample_index)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert any(g["papers"] >= 2 for g in body["groups"])
    out = run("search", "collaboration with Essex", "--json", "--from", "2019-01-01", "--newest", index=sample_index)
    assert out.returncode == 0, out.stderr
    dates = [r["document"]["date"] for r in json.loads(out.stdout)["results"]]
    assert dates and all(d >= "2019-01-01" for d in dates) and dates == sorted(dates, reverse=True)
    out = run("ask", "What is PEQF?", "--from", "2020-01-01", "--to", "2019-01-01", index=sample_index)
    assert out.returncode != 0 and "after" in out.stderr and "Traceback" not in out.stderr
    out = run("search", "PEQF", "--doc", "no-such-id", index=sample_index)
    assert out.returncode != 0 and "no-such-id" in out.stderr and "Traceback" not in out.stderr


def test_minute_paragraphs_are_cited_as_the_minutes_number_them(engine):
    from searchapi.schemas import Filters

    minutes = next(d for d in engine.documents.values()
                   if d.doc_type == "minutes" and any((s.number or "").isdigit() and int(s.number) > 200 for s in d.sections))
    results = engine.search("mental health verbal update", k=10, filters=Filters(document_ids=[minutes.id])).results
    paragraphs = [r for r in results if r.section.number and len(r.section.path) > 2]
    assert paragraphs, [r.citation for r in results]
    for r in paragraphs:
        assert re.search(rf"minute \d{{3}}, paragraph {r.section.number}\b", r.citation), r.citation
    numbered = [r for r in engine.search("Firearms Licensing Update", k=10, filters=Filters(doc_types=["report"])).results
                if r.section.number]
    assert numbered and all("minute" not in r.citation for r in numbered)  # reports keep 'section 3.2'
