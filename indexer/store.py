"""The index on disk: SQLite (documents, sections, chunks, sentences, file hashes, FTS5, embeddings) + FAISS.

One writer, many readers:
- Only the indexer writes (`IndexStore`): every change is one SQLite transaction, so an interrupted
  run (Ctrl-C, kill -9) leaves the previous index whole; the FAISS file of the new generation is then
  written under a unique temporary name, fsynced and renamed into place.
- A reader (`IndexReader`, one per loaded engine) pins one generation: it holds a read transaction
  open on its own connection, so every row it reads — chunk texts, documents, keyword hits,
  sentence vectors — belongs to the generation it loaded, whatever the indexer commits meanwhile.
  It never writes: a missing FAISS file is rebuilt in memory from its own snapshot's embeddings.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import postings
from .models import Chunk, Document, Section
from .settings import get_settings

DB_NAME = "index.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER, indexed_at TEXT,
    root TEXT, access TEXT);
CREATE TABLE IF NOT EXISTS documents(
    id TEXT PRIMARY KEY, file_path TEXT NOT NULL, position INTEGER, title TEXT, date TEXT, dates TEXT,
    doc_type TEXT, body TEXT, author TEXT, contact TEXT, reference TEXT, confidential INTEGER, source_path TEXT, text TEXT,
    pages TEXT, access TEXT DEFAULT 'public', access_reason TEXT);
CREATE TABLE IF NOT EXISTS sections(
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL, ord INTEGER, number TEXT, title TEXT, path TEXT,
    start INTEGER, end INTEGER, level INTEGER, page INTEGER);
CREATE TABLE IF NOT EXISTS chunks(
    rowid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, document_id TEXT NOT NULL,
    section_id TEXT NOT NULL, ord INTEGER, start INTEGER, end INTEGER, text TEXT, embed_text TEXT,
    n_tokens INTEGER, embedding BLOB);
CREATE TABLE IF NOT EXISTS sentences(
    chunk_rowid INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, text_key TEXT NOT NULL, embedding BLOB);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(document_id);
CREATE INDEX IF NOT EXISTS chunks_embed_text ON chunks(embed_text);
CREATE INDEX IF NOT EXISTS sentences_chunk ON sentences(chunk_rowid);
CREATE INDEX IF NOT EXISTS sentences_key ON sentences(text_key);
CREATE TABLE IF NOT EXISTS words(word TEXT PRIMARY KEY, embedding BLOB);
CREATE INDEX IF NOT EXISTS sections_doc ON sections(document_id);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file_path);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, heading, tokenize='porter unicode61');
CREATE INDEX IF NOT EXISTS chunks_section ON chunks(section_id);
DROP INDEX IF EXISTS sections_number;
CREATE INDEX IF NOT EXISTS sections_number_doc ON sections(number, document_id);
CREATE TABLE IF NOT EXISTS stat_terms(access TEXT NOT NULL, kind TEXT NOT NULL, term TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY(access, kind, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stat_acronyms(document_id TEXT NOT NULL, access TEXT NOT NULL, sort_key TEXT NOT NULL,
    acronym TEXT NOT NULL, long_form TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS stat_acronyms_doc ON stat_acronyms(document_id);
CREATE INDEX IF NOT EXISTS documents_meta ON documents(id, access, access_reason, pages);
"""
# sections_number_doc: the papers with a section of a number, read from the index alone (a reference
# like 'section 5.3' has thousands of such sections in a large archive).
# documents_meta: the columns stored after a paper's text, read at start-up without walking the text's
# overflow pages (SQLite reads every page of a long value to reach a column stored after it).
# Corpus statistics (searchapi/retrieval/lexical.py CorpusStats), kept per access class so a public
# engine never counts a restricted paper: stat_terms holds, per class, passages per stem ('df'),
# lower-case word occurrences ('word', for spelling), passages per hyphenated form ('hyph') and the
# passage count ('n', term ''); stat_acronyms every acronym definition with its place in document order.
STATS_VERSION = "1"
# Columns added after the first release: (table, column, declaration).
LATER_COLUMNS = [
    ("documents", "pages", "TEXT"), ("documents", "access", "TEXT DEFAULT 'public'"),
    ("documents", "access_reason", "TEXT"), ("files", "root", "TEXT"), ("files", "access", "TEXT"),
]
KEEP_VECTOR_FILES = 2  # the newest generation's FAISS file and the one before (engines still loading it)


def vector_bytes(vector) -> bytes:
    """A stored vector: float32, or float16 as given (compact sentence vectors of the bulk scale builder)."""
    vector = np.asarray(vector)
    return (vector if vector.dtype == np.float16 else vector.astype("float32", copy=False)).tobytes()


