"""The lean engine: corpus statistics stored at index time (and kept right as papers come and go),
passages read from SQLite on demand instead of held in memory, access classes kept apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import CORPUS

RARE_WORD = "Brackenwold"  # a made-up word only the restricted paper below uses
RESTRICTED_PAPER = f"""NOT FOR PUBLICATION
by virtue of paragraph 3 of Part 1 of Schedule 12A to the Local Government Act 1972

Estates disposal

1. Recommendation
1.1 The Board is asked to approve the sale of the {RARE_WORD} depot to the Tamsworth Regional Housing Trust (TRHT).
1.2 The {RARE_WORD} site has stood empty since the custody suite moved in 2021.
"""


def _stats(index_dir: Path, audience: str = "all"):
    from indexer.store import IndexReader
    from searchapi.retrieval.lexical import CorpusStats

    reader = IndexReader(index_dir)
    return CorpusStats.load(reader, audience), CorpusStats._count_snapshot(reader, audience), reader


def _assert_same(stored, scratch) -> None:
    assert stored.n == scratch.n > 0
    assert stored.df == scratch.df
    assert stored.words == scratch.words
    assert stored.hyphenated_counts == scratch.hyphenated_counts
    assert list(stored.acronyms.items()) == list(scratch.acronyms.items())  # order matters: expansions follow it


def _from_scratch_acronyms(reader, audience: str) -> dict[str, str]:
    """The old engine's way: every visible passage in (document, order), first definition wins."""
    from searchapi.retrieval.query import mine_acronyms

    hidden = "WHERE COALESCE(d.access, 'public') = 'public'" if audience == "public" else ""
    rows = reader.execute("SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
                          f"{hidden} ORDER BY c.document_id, c.ord")
    return mine_acronyms(text for (text,) in rows)


def test_stored_statistics_equal_a_count_from_scratch(sample_index, engine):
    stored, scratch, reader = _stats(sample_index)
    _assert_same(stored, scratch)
    assert list(stored.acronyms.items()) == list(_from_scratch_acronyms(reader, "all").items())
    assert stored.acronyms["PEQF"] == "Policing Education Qualifications Framework"
    assert engine.terms.n == len(engine.snapshot.chunks) == stored.n
    assert engine.terms.correct("summonsed") == scratch.correct("summonsed")
    reader.close()


