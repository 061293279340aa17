"""Term postings written at index time: for every FTS5 term, the rows holding it and its column-weighted
frequency there, and every row's length. The keyword top n (searchapi/retrieval/keyword_topk.py) then
computes a word's bm25() in all its rows with numpy (bm25.term_impacts) instead of walking FTS5's
doclist at about 2 us a row, so no common word is ever "cold".

Terms, frequencies and lengths are FTS5's own: the rows are tokenised by an in-memory FTS5 table made
with the index's schema and read back through fts5vocab('instance'). Each index run appends one
segment; a term's segments are merged once there are more than `max_segments`; deleted rows are listed
(rowids are never reused) and dropped from a term's postings when they are merged.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS postings(term TEXT NOT NULL, segment INTEGER NOT NULL, rowids BLOB NOT NULL,
    freqs BLOB NOT NULL, PRIMARY KEY(term, segment));
CREATE TABLE IF NOT EXISTS postings_lengths(segment INTEGER PRIMARY KEY, rowids BLOB NOT NULL, lengths BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS postings_dead(rowid INTEGER PRIMARY KEY);
"""
_ROWID, _FREQ, _LENGTH = np.dtype("<u4"), np.dtype("<u2"), np.dtype("<u4")
# A frequency is stored doubled: text counts 1.0 and the heading 0.5 (bm25.COLUMN_WEIGHTS), so 2f is whole.
_WEIGHT2 = {"text": 2, "heading": 1}
_KNOWN_PHRASES = 100_000  # phrases whose term is kept per reader


class _Tokeniser(threading.local):
    """Each thread's scratch connection (tokenising and scoring a few rows never wait for another thread)."""

    conn: sqlite3.Connection | None = None


_LOCAL = _Tokeniser()


def scratch_fts(schema: str) -> sqlite3.Connection:
    """This thread's in-memory copy of the index's FTS5 table, fresh and empty (dropping it is cheaper
    than deleting rows one by one), with its 'instance' vocabulary (`words`)."""
    if _LOCAL.conn is None:
        _LOCAL.conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn = _LOCAL.conn
    conn.execute("DROP TABLE IF EXISTS chunks_fts")
    conn.execute(schema)
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.words USING fts5vocab(main, chunks_fts, 'instance')")
    return conn


def fts_schema(conn) -> str:
    return conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()[0]


def tokenised(schema: str, rows: Iterable[tuple[int, str, str]]):
    """FTS5's terms of these (rowid, text, heading) rows: (term -> (rowids ascending, doubled weighted
    frequencies)), and (rowids, lengths: tokens over all columns)."""
    conn = scratch_fts(schema)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO chunks_fts(rowid, text, heading) VALUES (?,?,?)", rows)
    conn.execute("COMMIT")
    weight = " ".join(f"WHEN '{col}' THEN {w}" for col, w in _WEIGHT2.items())
    found = conn.execute(f"SELECT term, doc, sum(CASE col {weight} END), count(*) FROM words GROUP BY term, doc "
                         "ORDER BY term, doc").fetchall()
    conn.execute("DROP TABLE chunks_fts")
    terms: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    lengths: dict[int, int] = {}
    start = 0
    for i in range(1, len(found) + 1):  # rows come by term, then rowid
        if i == len(found) or found[i][0] != found[start][0]:
            part = found[start:i]
            terms[part[0][0]] = (np.array([r[1] for r in part], dtype=_ROWID), np.array([r[2] for r in part], dtype=_FREQ))
            start = i
    for _, rowid, _, count in found:
        lengths[rowid] = lengths.get(rowid, 0) + count
    rowids = np.array(sorted(lengths), dtype=_ROWID)
    return terms, (rowids, np.array([lengths[int(r)] for r in rowids], dtype=_LENGTH))


def query_terms(schema: str, phrase_text: str) -> list[str]:
    """The terms FTS5 makes of a phrase's text (in order)."""
    conn = scratch_fts(schema)
    conn.execute("INSERT INTO chunks_fts(rowid, text, heading) VALUES (1, ?, '')", (phrase_text,))
    terms = [t for (t,) in conn.execute("SELECT term FROM words ORDER BY offset")]
    conn.execute("DROP TABLE chunks_fts")
    return terms