def vector_of(blob: bytes, dim: int) -> np.ndarray:
    """A stored vector as float32, whichever width it was stored in."""
    return np.frombuffer(blob, dtype="float16" if len(blob) == 2 * dim else "float32").astype("float32", copy=False)


def access_class(access: str | None) -> str:
    """'public', or 'restricted' for anything a public caller may not see (as IndexReader.snapshot hides)."""
    return "public" if (access or "public") == "public" else "restricted"


class IndexMissing(Exception):
    """No usable index at the given location."""


class IndexCorrupt(IndexMissing):
    """The index file exists but cannot be read; `reportsearch index PATH` rebuilds it."""


@dataclass
class FileUpdate:
    path: str
    sha256: str
    size: int
    documents: list[Document]
    chunks: list[Chunk]
    embeddings: np.ndarray  # one row per chunk
    # Per chunk: [(start, end, text_key, vector)] of its sentences, offsets in the document text.
    sentences: list[list[tuple[int, int, str, np.ndarray]]] = field(default_factory=list)
    root: str | None = None
    access: str | None = None  # an override given with `index --access`, kept across runs


@dataclass
class ChunkRecord:
    rowid: int
    id: str
    document_id: str
    section_id: str
    start: int
    end: int
    text: str
    heading: str
    ord: int


_CHUNK_COLUMNS = ("SELECT c.rowid, c.id, c.document_id, c.section_id, c.start, c.end, c.text, f.heading, c.ord "
                  "FROM chunks c JOIN chunks_fts f ON f.rowid = c.rowid ")


class _LRU:
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int):
        self.size = max(1, size)
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class ChunkTable(Mapping):
    """The passages an engine may see, rowid -> ChunkRecord, read from its pinned generation on demand.

    Only a few bytes per passage stay in memory (its document's number, in a numpy array indexed by
    rowid: visibility, filters, counts); texts are read from SQLite when asked for and kept in a
    bounded LRU. Iterating reads document by document, never all texts at once."""

    def __init__(self, reader: "IndexReader", doc_ids: list[str], doc_of: np.ndarray, cache_size: int):
        self.reader = reader
        self.doc_ids = doc_ids  # document number -> id, the visible documents in id order
        self.doc_number = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        self.doc_of = doc_of  # rowid -> document number, -1 where absent or not visible
        self.count = int(np.count_nonzero(doc_of >= 0))
        self.cache = _LRU(cache_size)

    def __len__(self) -> int:
        return self.count

    def __contains__(self, rowid) -> bool:
        try:
            rowid = int(rowid)
        except (TypeError, ValueError):
            return False
        return 0 <= rowid < len(self.doc_of) and self.doc_of[rowid] >= 0

    def __iter__(self):
        return (int(r) for r in np.flatnonzero(self.doc_of >= 0))

    def __getitem__(self, rowid) -> ChunkRecord:
        if rowid not in self:
            raise KeyError(rowid)
        chunk = self.cache.get(int(rowid))
        if chunk is None:
            chunk = self.fetch([rowid])[int(rowid)]
        return chunk

    def fetch(self, rowids) -> dict[int, ChunkRecord]:
        """Several passages in one read (the visible ones among `rowids`), kept in the cache."""
        out, todo = {}, []
        for rowid in dict.fromkeys(int(r) for r in rowids if r in self):
            chunk = self.cache.get(rowid)
            if chunk is None:
                todo.append(rowid)
            else:
                out[rowid] = chunk
        for i in range(0, len(todo), 500):
            batch = todo[i : i + 500]
            for row in self.reader.execute(_CHUNK_COLUMNS + f"WHERE c.rowid IN ({','.join('?' * len(batch))})", batch):
                chunk = ChunkRecord(*row)
                self.cache.put(chunk.rowid, chunk)
                out[chunk.rowid] = chunk
        return out

    def read(self, rowids) -> list[ChunkRecord]:
        """Visible passages read without entering the cache (scans over many candidates)."""
        todo = [int(r) for r in rowids if r in self]
        out = []
        for i in range(0, len(todo), 500):
            batch = todo[i : i + 500]
            out += [ChunkRecord(*row) for row in
                    self.reader.execute(_CHUNK_COLUMNS + f"WHERE c.rowid IN ({','.join('?' * len(batch))})", batch)]
        return out

    def of_document(self, doc_id: str) -> list[ChunkRecord]:
        """A visible document's passages in order (not cached: a caller keeps what it needs)."""
        return [ChunkRecord(*row) for row in self.reader.execute(_CHUNK_COLUMNS + "WHERE c.document_id=? ORDER BY c.ord",
                                                                 (doc_id,))]

    def by_id(self, chunk_id: str) -> ChunkRecord | None:
        row = self.reader.execute("SELECT rowid FROM chunks WHERE id=?", (chunk_id,)).fetchone()
        return self.get(row[0]) if row else None

    def rowids_by_id(self) -> dict[str, int]:
        """chunk id -> rowid of every visible passage, without reading any text (shards name passages by id)."""
        return {chunk_id: rowid for rowid, chunk_id in self.reader.execute("SELECT rowid, id FROM chunks")
                if rowid in self}

    def values(self):
        """Every visible passage, in (document, order), read one document at a time."""
        for doc_id in self.doc_ids:
            yield from self.of_document(doc_id)

    def items(self):
        for chunk in self.values():
            yield chunk.rowid, chunk

    def rowids_of(self, doc_numbers) -> np.ndarray:
        """Rowids of the visible passages of these documents (numbers as in `doc_ids`)."""
        return np.flatnonzero(np.isin(self.doc_of, np.asarray(list(doc_numbers), dtype=self.doc_of.dtype)))