@pytest.fixture(scope="module")
def growing_index(sample_index, tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the sample index and a folder of copies of the sample reports to add to it."""
    root = tmp_path_factory.mktemp("lean")
    index_dir = root / "idx"
    shutil.copytree(sample_index, index_dir)
    papers = root / "papers"
    papers.mkdir()
    for source in sorted(CORPUS.glob("*.txt"))[:3]:
        (papers / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return index_dir, papers


def test_statistics_follow_added_replaced_and_removed_papers(growing_index):
    from indexer.pipeline import index_paths

    index_dir, papers = growing_index
    before, _, reader = _stats(index_dir)
    reader.close()
    report = index_paths([papers], index_dir, progress=False)  # three papers twice now
    assert len(report.indexed) == 3
    after_add, scratch, reader = _stats(index_dir)
    reader.close()
    _assert_same(after_add, scratch)
    assert after_add.n == before.n + report.new_chunks

    first, second, _ = sorted(papers.iterdir())
    first.write_text(first.read_text(encoding="utf-8").replace("Commissioner", "Commissionaire"), encoding="utf-8")
    second.unlink()
    report = index_paths([papers], index_dir, progress=False)
    assert len(report.indexed) == 1
    assert len(report.removed) == 1
    after_change, scratch, reader = _stats(index_dir)
    _assert_same(after_change, scratch)
    from searchapi.retrieval.lexical import stem

    assert after_change.df.get(stem("Commissionaire"), 0) > 0 and stem("Commissionaire") not in before.df
    assert after_change.n < after_add.n
    reader.close()

    (papers / "estates.txt").write_text(RESTRICTED_PAPER, encoding="utf-8")
    index_paths([papers], index_dir, progress=False)
    everything, scratch_all, reader = _stats(index_dir)
    public, scratch_public, _ = _stats(index_dir, "public")
    _assert_same(everything, scratch_all)
    _assert_same(public, scratch_public)
    assert everything.acronyms == _from_scratch_acronyms(reader, "all")
    assert public.acronyms == _from_scratch_acronyms(reader, "public")
    rare = RARE_WORD.lower()
    assert everything.df.get(rare, 0) > 0 and rare not in public.df and not public.knows(RARE_WORD)
    assert "TRHT" in everything.acronyms and "TRHT" not in public.acronyms
    assert public.n < everything.n
    reader.close()


def test_merged_statistics_sum_their_parts(sample_index, growing_index):
    from searchapi.retrieval.lexical import CorpusStats

    one, _, r1 = _stats(sample_index)
    two, _, r2 = _stats(growing_index[0])
    merged = CorpusStats.merged([one, two])
    assert merged.n == one.n + two.n
    word = max(one.df, key=one.df.get)
    assert merged.df[word] == one.df[word] + two.df.get(word, 0)
    assert merged.acronyms["PEQF"] == one.acronyms["PEQF"]
    assert merged.idf(word) < one.idf("nonexistentword")
    r1.close()
    r2.close()


REFERENCE_QUERIES = ["section 3.2", "item B2", "para 14 of the Sept 2017 collaboration paper", "decision 15",
                     "minute 45", "section 5.3 of the collaboration report", "paragraph 9 vetting", "item 4"]


def test_passages_are_read_on_demand_within_a_bounded_cache(sample_index, engine, devset):
    from indexer.settings import Settings
    from indexer.store import ChunkRecord
    from searchapi.retrieval.engine import SearchEngine

    small = SearchEngine(sample_index, settings=Settings(chunk_cache=40), reader=engine.store)
    assert not isinstance(small.snapshot.chunks, dict) and len(small.snapshot.chunks) == len(engine.snapshot.chunks)
    questions = [q["question"] for q in devset[:25]]
    for question in questions:
        assert [r.chunk_id for r in small.search(question).results] == [r.chunk_id for r in engine.search(question).results]
    assert 0 < len(small.snapshot.chunks.cache) <= 40
    # Reading every passage streams them: none of them stays behind in the engine.
    texts = sum(len(c.text) for c in small.snapshot.chunks.values())
    assert texts > 100_000 and len(small.snapshot.chunks.cache) <= 40
    assert all(isinstance(c, ChunkRecord) for c in small.snapshot.chunks.values())
    first = next(iter(small.snapshot.chunks.values()))
    assert small.snapshot.chunk_by_id[first.id] == first and first.rowid in small.snapshot.chunks
    assert -1 not in small.snapshot.chunks and "nonsense" not in small.snapshot.chunk_by_id
    by_id = small.snapshot.chunks.rowids_by_id()
    assert by_id[first.id] == first.rowid and len(by_id) == len(small.snapshot.chunks)


def _scan_named_place(engine, query, allowed=None):
    """The old way: every passage checked in Python."""
    from searchapi.retrieval.rerank import reference_matches

    chunks = {c.rowid: c for c in engine.snapshot.chunks.values()}
    pool = allowed if allowed is not None else chunks
    return {r for r in pool if reference_matches(query, engine.snapshot.sections[chunks[r].section_id], chunks[r],
                                                 engine.documents[chunks[r].document_id])}


def test_references_and_filters_found_without_scanning_every_passage(engine):
    from searchapi.retrieval.query import parse_query, respell
    from searchapi.schemas import Filters

    found_any = 0
    for text in REFERENCE_QUERIES:
        query = parse_query(respell(text, engine.terms.knows), engine.acronyms)
        weights, named = engine.named_place(query)
        assert set(weights) == _scan_named_place(engine, query), text
        assert named <= set(weights)
        found_any += bool(weights)
    assert found_any >= 5
    every = {c.rowid: c.document_id for c in engine.snapshot.chunks.values()}
    minutes = Filters(doc_types=["minutes"])
    allowed = engine.allowed_chunks(minutes)
    assert allowed == {r for r, d in every.items() if engine.documents[d].doc_type == "minutes"} and allowed
    query = parse_query("item 4")
    assert set(engine.named_place(query, allowed)[0]) == _scan_named_place(engine, query, allowed)


def test_public_engine_maps_its_own_vector_file(growing_index):
    from indexer.store import IndexReader
    from searchapi.retrieval.engine import SearchEngine

    from indexer.pipeline import index_paths

    index_dir, papers = growing_index
    (papers / "estates.txt").write_text(RESTRICTED_PAPER, encoding="utf-8")  # already there after the test above
    index_paths([papers], index_dir, progress=False)
    reader = IndexReader(index_dir)
    public = SearchEngine(index_dir, audience="public", reader=reader)
    everything = SearchEngine(index_dir, reader=reader)
    assert (index_dir / f"vectors-{reader.generation}-public.faiss").exists()
    assert public.faiss.ntotal == len(public.snapshot.chunks) < everything.faiss.ntotal == len(everything.snapshot.chunks)
    hits = public.search(f"{RARE_WORD} depot sale").results
    assert hits and all(RARE_WORD not in r.text for r in hits)
    assert any(RARE_WORD in r.text for r in everything.search(f"{RARE_WORD} depot sale").results)
    assert RARE_WORD.lower() not in public.terms.words and public.respell(RARE_WORD) == RARE_WORD
    reader.close()


def test_sections_are_read_on_demand(engine):
    import pickle

    sections = engine.snapshot.sections
    assert not isinstance(sections, dict)
    doc = next(d for d in engine.documents.values() if len(d.sections) > 3)
    assert [sections[s.id] for s in doc.sections] == doc.sections  # by id and by paper alike
    assert len(sections) == sum(len(d.sections) for d in engine.documents.values())
    assert set(sections.numbered({"3"}, ["3"])) == {s.id for d in engine.documents.values() for s in d.sections
                                                     if s.number == "3" or (s.number or "").startswith("3.")}
    copy = pickle.loads(pickle.dumps(doc))  # plain data, sections included, for other processes
    assert copy.sections == doc.sections and copy.id == doc.id


def test_reference_bonus_reaches_at_most_the_papers_described_best(engine, monkeypatch):
    """'section 3 ...' in an archive where many papers have a section 3: only `reference_max_papers`
    papers take the bonus, those the query describes best (title, type, body, date), in document order
    among equals; below the cap every referenced paper does, as before."""
    from searchapi.retrieval.query import parse_query
    from searchapi.retrieval.rerank import paper_match

    query = parse_query("section 3 of the 2017 collaboration report")
    everything, _ = engine.named_place(query)
    papers = sorted({engine.snapshot.chunks[r].document_id for r in everything})
    assert len(papers) >= 3 and set(everything) == _scan_named_place(engine, query)
    ranked = sorted(papers, key=lambda d: -paper_match(query, engine.documents[d]))  # stable: document order among equals
    for cap in (1, 2):
        monkeypatch.setattr(engine.settings, "reference_max_papers", cap)
        capped, _ = engine.named_place(query)
        assert {engine.snapshot.chunks[r].document_id for r in capped} == set(ranked[:cap])
        assert {r for r in everything if engine.snapshot.chunks[r].document_id in ranked[:cap]} == set(capped)
