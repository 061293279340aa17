"""First-stage retrieval: dense (FAISS inner product) and keyword (SQLite FTS5 BM25).

Both honour the filter's allowed chunk ids before their top-n cut, so a narrow filter still gets
its full share of candidates.

Keyword scores can also be computed with statistics wider than one index (a sharded index, where
every shard must score as one machine would): FTS5's own bm25() reads only its own table's row count,
average length and phrase document counts, so `keyword_search(..., stats=...)` recovers each row's
phrase frequencies and length and scores them in Python with the statistics given, by FTS5's formula.
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass

import numpy as np

COLUMN_WEIGHTS = (1.0, 0.5)  # passage text, heading path
K1, B = 1.2, 0.75  # FTS5's bm25() constants (ext/fts5/fts5_aux.c)
_MIN_IDF = 1e-6  # FTS5 clamps an IDF <= 0 (a phrase in over half the rows) to this
_FREQ_STEP = 0.5  # a row's weighted phrase frequency is a sum of column weights, so a multiple of 0.5
_PHRASE = re.compile(r'"((?:[^"]|"")*)"')
_BM25 = f"bm25(chunks_fts, {COLUMN_WEIGHTS[0]}, {COLUMN_WEIGHTS[1]})"  # higher is better once negated


def dense_search(index, query_vec: np.ndarray, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
    from indexer.vectors import search_parameters

    if index.ntotal == 0 or (allowed is not None and not allowed):
        return []
    params = search_parameters(index, allowed)  # IVF indexes need their own parameter type
    n = min(n, index.ntotal)
    scores, ids = index.search(query_vec.reshape(1, -1), n, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]


@dataclass(frozen=True)
class KeywordStats:
    """What FTS5's bm25() reads from the table: its rows, their total tokens (all columns), and how
    many rows hold each phrase of the query. Shards' statistics add up to one machine's."""

    rows: int
    tokens: int
    phrase_rows: tuple[int, ...]

    @property
    def avgdl(self) -> float:
        return self.tokens / self.rows if self.rows else 1.0

    def idf(self, i: int) -> float:
        idf = math.log((self.rows - self.phrase_rows[i] + 0.5) / (self.phrase_rows[i] + 0.5))
        return idf if idf > 0.0 else _MIN_IDF

    @classmethod
    def merged(cls, parts: list["KeywordStats"]) -> "KeywordStats":
        return cls(sum(p.rows for p in parts), sum(p.tokens for p in parts),
                   tuple(sum(c) for c in zip(*(p.phrase_rows for p in parts))))


def bm25(freqs: list[float], length: int, stats: KeywordStats) -> float:
    """FTS5's bm25() of one row (positive: higher is better), as fts5Bm25Function computes it."""
    score = 0.0
    for i, f in enumerate(freqs):
        score += stats.idf(i) * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + B * length / stats.avgdl)))
    return score


def fts_phrases(fts_query: str) -> list[str]:
    """The phrases of a query made by ParsedQuery.fts_query ('"a" OR "b c"'), in FTS5's order."""
    return ['"' + p + '"' for p in _PHRASE.findall(fts_query)]


def _varints(blob: bytes) -> list[int]:
    """SQLite varints (FTS5's %_docsize and averages records)."""
    out, i = [], 0
    while i < len(blob):
        value = 0
        for j in range(9):
            byte = blob[i + j]
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
        i += j + 1
    return out


def table_size(conn) -> tuple[int, int]:
    """(rows, tokens over all columns) of chunks_fts, from FTS5's averages record (what bm25() reads)."""
    row = conn.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
    values = _varints(row[0]) if row and row[0] else [0]
    return values[0], sum(values[1:])


def row_lengths(conn, rowids: list[int]) -> dict[int, int]:
    """Each row's token count over all columns (FTS5's %_docsize)."""
    out: dict[int, int] = {}
    for start in range(0, len(rowids), 500):
        part = rowids[start:start + 500]
        marks = ",".join("?" * len(part))
        for rowid, size in conn.execute(f"SELECT id, sz FROM chunks_fts_docsize WHERE id IN ({marks})", part):
            out[int(rowid)] = sum(_varints(size))
    return out