# ---- writing (the index's writer, inside its transaction) -----------------------------------
def ensure_schema(conn) -> None:
    conn.executescript(SCHEMA)


def write_segment(conn, rows: list[tuple[int, str, str]]) -> None:
    """Append one segment: these new rows' postings and lengths."""
    if not rows:
        return
    terms, (rowids, lengths) = tokenised(fts_schema(conn), rows)
    segment = (conn.execute("SELECT max(segment) FROM postings_lengths").fetchone()[0] or 0) + 1
    conn.execute("INSERT INTO postings_lengths(segment, rowids, lengths) VALUES (?,?,?)",
                 (segment, rowids.tobytes(), lengths.tobytes()))
    conn.executemany("INSERT INTO postings(term, segment, rowids, freqs) VALUES (?,?,?,?)",
                     ((term, segment, r.tobytes(), f.tobytes()) for term, (r, f) in terms.items()))


def mark_dead(conn, rowid_sql: str, params=()) -> None:
    """List rows about to be deleted (`rowid_sql` selects their rowids)."""
    conn.execute(f"INSERT OR IGNORE INTO postings_dead(rowid) {rowid_sql}", params)


def merge(conn, max_segments: int) -> None:
    """Merge the segments of every term (and of the lengths) that has more than `max_segments`, leaving
    deleted rows out; the merged segment takes the newest one's number (segments keep rowid order)."""
    dead_rows = np.array([r for (r,) in conn.execute("SELECT rowid FROM postings_dead")], dtype=np.int64)
    dead = np.zeros(int(dead_rows.max(initial=0)) + 1, dtype=bool)
    dead[dead_rows] = True
    many = [t for (t,) in conn.execute("SELECT term FROM postings GROUP BY term HAVING count(*) > ?", (max_segments,))]
    for term in many:
        parts = conn.execute("SELECT segment, rowids, freqs FROM postings WHERE term = ? ORDER BY segment", (term,)).fetchall()
        rowids, freqs = _live(parts, _FREQ, dead)
        conn.execute("DELETE FROM postings WHERE term = ?", (term,))
        if len(rowids):
            conn.execute("INSERT INTO postings(term, segment, rowids, freqs) VALUES (?,?,?,?)",
                         (term, parts[-1][0], rowids.tobytes(), freqs.tobytes()))
    parts = conn.execute("SELECT segment, rowids, lengths FROM postings_lengths ORDER BY segment").fetchall()
    if len(parts) > max_segments:
        rowids, lengths = _live(parts, _LENGTH, dead)
        conn.execute("DELETE FROM postings_lengths")
        conn.execute("INSERT INTO postings_lengths(segment, rowids, lengths) VALUES (?,?,?)",
                     (parts[-1][0], rowids.tobytes(), lengths.tobytes()))