class ChunksById(Mapping):
    """chunk id -> ChunkRecord over a ChunkTable (same visibility, same cache)."""

    def __init__(self, table: ChunkTable):
        self.table = table

    def __getitem__(self, chunk_id: str) -> ChunkRecord:
        chunk = self.table.by_id(chunk_id) if isinstance(chunk_id, str) else None
        if chunk is None:
            raise KeyError(chunk_id)
        return chunk

    def __contains__(self, chunk_id) -> bool:
        return isinstance(chunk_id, str) and self.table.by_id(chunk_id) is not None

    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self):
        return (chunk.id for chunk in self.table.values())


_SECTION_COLUMNS = "SELECT id, document_id, number, title, path, start, end, level, page FROM sections "


def _section(row) -> Section:
    return Section(id=row[0], number=row[2], title=row[3], path=json.loads(row[4]), span=(row[5], row[6]),
                   level=row[7], page=row[8])


def _numbered(numbers: set[str], prefixes: list[str], papers: list[str] | None = None) -> tuple[str, list[str]]:
    """SQL over sections `s`: numbered one of `numbers` or under a prefix (a range scan of the number index:
    '3.' <= number < '3/'), of the papers given; ('', []) for none."""
    batch = sorted(numbers)
    clauses = [f"s.number IN ({','.join('?' * len(batch))})"] * bool(batch) + ["(s.number >= ? AND s.number < ?)"] * len(prefixes)
    where, params = " OR ".join(clauses), batch + [bound for prefix in prefixes for bound in (prefix + ".", prefix + "/")]
    if where and papers is not None:
        where, params = f"({where}) AND s.document_id IN ({','.join('?' * len(papers))})", params + list(papers)
    return where, params


class SectionTable(Mapping):
    """section id -> Section of the visible documents, read on demand (a bounded LRU): an archive
    has about as many sections as passages, too many to parse at start-up."""

    def __init__(self, reader: "IndexReader", documents: dict[str, Document], cache_size: int):
        self.reader = reader
        self.documents = documents
        self.cache = _LRU(cache_size)
        self._count: int | None = None

    def __getitem__(self, section_id) -> Section:
        section = self.cache.get(section_id)
        if section is None:
            row = self.reader.execute(_SECTION_COLUMNS + "WHERE id=?", (section_id,)).fetchone()
            if row is None or row[1] not in self.documents:
                raise KeyError(section_id)
            section = _section(row)
            self.cache.put(section_id, section)
        return section

    def of_document(self, doc_id: str) -> list[Section]:
        return [_section(row) for row in self.reader.execute(_SECTION_COLUMNS + "WHERE document_id=? ORDER BY ord",
                                                             (doc_id,))]

    def numbered(self, numbers: set[str], prefixes: list[str]) -> list[str]:
        """Ids of visible sections numbered one of `numbers`, or under one of `prefixes` ('3' -> '3.1', '3.2.4')."""
        where, params = _numbered(numbers, prefixes)
        rows = self.reader.execute(f"SELECT s.id, s.document_id FROM sections s WHERE {where}", params) if where else []
        return list(dict.fromkeys(sid for sid, doc_id in rows if doc_id in self.documents))

    def numbered_papers(self, numbers: set[str], prefixes: list[str]) -> set[str]:
        """The visible papers with such a section, read from the index on (number, document_id) alone."""
        where, params = _numbered(numbers, prefixes)
        rows = self.reader.execute(f"SELECT DISTINCT s.document_id FROM sections s WHERE {where}", params) if where else []
        return {doc_id for (doc_id,) in rows if doc_id in self.documents}

    def numbered_passages(self, numbers: set[str], prefixes: list[str], papers: list[str]) -> list[int]:
        """Rowids of the passages in such sections of these (visible) papers."""
        where, params = _numbered(numbers, prefixes, papers)
        if not where or not papers:
            return []
        return [r for (r,) in self.reader.execute(
            f"SELECT c.rowid FROM sections s JOIN chunks c ON c.section_id = s.id WHERE {where}", params)]

    def __len__(self) -> int:
        if self._count is None:
            counts = dict(self.reader.execute("SELECT document_id, COUNT(*) FROM sections GROUP BY document_id"))
            self._count = sum(n for doc_id, n in counts.items() if doc_id in self.documents)
        return self._count

    def __iter__(self):
        for doc_id in self.documents:
            yield from (s.id for s in self.of_document(doc_id))


