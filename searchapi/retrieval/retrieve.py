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
import threading
from collections import OrderedDict
from itertools import chain
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


def phrase_frequencies(conn, fts_query: str, local: KeywordStats) -> tuple[list[dict[int, float]], dict[int, int]]:
    """Per phrase of the query: every row holding it -> its column-weighted frequency there; and each
    such row's length. Read back from FTS5's own bm25() of the phrase alone over its whole doclist
    (`local`: this table's statistics for the query), so matching stays exactly FTS5's."""
    per_phrase = [conn.execute(f"SELECT rowid, {_BM25} FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)).fetchall()
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


class _Scratch(threading.local):
    """A per-thread in-memory FTS5 table with the index's own tokenizer, into which the rows to be scored
    are copied: one phrase's frequencies in a few rows then cost a re-tokenisation of those rows, not a
    walk of the phrase's whole doclist (bm25() of `MATCH ? AND rowid IN (...)` recounts every phrase's
    rows once per rowid: FTS5 filters an IN list one value at a time)."""

    conn: sqlite3.Connection | None = None
    schema: str | None = None


_SCRATCH = _Scratch()


def row_frequencies(conn, phrases: list[str], rowids: list[int]) -> tuple[list[dict[int, float]], dict[int, int]]:
    """Per phrase: each of `rowids` holding it -> its column-weighted frequency there (FTS5's matching,
    FTS5's tokens); and every one of those rows' length."""
    schema = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()[0]
    if _SCRATCH.conn is None:
        _SCRATCH.conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    scratch = _SCRATCH.conn
    scratch.execute("DROP TABLE IF EXISTS chunks_fts")  # a fresh table: cheaper than deleting rows one by one
    scratch.execute(schema)
    _SCRATCH.schema = schema
    scratch.execute("BEGIN")
    for start in range(0, len(rowids), 500):
        part = rowids[start:start + 500]
        scratch.executemany("INSERT INTO chunks_fts(rowid, text, heading) VALUES (?,?,?)", conn.execute(
            f"SELECT rowid, text, heading FROM chunks_fts WHERE rowid IN ({','.join('?' * len(part))})", part))
    scratch.execute("COMMIT")  # FTS5 writes the scratch table's totals when the transaction ends
    rows, tokens = table_size(scratch)
    lengths = {int(r): sum(_varints(size)) for r, size in scratch.execute("SELECT id, sz FROM chunks_fts_docsize")}
    per_phrase = [scratch.execute(f"SELECT rowid, {_BM25} FROM chunks_fts WHERE chunks_fts MATCH ?", (p,)).fetchall()
                  for p in phrases]
    local = KeywordStats(rows, tokens, tuple(len(hits) for hits in per_phrase))
    return _solved(per_phrase, lengths, local), lengths


def keyword_stats(conn, fts_query: str | None) -> KeywordStats:
    """This index's share of the statistics bm25() reads for `fts_query` (summed over shards by a router).
    Rows per phrase are counted by FTS5 (a walk of the phrase's doclist) and kept by a pinned reader
    (`phrase_rows`, a cache of its generation's counts)."""
    rows, tokens = table_size(conn)
    cache = getattr(conn, "phrase_rows", None)
    kept = getattr(conn, "phrase_impacts", None)
    counts = []
    for phrase in fts_phrases(fts_query or ""):
        count = cache.get(phrase) if cache is not None else None
        if count is None and kept is not None:
            impacts = kept.get(phrase)  # a kept phrase's rows are counted already
            count = len(impacts[0]) if impacts is not None else None
        if count is None:
            try:
                count = conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)).fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if cache is not None:
                cache.put(phrase, count)
        counts.append(count)
    return KeywordStats(rows, tokens, tuple(counts))