def phrase_frequencies(conn, fts_query: str, local: KeywordStats,
                       rowids: list[int] | None = None) -> tuple[list[dict[int, float]], dict[int, int]]:
    """Per phrase of the query: each row holding it (of `rowids`, or all) -> its column-weighted
    frequency there; and each such row's length. Read back from FTS5's own bm25() of the phrase alone
    (`local`: this table's statistics for the query), so matching stays exactly FTS5's."""
    per_phrase = []
    for phrase in fts_phrases(fts_query):
        if rowids is None:
            per_phrase.append(conn.execute(f"SELECT rowid, {_BM25} FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)).fetchall())
            continue
        hits = []
        for start in range(0, len(rowids), 500):
            part = rowids[start:start + 500]
            hits += conn.execute(f"SELECT rowid, {_BM25} FROM chunks_fts WHERE chunks_fts MATCH ? "
                                 f"AND rowid IN ({','.join('?' * len(part))})", (phrase, *part)).fetchall()
        per_phrase.append(hits)
    lengths = row_lengths(conn, sorted({int(r) for hits in per_phrase for r, _ in hits}))
    freqs = []
    for i, hits in enumerate(per_phrase):
        idf = local.idf(i)
        found = {}
        for rowid, score in hits:
            s = -float(score)
            norm = K1 * (1 - B + B * lengths[int(rowid)] / local.avgdl)
            f = s * norm / (idf * (K1 + 1.0) - s)  # bm25 of one phrase solved for its frequency
            found[int(rowid)] = round(f / _FREQ_STEP) * _FREQ_STEP
        freqs.append(found)
    return freqs, lengths


def keyword_stats(conn, fts_query: str | None) -> KeywordStats:
    """This index's share of the statistics bm25() reads for `fts_query` (summed over shards by a router)."""
    rows, tokens = table_size(conn)
    counts = []
    for phrase in fts_phrases(fts_query or ""):
        try:
            counts.append(conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)).fetchone()[0])
        except sqlite3.OperationalError:
            counts.append(0)
    return KeywordStats(rows, tokens, tuple(counts))


def keyword_search(conn: sqlite3.Connection, fts_query: str | None, n: int, allowed: set[int] | None,
                   stats: KeywordStats | None = None) -> list[tuple[int, float]]:
    """BM25 over passage text (weight 1) and its heading path (weight 0.5); higher is better.
    `conn` is anything with SQLite's `execute`: an engine passes its pinned IndexReader.
    `stats`: score with these statistics (a sharded index's, summed) instead of this table's own."""
    if not fts_query or (allowed is not None and not allowed):
        return []
    if stats is not None:
        return _keyword_search_with(conn, fts_query, n, allowed, stats)
    limit = -1 if allowed is not None else n
    try:
        rows = conn.execute(
            f"SELECT rowid, {_BM25} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2 LIMIT ?",
            (fts_query, limit),
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    hits = [(int(r), -float(s)) for r, s in rows if allowed is None or r in allowed]
    return hits[:n]


def _keyword_search_with(conn, fts_query: str, n: int, allowed: set[int] | None,
                         stats: KeywordStats) -> list[tuple[int, float]]:
    try:
        local = keyword_stats(conn, fts_query)
        if allowed is None:
            return _top_by_bound(conn, fts_query, n, local, stats)
        freqs, lengths = phrase_frequencies(conn, fts_query, local)
    except sqlite3.OperationalError:
        return []
    return _ranked(freqs, lengths, stats, allowed)[:n]


def _ranked(freqs: list[dict[int, float]], lengths: dict[int, int], stats: KeywordStats,
            allowed: set[int] | None = None) -> list[tuple[int, float]]:
    scored = [(rowid, bm25([f.get(rowid, 0.0) for f in freqs], length, stats))
              for rowid, length in lengths.items() if allowed is None or rowid in allowed]
    return sorted(scored, key=lambda kv: (-kv[1], kv[0]))


def _top_by_bound(conn, fts_query: str, n: int, local: KeywordStats, stats: KeywordStats) -> list[tuple[int, float]]:
    """The top n with the given statistics, reading rows in FTS5's own order only until no unread row
    can enter: per phrase, a row's score with other statistics is at most its own times the ratio of
    the IDFs and of the length normalisations (the latter at most the ratio of the average lengths)."""
    ratios = [stats.idf(i) / local.idf(i) for i, count in enumerate(local.phrase_rows) if count]
    if not ratios:
        return []
    bound = max(ratios) * max(1.0, stats.avgdl / local.avgdl)
    read = max(4 * n, 64)
    while True:
        rows = conn.execute(f"SELECT rowid, {_BM25} FROM chunks_fts "
                            "WHERE chunks_fts MATCH ? ORDER BY 2 LIMIT ?", (fts_query, read)).fetchall()
        scored = _ranked(*phrase_frequencies(conn, fts_query, local, [int(r) for r, _ in rows]), stats)
        if len(rows) < read:
            return scored[:n]
        unread_at_most = bound * -float(rows[-1][1]) * (1 + 1e-9)  # 1e-9: floating-point rounding only
        if len(scored) >= n and unread_at_most < scored[n - 1][1]:
            return scored[:n]
        read *= 4
