"""Sentence spans and embeddings of chunks, for sentence-level reranking and answers.

Both are computed when the index is built (indexer/sentences.py) and read here on demand, so no
query ever waits for an embedding of the reports.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from indexer.store import ChunkRecord


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


class SentenceStore:
    """Sentence spans and vectors of chunks, read from the index (computed when it was built)."""

    def __init__(self, reader, cache_size: int = 20000):
        self.reader = reader
        self.cache_size = cache_size
        self._cache: dict[int, tuple[list[tuple[int, int]], np.ndarray]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, chunks: list[ChunkRecord]) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
        with self._lock:
            cached = {c.rowid: self._cache.get(c.rowid) for c in chunks}
        todo = [r for r, v in cached.items() if v is None]
        if todo:
            fresh = self.reader.sentences(todo)
            cached.update(fresh)
            with self._lock:
                if len(self._cache) + len(fresh) > self.cache_size:
                    self._cache.clear()
                self._cache.update(fresh)
        return [cached[c.rowid] for c in chunks]

    def warm(self, chunks: list[ChunkRecord]) -> None:
        """Read the given chunks' sentences into memory now, as many as the cache holds (a larger
        index reads the rest on demand, by chunk, from its stored rows)."""
        chunks = chunks[: self.cache_size]
        for i in range(0, len(chunks), 500):
            self.get(chunks[i : i + 500])
