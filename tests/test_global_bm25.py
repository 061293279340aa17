"""Keyword scores with statistics wider than one index (sharded serving): the Python BM25 must be
FTS5's bm25() exactly, and shards scored with their summed statistics must score as one machine."""

import json
import sqlite3

import pytest

from searchapi.retrieval.bm25 import KeywordStats, keyword_stats, table_size
from searchapi.retrieval.retrieve import keyword_search
from tests.conftest import DEVSET


@pytest.fixture(scope="module")
def fts_queries(engine) -> list[str]:
    """The dev questions' keyword queries, and one of the index's commonest word (its IDF clamped)."""
    reader = engine.store
    reader.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_rows USING fts5vocab(main, 'chunks_fts', 'row')")
    rows, _ = table_size(reader)
    common = reader.execute("SELECT term, doc FROM temp.fts_rows ORDER BY doc DESC LIMIT 1").fetchone()
    assert common[1] * 2 > rows, "the commonest word is in over half the rows"
    questions = [json.loads(line)["question"] for line in DEVSET.read_text().splitlines() if line.strip()][:80]
    queries = [q for q in (engine.plan(q).fts_query() for q in questions) if q]
    return queries + [f'"{common[0]}" OR "{queries[0].split(chr(34))[1]}"']


def bm25_of_sqlite(conn, fts_query: str) -> dict[int, float]:
    return {int(r): -s for r, s in conn.execute(
        "SELECT rowid, bm25(chunks_fts, 1.0, 0.5) FROM chunks_fts WHERE chunks_fts MATCH ?", (fts_query,)).fetchall()}


def test_python_bm25_with_local_statistics_is_sqlites(engine, fts_queries):
    reader, checked = engine.store, 0
    for query in fts_queries:
        want = bm25_of_sqlite(reader, query)
        got = dict(keyword_search(reader, query, 10**6, None, stats=keyword_stats(reader, query)))
        assert got.keys() == want.keys(), query
        for rowid, score in want.items():
            assert abs(got[rowid] - score) <= 1e-9, (query, rowid)
        checked += len(want)
        # the ranked cut is the one FTS5 gives (ties aside)
        plain = keyword_search(reader, query, 60, None)
        assert [round(s, 9) for _, s in plain] == [round(s, 9) for _, s in keyword_search(
            reader, query, 60, None, stats=keyword_stats(reader, query))]
    assert checked > 1000


def split_fts(reader, parts: int) -> list[sqlite3.Connection]:
    """The index's full-text rows dealt into `parts` separate FTS5 tables (same tokenizer, same rowids)."""
    rows = reader.execute("SELECT rowid, text, heading FROM chunks_fts ORDER BY rowid").fetchall()
    shards = []
    for part in range(parts):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, tokenize='porter unicode61')")
        conn.executemany("INSERT INTO chunks_fts(rowid, text, heading) VALUES (?,?,?)",
                         [r for i, r in enumerate(rows) if i % parts == part])
        conn.commit()  # FTS5 writes its row and token totals when the transaction ends
        shards.append(conn)
    return shards


def test_shards_scored_with_summed_statistics_score_as_one_machine(engine, fts_queries):
    shards = split_fts(engine.store, 3)
    for query in fts_queries:
        want = bm25_of_sqlite(engine.store, query)
        stats = KeywordStats.merged([keyword_stats(s, query) for s in shards])
        assert stats == keyword_stats(engine.store, query)
        got = {r: s for shard in shards for r, s in keyword_search(shard, query, 10**6, None, stats=stats)}
        assert got.keys() == want.keys()
        assert max(abs(got[r] - want[r]) for r in want) <= 1e-9
        # each shard's own statistics do not: that is what the summed ones fix
        local = {r: s for shard in shards for r, s in keyword_search(shard, query, 10**6, None)}
        assert any(abs(local[r] - want[r]) > 1e-6 for r in want)
        top = sorted(want, key=want.get, reverse=True)[:20]
        merged_top = sorted(got, key=got.get, reverse=True)[:20]
        assert [round(want[r], 9) for r in top] == [round(got[r], 9) for r in merged_top]
        # a short top n reads only as far as the bound needs, and is the full ranking's head
        for shard in shards:
            everything = keyword_search(shard, query, 10**6, None, stats=stats)
            for n in (5, 20):
                assert keyword_search(shard, query, n, None, stats=stats) == everything[:n]


def test_filtered_keyword_search_with_statistics_keeps_only_allowed_rows(engine, fts_queries):
    reader, query = engine.store, fts_queries[0]
    everything = keyword_search(reader, query, 10**6, None, stats=keyword_stats(reader, query))
    allowed = {r for r, _ in everything[1::2]}
    filtered = keyword_search(reader, query, 5, allowed, stats=keyword_stats(reader, query))
    assert [r for r, _ in filtered] == [r for r, _ in everything if r in allowed][:5]
