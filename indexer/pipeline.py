"""Incremental indexing: skip unchanged files, replace changed ones, drop vanished ones."""

from __future__ import annotations

import fcntl
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunk import ChunkBudget, chunk_document
from .documents import build_documents
from .embed import get_embedder
from .access import apply_access, folder_override
from .load import SkipFile, discover, display_path, read_source
from .sentences import sentence_key, sentences_of, vocabulary
from .settings import Settings, get_settings
from .store import DB_NAME, FileUpdate, IndexCorrupt, IndexMissing, IndexStore

# Bump when cleaning, splitting, sectioning or chunking changes, so existing indexes are rebuilt
# (unchanged chunk texts reuse their stored embeddings, so a rebuild costs little).
PIPELINE_VERSION = 6


class IndexBusy(Exception):
    """Another indexing run holds the lock on this index."""


@dataclass
class IndexReport:
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # indexed, with something the user should know
    new_chunks: int = 0
    embedded: int = 0  # passages newly embedded (unchanged texts reuse their stored vectors)
    embedded_sentences: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def usable(self) -> bool:
        return self.totals.get("chunks", 0) > 0


@contextmanager
def index_lock(index_dir: Path):
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexMissing(f"index location {index_dir} is a file, not a folder")
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "w")
    except OSError as exc:
        raise IndexMissing(f"cannot write the index at {index_dir}: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise IndexBusy(f"another `reportsearch index` is already writing {index_dir}") from exc
        yield


def _progress(items, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="file", file=sys.stderr, leave=False)


def index_paths(paths: list[Path], index_dir: Path, settings: Settings | None = None, progress: bool = True,
                access: str | None = None) -> IndexReport:
    """Index `paths` into `index_dir`. `access` ("public"/"restricted") overrides detection for
    these files, and is kept for them on later runs."""
    settings = settings or get_settings()
    started = time.perf_counter()
    report = IndexReport()
    found = discover(paths)
    files, report.skipped = found.files, found.skipped
    with index_lock(index_dir):
        store = open_for_writing(index_dir, report)
        known = store.file_hashes()
        overrides = store.file_access()
        embedder = get_embedder(store.meta("model") or settings.model_path(), settings.embed_batch_size)
        budget = ChunkBudget(
            max_tokens=settings.chunk_max_tokens,
            merge_below=settings.chunk_merge_below,
            overlap_sentences=settings.chunk_overlap_sentences,
            fits_model=embedder.fits,
        )
        recipe = f"v{PIPELINE_VERSION} tokens={budget.max_tokens} merge={budget.merge_below} overlap={budget.overlap_sentences}"
        rebuild = store.meta("recipe") != recipe  # an older pipeline or other chunk settings made this index
        if rebuild:  # every indexed file is re-chunked the new way, not only those under `paths`
            listed = {display_path(f) for f in files}
            files += [Path(p) for p in known if p not in listed and Path(p).is_file()]
        pending = []
        for path in _progress(files, "Reading", progress and len(files) > 1):
            key = display_path(path)
            root = found.root_of.get(path, path.parent)
            override = access or overrides.get(key) or folder_override(path, found.roots)
            try:
                source = read_source(path, settings.max_file_bytes, settings.max_document_bytes)
            except SkipFile as exc:
                report.skipped.append((key, str(exc)))
                continue
            if known.get(key) == source.sha256 and not rebuild and (access is None or access == overrides.get(key)):
                report.unchanged.append(key)
                continue
            try:
                extracted = source.extract()  # PDF/DOCX/HTML pages; None for plain text
                documents = build_documents(key, source.text, extracted)
            except SkipFile as exc:
                report.skipped.append((key, str(exc)))
                continue
            report.notes.extend((key, note) for note in source.notes)
            for doc in documents:  # shown relative to the folder it was indexed from, never the server's path
                doc.source_path = display_path(path.relative_to(root)) if path.is_relative_to(root) else path.name
            apply_access(documents, override, "by `reportsearch index --access`" if access else "for this file")
            chunks = [c for doc in documents for c in chunk_document(doc, budget)]
            if not chunks:
                report.skipped.append((key, "no indexable text after cleaning"))
                continue
            if len(chunks) > settings.max_chunks_per_file:
                report.skipped.append((key, f"too many passages ({len(chunks)} > {settings.max_chunks_per_file}, "
                                            "REPORTSEARCH_MAX_CHUNKS_PER_FILE); split the file or raise the limit"))
                continue
            pending.append((key, source, documents, chunks, str(root), access or overrides.get(key)))

        # Files that disappeared from a folder we were asked to index.
        seen = {display_path(f) for f in files}
        report.removed = [
            p for p in known
            if p not in seen and not Path(p).exists() and any(Path(p).is_relative_to(r) for r in found.folders)
        ]

        t0 = time.perf_counter()
        texts = list(dict.fromkeys(c.embed_text for *_, chunks, _, _ in pending for c in chunks))
        vectors, report.embedded = _embed(texts, store.cached_embeddings, embedder, progress)
        sentence_rows, sentence_texts = {}, {}  # per file, per chunk: [(start, end, key)]; key -> text
        for key, _, documents, chunks, _, _ in pending:
            by_doc = {d.id: d.text for d in documents}
            sentence_rows[key] = []
            for chunk in chunks:
                text, rows = by_doc[chunk.document_id], []
                for s, e in sentences_of(text, *chunk.span):
                    rows.append((s, e, sentence_key(text[s:e])))
                    sentence_texts.setdefault(rows[-1][2], text[s:e])
                sentence_rows[key].append(rows)
        sentence_vectors, report.embedded_sentences = _embed(
            list(sentence_texts), store.cached_sentence_vectors, embedder, progress, texts=sentence_texts)
        words = sorted({w for *_, chunks, _, _ in pending for c in chunks for w in vocabulary(c.context + " " + c.text)})
        known_words = store.cached_word_vectors(words)
        new_words = [w for w in words if w not in known_words]
        word_vectors = dict(zip(new_words, embedder.encode(new_words))) if new_words else {}
        report.embed_seconds = time.perf_counter() - t0

        updates = []
        for key, source, documents, chunks, root, kept_access in pending:
            matrix = np.vstack([vectors[c.embed_text] for c in chunks])
            sentences = [[(s, e, k, sentence_vectors[k]) for s, e, k in rows] for rows in sentence_rows[key]]
            updates.append(FileUpdate(key, source.sha256, len(source.text), documents, chunks, matrix, sentences,
                                      root=root, access=kept_access))
            report.indexed.append(key)
            report.new_chunks += len(chunks)
        if updates or report.removed:
            dim = embedder.dim
            store.apply(updates, report.removed, meta={"model": embedder.model_path, "dim": dim, "recipe": recipe},
                        word_vectors=word_vectors)
        else:
            store.ensure_vectors()
            store.ensure_stats()
        report.totals = store.counts()
        store.close()
    report.seconds = time.perf_counter() - started
    return report


def open_for_writing(index_dir: Path, report: IndexReport) -> IndexStore:
    """The index, or a fresh one where the old file is damaged (kept aside, named in the summary)."""
    try:
        return IndexStore(index_dir, create=True)
    except IndexCorrupt as exc:
        aside = index_dir / f"{DB_NAME}.damaged-{int(time.time())}"
        for suffix in ("", "-wal", "-shm"):
            damaged = index_dir / (DB_NAME + suffix)
            if damaged.exists():
                damaged.rename(aside.with_name(aside.name + suffix))
        report.notes.append((str(index_dir), f"{exc}; moved it to {aside.name} and rebuilt the index"))
        return IndexStore(index_dir, create=True)


def _embed(keys: list[str], cached, embedder, progress: bool, texts: dict[str, str] | None = None):
    """Vectors by key, and how many were new: stored ones are reused (an unchanged text keeps its
    vector), the rest encoded now."""
    vectors = cached(keys)
    todo = [k for k in keys if k not in vectors]
    if todo:
        inputs = [texts[k] for k in todo] if texts is not None else todo
        for key, vec in zip(todo, embedder.encode(inputs, progress=progress)):
            vectors[key] = vec
    return vectors, len(todo)
