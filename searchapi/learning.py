"""Fitting shared by the learned models (the passage order and the evidence sentences): a conditional
logit over each question's own candidates, and folds grouped by paper. scikit-learn and SciPy are
needed only when fitting, never to serve."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

FOLDS = 5


@dataclass
class LinearModel:
    """Weights over standardised features, stored as JSON with a version and how they were fitted."""

    version: str
    features: list[str]  # the stored weights' order: a later version may compute more
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    report: dict = field(default_factory=dict)  # how it was fitted and its cross-validated figures

    def linear(self, x: np.ndarray, computed: tuple[str, ...]) -> np.ndarray:
        """Scores of rows of x, whose columns are the `computed` features."""
        z = (x[:, [computed.index(name) for name in self.features]] - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef) + self.intercept

    def to_json(self) -> str:
        return json.dumps(vars(self), indent=1)


def conditional_logit(groups: list[tuple[np.ndarray, np.ndarray]], c: float, width: int) -> np.ndarray:
    """L2-penalised weights (sklearn's 1/(2C)) maximising, per group (a question's candidate rows), the
    softmax probability of its positive rows: -log sum_pos p = logsumexp(all) - logsumexp(positive)."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp, softmax

    def loss(w: np.ndarray):
        value, grad = w @ w / (2 * c), w / c
        for z, positive in groups:
            scores = z @ w
            value += logsumexp(scores) - logsumexp(scores[positive])
            grad = grad + z.T @ softmax(scores) - z[positive].T @ softmax(scores[positive])
        return value, grad

    return minimize(loss, np.zeros(width), jac=True, method="L-BFGS-B").x if groups else np.zeros(width)


def fit_ranker(rows: list[tuple[np.ndarray, np.ndarray]], c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Standardisation, weights that put each question's positive rows first among its own candidates,
    and one logistic fit over all rows so that a score reads as log-odds across questions too.
    rows: per question (features, labels). Returns (mean, scale, coef, intercept)."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([r[0] for r in rows])
    y = np.concatenate([r[1] for r in rows]).astype(int)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    groups = [((r[0] - mean) / scale, r[1].astype(bool)) for r in rows if r[1].any() and not r[1].all()]
    w = conditional_logit(groups, c, x.shape[1])
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(((x - mean) / scale @ w)[:, None], y)
    slope = max(float(platt.coef_[0][0]), 1e-3)  # a rescaling, never a reversal of the ranking
    return mean, scale, w * slope, float(platt.intercept_[0])


def folds_of(groups: list[str], n: int = FOLDS):
    from sklearn.model_selection import GroupKFold

    return GroupKFold(n_splits=min(n, len(set(groups)))).split(np.zeros(len(groups)), groups=groups)
