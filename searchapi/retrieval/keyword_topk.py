"""The keyword top n without scoring every match: MaxScore over each phrase's own bm25() terms
(kept per reader by ImpactCache) or over FTS5's postings with summed statistics (shards), every score
exactly FTS5's (same rows, same scores, ties by rowid). retrieve.keyword_search chooses the route.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from itertools import chain

import numpy as np

from indexer.postings import term_postings
from searchapi.retrieval.bm25 import (BM25_SQL, K1, KeywordStats, fts_phrases, ranked, row_frequencies, table_size,
                                       term_impacts)


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
    (its IDF reads only the phrase's own row count). A word's term is computed from the postings stored
    at index time; a phrase of several words is read from FTS5 (about 2 us a row)."""
    item = cache.get(phrase) if cache is not None else None
    if item is None:
        item = stored_impacts(conn, phrase)
        if item is None:
            rows = conn.execute(f"SELECT rowid, -{BM25_SQL} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid",
                                (phrase,)).fetchall()
            found = np.fromiter(chain.from_iterable(rows), dtype="float64", count=2 * len(rows)).reshape(-1, 2)
            item = (found[:, 0].astype(np.intp), np.ascontiguousarray(found[:, 1]))  # intp: indexes without a copy
        if cache is not None:
            cache.put(phrase, item)
    return item


def stored_impacts(conn, phrase: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The phrase's bm25() terms from the stored postings, when it is one word and they are stored."""
    stored = term_postings(conn)
    term = stored.term(phrase) if stored is not None else None
    if term is None:
        return None
    rowids, freqs, lengths = stored.rows(term)
    table = KeywordStats(*table_size(conn), (len(rowids),))
    return rowids, term_impacts(freqs, lengths, table.idf(0), table.avgdl)


def is_stored(conn, phrase: str) -> bool:
    stored = term_postings(conn)
    return stored is not None and stored.term(phrase) is not None


def summed_top(conn, fts_query: str, n: int, allowed: set[int] | None, local: KeywordStats,
                cache: ImpactCache | None, settings) -> list[tuple[int, float]] | None:
    """FTS5's top n from each phrase's own bm25() terms, which a reader keeps (a word's computed from its
    stored postings, a phrase of several words read from FTS5 once), every score added up phrase by
    phrase in the query's order as bm25() adds them, so bit for bit FTS5's. MaxScore over the kept terms: a phrase adds at most idf * (k1 + 1);
    rows are gathered from the phrases with the highest bounds ("essential") until the other phrases'
    bounds fall below the n-th best sum so far; only rows that could still enter get the other phrases'
    terms (looked up by rowid). A phrase of several words not kept yet and in many rows ("cold"; a word
    with stored postings never is) is read in the background;
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
        if item is None and (cache is None or rows_of[phrase] <= settings.keyword_cold_sync_rows or is_stored(conn, phrase)):
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
        exact = dict(ranked(*row_frequencies(conn, phrases, rows.tolist()), local)) if len(rows) else {}
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


def fts5_top(conn, fts_query: str, n: int, allowed: set[int] | None) -> list[tuple[int, float]]:
    """FTS5 scores every match and sorts (ties in rowid order, as SQLite's sorter keeps insertion order)."""
    limit = -1 if allowed is not None else n
    rows = conn.execute(f"SELECT rowid, {BM25_SQL} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2 LIMIT ?",
                        (fts_query, limit)).fetchall()
    hits = [(int(r), -float(s)) for r, s in rows if allowed is None or r in allowed]
    return hits[:n]


def pruned_top(conn, fts_query: str, n: int, allowed: set[int] | None, local: KeywordStats, stats: KeywordStats,
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
        rows = conn.execute(f"SELECT rowid, {BM25_SQL} FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2 LIMIT ?",
                            (" OR ".join(phrases[i] for i in chosen), read)).fetchall()
        fresh = [int(r) for r, _ in rows if int(r) not in scored and (allowed is None or int(r) in allowed)]
        if len(scored) + len(fresh) > max_scored:
            return None
        if fresh:
            freqs, lengths = row_frequencies(conn, phrases, fresh)
            scored.update(ranked(freqs, lengths, stats))
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
