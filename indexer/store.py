"""The index on disk: SQLite (documents, sections, chunks, file hashes, FTS5, embeddings) + FAISS.

Atomicity: every change is one SQLite transaction, so an interrupted run (Ctrl-C, kill -9) leaves
the previous index whole. The FAISS file is derived data named after the SQLite generation it was
built from; a reader that finds it missing or stale rebuilds it from the stored embeddings.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .models import Chunk, Document, Section

DB_NAME = "index.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER, indexed_at TEXT);
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
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(document_id);
CREATE INDEX IF NOT EXISTS chunks_embed_text ON chunks(embed_text);
CREATE INDEX IF NOT EXISTS sections_doc ON sections(document_id);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file_path);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, heading, tokenize='porter unicode61');
"""


class IndexMissing(Exception):
    """No usable index at the given location."""


@dataclass
class FileUpdate:
    path: str
    sha256: str
    size: int
    documents: list[Document]
    chunks: list[Chunk]
    embeddings: np.ndarray  # one row per chunk


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


@dataclass
class IndexSnapshot:
    """Everything a searcher keeps in memory (text of whole documents stays on disk)."""

    generation: int
    model: str
    documents: dict[str, Document]
    sections: dict[str, Section]
    chunks: dict[int, ChunkRecord]
    chunk_by_id: dict[str, ChunkRecord] = field(default_factory=dict)


