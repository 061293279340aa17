"""FTS5's BM25, reproduced: the statistics bm25() reads (rows, tokens, rows per phrase), each row's
phrase frequencies and length read back from FTS5, and FTS5's formula applied with any statistics.

A sharded index must score as one machine would, but FTS5's own bm25() reads only its own table's
statistics; with these pieces a shard scores its rows with statistics summed over all shards, and the
keyword top n (keyword_topk.py) can score a few rows exactly without FTS5 scoring every match.
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass

import numpy as np

from indexer.postings import fts_schema, scratch_fts, term_postings

COLUMN_WEIGHTS = (1.0, 0.5)  # passage text, heading path
K1, B = 1.2, 0.75  # FTS5's bm25() constants (ext/fts5/fts5_aux.c)
_MIN_IDF = 1e-6  # FTS5 clamps an IDF <= 0 (a phrase in over half the rows) to this
_FREQ_STEP = 0.5  # a row's weighted phrase frequency is a sum of column weights, so a multiple of 0.5
_PHRASE = re.compile(r'"((?:[^"]|"")*)"')
BM25_SQL = f"bm25(chunks_fts, {COLUMN_WEIGHTS[0]}, {COLUMN_WEIGHTS[1]})"  # higher is better once negated


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


def term_impacts(freqs: np.ndarray, lengths: np.ndarray, idf: float, avgdl: float) -> np.ndarray:
    """One phrase's term of bm25() in many rows at once: bit for bit what `bm25` (and FTS5) adds, the same
    IEEE operations in the same order, element by element."""
    return idf * ((freqs * (K1 + 1.0)) / (freqs + K1 * (1 - B + B * lengths / avgdl)))


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


def phrase_frequencies(conn, fts_query: str, local: KeywordStats) -> tuple[list[dict[int, float]], dict[int, int]]:
    """Per phrase of the query: every row holding it -> its column-weighted frequency there; and each
    such row's length. Read back from FTS5's own bm25() of the phrase alone over its whole doclist
    (`local`: this table's statistics for the query), so matching stays exactly FTS5's."""
    per_phrase = [conn.execute(f"SELECT rowid, {BM25_SQL} FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)).fetchall()
                  for phrase in fts_phrases(fts_query)]
    lengths = row_lengths(conn, sorted({int(r) for hits in per_phrase for r, _ in hits}))
    return _solved(per_phrase, lengths, local), lengths


def _solved(per_phrase: list[list[tuple[int, float]]], lengths: dict[int, int], local: KeywordStats) -> list[dict[int, float]]:
    """Each row's frequency of each phrase, solved from bm25() of that phrase alone with `local` statistics."""
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
    return freqs


def row_frequencies(conn, phrases: list[str], rowids: list[int]) -> tuple[list[dict[int, float]], dict[int, int]]:
    """Per phrase: each of `rowids` holding it -> its column-weighted frequency there (FTS5's matching,
    FTS5's tokens); and every one of those rows' length. The rows are copied into this thread's scratch
    FTS5 table (indexer/postings.py): one phrase's frequencies in a few rows then cost a re-tokenisation of
    those rows, not a walk of the phrase's whole doclist (bm25() of `MATCH ? AND rowid IN (...)` recounts
    every phrase's rows once per rowid: FTS5 filters an IN list one value at a time)."""
    scratch = scratch_fts(fts_schema(conn))
    scratch.execute("BEGIN")
    for start in range(0, len(rowids), 500):
        part = rowids[start:start + 500]
        scratch.executemany("INSERT INTO chunks_fts(rowid, text, heading) VALUES (?,?,?)", conn.execute(
            f"SELECT rowid, text, heading FROM chunks_fts WHERE rowid IN ({','.join('?' * len(part))})", part))
    scratch.execute("COMMIT")  # FTS5 writes the scratch table's totals when the transaction ends
    rows, tokens = table_size(scratch)
    lengths = {int(r): sum(_varints(size)) for r, size in scratch.execute("SELECT id, sz FROM chunks_fts_docsize")}
    per_phrase = [scratch.execute(f"SELECT rowid, {BM25_SQL} FROM chunks_fts WHERE chunks_fts MATCH ?", (p,)).fetchall()
                  for p in phrases]
    local = KeywordStats(rows, tokens, tuple(len(hits) for hits in per_phrase))
    return _solved(per_phrase, lengths, local), lengths


def keyword_stats(conn, fts_query: str | None) -> KeywordStats:
    """This index's share of the statistics bm25() reads for `fts_query` (summed over shards by a router).
    Rows per phrase are counted from a word's stored postings, else by FTS5 (a walk of the phrase's
    doclist, about 30 ms for a word in 700k rows), and kept by a pinned reader (`phrase_rows`)."""
    rows, tokens = table_size(conn)
    cache = getattr(conn, "phrase_rows", None)
    kept = getattr(conn, "phrase_impacts", None)
    stored = term_postings(conn)
    counts = []
    for phrase in fts_phrases(fts_query or ""):
        count = cache.get(phrase) if cache is not None else None
        if count is None and kept is not None:
            impacts = kept.get(phrase)  # a kept phrase's rows are counted already
            count = len(impacts[0]) if impacts is not None else None
        term = stored.term(phrase) if count is None and stored is not None else None
        if term is not None:
            count = stored.count(term)  # a word's stored postings (kept a while for its bm25() terms)
        elif count is None:
            try:
                count = conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)).fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
        if cache is not None:
            cache.put(phrase, count)
        counts.append(count)
    return KeywordStats(rows, tokens, tuple(counts))


def ranked(freqs: list[dict[int, float]], lengths: dict[int, int], stats: KeywordStats,
            allowed: set[int] | None = None) -> list[tuple[int, float]]:
    scored = [(rowid, bm25([f.get(rowid, 0.0) for f in freqs], length, stats))
              for rowid, length in lengths.items() if allowed is None or rowid in allowed]
    return sorted(scored, key=lambda kv: (-kv[1], kv[0]))
