"""Sentence embeddings with the configured model (bundled all-MiniLM-L6-v2 by default).

The model is loaded on first use only: a no-op re-index or a keyword-only path never pays for it.
Encoding runs on ONNX Runtime where the model allows (see onnx_model.py: several times faster, and
a query needs neither torch nor sentence-transformers); sentence-transformers on torch is the fallback.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

MAX_CACHED_WORDS = 100_000
BACKENDS = ("auto", "off", "int8")

log = logging.getLogger("reportsearch.embed")


def _quiet_hub() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class Embedder:
    """`onnx`: 'auto' (ONNX Runtime when the model is of the plain kind, else torch), 'off' (torch),
    'int8' (ONNX with int8 weights). `onnx_cache`: folder for the one-off export. `threads`: 0 = all cores."""

    def __init__(self, model_path: str, batch_size: int = 32, onnx: str | None = None,
                 onnx_cache: str | Path | None = None, threads: int | None = None):
        from .settings import get_settings

        settings = get_settings()
        self.model_path = model_path
        self.batch_size = batch_size
        self.onnx_mode = (onnx or settings.onnx).lower()
        if self.onnx_mode not in BACKENDS:
            raise ValueError(f"REPORTSEARCH_ONNX must be one of {', '.join(BACKENDS)}, not {self.onnx_mode!r}")
        self.onnx_cache = Path(onnx_cache or settings.onnx_cache_dir())
        self.threads = settings.embed_threads if threads is None else threads
        self._model = None
        self._onnx = None
        self._onnx_failed = self.onnx_mode == "off"
        self._lock = threading.Lock()
        self._words: dict[str, np.ndarray] = {}

    # ---- backends ------------------------------------------------------------------------
    @property
    def model(self):
        """The sentence-transformers model (torch): the fallback, and what evaluation baselines use."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    _quiet_hub()
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(self.model_path, device="cpu")
        return self._model

    @property
    def onnx_encoder(self):
        """The ONNX Runtime encoder, exported on first use; None where the model or the machine cannot."""
        if self._onnx is None and not self._onnx_failed:
            with self._lock:
                if self._onnx is None and not self._onnx_failed:
                    self._onnx = self._load_onnx()
                    self._onnx_failed = self._onnx is None
        return self._onnx

    def _load_onnx(self):
        from .onnx_model import OnnxEncoder, OnnxUnavailable, ensure_export

        model_dir = Path(self.model_path)
        try:
            _quiet_hub()
            path = ensure_export(model_dir, self.onnx_cache, quantized=self.onnx_mode == "int8")
            return OnnxEncoder(model_dir, path, self.threads)
        except OnnxUnavailable as exc:
            log.info("embedding on torch: %s", exc)
        except Exception as exc:  # an export or runtime failure must never stop search: torch still works
            log.warning("ONNX export of %s failed, embedding on torch: %s", model_dir, exc)
        return None

    @property
    def backend(self) -> str:
        """'onnx', 'onnx-int8' or 'torch': what encode() runs on."""
        if self.onnx_encoder is None:
            return "torch"
        return "onnx-int8" if self.onnx_mode == "int8" else "onnx"

    # ---- shape of the model --------------------------------------------------------------
    @property
    def dim(self) -> int:
        if self.onnx_encoder is not None:
            return self.onnx_encoder.dim
        # Renamed in sentence-transformers 5; the old name still works there but warns.
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(dimension())

    @property
    def max_pieces(self) -> int:
        """Word pieces the model reads, [CLS] and [SEP] included."""
        if self.onnx_encoder is not None:
            return self.onnx_encoder.max_length
        return int(self.model.max_seq_length)

    def count_pieces(self, text: str) -> int:
        if self.onnx_encoder is not None:
            return self.onnx_encoder.count_pieces(text)
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def fits(self, text: str) -> bool:
        return self.count_pieces(text) <= self.max_pieces

    # ---- encoding ------------------------------------------------------------------------
    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalised float32 vectors; every text must already fit (see `fits`)."""
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="Embedding", unit="chunk", file=sys.stderr, leave=False)
        try:
            if self.onnx_encoder is not None:
                return self.onnx_encoder.encode(texts, self.batch_size, on_batch=bar.update if bar else None)
            return self._encode_torch(texts, bar)
        finally:
            if bar:
                bar.close()

    def _encode_torch(self, texts: list[str], bar) -> np.ndarray:
        out = []
        step = self.batch_size * 4
        for i in range(0, len(texts), step):
            batch = texts[i : i + step]
            out.append(
                self.model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
            )
            if bar:
                bar.update(len(batch))
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
    if embedder.onnx_encoder is not None:
        return embedder.onnx_encoder.encode([query])
    vec = embedder.model.encode([query], normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vec, dtype="float32")


@lru_cache(maxsize=8)
def get_embedder(model_path: str, batch_size: int = 32, onnx: str | None = None) -> Embedder:
    return Embedder(model_path, batch_size, onnx=onnx)
