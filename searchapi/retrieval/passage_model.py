"""The passage model: the order of the fused head, learned.

Passages are long and the answer is usually one sentence, so the first `rerank_depth` fused passages
are rescored by what they say: their best sentence's similarity (and whether one states the asked
answer type: a sum, a date, a count), how much of the question's rare-word mass they hold, in the
heading too, and whether their paper is the one the question describes (title, body, month, year).
A conditional logit over each question's own candidates (learning.fit_ranker), fitted by
scripts/train_rank.py on the labelled questions with C chosen by cross-validation grouped by paper,
Platt-scaled so that a score reads as the probability that the passage holds the answer; stored
with a version in passage_model.json and loaded once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from indexer.models import Document
from indexer.store import ChunkRecord

from searchapi.learning import LinearModel
from searchapi.retrieval.rerank import paper_match

MODEL_PATH = Path(__file__).with_name("passage_model.json")
PASSAGE_FEATURES = ("fused", "sentence", "typed_sentence", "states_type", "coverage", "heading_coverage",
                    "paper_described", "year_dated", "year_absent")


def describe(plan, fused: float, chunk: ChunkRecord, doc: Document, sims: np.ndarray, typed: np.ndarray,
             coverage: Callable, type_bonus: float) -> list[float]:
    """PASSAGE_FEATURES of one candidate: `sims` its sentences' similarities to the question, `typed`
    whether each states the asked answer type (1/0), `coverage(concepts, text)` the IDF-weighted share."""
    dated = any(y.dated(doc.date or "") for y in plan.years)
    written = any(y.written_in(chunk.text) for y in plan.years)
    return [
        fused,
        float(sims.max()) if len(sims) else 0.0,
        float((sims + type_bonus * typed).max()) if len(sims) else 0.0,
        float(typed.max()) if len(typed) else 0.0,
        coverage(plan.concepts, chunk.text + " " + chunk.heading),
        coverage(plan.concepts, chunk.heading) if chunk.heading else 0.0,
        paper_match(plan, doc),
        float(dated),
        float(bool(plan.years) and not (dated or written)),
    ]


def reorder(head: list[tuple], scores: np.ndarray | list[float], tail: list[tuple]) -> list[tuple]:
    """The head by its new scores, then the tail in fused order with no score above the head's last."""
    rescored = sorted(((item, float(s)) for (item, _), s in zip(head, scores)), key=lambda kv: kv[1], reverse=True)
    floor = rescored[-1][1] if rescored else 1.0
    return rescored + [(item, min(s, floor)) for item, s in tail]


@dataclass
class PassageModel(LinearModel):
    def scores(self, x: np.ndarray) -> np.ndarray:
        """P(the passage holds the answer) for rows of PASSAGE_FEATURES."""
        return 1.0 / (1.0 + np.exp(-self.linear(x, PASSAGE_FEATURES)))


@lru_cache(maxsize=4)
def load_passage_model(path: Path = MODEL_PATH) -> PassageModel:
    model = PassageModel(**json.loads(Path(path).read_text(encoding="utf-8")))
    unknown = set(model.features) - set(PASSAGE_FEATURES)
    if unknown:
        raise ValueError(f"{path}: features this version does not compute: {sorted(unknown)}")
    return model