def _live(parts, dtype, dead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The segments' rows and values, concatenated, without the rows marked in `dead` (a mask by rowid)."""
    rowids = np.concatenate([np.frombuffer(p[1], dtype=_ROWID) for p in parts])
    values = np.concatenate([np.frombuffer(p[2], dtype=dtype) for p in parts])
    keep = ~dead[np.minimum(rowids, len(dead) - 1)] | (rowids >= len(dead))
    return rowids[keep], values[keep]


def rebuild(conn, batch_rows: int, progress=None) -> None:
    """Postings for every row afresh (an index made before they were stored)."""
    for table in ("postings", "postings_lengths", "postings_dead"):
        conn.execute(f"DELETE FROM {table}")
    last = 0
    while True:
        rows = conn.execute("SELECT rowid, text, heading FROM chunks_fts WHERE rowid > ? ORDER BY rowid LIMIT ?",
                            (last, batch_rows)).fetchall()
        if not rows:
            break
        write_segment(conn, rows)
        last = rows[-1][0]
        if progress is not None:
            progress(len(rows))


# ---- reading (a pinned reader) --------------------------------------------------------------
class TermPostings:
    """A pinned generation's stored postings: each phrase's single term (FTS5's tokenising, kept) and
    that term's live rows with their weighted frequencies; every row's length (0: deleted or never).
    The last terms read are kept, up to `recent_rows` rows (6 bytes each): a query's words are
    counted, then scored."""

    def __init__(self, reader, recent_rows: int):
        self._reader = reader
        self._schema = fts_schema(reader)
        self._terms: dict[str, str | None] = {}
        self._lengths: np.ndarray | None = None
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._recent_rows, self._budget = 0, recent_rows

    @property
    def lengths(self) -> np.ndarray:
        with self._lock:
            if self._lengths is None:
                parts = self._reader.execute("SELECT rowids, lengths FROM postings_lengths ORDER BY segment")
                rowids = np.concatenate([np.frombuffer(r, dtype=_ROWID) for r, _ in parts] or [np.zeros(0, _ROWID)])
                lengths = np.zeros(int(rowids.max(initial=0)) + 1, dtype=np.int64)
                lengths[rowids] = np.concatenate([np.frombuffer(n, dtype=_LENGTH) for _, n in parts] or [np.zeros(0, _LENGTH)])
                dead = np.array([r for (r,) in self._reader.execute("SELECT rowid FROM postings_dead")], dtype=np.int64)
                lengths[dead[dead < len(lengths)]] = 0
                self._lengths = lengths
            return self._lengths

    def term(self, phrase: str) -> str | None:
        """The one term of a quoted FTS5 phrase ('"word"'); None for a phrase of several terms or none.
        (FTS5 tokenises it in this thread's scratch table.)"""
        if phrase not in self._terms:
            if len(self._terms) >= _KNOWN_PHRASES:
                self._terms.clear()
            terms = query_terms(self._schema, phrase[1:-1].replace('""', '"'))
            self._terms[phrase] = terms[0] if len(terms) == 1 else None
        return self._terms[phrase]

    def count(self, term: str) -> int:
        """How many live rows hold the term."""
        return len(self._kept(term)[0])

    def rows(self, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The term's live rows (ascending, intp), their weighted frequencies and lengths (float64)."""
        rowids, freqs = self._kept(term)
        rowids = rowids.astype(np.intp)
        return rowids, freqs / 2.0, self.lengths[rowids].astype(np.float64)

    def _kept(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            found = self._recent.get(term)
            if found is not None:
                self._recent.move_to_end(term)
        if found is None:
            found = self._read(term)
            with self._lock:
                if term not in self._recent:
                    self._recent[term] = found
                    self._recent_rows += len(found[0])
                while self._recent_rows > self._budget and self._recent:
                    self._recent_rows -= len(self._recent.popitem(last=False)[1][0])
        return found

    def _read(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        parts = self._reader.execute("SELECT rowids, freqs FROM postings WHERE term = ? ORDER BY segment", (term,))
        rowids = np.concatenate([np.frombuffer(r, dtype=_ROWID) for r, _ in parts] or [np.zeros(0, _ROWID)])
        freqs = np.concatenate([np.frombuffer(f, dtype=_FREQ) for _, f in parts] or [np.zeros(0, _FREQ)])
        lengths = self.lengths
        live = np.zeros(len(rowids), dtype=bool)
        inside = rowids < len(lengths)  # a deleted row past every live one has no length at all
        live[inside] = lengths[rowids[inside]] > 0
        return rowids[live], freqs[live]


def term_postings(reader) -> TermPostings | None:
    """The reader's stored postings (made on first use); None for an index or connection without them."""
    if not hasattr(reader, "term_postings"):
        return None
    if reader.term_postings is None:
        if getattr(reader, "meta", {}).get("postings") != VERSION:
            return None
        from indexer.settings import get_settings

        reader.term_postings = TermPostings(reader, get_settings().postings_recent_rows)
    return reader.term_postings