def keyword_search(conn: sqlite3.Connection, fts_query: str | None, n: int, allowed: set[int] | None,
                   stats: KeywordStats | None = None) -> list[tuple[int, float]]:
    """BM25 over passage text (weight 1) and its heading path (weight 0.5); higher is better; ties by rowid.
    `conn` is anything with SQLite's `execute`: an engine passes its pinned IndexReader.
    `stats`: score with these statistics (a sharded index's, summed) instead of this table's own.
    Exactly FTS5's `ORDER BY bm25()` (same rows, same scores), without scoring every match when the
    query's phrases match many rows (see `_pruned_top`)."""
    from indexer.settings import get_settings

    if not fts_query or n <= 0 or (allowed is not None and not allowed):
        return []
    settings = get_settings()
    try:
        local = keyword_stats(conn, fts_query)
        if sum(local.phrase_rows) > settings.keyword_prune_min_matches:
            if stats is None:
                top = _summed_top(conn, fts_query, n, allowed, local,
                                  impact_cache(conn, settings.keyword_impact_cache_postings), settings)
            else:
                top = _pruned_top(conn, fts_query, n, allowed, local, stats, settings.keyword_prune_max_candidates)
            if top is not None:
                return top
        if stats is None:
            return _fts5_top(conn, fts_query, n, allowed)
        return _ranked(*phrase_frequencies(conn, fts_query, local), stats, allowed)[:n]
    except sqlite3.OperationalError:
        return []


class ImpactCache:
    """phrase -> (rowids ascending, the phrase's own bm25 in each row), least recently used first out,
    holding at most `budget` rows in all. Valid for one pinned generation (kept by its reader), whose
    common phrases it also reads in the background (`fill_later`) on a connection of its own."""

    def __init__(self, budget: int):
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._filler: threading.Thread | None = None

    def get(self, phrase: str):
        with self._lock:
            item = self._items.get(phrase)
            if item is not None:
                self._items.move_to_end(phrase)
            return item

    def put(self, phrase: str, item: tuple[np.ndarray, np.ndarray]) -> None:
        with self._lock:
            if phrase in self._items or len(item[0]) > self.budget:
                return
            self._items[phrase] = item
            self.size += len(item[0])
            while self.size > self.budget:
                _, (rows, _) = self._items.popitem(last=False)
                self.size -= len(rows)

    def fill_later(self, reader, phrases: list[str]) -> None:
        """Read these phrases' terms in a background thread, from the reader's generation only."""
        with self._lock:
            self._pending += [p for p in phrases if p not in self._items and p not in self._pending]
            if not self._pending or (self._filler is not None and self._filler.is_alive()):
                return
            self._filler = threading.Thread(target=self._fill, args=(reader.dir / "index.sqlite", reader.generation),
                                            name="impact-fill", daemon=True)
            self._filler.start()

    def _fill(self, path, generation: int) -> None:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            conn.execute("BEGIN")
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            while row is not None and int(row[0]) == generation:  # a newer generation: its engine fills its own
                with self._lock:
                    if not self._pending:
                        return
                    phrase = self._pending.pop(0)
                self.put(phrase, phrase_impacts(conn, phrase, None))
        except sqlite3.Error:
            pass
        finally:
            with self._lock:
                self._pending.clear()
            conn.close()


def impact_cache(conn, budget: int) -> ImpactCache | None:
    """A pinned reader's cache (made on first use); None for a plain connection."""
    if not hasattr(conn, "phrase_impacts"):
        return None
    if conn.phrase_impacts is None:
        conn.phrase_impacts = ImpactCache(budget)
    return conn.phrase_impacts


def phrase_impacts(conn, phrase: str, cache: ImpactCache | None) -> tuple[np.ndarray, np.ndarray]:
    """Every row holding the phrase (ascending) and the phrase's own term of bm25() there: FTS5's bm25()
    of the phrase alone is 0.0 plus that term, the very value it adds in any query holding the phrase
    (its IDF reads only the phrase's own row count)."""
    item = cache.get(phrase) if cache is not None else None
    if item is None:
        rows = conn.execute(f"SELECT rowid, -{_BM25} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid",
                            (phrase,)).fetchall()
        found = np.fromiter(chain.from_iterable(rows), dtype="float64", count=2 * len(rows)).reshape(-1, 2)
        rowids = found[:, 0]
        item = (rowids.astype(np.intp), np.ascontiguousarray(found[:, 1]))  # intp: indexes without a copy
        if cache is not None:
            cache.put(phrase, item)
    return item


def phrase_rowids(conn, phrase: str) -> np.ndarray:
    """The rows holding a phrase, without scoring them (FTS5 walks the doclist: tens of ns a row)."""
    rows = conn.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)).fetchall()
    return np.fromiter(chain.from_iterable(rows), dtype="int64", count=len(rows))