def connect(index_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(index_dir / DB_NAME, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class IndexStore:
    def __init__(self, index_dir: Path, create: bool = False):
        self.dir = Path(index_dir)
        if not (self.dir / DB_NAME).exists():
            if not create:
                raise IndexMissing(f"no index at {self.dir} (run `reportsearch index PATH` first)")
            self.dir.mkdir(parents=True, exist_ok=True)
        self.conn = connect(self.dir)
        self.conn.executescript(SCHEMA)
        self._upgrade()
        self._local = threading.local()

    def _upgrade(self) -> None:
        """Columns added since an index was made; the pipeline recipe then re-indexes its files."""
        have = {row[1] for row in self.conn.execute("PRAGMA table_info(documents)")}
        for name, decl in (("pages", "TEXT"), ("access", "TEXT DEFAULT 'public'"), ("access_reason", "TEXT")):
            if name not in have:
                with self.conn:
                    self.conn.execute(f"ALTER TABLE documents ADD COLUMN {name} {decl}")

    # ---- reading -------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def generation(self) -> int:
        return int(self.meta("generation", "0"))

    def current_generation(self) -> int:
        """The committed generation, read on this thread's own connection (for hot reload)."""
        row = self.thread_conn().execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def file_hashes(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT path, sha256 FROM files"))

    def cached_embeddings(self, embed_texts: list[str]) -> dict[str, np.ndarray]:
        """Embeddings already computed for identical input text (re-indexing an edited file)."""
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(embed_texts), 500):
            batch = embed_texts[i : i + 500]
            marks = ",".join("?" * len(batch))
            for text, blob in self.conn.execute(
                f"SELECT embed_text, embedding FROM chunks WHERE embed_text IN ({marks})", batch
            ):
                out[text] = np.frombuffer(blob, dtype="float32")
        return out

    def thread_conn(self) -> sqlite3.Connection:
        """One connection per thread for the service's concurrent readers."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.dir)
        return conn

    def document_text(self, doc_id: str) -> str | None:
        row = self.thread_conn().execute("SELECT text FROM documents WHERE id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        return {
            name: self.conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
            for name in ("files", "documents", "sections", "chunks")
        }

    def snapshot(self) -> IndexSnapshot:
        conn = self.conn
        documents: dict[str, Document] = {}
        for row in conn.execute(
            "SELECT id, title, date, dates, doc_type, body, author, contact, reference, confidential, source_path, position, "
            "pages, access, access_reason FROM documents ORDER BY file_path, position"
        ):
            documents[row[0]] = Document(
                id=row[0], title=row[1], text="", date=row[2], dates=json.loads(row[3] or "[]"), doc_type=row[4],
                body=row[5], author=row[6], contact=row[7], reference=row[8], confidential=bool(row[9]),
                source_path=row[10], position=row[11], pages=[tuple(p) for p in json.loads(row[12] or "[]")],
                access=row[13] or "public", access_reason=row[14],
            )
        sections: dict[str, Section] = {}
        for row in conn.execute(
            "SELECT id, document_id, number, title, path, start, end, level, page FROM sections ORDER BY document_id, ord"
        ):
            section = Section(id=row[0], number=row[2], title=row[3], path=json.loads(row[4]),
                              span=(row[5], row[6]), level=row[7], page=row[8])
            sections[row[0]] = section
            if row[1] in documents:
                documents[row[1]].sections.append(section)
        chunks: dict[int, ChunkRecord] = {}
        for row in conn.execute(
            "SELECT c.rowid, c.id, c.document_id, c.section_id, c.start, c.end, c.text, f.heading, c.ord "
            "FROM chunks c JOIN chunks_fts f ON f.rowid = c.rowid ORDER BY c.document_id, c.ord"
        ):
            chunks[row[0]] = ChunkRecord(*row)
        return IndexSnapshot(
            generation=self.generation,
            model=self.meta("model", ""),
            documents=documents,
            sections=sections,
            chunks=chunks,
            chunk_by_id={c.id: c for c in chunks.values()},
        )

    # ---- vectors -------------------------------------------------------------------------
    def _faiss_path(self, generation: int) -> Path:
        return self.dir / f"vectors-{generation}.faiss"

    def load_faiss(self):
        """The ID-mapped inner-product index for the current generation (rebuilt if missing)."""
        import faiss

        path = self._faiss_path(self.generation)
        if path.exists():
            return faiss.read_index(str(path))
        return self._write_faiss()

    def _write_faiss(self):
        import faiss

        dim = int(self.meta("dim", "384"))
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        rows = self.conn.execute("SELECT rowid, embedding FROM chunks").fetchall()
        if rows:
            ids = np.array([r[0] for r in rows], dtype="int64")
            vecs = np.vstack([np.frombuffer(r[1], dtype="float32") for r in rows])
            index.add_with_ids(vecs, ids)
        generation = self.generation
        tmp = self.dir / f".vectors-{generation}.faiss.tmp"
        faiss.write_index(index, str(tmp))
        os.replace(tmp, self._faiss_path(generation))
        for old in self.dir.glob("vectors-*.faiss"):
            if old.name != self._faiss_path(generation).name:
                old.unlink(missing_ok=True)
        return index

    # ---- writing -------------------------------------------------------------------------
    def apply(self, updates: list[FileUpdate], removed: list[str], meta: dict[str, object]) -> int:
        """Replace changed files and drop vanished ones in one transaction; returns the new generation."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        conn = self.conn
        with conn:  # BEGIN ... COMMIT, or ROLLBACK on any error
            for path in [u.path for u in updates] + removed:
                self._delete_file(path)
            for update in updates:
                for doc in update.documents:
                    self._insert_document(update.path, doc)
                for chunk, vector in zip(update.chunks, update.embeddings):
                    self._insert_chunk(chunk, vector, update.documents)
                conn.execute(
                    "INSERT OR REPLACE INTO files(path, sha256, size, indexed_at) VALUES (?,?,?,?)",
                    (update.path, update.sha256, update.size, now),
                )
            generation = self.generation + 1
            for key, value in {**meta, "generation": generation, "updated_at": now}.items():
                conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)", (key, str(value)))
        self._write_faiss()
        return generation

    def _delete_file(self, path: str) -> None:
        conn = self.conn
        doc_ids = [r[0] for r in conn.execute("SELECT id FROM documents WHERE file_path=?", (path,))]
        for doc_id in doc_ids:
            conn.execute(
                "DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE document_id=?)", (doc_id,)
            )
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

    def _insert_chunk(self, chunk: Chunk, vector: np.ndarray, documents: list[Document]) -> None:
        cur = self.conn.execute(
            "INSERT INTO chunks(id, document_id, section_id, ord, start, end, text, embed_text, n_tokens, embedding) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (chunk.id, chunk.document_id, chunk.section_id, chunk.ord, chunk.span[0], chunk.span[1], chunk.text,
             chunk.embed_text, chunk.n_tokens, np.asarray(vector, dtype="float32").tobytes()),
        )
        self.conn.execute("INSERT INTO chunks_fts(rowid, text, heading) VALUES (?,?,?)",
                          (cur.lastrowid, chunk.text, chunk.context))
