"""A query adapter: a low-rank correction of the question's vector, q + (q U) Vᵀ, learned so that the
evidence sentences of labelled questions score above their other candidates.

MiniLM's vector of a question sits near sentences on its topic; the adapter moves it towards the ones
that state what was asked. Its cosine with each sentence is one evidence feature (`adapted_dense`),
stored inside the evidence model. torch is needed only to fit it; applying it is two small products.
"""

from __future__ import annotations

import base64
from functools import lru_cache

import numpy as np

RANK = 32  # columns of U and V: 8 to 64 chose the same sentences out of fold, within two questions in 680
PENALTY = 1.0  # L2 weight on U Vᵀ, keeping the adapter near the identity
EPOCHS = 60  # full-batch Adam steps
LEARNING_RATE = 0.01


def adapt(adapter: dict, qvec: np.ndarray) -> np.ndarray:
    """The question's vector corrected by the adapter (unchanged without one)."""
    if not adapter:
        return qvec
    u, v = _matrix(adapter["u"], *adapter["shape"]), _matrix(adapter["v"], *adapter["shape"])
    return qvec + (qvec @ u) @ v.T


@lru_cache(maxsize=8)
def _matrix(encoded: str, rows: int, columns: int) -> np.ndarray:
    """A matrix stored as base64 of its float32 bytes: exact, and a few hundred KB less than JSON numbers."""
    return np.frombuffer(base64.b64decode(encoded), dtype="<f4").reshape(rows, columns)


def _encoded(matrix: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(matrix, dtype="<f4").tobytes()).decode("ascii")


def fit_adapter(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]], rank: int = RANK, penalty: float = PENALTY,
                epochs: int = EPOCHS, seed: int = 0) -> dict:
    """Fitted on rows of (question vector, its candidates' sentence vectors, their labels, the row's
    weight) as a conditional logit with a 'none of them' option of learned score: an answerable
    question's evidence is ranked first among its own candidates, and an unanswerable question's
    candidates (labels all 0, weight > 0) below 'none'. An answerable question none of whose candidates
    holds its evidence teaches nothing: give it weight 0. Deterministic for a seed."""
    import torch

    rows = [r for r in rows if r[3] > 0 and not r[2].all() and len(r[1])]
    if not any(r[2].any() for r in rows):
        return {}
    width, longest = rows[0][0].shape[0], max(len(r[1]) for r in rows)
    q = torch.tensor(np.vstack([r[0] for r in rows]), dtype=torch.float32)
    s = torch.zeros(len(rows), longest, width)
    real = torch.zeros(len(rows), longest, dtype=torch.bool)
    positive = torch.zeros(len(rows), longest, dtype=torch.bool)
    for i, (_, vectors, labels, _) in enumerate(rows):
        s[i, : len(vectors)] = torch.tensor(vectors, dtype=torch.float32)
        real[i, : len(vectors)] = True
        positive[i, : len(vectors)] = torch.tensor(labels.astype(bool))
    weight = torch.tensor([r[3] for r in rows], dtype=torch.float32)
    answerable = positive.any(dim=1)
    generator = torch.Generator().manual_seed(seed)
    u = torch.nn.Parameter(torch.randn(width, rank, generator=generator) * 0.01)
    v = torch.nn.Parameter(torch.zeros(width, rank))
    log_scale, none = torch.nn.Parameter(torch.tensor(3.0)), torch.nn.Parameter(torch.tensor(10.0))
    optimiser = torch.optim.Adam([u, v, log_scale, none], lr=LEARNING_RATE)
    for _ in range(epochs):
        adapted = q + (q @ u) @ v.T
        scores = torch.einsum("bnd,bd->bn", s, adapted) * log_scale.exp()
        nothing = none.expand(len(rows))
        everything = torch.logsumexp(torch.cat([scores.masked_fill(~real, -1e9), nothing[:, None]], dim=1), dim=1)
        wanted = torch.where(answerable, torch.logsumexp(scores.masked_fill(~positive, -1e9), dim=1), nothing)
        loss = (weight * (everything - wanted)).sum() / weight.sum() + penalty * ((u @ v.T) ** 2).sum() / 100
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return {"rank": rank, "penalty": penalty, "epochs": epochs, "questions": len(rows), "shape": [width, rank],
            "u": _encoded(u.detach().numpy()), "v": _encoded(v.detach().numpy())}