def _summed_top(conn, fts_query: str, n: int, allowed: set[int] | None, local: KeywordStats,
                cache: ImpactCache | None, settings) -> list[tuple[int, float]] | None:
    """FTS5's top n from each phrase's own bm25() terms, which a reader keeps (a phrase common to many
    queries is read from FTS5 once), every score added up phrase by phrase in the query's order as bm25()
    adds them, so bit for bit FTS5's. MaxScore over the kept terms: a phrase adds at most idf * (k1 + 1);
    rows are gathered from the phrases with the highest bounds ("essential") until the other phrases'
    bounds fall below the n-th best sum so far; only rows that could still enter get the other phrases'
    terms (looked up by rowid). A phrase not kept yet and in many rows ("cold") is read in the background;
    meanwhile the rows that could enter are scored exactly by re-tokenising them. Ties go to the lower
    rowid, as FTS5's sorter has it. None when FTS5 scoring every match is the cheaper way."""
    phrases = fts_phrases(fts_query)
    bound = {p: 0.0 for p in phrases}
    for i, phrase in enumerate(phrases):
        bound[phrase] += local.idf(i) * (K1 + 1.0)  # bm25 saturates in a phrase's frequency
    known: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    rows_of = dict(zip(phrases, local.phrase_rows))
    for phrase in bound:
        item = cache.get(phrase) if cache is not None else None
        if item is None and (cache is None or rows_of[phrase] <= settings.keyword_cold_sync_rows):
            item = phrase_impacts(conn, phrase, cache)
        if item is not None:
            known[phrase] = item
    cold = [p for p in bound if p not in known]
    spend = settings.keyword_cold_sync_share * sum(local.phrase_rows)
    slack = 1 + 1e-9  # floating-point rounding only
    essential: list[str] = []
    while True:
        rest = sum(bound[p] for p in bound if p not in essential) * slack
        rows, partial, cut = _essential_sums(phrases, known, essential, n, allowed)
        if rest < cut:
            break  # a row holding none of the essential phrases cannot enter
        waiting = [p for p in known if p not in essential]
        if waiting:  # the kept phrase with the highest bound becomes essential
            essential.append(max(waiting, key=lambda p: (bound[p], -rows_of[p])))
            continue
        if not cold:
            break  # every phrase is essential: every matching row is in
        rarest = min(cold, key=rows_of.get)  # a row holding only cold phrases could enter: read one now
        if rows_of[rarest] > spend:
            return None
        spend -= rows_of[rarest]
        known[rarest] = phrase_impacts(conn, rarest, cache)
        cold.remove(rarest)
    if cold and cache is not None and hasattr(conn, "dir"):
        cache.fill_later(conn, cold)
    rest = sum(bound[p] for p in bound if p not in essential) * slack
    rows = rows[partial + rest >= cut]  # the rows that could still enter
    scores = np.zeros(len(rows), dtype="float64")
    for phrase in phrases:  # their sums over every kept phrase, in the query's order
        if phrase in known and len(known[phrase][0]):
            found, terms = known[phrase]
            at = np.minimum(np.searchsorted(found, rows), len(found) - 1)
            scores += np.where(found[at] == rows, terms[at], 0.0)  # + 0.0 leaves a sum as it is
    if cold:
        cold_bound = sum(bound[p] for p in cold) * slack
        cut = -np.partition(-scores, n - 1)[n - 1] if len(rows) > n else -np.inf
        unsure = scores + cold_bound >= cut  # may hold a cold phrase and enter: scored exactly
        if int(unsure.sum()) > settings.keyword_prune_max_candidates:
            return None
        rows = rows[unsure]
        exact = dict(_ranked(*row_frequencies(conn, phrases, rows.tolist()), local)) if len(rows) else {}
        scores = np.array([exact[int(r)] for r in rows], dtype="float64")
    order = np.lexsort((rows, -scores))[:n]
    return [(int(r), float(s)) for r, s in zip(rows[order], scores[order])]


