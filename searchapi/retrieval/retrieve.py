"""First-stage retrieval: dense (FAISS inner product) and keyword (SQLite FTS5 BM25).

Both honour the filter's allowed chunk ids before their top-n cut, so a narrow filter still gets
its full share of candidates.
"""

from __future__ import annotations

import sqlite3

import numpy as np


def dense_search(index, query_vec: np.ndarray, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
    from indexer.vectors import search_parameters

    if index.ntotal == 0 or (allowed is not None and not allowed):
        return []
    params = search_parameters(index, allowed)  # IVF indexes need their own parameter type
    n = min(n, index.ntotal)
    scores, ids = index.search(query_vec.reshape(1, -1), n, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]


def keyword_search(conn: sqlite3.Connection, fts_query: str | None, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
    """BM25 over passage text (weight 1) and its heading path (weight 0.5); higher is better.
    `conn` is anything with SQLite's `execute`: an engine passes its pinned IndexReader."""
    if not fts_query or (allowed is not None and not allowed):
        return []
    limit = -1 if allowed is not None else n
    try:
        rows = conn.execute(
            "SELECT rowid, bm25(chunks_fts, 1.0, 0.5) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2 LIMIT ?",
            (fts_query, limit),
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    hits = [(int(r), -float(s)) for r, s in rows if allowed is None or r in allowed]
    return hits[:n]
