"""The keyword top n read without FTS5 scoring every match must be FTS5's own `ORDER BY bm25()`: the same
rows, the same scores, ties in the same (rowid) order, with and without a filter. One machine adds up each
phrase's own bm25() terms (kept per phrase; a phrase not kept yet is read in the background while its rows
that could enter are scored exactly); with statistics summed over shards, MaxScore over FTS5's postings."""

import json
import random
import sqlite3

import numpy as np
import pytest

from indexer.settings import get_settings
from searchapi.retrieval.bm25 import KeywordStats, keyword_stats
from searchapi.retrieval.retrieve import keyword_search
from tests.conftest import DEVSET, FRESH, HOLDOUT
from tests.test_global_bm25 import split_fts

BM25 = "bm25(chunks_fts, 1.0, 0.5)"


def fts5_order(conn, fts_query: str, n: int, allowed=None) -> list[tuple[int, float]]:
    """FTS5's own ranking: every match scored by bm25(), sorted by SQLite, cut after filtering."""
    rows = conn.execute(f"SELECT rowid, {BM25} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2",
                        (fts_query,)).fetchall()
    return [(int(r), -s) for r, s in rows if allowed is None or r in allowed][:n]


@pytest.fixture
def prune_always(monkeypatch):
    """Pruning for every query, however few rows match (the default starts at tens of thousands)."""
    settings = get_settings()
    monkeypatch.setattr(settings, "keyword_prune_min_matches", 0)
    monkeypatch.setattr(settings, "keyword_stored_min_matches", 0)
    monkeypatch.setattr(settings, "keyword_prune_max_candidates", 10**9)
    return settings


@pytest.fixture(scope="module")
def skewed() -> sqlite3.Connection:
    """An FTS5 table like the index's, with Zipf-distributed words (a few in nearly every row, most in a
    handful), duplicated rows (exact score ties), headings, and a two-word phrase in some rows."""
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(3000)]
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(vocab))]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, tokenize='porter unicode61')")
    rows, rowid = [], 0
    while rowid < 12_000:
        words = rng.choices(vocab, weights, k=rng.randint(5, 120))
        if rng.random() < 0.1:
            words[rng.randrange(len(words)):0] = ["budget", "report"]
        heading = " ".join(rng.choices(vocab[:200], k=rng.randint(1, 6)))
        for _ in range(rng.choice((1, 1, 1, 2, 5))):  # copies: identical rows score alike
            rowid += 1
            rows.append((rowid, " ".join(words), heading))
    conn.executemany("INSERT INTO chunks_fts(rowid, text, heading) VALUES (?,?,?)", rows)
    conn.commit()
    return conn


def random_queries(rng: random.Random, count: int) -> list[str]:
    common = [f"w{i}" for i in range(6)]
    middle = [f"w{i}" for i in range(6, 120)]
    rare = [f"w{i}" for i in range(120, 3000)]
    out = []
    for _ in range(count):
        words = rng.sample(common, rng.randint(0, 3)) + rng.sample(middle, rng.randint(0, 2)) + rng.sample(rare, rng.randint(0, 2))
        phrases = [f'"{w}"' for w in words or ["w1"]]
        if rng.random() < 0.2:
            phrases.append('"budget report"')
        rng.shuffle(phrases)
        out.append(" OR ".join(phrases))
    return out