def _essential_sums(phrases: list[str], known: dict, essential: list[str], n: int,
                    allowed: set[int] | None) -> tuple[np.ndarray, np.ndarray, float]:
    """The allowed rows holding an essential phrase (ascending), their sums over the essential phrases (a
    lower bound of their scores), and the n-th best of those sums (-inf with n rows or fewer)."""
    last = max((int(known[p][0][-1]) for p in essential if len(known[p][0])), default=-1)
    score = np.zeros(last + 1, dtype="float64")
    held = np.zeros(last + 1, dtype=bool)
    for phrase in phrases:
        if phrase in essential:
            rows, terms = known[phrase]
            score[rows] += terms  # rowids are distinct within a phrase: one addition per row
            held[rows] = True
    rows = np.flatnonzero(held)
    if allowed is not None and len(rows):
        keep = np.zeros(last + 1, dtype=bool)
        wanted = np.fromiter(allowed, dtype="int64", count=len(allowed))
        keep[wanted[(wanted >= 0) & (wanted <= last)]] = True
        rows = rows[keep[rows]]
    scores = score[rows]
    cut = -np.partition(-scores, n - 1)[n - 1] if len(rows) > n else -np.inf
    return rows, scores, cut


def _fts5_top(conn, fts_query: str, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
    """FTS5 scores every match and sorts (ties in rowid order, as SQLite's sorter keeps insertion order)."""
    limit = -1 if allowed is not None else n
    rows = conn.execute(f"SELECT rowid, {_BM25} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2 LIMIT ?",
                        (fts_query, limit)).fetchall()
    hits = [(int(r), -float(s)) for r, s in rows if allowed is None or r in allowed]
    return hits[:n]


def _ranked(freqs: list[dict[int, float]], lengths: dict[int, int], stats: KeywordStats,
            allowed: set[int] | None = None) -> list[tuple[int, float]]:
    scored = [(rowid, bm25([f.get(rowid, 0.0) for f in freqs], length, stats))
              for rowid, length in lengths.items() if allowed is None or rowid in allowed]
    return sorted(scored, key=lambda kv: (-kv[1], kv[0]))


def _pruned_top(conn, fts_query: str, n: int, allowed: set[int] | None, local: KeywordStats, stats: KeywordStats,
                max_scored: int) -> list[tuple[int, float]] | None:
    """The top n by BM25 with `stats` (MaxScore pruning over FTS5's postings), or None past `max_scored`.

    A phrase adds at most idf * (k1 + 1) to a row's score (BM25 saturates in its frequency). Phrases
    are taken rarest first: rows holding one of the first j ("essential") phrases are read from FTS5
    best first by their score over those phrases, and each row read is scored exactly over all phrases.
    A row not read yet scores at most (its essential score, at most the last one read, scaled when
    `stats` are not this table's) + the bounds of the other phrases; a row holding none of the first j
    at most those bounds. Reading stops once both fall below the n-th exact score (strictly: ties go
    to the lower rowid, which may be unread); the bounds of the other phrases too high, one more
    phrase becomes essential; else four times as many rows are read."""
    phrases = fts_phrases(fts_query)
    present = sorted((i for i, count in enumerate(local.phrase_rows) if count), key=lambda i: (local.phrase_rows[i], i))
    if not present:
        return []
    bound = [stats.idf(i) * (K1 + 1.0) for i in range(len(phrases))]
    # this table's bm25() of a row over some phrases, scaled to `stats`: at most the ratio of the IDFs
    # times that of the average lengths (a longer average shortens every row's normalisation)
    ratio = [stats.idf(i) / local.idf(i) * max(1.0, stats.avgdl / local.avgdl) for i in range(len(phrases))]
    slack = 1 + 1e-9  # floating-point rounding only
    scored: dict[int, float] = {}
    essential, read = 1, max(4 * n, 64)
    while True:
        chosen = present[:essential]
        rest = sum(bound[i] for i in present[essential:]) * slack
        rows = conn.execute(f"SELECT rowid, {_BM25} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2 LIMIT ?",
                            (" OR ".join(phrases[i] for i in chosen), read)).fetchall()
        fresh = [int(r) for r, _ in rows if int(r) not in scored and (allowed is None or int(r) in allowed)]
        if len(scored) + len(fresh) > max_scored:
            return None
        if fresh:
            freqs, lengths = row_frequencies(conn, phrases, fresh)
            scored.update(_ranked(freqs, lengths, stats))
        top = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        exhausted = len(rows) < read
        unread = rest if exhausted else max(ratio[i] for i in chosen) * -float(rows[-1][1]) * slack + rest
        if exhausted and essential == len(present):
            return top  # every matching row scored
        if len(top) == n and unread < top[-1][1]:
            return top
        if exhausted or (len(top) == n and essential < len(present) and rest >= top[-1][1]):
            essential += 1  # rows holding none of the essential phrases could still enter
        else:
            read *= 4
