"""Sentence embeddings with the configured model (bundled all-MiniLM-L6-v2 by default).

The model is loaded on first use only: a no-op re-index or a keyword-only path never pays for it.
"""

from __future__ import annotations

import os
import sys
import threading
from functools import lru_cache

import numpy as np


MAX_CACHED_WORDS = 100_000


class Embedder:
    def __init__(self, model_path: str, batch_size: int = 32):
        self.model_path = model_path
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self._words: dict[str, np.ndarray] = {}

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(self.model_path, device="cpu")
        return self._model

    @property
    def dim(self) -> int:
        # Renamed in sentence-transformers 5; the old name still works there but warns.
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(dimension())

    @property
    def max_pieces(self) -> int:
        """Word pieces the model reads, [CLS] and [SEP] included."""
        return int(self.model.max_seq_length)

    def count_pieces(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def fits(self, text: str) -> bool:
        return self.count_pieces(text) <= self.max_pieces

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalised float32 vectors; every text must already fit (see `fits`)."""
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="Embedding", unit="chunk", file=sys.stderr, leave=False)
        out = []
        step = self.batch_size * 4
        for i in range(0, len(texts), step):
            batch = texts[i : i + step]
            out.append(
                self.model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
            )
            if bar:
                bar.update(len(batch))
        if bar:
            bar.close()
        return np.vstack(out).astype("float32")

    def encode_query(self, query: str) -> np.ndarray:
        return _cached_query(self, query)

    def encode_words(self, words: list[str]) -> np.ndarray:
        """Vectors of single words, each encoded once: answers compare question words with the
        words of the evidence, and the same words recur from question to question."""
        if not words:
            return np.zeros((0, self.dim), dtype="float32")
        new = [w for w in dict.fromkeys(words) if w not in self._words]
        if new:
            if len(self._words) > MAX_CACHED_WORDS:
                self._words.clear()
            self._words.update(zip(new, self.encode(new)))
        return np.vstack([self._words[w] for w in words])


def clear_query_cache() -> None:
    """Forget cached query vectors (so a benchmark pays for every query's embedding)."""
    _cached_query.cache_clear()


@lru_cache(maxsize=2048)
def _cached_query(embedder: Embedder, query: str) -> np.ndarray:
    vec = embedder.model.encode([query], normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vec, dtype="float32")


@lru_cache(maxsize=4)
def get_embedder(model_path: str, batch_size: int = 32) -> Embedder:
    return Embedder(model_path, batch_size)