def check_random_queries(conn, seed: int, count: int) -> None:
    rng = random.Random(seed)
    rowids = [r for (r,) in conn.execute("SELECT rowid FROM chunks_fts")]
    wide = set(rng.sample(rowids, len(rowids) // 2))
    narrow = set(range(2000, 2600))
    checked = ties = 0
    for query in random_queries(rng, count):
        for n in (1, 10, 60):
            for allowed in (None, wide, narrow):
                want = fts5_order(conn, query, n, allowed)
                assert keyword_search(conn, query, n, allowed) == want, (query, n)
                checked += 1
        full = fts5_order(conn, query, 60)
        ties += len(full) - len({s for _, s in full})
    assert checked == 9 * count and ties > count  # ties were exercised: they go to the lower rowid, as FTS5's sorter has it


def test_pruned_top_is_fts5_order_on_skewed_index(skewed, prune_always):
    check_random_queries(skewed, 11, 15)


@pytest.mark.slow
def test_pruned_top_is_fts5_order_on_many_random_queries(skewed, prune_always):
    check_random_queries(skewed, 12, 150)


def test_fallback_past_the_candidate_cap_is_fts5_order(skewed, prune_always):
    prune_always.keyword_prune_max_candidates = 70  # the first read already holds more: FTS5 scores every match
    for query in random_queries(random.Random(5), 10):
        stats = keyword_stats(skewed, query)
        assert keyword_search(skewed, query, 10, None, stats=stats) == fts5_order(skewed, query, 10)


def test_statistics_path_is_pruned_and_exact(skewed, prune_always):
    """With statistics given (sharded serving), the same pruning: with this table's own statistics it is
    FTS5's order; three shards with summed statistics rank as the whole table."""
    shards = split_fts(skewed, 3)
    for query in random_queries(random.Random(3), 15):
        local = keyword_stats(skewed, query)
        assert keyword_search(skewed, query, 30, None, stats=local) == fts5_order(skewed, query, 30)
        stats = KeywordStats.merged([keyword_stats(s, query) for s in shards])
        assert stats == local
        merged = sorted((hit for s in shards for hit in keyword_search(s, query, 30, None, stats=stats)),
                        key=lambda kv: (-kv[1], kv[0]))[:30]
        want = fts5_order(skewed, query, 30)
        assert [r for r, _ in merged] == [r for r, _ in want] and max(abs(a[1] - b[1]) for a, b in zip(merged, want)) <= 1e-9


@pytest.mark.parametrize("cold_rows", [0, 30, 20_000])
def test_pruned_top_is_fts5_order_on_sample_questions(engine, prune_always, cold_rows):
    """Through the engine's pinned reader, whose kept phrases fill in the background: phrases in more than
    `cold_rows` rows start cold (their rows that could enter scored exactly), then are kept."""
    from indexer.store import IndexReader

    prune_always.keyword_cold_sync_rows = cold_rows
    reader = IndexReader(engine.index_dir)  # a fresh reader: nothing kept yet
    questions = [json.loads(line)["question"] for path in (DEVSET, HOLDOUT, FRESH)
                 for line in path.read_text().splitlines() if line.strip()]
    report = {r for (r,) in reader.execute("SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.document_id "
                                            "WHERE d.doc_type = 'report'")}
    checked = 0
    for question in questions[::3]:
        query = engine.plan(question).fts_query()
        if not query:
            continue
        for allowed in (None, report):
            assert keyword_search(reader, query, 60, allowed) == fts5_order(reader, query, 60, allowed), question
            checked += 1
    assert checked > 150 and reader.phrase_impacts.size > 0
    reader.close()


# ---- term postings stored at index time (indexer/postings.py) -----------------------------------
def _words(reader, limit: int = 400) -> list[str]:
    """Words as people type them, from the passages and headings (stems, numbers, acronyms, plurals)."""
    words = set()
    for text, heading in reader.execute(f"SELECT text, heading FROM chunks_fts LIMIT {limit}"):
        words.update(w.strip(".,;:()[]'\u2019").lower() for w in (text + " " + heading).split())
    return sorted(w for w in words if w and '"' not in w)


def assert_stored_postings_are_fts5s(index_dir, words=None) -> int:
    """Every word's rows and bm25() terms from the stored postings are FTS5's own, bit for bit (the rows
    of `MATCH` and bm25() of the word alone); every live row's stored length is FTS5's %_docsize."""
    from indexer.postings import term_postings
    from indexer.store import IndexReader
    from searchapi.retrieval.bm25 import row_lengths
    from searchapi.retrieval.keyword_topk import stored_impacts

    reader = IndexReader(index_dir)
    checked = 0
    for word in words or _words(reader):
        phrase = f'"{word}"'
        item = stored_impacts(reader, phrase)
        if item is None:  # several terms ("covid-19"): read from FTS5
            continue
        want = reader.execute(f"SELECT rowid, {BM25} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid", (phrase,))
        assert list(zip(item[0].tolist(), item[1].tolist())) == [(r, -s) for r, s in want], word
        checked += 1
    live = [r for (r,) in reader.execute("SELECT rowid FROM chunks_fts")]
    lengths = term_postings(reader).lengths
    assert {r: int(lengths[r]) for r in live} == row_lengths(reader, live)
    assert int((lengths > 0).sum()) == len(live)  # deleted rows count for nothing
    reader.close()
    return checked


def test_stored_postings_are_fts5s_terms(sample_index):
    assert assert_stored_postings_are_fts5s(sample_index) > 1000


def test_stored_postings_follow_added_replaced_and_removed_papers(sample_index, tmp_path, monkeypatch):
    """Each run appends a segment; past postings_max_segments a term's segments are merged, without the
    rows of replaced and removed papers; an index made before postings were stored gets them all."""
    import shutil

    from indexer.pipeline import index_paths
    from indexer.store import IndexReader, IndexStore
    from tests.conftest import CORPUS

    monkeypatch.setattr(get_settings(), "postings_max_segments", 2)
    index_dir, papers = tmp_path / "idx", tmp_path / "papers"
    shutil.copytree(sample_index, index_dir)
    papers.mkdir()
    sources = sorted(CORPUS.glob("*.txt"))[:3]
    for source in sources:
        (papers / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    words = ["commissioner", "police", "kent", "commissionaire", "budget", "2016", "pcc", "victims"]
    index_paths([papers], index_dir, progress=False)  # three papers twice: a second segment
    assert assert_stored_postings_are_fts5s(index_dir, words) == len(words)
    first, second, third = sorted(papers.iterdir())
    first.write_text(first.read_text(encoding="utf-8").replace("Commissioner", "Commissionaire"), encoding="utf-8")
    index_paths([papers], index_dir, progress=False)  # a third segment: merged, the replaced rows left out
    reader = IndexReader(index_dir)
    dead = {r for (r,) in reader.execute("SELECT rowid FROM postings_dead")}
    merged = reader.execute("SELECT rowids FROM postings WHERE term = 'kent'")
    assert dead and len(merged) == 1 and not dead & set(np.frombuffer(merged[0][0], "<u4").tolist())
    reader.close()
    second.unlink()
    third.write_text(third.read_text(encoding="utf-8") + "\n\nThe victims budget was agreed.\n", encoding="utf-8")
    index_paths([papers], index_dir, progress=False)
    assert assert_stored_postings_are_fts5s(index_dir, words) == len(words)
    reader = IndexReader(index_dir)
    assert max(n for _, n in reader.execute("SELECT term, count(*) FROM postings GROUP BY term")) <= 2
    reader.close()
    third.unlink()  # a run that only deletes: the newest rows go, some words' segments still list them
    index_paths([papers], index_dir, progress=False)
    assert assert_stored_postings_are_fts5s(index_dir, words + ["agreed"]) == len(words) + 1

    store = IndexStore(index_dir)  # as an index made before postings were stored
    with store.conn:
        for table in ("postings", "postings_lengths", "postings_dead"):
            store.conn.execute(f"DELETE FROM {table}")
        store.conn.execute("DELETE FROM meta WHERE key = 'postings'")
    store.close()
    reader = IndexReader(index_dir)
    assert reader.meta.get("postings") is None
    reader.close()
    (papers / "late.txt").write_text("Late paper\n\nThe victims budget for Kent police was set.\n", encoding="utf-8")
    index_paths([papers], index_dir, progress=False)
    assert assert_stored_postings_are_fts5s(index_dir, words) == len(words)
