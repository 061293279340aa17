"""First-stage retrieval: dense (FAISS inner product) and keyword (SQLite FTS5 BM25).

Both honour the filter's allowed chunk ids before their top-n cut, so a narrow filter still gets
its full share of candidates.

Keyword scores can also be computed with statistics wider than one index (a sharded index, where
every shard must score as one machine would): FTS5's own bm25() reads only its own table's row count,
average length and phrase document counts, so `keyword_search(..., stats=...)` recovers each row's
phrase frequencies and length and scores them in Python with the statistics given, by FTS5's formula
(bm25.py); keyword_topk.py finds the top n without scoring every match.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from indexer.postings import term_postings
from searchapi.retrieval.bm25 import KeywordStats, keyword_stats, phrase_frequencies, ranked
from searchapi.retrieval.keyword_topk import fts5_top, impact_cache, pruned_top, summed_top


def dense_search(index, query_vec: np.ndarray, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
    from indexer.vectors import search_parameters

    if index.ntotal == 0 or (allowed is not None and not allowed):
        return []
    params = search_parameters(index, allowed)  # IVF indexes need their own parameter type
    n = min(n, index.ntotal)
    scores, ids = index.search(query_vec.reshape(1, -1), n, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]


def keyword_search(conn: sqlite3.Connection, fts_query: str | None, n: int, allowed: set[int] | None,
                   stats: KeywordStats | None = None) -> list[tuple[int, float]]:
    """BM25 over passage text (weight 1) and its heading path (weight 0.5); higher is better; ties by rowid.
    `conn` is anything with SQLite's `execute`: an engine passes its pinned IndexReader.
    `stats`: score with these statistics (a sharded index's, summed) instead of this table's own.
    Exactly FTS5's `ORDER BY bm25()` (same rows, same scores), without scoring every match when the
    query's phrases match many rows (see `pruned_top`)."""
    from indexer.settings import get_settings

    if not fts_query or n <= 0 or (allowed is not None and not allowed):
        return []
    settings = get_settings()
    try:
        local = keyword_stats(conn, fts_query)
        stored = stats is None and term_postings(conn) is not None  # a word's terms are computed, not read
        if sum(local.phrase_rows) > (settings.keyword_stored_min_matches if stored else settings.keyword_prune_min_matches):
            if stats is None:
                top = summed_top(conn, fts_query, n, allowed, local,
                                  impact_cache(conn, settings.keyword_impact_cache_postings), settings)
            else:
                top = pruned_top(conn, fts_query, n, allowed, local, stats, settings.keyword_prune_max_candidates)
            if top is not None:
                return top
        if stats is None:
            return fts5_top(conn, fts_query, n, allowed)
        return ranked(*phrase_frequencies(conn, fts_query, local), stats, allowed)[:n]
    except sqlite3.OperationalError:
        return []
