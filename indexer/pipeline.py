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
from .load import SkipFile, discover, read_source
from .settings import Settings, get_settings
from .store import FileUpdate, IndexStore

# Bump when cleaning, splitting, sectioning or chunking changes, so existing indexes are rebuilt
# (unchanged chunk texts reuse their stored embeddings, so a rebuild costs little).
PIPELINE_VERSION = 3


class IndexBusy(Exception):
    """Another indexing run holds the lock on this index."""


@dataclass
class IndexReport:
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    new_chunks: int = 0
    embedded: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def usable(self) -> bool:
        return self.totals.get("chunks", 0) > 0


@contextmanager
def index_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
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


def index_paths(paths: list[Path], index_dir: Path, settings: Settings | None = None, progress: bool = True) -> IndexReport:
    settings = settings or get_settings()
    started = time.perf_counter()
    report = IndexReport()
    files, report.skipped, roots = discover(paths)
    with index_lock(index_dir):
        store = IndexStore(index_dir, create=True)
        known = store.file_hashes()
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
            listed = {str(f) for f in files}
            files += [Path(p) for p in known if p not in listed and Path(p).is_file()]
        pending = []
        for path in _progress(files, "Reading", progress and len(files) > 1):
            key = str(path)
            try:
                source = read_source(path, settings.max_file_bytes)
            except SkipFile as exc:
                report.skipped.append((key, str(exc)))
                continue
            if known.get(key) == source.sha256 and not rebuild:
                report.unchanged.append(key)
                continue
            documents = build_documents(key, source.text)
            chunks = [c for doc in documents for c in chunk_document(doc, budget)]
            if not chunks:
                report.skipped.append((key, "no indexable text after cleaning"))
                continue
            pending.append((key, source, documents, chunks))

        # Files that disappeared from a folder we were asked to index.
        seen = {str(f) for f in files}
        report.removed = [
            p for p in known
            if p not in seen and not Path(p).exists() and any(Path(p).is_relative_to(r) for r in roots)
        ]

        texts = list(dict.fromkeys(c.embed_text for *_, chunks in pending for c in chunks))
        vectors = store.cached_embeddings(texts)
        to_embed = [t for t in texts if t not in vectors]
        t0 = time.perf_counter()
        if to_embed:
            for text, vec in zip(to_embed, embedder.encode(to_embed, progress=progress)):
                vectors[text] = vec
        report.embed_seconds = time.perf_counter() - t0
        report.embedded = len(to_embed)

        updates = []
        for key, source, documents, chunks in pending:
            matrix = np.vstack([vectors[c.embed_text] for c in chunks])
            updates.append(FileUpdate(key, source.sha256, len(source.text), documents, chunks, matrix))
            report.indexed.append(key)
            report.new_chunks += len(chunks)
        if updates or report.removed:
            dim = next(iter(vectors.values())).shape[-1] if vectors else int(store.meta("dim", "384"))
            store.apply(updates, report.removed, meta={"model": embedder.model_path, "dim": dim, "recipe": recipe})
        report.totals = store.counts()
    report.seconds = time.perf_counter() - started
    return report