class StoredDocument(Document):
    """A Document of a loaded index whose sections are read when first asked for."""

    @property
    def sections(self) -> list[Section]:
        if self.__dict__.get("_sections") is None:
            self.__dict__["_sections"] = self.__dict__["_load_sections"](self.id)
        return self.__dict__["_sections"]

    @sections.setter
    def sections(self, value: list[Section]) -> None:
        self.__dict__["_sections"] = value or None  # empty: not read yet

    def __getstate__(self):  # plain data for copies and other processes
        state = {**self.__dict__, "_sections": self.sections}
        state.pop("_load_sections", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_load_sections", lambda doc_id: [])


@dataclass
class IndexSnapshot:
    """What a searcher keeps in memory: documents and sections; passages are read on demand (ChunkTable)."""

    generation: int
    model: str
    documents: dict[str, Document]
    sections: Mapping[str, Section]
    chunks: Mapping[int, ChunkRecord]
    chunk_by_id: Mapping[str, ChunkRecord] = field(default_factory=dict)
    file_paths: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # doc id -> (file, root)


def connect(index_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(index_dir / DB_NAME, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _vector_path(index_dir: Path, generation: int, audience: str = "all") -> Path:
    """The generation's FAISS file; a public engine's own file (public papers only) exists where some are restricted."""
    return index_dir / (f"vectors-{generation}.faiss" if audience != "public" else f"vectors-{generation}-public.faiss")


_PUBLIC_ROWS = ("SELECT c.rowid, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE COALESCE(d.access, 'public') = 'public'")
_ANY_RESTRICTED = "SELECT 1 FROM documents WHERE COALESCE(access, 'public') != 'public' LIMIT 1"


def _flat_vectors(rows, count: int | None = None, dim: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """(rowids, vectors) from (rowid, blob) rows; a cursor with its `count` is read without a list of blobs."""
    if count is None:
        rows = list(rows)
        count = len(rows)
    ids = np.empty(count, dtype="int64")
    vecs = np.empty((count, dim), dtype="float32")
    n = 0
    for n, (rowid, blob) in enumerate(rows, 1):
        ids[n - 1] = rowid
        vecs[n - 1] = np.frombuffer(blob, dtype="float32")
    return ids[:n], vecs[:n]


def build_faiss(ids: np.ndarray, vectors: np.ndarray, dim: int):
    """The inner-product index over normalised vectors, exact or approximate by size (indexer/vectors.py)."""
    from .vectors import build_vector_index

    return build_vector_index(ids, vectors if len(ids) else np.zeros((0, dim), "float32"))


class IndexStore:
    """The writer: only `reportsearch index` (under its lock) and key/override management use it."""

    def __init__(self, index_dir: Path, create: bool = False):
        self.dir = Path(index_dir)
        if not (self.dir / DB_NAME).exists():
            if not create:
                raise IndexMissing(f"no index at {self.dir} (run `reportsearch index PATH` first)")
            if self.dir.exists() and not self.dir.is_dir():
                raise IndexMissing(f"index location {self.dir} is a file, not a folder")
            self.dir.mkdir(parents=True, exist_ok=True)
        self._delta: Counter | None = None  # statistics changes of the run being applied
        try:
            self.conn = connect(self.dir)
            self.conn.executescript(SCHEMA)
            postings.ensure_schema(self.conn)
            self._upgrade()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"the index at {self.dir} is damaged ({exc}); "
                               "run `reportsearch index PATH` to rebuild it") from None

    def _upgrade(self) -> None:
        """Columns added since an index was made; the pipeline recipe then re-indexes its files."""
        for table, name, decl in LATER_COLUMNS:
            have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            if name not in have:
                with self.conn:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        self.conn.close()

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def generation(self) -> int:
        return int(self.meta("generation", "0"))

    def file_hashes(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT path, sha256 FROM files"))

    def file_access(self) -> dict[str, str]:
        """Access overrides given with `index --access`, by file."""
        return dict(self.conn.execute("SELECT path, access FROM files WHERE access IS NOT NULL"))

    def cached_embeddings(self, embed_texts: list[str]) -> dict[str, np.ndarray]:
        """Embeddings already computed for identical input text (re-indexing an edited file)."""
        return self._cached("SELECT embed_text, embedding FROM chunks WHERE embed_text IN ({})", embed_texts)

    def cached_word_vectors(self, words: list[str]) -> dict[str, np.ndarray]:
        return self._cached("SELECT word, embedding FROM words WHERE word IN ({})", words)

    def cached_sentence_vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        return self._cached("SELECT text_key, embedding FROM sentences WHERE text_key IN ({})", keys)

    def _cached(self, sql: str, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            for key, blob in self.conn.execute(sql.format(",".join("?" * len(batch))), batch):
                out[key] = vector_of(blob, int(self.meta("dim", "384")))
        return out

    def counts(self) -> dict[str, int]:
        return {
            name: self.conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
            for name in ("files", "documents", "sections", "chunks")
        }

    # ---- vectors -------------------------------------------------------------------------
    def write_vectors(self) -> None:
        """The FAISS file of the committed generation: unique temp name, fsync, atomic rename."""
        from .vectors import write_vector_index

        generation = self.generation
        dim = int(self.meta("dim", "384"))
        count = self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        ids, vecs = _flat_vectors(self.conn.execute("SELECT rowid, embedding FROM chunks"), count, dim)
        write_vector_index(build_faiss(ids, vecs, dim), _vector_path(self.dir, generation))
        del ids, vecs
        if self.conn.execute(_ANY_RESTRICTED).fetchone():  # public engines map their own file, not a copy
            count = self.conn.execute(f"SELECT COUNT(*) FROM ({_PUBLIC_ROWS})").fetchone()[0]
            ids, vecs = _flat_vectors(self.conn.execute(_PUBLIC_ROWS), count, dim)
            write_vector_index(build_faiss(ids, vecs, dim), _vector_path(self.dir, generation, "public"))
        self._prune_vectors(generation)

    def ensure_vectors(self) -> None:
        """Repair after a run killed between its commit and its FAISS files."""
        if not self.generation:
            return
        public_missing = (not _vector_path(self.dir, self.generation, "public").exists()
                          and self.conn.execute(_ANY_RESTRICTED).fetchone())
        if not _vector_path(self.dir, self.generation).exists() or public_missing:
            self.write_vectors()

    def ensure_stats(self) -> None:
        """Count the corpus statistics of an index made before they were stored (no new generation:
        the passages are unchanged)."""
        if self.meta("stats") != STATS_VERSION and self.conn.execute("SELECT 1 FROM chunks LIMIT 1").fetchone():
            with self.conn:
                self.rebuild_stats()
                self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('stats', ?)", (STATS_VERSION,))

    def _prune_vectors(self, generation: int) -> None:
        for old in self.dir.glob("vectors-*.faiss"):
            try:
                if int(old.stem.split("-")[1]) <= generation - KEEP_VECTOR_FILES:  # vectors-7, vectors-7-public
                    old.unlink(missing_ok=True)
            except ValueError:
                continue
        for stale in self.dir.glob(".vectors-*.tmp"):  # left by a killed run (we hold the index lock)
            stale.unlink(missing_ok=True)

    # ---- writing -------------------------------------------------------------------------
    def apply(self, updates: list[FileUpdate], removed: list[str], meta: dict[str, object],
              word_vectors: dict[str, np.ndarray] | None = None) -> int:
        """Replace changed files and drop vanished ones in one transaction; returns the new generation.
        `word_vectors`: vectors of words the reports use, new to the index (kept for answers)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        conn = self.conn
        # Statistics are updated by difference; an index made before they were stored counts them afresh.
        empty = not conn.execute("SELECT 1 FROM chunks LIMIT 1").fetchone()
        incremental = self.meta("stats") == STATS_VERSION or empty
        self._delta: Counter | None = Counter() if incremental else None
        stored_postings = self.meta("postings") == postings.VERSION or empty
        new_rows: list[tuple[int, str, str]] = []
        with conn:  # BEGIN ... COMMIT, or ROLLBACK on any error
            conn.executemany("INSERT OR IGNORE INTO words(word, embedding) VALUES (?,?)",
                             [(w, np.asarray(v, dtype="float32").tobytes()) for w, v in (word_vectors or {}).items()])
            for path in [u.path for u in updates] + removed:
                self._delete_file(path)
            for update in updates:
                for doc in update.documents:
                    self._insert_document(update.path, doc)
                classes = {doc.id: access_class(doc.access) for doc in update.documents}
                sentences = update.sentences or [[] for _ in update.chunks]
                for chunk, vector, chunk_sentences in zip(update.chunks, update.embeddings, sentences):
                    rowid = self._insert_chunk(chunk, vector, chunk_sentences, classes.get(chunk.document_id, "public"))
                    new_rows.append((rowid, chunk.text, chunk.context))
                conn.execute(
                    "INSERT OR REPLACE INTO files(path, sha256, size, indexed_at, root, access) VALUES (?,?,?,?,?,?)",
                    (update.path, update.sha256, update.size, now, update.root, update.access),
                )
            if incremental:
                self._write_stat_delta()
            else:
                self.rebuild_stats()
            self._write_postings(new_rows if stored_postings else None)
            generation = self.generation + 1
            for key, value in {**meta, "generation": generation, "updated_at": now, "stats": STATS_VERSION,
                               "postings": postings.VERSION}.items():
                conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)", (key, str(value)))
        self.write_vectors()
        return generation

    def _delete_file(self, path: str) -> None:
        conn = self.conn
        doc_ids = [r[0] for r in conn.execute("SELECT id FROM documents WHERE file_path=?", (path,))]
        for doc_id in doc_ids:
            if self._delta is not None:
                for text, heading, access in conn.execute(
                    "SELECT c.text, f.heading, d.access FROM chunks c JOIN chunks_fts f ON f.rowid = c.rowid "
                    "JOIN documents d ON d.id = c.document_id WHERE c.document_id=?", (doc_id,)
                ):
                    self._count_terms(access_class(access), text, heading, -1)
            conn.execute("DELETE FROM stat_acronyms WHERE document_id=?", (doc_id,))
            inner = "SELECT rowid FROM chunks WHERE document_id=?"
            postings.mark_dead(conn, inner, (doc_id,))
            conn.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({inner})", (doc_id,))
            conn.execute(f"DELETE FROM sentences WHERE chunk_rowid IN ({inner})", (doc_id,))
            conn.execute("DELETE FROM chunks WHERE document_id=?", (doc_id,))
            conn.execute("DELETE FROM sections WHERE document_id=?", (doc_id,))
        conn.execute("DELETE FROM documents WHERE file_path=?", (path,))
        conn.execute("DELETE FROM files WHERE path=?", (path,))

    def _insert_document(self, file_path: str, doc: Document) -> None:
        self.conn.execute(
            "INSERT INTO documents(id, file_path, position, title, date, dates, doc_type, body, author, contact, "
            "reference, confidential, source_path, text, pages, access, access_reason) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.id, file_path, doc.position, doc.title, doc.date, json.dumps(doc.dates), doc.doc_type, doc.body,
             doc.author, doc.contact, doc.reference, int(doc.confidential), doc.source_path, doc.text,
             json.dumps(doc.pages), doc.access, doc.access_reason),
        )
        self.conn.executemany(
            "INSERT INTO sections VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(s.id, doc.id, i, s.number, s.title, json.dumps(s.path), s.span[0], s.span[1], s.level, s.page)
             for i, s in enumerate(doc.sections)],
        )

    def _insert_chunk(self, chunk: Chunk, vector: np.ndarray, sentences, access: str = "public") -> int:
        cur = self.conn.execute(
            "INSERT INTO chunks(id, document_id, section_id, ord, start, end, text, embed_text, n_tokens, embedding) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (chunk.id, chunk.document_id, chunk.section_id, chunk.ord, chunk.span[0], chunk.span[1], chunk.text,
             chunk.embed_text, chunk.n_tokens, np.asarray(vector, dtype="float32").tobytes()),
        )
        rowid = cur.lastrowid
        self.conn.execute("INSERT INTO chunks_fts(rowid, text, heading) VALUES (?,?,?)", (rowid, chunk.text, chunk.context))
        self.conn.executemany(
            "INSERT INTO sentences(chunk_rowid, start, end, text_key, embedding) VALUES (?,?,?,?,?)",
            [(rowid, s, e, key, vector_bytes(v)) for s, e, key, v in sentences],
        )
        if self._delta is not None:
            self._count_terms(access, chunk.text, chunk.context, +1)
            self._insert_acronyms(chunk.document_id, access, chunk.ord, chunk.text)
        return rowid

    def _write_postings(self, new_rows: list[tuple[int, str, str]] | None) -> None:
        """The run's rows as one postings segment (indexer/postings.py), or every row's afresh (None: an index
        made before postings were stored); then merge what has too many segments."""
        settings = get_settings()
        if new_rows is None:
            postings.rebuild(self.conn, settings.postings_batch_rows)
        else:
            for start in range(0, len(new_rows), settings.postings_batch_rows):
                postings.write_segment(self.conn, new_rows[start:start + settings.postings_batch_rows])
        postings.merge(self.conn, settings.postings_max_segments)

    # ---- corpus statistics ---------------------------------------------------------------------
    def _count_terms(self, access: str, text: str, heading: str, sign: int) -> None:
        from searchapi.retrieval.lexical import chunk_terms  # the engine's own tokenising and stemming

        stems, words, hyphenated = chunk_terms(text + " " + heading)
        delta = self._delta
        for stem in stems:
            delta[(access, "df", stem)] += sign
        for word in words:
            delta[(access, "word", word)] += sign
        for form in hyphenated:
            delta[(access, "hyph", form)] += sign
        delta[(access, "n", "")] += sign

    def _insert_acronyms(self, document_id: str, access: str, ord_: int, text: str) -> None:
        from searchapi.retrieval.lexical import acronym_order
        from searchapi.retrieval.query import acronym_definitions

        self.conn.executemany(
            "INSERT INTO stat_acronyms(document_id, access, sort_key, acronym, long_form) VALUES (?,?,?,?,?)",
            [(document_id, access, acronym_order(document_id, ord_, i), acronym, long_form)
             for i, (acronym, long_form) in enumerate(acronym_definitions(text))],
        )

    def _write_stat_delta(self) -> None:
        delta, self._delta = self._delta, None
        changed = [(a, k, t, n) for (a, k, t), n in delta.items() if n]
        self.conn.executemany(
            "INSERT INTO stat_terms(access, kind, term, n) VALUES (?,?,?,?) "
            "ON CONFLICT(access, kind, term) DO UPDATE SET n = n + excluded.n", changed)
        self.conn.executemany("DELETE FROM stat_terms WHERE access=? AND kind=? AND term=? AND n <= 0",
                              [(a, k, t) for a, k, t, n in changed if n < 0])

    def rebuild_stats(self) -> None:
        """Count every passage afresh (an index made before the statistics were stored; tests compare)."""
        conn = self.conn
        conn.execute("DELETE FROM stat_terms")
        conn.execute("DELETE FROM stat_acronyms")
        self._delta = Counter()
        for document_id, ord_, text, heading, access in conn.cursor().execute(
            "SELECT c.document_id, c.ord, c.text, f.heading, d.access FROM chunks c "
            "JOIN chunks_fts f ON f.rowid = c.rowid JOIN documents d ON d.id = c.document_id"
        ):
            self._count_terms(access_class(access), text, heading, +1)
            self._insert_acronyms(document_id, access_class(access), ord_, text)
        self._write_stat_delta()


class _Rows(list):
    """Rows already fetched under the reader's lock, readable like a cursor."""

    def fetchall(self) -> list:
        return list(self)

    def fetchone(self):
        return self[0] if self else None


class IndexReader:
    """One committed generation, pinned by an open read transaction; never writes."""

    def __init__(self, index_dir: Path):
        self.dir = Path(index_dir)
        if self.dir.exists() and not self.dir.is_dir():
            raise IndexMissing(f"index location {self.dir} is a file, not a folder")
        if not (self.dir / DB_NAME).is_file():
            raise IndexMissing(f"no index at {self.dir} (run `reportsearch index PATH` first)")
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.dir / DB_NAME, timeout=30, check_same_thread=False, isolation_level=None)
            self._conn.execute("BEGIN")
            tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            meta = dict(self._conn.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"the index at {self.dir} is damaged or not an index ({exc}); "
                               "run `reportsearch index PATH` to rebuild it") from None
        if not {"documents", "chunks", "sentences", "words", "chunks_fts"} <= tables or "generation" not in meta:
            raise IndexMissing(f"the index at {self.dir} is empty or was made by an older version "
                               "(run `reportsearch index PATH` to build or upgrade it)")
        self.meta = meta
        # Rows per full-text phrase in this generation (bm25.keyword_stats): FTS5 stores no document
        # frequencies, and counting a common word walks its whole doclist.
        self.phrase_rows = _LRU(100_000)
        self.phrase_impacts = None  # each phrase's bm25() terms by row (keyword_topk.ImpactCache, made on first use)
        self.term_postings = None  # the stored postings (indexer/postings.TermPostings, made on first use)
        self.generation = int(meta["generation"])
        self.model = meta.get("model", "")
        self.dim = int(meta.get("dim", "384"))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def execute(self, sql: str, params=()) -> _Rows:
        """Any read of this generation, from any thread (one connection, serialised)."""
        with self._lock:
            try:
                return _Rows(self._conn.execute(sql, params).fetchall())
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise
                raise IndexCorrupt(f"the index at {self.dir} is damaged ({exc}); "
                                   "run `reportsearch index PATH` to rebuild it") from None

    def current_generation(self) -> int:
        """The newest committed generation, read outside this reader's pinned view (for hot reload)."""
        try:
            conn = sqlite3.connect(f"file:{self.dir / DB_NAME}?mode=ro", uri=True, timeout=5)
            try:
                row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            return self.generation  # mid-replacement or damaged: keep serving what we have
        return int(row[0]) if row else 0

    def document_text(self, doc_id: str) -> str | None:
        row = self.execute("SELECT text FROM documents WHERE id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def word_vectors(self, words: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these words (those the reports use)."""
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(words), 500):
            batch = words[i : i + 500]
            for word, blob in self.execute(f"SELECT word, embedding FROM words WHERE word IN ({','.join('?' * len(batch))})",
                                           batch):
                out[word] = np.frombuffer(blob, dtype="float32")
        return out

    def sentences(self, rowids: list[int]) -> dict[int, tuple[list[tuple[int, int]], np.ndarray]]:
        """Sentence spans and stored vectors of the given chunks."""
        out: dict[int, tuple[list[tuple[int, int]], list[np.ndarray]]] = {r: ([], []) for r in rowids}
        for i in range(0, len(rowids), 500):
            batch = rowids[i : i + 500]
            for rowid, s, e, blob in self.execute(
                f"SELECT chunk_rowid, start, end, embedding FROM sentences WHERE chunk_rowid IN "
                f"({','.join('?' * len(batch))}) ORDER BY chunk_rowid, start", batch
            ):
                out[rowid][0].append((s, e))
                out[rowid][1].append(vector_of(blob, self.dim))
        return {r: (spans, np.vstack(vecs) if vecs else np.zeros((0, self.dim), "float32"))
                for r, (spans, vecs) in out.items()}

    def snapshot(self, audience: str = "all", chunk_cache: int = 10_000, section_cache: int = 20_000) -> IndexSnapshot:
        """The generation's documents, sections and chunks; `audience="public"` leaves restricted papers out."""
        documents: dict[str, Document] = {}
        file_paths: dict[str, tuple[str, str | None]] = {}
        hidden: set[str] = set()
        # Columns stored after the text come from the documents_meta index (an index made before it has
        # none: then SQLite reads them from the rows, walking each text's pages).
        later = {doc_id: (access, reason, pages) for doc_id, access, reason, pages in
                 self.execute("SELECT id, access, access_reason, pages FROM documents")}
        for row in self.execute(
            "SELECT d.id, d.title, d.date, d.dates, d.doc_type, d.body, d.author, d.contact, d.reference, d.confidential, "
            "d.source_path, d.position, d.file_path, f.root "
            "FROM documents d LEFT JOIN files f ON f.path = d.file_path ORDER BY d.file_path, d.position"
        ):
            access, reason, pages = later[row[0]]
            access = access or "public"
            if audience == "public" and access != "public":
                hidden.add(row[0])
                continue
            documents[row[0]] = StoredDocument(
                id=row[0], title=row[1], text="", date=row[2], dates=json.loads(row[3] or "[]"), doc_type=row[4],
                body=row[5], author=row[6], contact=row[7], reference=row[8], confidential=bool(row[9]),
                source_path=row[10], position=row[11], pages=[tuple(p) for p in json.loads(pages or "[]")],
                access=access, access_reason=reason,
            )
            file_paths[row[0]] = (row[12], row[13])
        sections = SectionTable(self, documents, section_cache)
        for doc in documents.values():
            doc.__dict__["_load_sections"] = sections.of_document
        doc_ids = sorted(documents)
        number = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        max_rowid = self.execute("SELECT MAX(rowid) FROM chunks").fetchone()[0] or 0
        doc_of = np.full(max_rowid + 1, -1, dtype="int32")
        # A paper's passages are written together, so their rowids are usually one contiguous range:
        # read per paper from the document index (no row per passage); scattered ones row by row.
        for doc_id, first, last, count in self.execute(
            "SELECT document_id, MIN(rowid), MAX(rowid), COUNT(*) FROM chunks GROUP BY document_id"
        ):
            if doc_id not in number:  # a paper this audience may not see stays -1
                continue
            if last - first + 1 == count:
                doc_of[first : last + 1] = number[doc_id]
            else:
                rows = self.execute("SELECT rowid FROM chunks WHERE document_id=?", (doc_id,))
                doc_of[np.array([r for (r,) in rows], dtype="int64")] = number[doc_id]
        chunks = ChunkTable(self, doc_ids, doc_of, chunk_cache)
        return IndexSnapshot(
            generation=self.generation, model=self.model, documents=documents, sections=sections, chunks=chunks,
            chunk_by_id=ChunksById(chunks), file_paths=file_paths,
        )

    def has_restricted(self) -> bool:
        return bool(self.execute("SELECT 1 FROM documents WHERE access != 'public' LIMIT 1"))

    def load_vectors(self, audience: str = "all"):
        """This generation's FAISS index for the audience, memory-mapped from its file where the type
        allows; without the file (pruned, or never written) built in memory from this snapshot's rows."""
        from .vectors import read_vector_index

        public = audience == "public" and self.has_restricted()
        path = _vector_path(self.dir, self.generation, "public" if public else "all")
        index = None
        if path.exists():
            for _ in range(3):
                try:
                    index = read_vector_index(path)  # memory-mapped where the index type allows
                    break
                except RuntimeError:  # pruned or replaced while we read it: build from our snapshot
                    time.sleep(0.05)
                    if not path.exists():
                        break
        if index is None:
            ids, vecs = _flat_vectors(self.execute(_PUBLIC_ROWS if public else "SELECT rowid, embedding FROM chunks"),
                                      dim=self.dim)
            index = build_faiss(ids, vecs, self.dim)
        return index
