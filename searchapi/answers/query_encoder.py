"""The tuned query encoder behind `adapted_dense`: MiniLM with a low-rank correction (LoRA) of each linear
layer of its blocks, learned so that a labelled question's evidence sentence scores above its other
candidates, and an unanswerable question's candidates below a learned 'none'.

Plain MiniLM places a question near sentences on its topic; the tuned encoder reads the question so
that it lands near the sentence that states what was asked. The sentences keep the vectors the index
stores: only the question is read differently, so no index is built again. The corrections are stored
inside the evidence model and merged into a copy of the weights when it is loaded. torch fits it; the
service reads questions with it on ONNX Runtime, from a merged copy of the model folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

LAYERS = ("query", "key", "value", "dense")  # the linear layers of each transformer block

log = logging.getLogger("reportsearch.answers")


def fit_query_encoder(model_path: str, rows: list[tuple[str, np.ndarray, np.ndarray, float]], *, rank: int,
                      epochs: int, learning_rate: float, batch: int, seed: int = 0) -> dict:
    """Fitted on rows of (question text, its candidates' stored sentence vectors, their labels, the row's
    weight) as a conditional logit with a 'none of them' option of learned score: an answerable
    question's evidence ranked first among its own candidates, an unanswerable question's candidates
    (labels all 0, weight > 0) below 'none'. Give weight 0 to an answerable question none of whose
    candidates holds its evidence. `rank` columns of each layer's correction, `epochs` passes over the rows,
    `batch` questions per step (the product's are Settings.encoder_*). Deterministic for a seed."""
    import torch

    rows = [r for r in rows if r[3] > 0 and not r[2].all() and len(r[1])]
    if not any(r[2].any() for r in rows):
        return {}

    class LowRank(torch.nn.Module):
        """A frozen linear layer plus a trainable B·A (B starts at zero: the layer as it was)."""

        def __init__(self, base):
            super().__init__()
            self.base = base
            self.a = torch.nn.Parameter(torch.randn(rank, base.in_features, generator=generator) * 0.01)
            self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))

        def forward(self, x):
            return self.base(x) + (x @ self.a.T) @ self.b.T

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = _load(model_path)
    model.requires_grad_(False)
    corrections = {name: LowRank(layer) for name, layer in model.named_modules()
                   if isinstance(layer, torch.nn.Linear) and ".layer." in name and name.rsplit(".", 1)[-1] in LAYERS}
    for name, low in corrections.items():
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, low)
    log_scale, none = torch.nn.Parameter(torch.tensor(3.0)), torch.nn.Parameter(torch.tensor(10.0))
    params = [p for low in corrections.values() for p in (low.a, low.b)] + [log_scale, none]
    optimiser = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    shuffle = np.random.default_rng(seed)
    tokens = getattr(model, "preprocess", None) or model.tokenize
    model.train()
    for _ in range(epochs):
        order = shuffle.permutation(len(rows))
        for start in range(0, len(rows), batch):
            step = [rows[i] for i in order[start:start + batch]]
            q = torch.nn.functional.normalize(model(tokens([r[0] for r in step]))["sentence_embedding"], dim=-1)
            loss = torch.tensor(0.0)
            for i, (_, vectors, labels, weight) in enumerate(step):
                scores = torch.from_numpy(np.asarray(vectors, dtype="float32")) @ q[i] * log_scale.exp()
                everything = torch.logsumexp(torch.cat([scores, none[None]]), dim=0)
                positive = torch.from_numpy(labels.astype(bool))
                wanted = torch.logsumexp(scores[positive], dim=0) if positive.any() else none
                loss = loss + weight * (everything - wanted)
            optimiser.zero_grad()
            (loss / sum(r[3] for r in step)).backward()
            optimiser.step()
    return {"rank": rank, "epochs": epochs, "learning_rate": learning_rate, "batch": batch, "questions": len(rows),
            "layers": {name: [_encoded(low.a), _encoded(low.b)] for name, low in corrections.items()}}


class QueryEncoder:
    """MiniLM with a stored correction merged into its weights (plain MiniLM without one). On torch, or,
    given a cache folder, on ONNX Runtime from a merged copy of the model folder written there once, so
    that the service, like the embedder, never loads torch."""

    def __init__(self, model_path: str, tuned: dict, onnx_cache: Path | None = None, threads: int = 0):
        self.onnx = None
        if onnx_cache is not None:
            try:
                self.onnx = _onnx_copy(model_path, tuned, Path(onnx_cache), threads)
            except Exception as exc:  # as for the embedder: a failed export must never stop answers
                log.warning("ONNX copy of the tuned query encoder failed, encoding questions on torch: %s", exc)
        self.model = None if self.onnx else _merged(_load(model_path), tuned)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors of questions."""
        if self.onnx is not None:
            return self.onnx.encode(texts, batch_size=64)
        vectors = self.model.encode(texts, normalize_embeddings=True, show_progress_bar=False, batch_size=64)
        return np.asarray(vectors, dtype="float32").reshape(len(texts), -1)

    @lru_cache(maxsize=2048)  # the same questions recur (a page's suggestions, a follow-up asked again)
    def vector(self, question: str) -> np.ndarray:
        return self.encode([question])[0]


_LOADED: dict[tuple, QueryEncoder] = {}


def query_encoder_of(embedder, model) -> QueryEncoder | None:
    """The evidence model's tuned encoder over the embedder's MiniLM, on the embedder's backend, loaded
    once per model version; None when the model holds no tuning (the plain question vector is used)."""
    if not model.query_encoder:
        return None
    onnx_cache = None if embedder.onnx_mode == "off" else embedder.onnx_cache
    key = (embedder.model_path, model.version, onnx_cache)
    if key not in _LOADED:
        _LOADED[key] = QueryEncoder(embedder.model_path, model.query_encoder, onnx_cache, embedder.threads)
    return _LOADED[key]


def _merged(model, tuned: dict):
    import torch

    with torch.no_grad():
        for name, (a, b) in tuned.get("layers", {}).items():
            layer = model.get_submodule(name)
            a, b = _matrix(a, tuned["rank"], layer.in_features), _matrix(b, layer.out_features, tuned["rank"])
            layer.weight += torch.from_numpy(b @ a)
    return model.eval()


def _onnx_copy(model_path: str, tuned: dict, cache: Path, threads: int):
    """The model folder copied with the corrected weights, named by a digest of the tuning, then
    exported as the embedder exports it."""
    from indexer.onnx_model import OnnxEncoder, ensure_export, ensure_variant

    digest = hashlib.sha1(json.dumps(tuned, sort_keys=True).encode()).hexdigest()[:12]

    def write(folder: Path) -> None:
        _merged(_load(model_path), tuned)[0].auto_model.save_pretrained(folder)

    folder = ensure_variant(Path(model_path), cache, f"tuned-{digest}", write)
    return OnnxEncoder(folder, ensure_export(folder, cache), threads)


def _load(model_path: str):
    """A fresh copy of the model, loaded offline as the indexer loads it."""
    from indexer.embed import Embedder

    return Embedder(model_path, onnx="off").model


def _matrix(encoded: str, rows: int, columns: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(encoded), dtype="<f2").reshape(rows, columns).astype("float32")


def _encoded(parameter) -> str:
    """Half precision, base64: a correction's factors are small numbers, and every use (out-of-fold
    features too) reads them back from this form, so what is measured is what is stored."""
    return base64.b64encode(np.ascontiguousarray(parameter.detach().numpy(), dtype="<f2").tobytes()).decode("ascii")
