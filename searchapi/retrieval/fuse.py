"""Reciprocal rank fusion: robust to the incomparable score scales of BM25 and cosine."""

from __future__ import annotations


def rrf(rankings: list[tuple[list[tuple[int, float]], float]], k: int = 60) -> dict[int, float]:
    """rankings: (ranked [(id, score)], weight). Returns id -> fused score."""
    fused: dict[int, float] = {}
    for ranked, weight in rankings:
        for rank, (item, _) in enumerate(ranked):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank + 1)
    return fused
