"""Sentence spans and embeddings of every chunk, for sentence-level reranking and answers.

Computed on demand and cached; the service also fills the cache in a background thread at start,
so warm queries never wait for it. Vectors are derived data and never stored in the index.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from indexer.chunk import sentence_spans
from indexer.store import ChunkRecord

_LEADING_MARKER = re.compile(r"^\s*(?:[-•]\s+|\d{1,3}(?:\.\d{1,3})*\.?\s+|\(?[a-z]\)\s+)?")  # one marker: '- 3.1' keeps its number


@dataclass(eq=False)  # candidates are told apart by identity
class Candidate:
    """One sentence of a retrieved passage, scored as evidence for an answer."""

    chunk: ChunkRecord
    passage_rank: int
    start: int
    end: int
    text: str
    vector: np.ndarray | None = None
    score: float = 0.0
    dense: float = 0.0
    lexical: float = 0.0


def sentences_of(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans line by line; list markers and paragraph numbers left out of the quote."""
    spans = []
    for m in re.finditer(r"[^\n]+", text[start:end]):
        ls, le = start + m.start(), start + m.end()
        for s, e in sentence_spans(text, ls, le):
            marker = _LEADING_MARKER.match(text[s:e])
            if marker:
                s += marker.end()
            while e > s and text[e - 1] in " \t":
                e -= 1
            if len(text[s:e].split()) >= 4:
                spans.append((s, e))
    return spans


class SentenceStore:
    def __init__(self, document_text: Callable[[str], str], embedder, dim: int = 384):
        self.document_text = document_text
        self.embedder = embedder
        self.dim = dim
        self._cache: dict[str, tuple[list[tuple[int, int]], np.ndarray]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _compute(self, chunks: list[ChunkRecord]) -> None:
        todo = [c for c in chunks if c.id not in self._cache]
        if not todo:
            return
        spans = {c.id: sentences_of(self.document_text(c.document_id), c.start, c.end) for c in todo}
        texts = [self.document_text(c.document_id)[s:e] for c in todo for s, e in spans[c.id]]
        vectors = self.embedder.encode(texts) if texts else np.zeros((0, self.dim), dtype="float32")
        i = 0
        with self._lock:
            for c in todo:
                n = len(spans[c.id])
                self._cache[c.id] = (spans[c.id], vectors[i : i + n])
                i += n

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, chunks: list[ChunkRecord]) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
        self._compute(chunks)
        return [self._cache[c.id] for c in chunks]

    def warm(self, chunks: list[ChunkRecord], batch: int = 32) -> None:
        for i in range(0, len(chunks), batch):
            if self._stop.is_set():
                return
            self._compute(chunks[i : i + batch])

    def warm_in_background(self, chunks: list[ChunkRecord]) -> None:
        self._thread = threading.Thread(target=self.warm, args=(chunks,), daemon=True, name="sentence-warmup")
        self._thread.start()

    def stop(self) -> None:
        """Stop a background warm-up between batches (a model call must not outlive the process)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
