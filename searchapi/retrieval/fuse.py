"""Reciprocal rank fusion: robust to the incomparable score scales of BM25 and cosine."""

from __future__ import annotations

from typing import Callable


def rrf(rankings: list[tuple[list[tuple[int, float]], float]], k: int = 60) -> dict[int, float]:
    """rankings: (ranked [(id, score)], weight). Returns id -> fused score."""
    fused: dict[int, float] = {}
    for ranked, weight in rankings:
        for rank, (item, _) in enumerate(ranked):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank + 1)
    return fused


def fuse(rankings: list[tuple[list[tuple], float]], referenced: dict, adjust: Callable[[list], dict],
         settings) -> list[tuple]:
    """The fused candidate list, best first: RRF of the dense and keyword lists, a bonus for passages a
    reference points at, times each candidate's own factor (boilerplate), plus a first place for each
    quoted phrase it holds; scaled so that first place in every list scores 1. `adjust(ids)` gives
    id -> (factor, phrases held). One machine and the sharded router both rank through this."""
    first_place = 1.0 / (settings.rrf_k + 1)
    fused = rrf(rankings, settings.rrf_k)
    for item, weight in referenced.items():
        fused[item] = fused.get(item, 0.0) + settings.reference_bonus * first_place * weight
    adjustments = adjust(list(fused))
    for item in fused:
        factor, phrases = adjustments[item]
        fused[item] *= factor
        for _ in range(phrases):
            fused[item] += first_place
    max_score = sum(weight for _, weight in rankings) * first_place
    return sorted(((item, score / max_score) for item, score in fused.items()), key=lambda kv: kv[1], reverse=True)
