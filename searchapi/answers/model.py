"""The evidence model: linear scores over FEATURES (a conditional logit, Platt-scaled to log-odds), and a
calibrated probability with one threshold.

Fitted by scripts/train_evidence.py on the labelled questions (gold = verbatim evidence), selected
and calibrated by cross-validation grouped by paper; stored in evidence_model.json, loaded once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from searchapi.answers.features import FEATURES, QUESTION_FEATURES
from searchapi.learning import LinearModel

MODEL_PATH = Path(__file__).with_name("evidence_model.json")


@dataclass
class EvidenceModel(LinearModel):
    """Sentence weights, and the calibration of the lead sentence's score."""

    # P(the reports state the answer): logistic over QUESTION_FEATURES of the question's whole candidate set.
    calibration: dict = field(default_factory=dict)
    threshold: float = 0.5  # answer when the calibrated probability is at least this
    query_encoder: dict = field(default_factory=dict)  # the tuning behind `adapted_dense` (query_encoder.py)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Scores of candidate sentences (rows of FEATURES), higher is better evidence."""
        return self.linear(x, FEATURES)

    def confidence(self, question_features: dict[str, float] | list[float]) -> float:
        """Calibrated probability that the reports state the answer to the question (features by name,
        or already in the calibration's order)."""
        c = self.calibration
        if not c:
            return 0.0
        if isinstance(question_features, dict):
            question_features = [question_features[name] for name in c["features"]]
        z = (np.asarray(question_features) - np.asarray(c["mean"])) / np.asarray(c["scale"])
        return float(1.0 / (1.0 + math.exp(-(float(z @ np.asarray(c["coef"])) + c["intercept"]))))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> EvidenceModel:
    model = EvidenceModel(**json.loads(Path(path).read_text(encoding="utf-8")))
    unknown = set(model.features) - set(FEATURES) or set(model.calibration.get("features", QUESTION_FEATURES)) - set(QUESTION_FEATURES)
    if unknown:
        raise ValueError(f"{path}: features this version does not compute: {sorted(unknown)}")
    return model
