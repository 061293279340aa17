"""Fitting, calibrating and cross-validating the evidence model on labelled questions.

A candidate sentence is labelled evidence when it holds a gold quote (`holds_evidence`). Models are
selected and calibrated on out-of-fold predictions of cross-validation grouped by paper, so no
figure is ever measured on the questions it was fitted on.
scikit-learn is needed only here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from functools import cached_property
from pathlib import Path

import numpy as np

from searchapi.answers.features import EITHER, FEATURES, LACKING, QUESTION_FEATURES, Candidate, question_features
from searchapi.answers.model import EvidenceModel
from searchapi.answers.plan import QueryPlan
from searchapi.answers.query_encoder import QueryEncoder, fit_query_encoder
from searchapi.learning import FOLDS, fit_ranker, folds_of
from searchapi.schemas import Turn

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
ADAPTED = FEATURES.index("adapted_dense")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def holds_evidence(quote: str, golds: list[str]) -> bool:
    """Whether a quoted sentence itself holds gold evidence: most of a gold quote is in it, or it is a
    substantial sentence lying wholly inside a longer gold passage."""
    q = normalise(quote)
    for gold in map(normalise, golds):
        shared = SequenceMatcher(None, q, gold, autojunk=False).find_longest_match(0, len(q), 0, len(gold)).size
        if shared >= 0.6 * len(gold) or (len(q) >= 40 and shared >= 0.9 * len(q)):
            return True
    return False


@dataclass
class Sample:
    """One labelled question: its plan, its scored candidates, their features and labels."""

    id: str
    group: str
    answerable: bool
    golds: list[str]
    plan: QueryPlan
    candidates: list[Candidate]
    x: np.ndarray
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @cached_property
    def vectors(self) -> np.ndarray:
        """Its candidates' sentence vectors, one row each (asked of samples with candidates)."""
        return np.vstack([c.vector for c in self.candidates])


def turns_of(q: dict) -> list[Turn]:
    """The turns before a labelled row's question (a follow-up set's `history`)."""
    return [Turn(**t) for t in q.get("history", [])]


def plan_of(engine, q: dict) -> QueryPlan:
    """A labelled row's plan: its question read after the turns before it."""
    return engine.plan(q["question"], turns_of(q))


def collect(answerer, questions: list[dict], k: int = 8, collection: str = "") -> list[Sample]:
    """Run retrieval and feature extraction once per question, as the product does. Groups
    are the papers, named `collection:paper` when a collection is named: name it after its index, not
    its question set, so that every set asked of a paper puts it in one group."""
    engine, samples = answerer.engine, []
    for i, q in enumerate(questions):
        plan = plan_of(engine, q)
        passages = engine.search(plan, k=k).results
        candidates = answerer.evidence(plan, passages)
        x = np.asarray([[c.features[f] for f in FEATURES] for c in candidates], dtype="float32").reshape(-1, len(FEATURES))
        answerable = bool(q.get("answerable", True))
        y = np.asarray([answerable and holds_evidence(c.text, q.get("gold") or []) for c in candidates], dtype=int)
        # A paper published in two formats (minutes.pdf and minutes.html) is one paper: grouped by its name.
        group = (f"{collection}:" if collection else "") + (Path(q["file"]).stem if q.get("file") else f"unanswerable-{i % FOLDS}")
        samples.append(Sample(q.get("id", str(i)), group, answerable, q.get("gold") or [], plan, candidates, x, y))
    return samples


def encoder_of(samples: list[Sample], settings) -> dict:
    """The query encoder tuned on the answerable questions' evidence, and on unanswerable questions' lack of
    it; an answerable question whose candidates miss its evidence teaches it nothing."""
    rows = [(s.plan.dense_text, s.vectors, s.y, 0.0 if s.answerable and not s.y.any() else 1.0) for s in samples if len(s.candidates)]
    return fit_query_encoder(settings.model_path(), rows, rank=settings.encoder_rank, epochs=settings.encoder_epochs,
                             learning_rate=settings.encoder_learning_rate, batch=settings.encoder_batch)


def read_by(samples: list[Sample], tuned: dict, model_path: str) -> list[Sample]:
    """The samples' `adapted_dense` columns recomputed with this tuned query encoder (in place)."""
    live = [s for s in samples if len(s.candidates)]
    if live:
        for s, question in zip(live, QueryEncoder(model_path, tuned).encode([s.plan.dense_text for s in live])):
            s.x[:, ADAPTED] = s.vectors @ question
    return samples


def tune_out_of_fold(samples: list[Sample], settings) -> None:
    """Each sample's `adapted_dense` from an encoder tuned without its paper, so that the weights over
    it, their calibration and the threshold see it as it will be on questions never trained on."""
    for train, test in folds(samples):
        read_by([samples[i] for i in test], encoder_of([samples[i] for i in train], settings), settings.model_path())


def fit_weights(samples: list[Sample], c: float) -> EvidenceModel:
    """Weights that rank each question's evidence first among its own candidates, scaled to log-odds
    across questions (learning.fit_ranker)."""
    mean, scale, coef, intercept = fit_ranker([(s.x, s.y) for s in samples], c)
    return EvidenceModel(version="", features=list(FEATURES), mean=mean.tolist(), scale=scale.tolist(),
                         coef=coef.tolist(), intercept=intercept)


def judge(sample: Sample, model: EvidenceModel, decide, settings):
    """The decision the model makes on this question, and whether what it would quote holds the gold."""
    for cand, logit in zip(sample.candidates, model.logits(sample.x)):
        cand.probability = float(logit)
    ranked = sorted(sample.candidates, key=lambda c: c.probability, reverse=True)
    decision, values = decide(sample.plan, ranked, model, settings), question_features(sample.plan, ranked)
    return decision, [values[name] for name in QUESTION_FEATURES], sample.answerable and any(
        holds_evidence(c.text, sample.golds) for c in decision.chosen)


def folds(samples: list[Sample], n: int = FOLDS):
    return folds_of([s.group for s in samples], n)


def out_of_fold(samples: list[Sample], c: float, decide, settings) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold question features (QUESTION_FEATURES), and whether each answer would hold the gold."""
    features, correct = np.zeros((len(samples), len(QUESTION_FEATURES))), np.zeros(len(samples), dtype=bool)
    for train, test in folds(samples):
        model = fit_weights([samples[i] for i in train], c)
        for i in test:
            _, features[i], correct[i] = judge(samples[i], model, decide, settings)
    return features, correct


def fit_calibration(features: np.ndarray, correct: np.ndarray) -> dict:
    """Logistic calibration of out-of-fold question features to P(label): the label is whether the
    question is answerable (fit_model), and may be any yes/no outcome. Each weight keeps the sign its
    feature's meaning gives it (support for, LACKING against; the kind of fact asked, EITHER, is a base
    rate free to go either way), so features that move together cannot trade signs to fit one corpus's
    quirks."""
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale[scale == 0] = 1.0
    if correct.all() or not correct.any():
        return {"features": list(QUESTION_FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
                "coef": [0.0] * len(mean), "intercept": 10.0 if correct.all() else -10.0}
    signs = [-1.0 if name in LACKING else 0.0 if name in EITHER else 1.0 for name in QUESTION_FEATURES]
    coef, intercept = signed_logistic((features - mean) / scale, correct.astype(float), signs)
    return {"features": list(QUESTION_FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": coef.tolist(), "intercept": intercept}


def signed_logistic(z: np.ndarray, y: np.ndarray, signs: list[float], c: float = 1.0):
    """L2 logistic regression (sklearn's objective at C=c) whose weights keep the given signs (a sign of
    0 leaves that weight free)."""
    from scipy.optimize import minimize

    def loss(p: np.ndarray):
        margin = z @ p[1:] + p[0]
        residual = 1.0 / (1.0 + np.exp(-margin)) - y
        value = float(np.sum(np.logaddexp(0.0, margin) - y * margin) + p[1:] @ p[1:] / (2 * c))
        return value, np.concatenate([[residual.sum()], z.T @ residual + p[1:] / c])

    bounds = [(None, None)] + [(0.0, None) if sign > 0 else (None, 0.0) if sign < 0 else (None, None) for sign in signs]
    fitted = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return fitted.x[1:], float(fitted.x[0])


def calibrated_out_of_fold(features: np.ndarray, correct: np.ndarray, groups: list[str]) -> np.ndarray:
    """Each question's calibrated probability from a calibration fitted without its paper."""
    probabilities = np.zeros(len(correct))
    for train, test in folds_of(groups):
        calibration = fit_calibration(features[train], correct[train])
        model = EvidenceModel("", [], [], [], [], 0.0, calibration=calibration)
        probabilities[test] = [model.confidence(f) for f in features[test]]
    return probabilities


def threshold_for(probabilities: np.ndarray, correct: np.ndarray, precision: float) -> float:
    """The lowest threshold at which the answered questions reach the precision (answering from
    the most confident down); 1.0 when none does."""
    order = np.argsort(-probabilities)
    hits = np.cumsum(correct[order])
    best = 1.0
    for n in range(1, len(order) + 1):
        if hits[n - 1] / n >= precision:
            best = float(probabilities[order[n - 1]])
    return best


def threshold_for_rate(probabilities: np.ndarray, answerable: np.ndarray, min_answer_rate: float) -> float:
    """The highest threshold that still answers at least `min_answer_rate` of the answerable questions:
    abstain as often as that floor allows."""
    scores = np.sort(probabilities[answerable.astype(bool)])[::-1]
    if not len(scores):
        return 0.0
    return float(scores[min(len(scores), max(1, int(np.ceil(min_answer_rate * len(scores))))) - 1])


def choose_threshold(probabilities: np.ndarray, answerable: np.ndarray, settings) -> float:
    """For the stated objective: the least answer rate (`answer_min_rate`), or, when that is 0, the stated
    precision (`answer_target_precision`) of answering only answerable questions."""
    min_rate = getattr(settings, "answer_min_rate", 0.0)
    if min_rate > 0:
        return threshold_for_rate(probabilities, answerable, min_rate)
    return threshold_for(probabilities, answerable, settings.answer_target_precision)


def fit_model(samples: list[Sample], decide, settings, grid=C_GRID) -> EvidenceModel:
    """Regularisation chosen by grouped CV (the share of samples whose quote would hold the gold) and
    the score calibrated on the same out-of-fold predictions; weights then fitted on all. Sets each
    sample's `adapted_dense` out of fold, and stores the query encoder tuned on all."""
    tune_out_of_fold(samples, settings)
    chosen, best, best_oof = grid[0], -1.0, None
    for c in grid:
        features, correct = out_of_fold(samples, c, decide, settings)
        if (rate := float(correct.mean())) > best:
            chosen, best, best_oof = c, rate, (features, correct)
    features, correct = best_oof
    answerable = np.array([s.answerable for s in samples])
    # The abstention decides one thing: do the reports state this at all? Which sentence to quote is the
    # evidence model's business, so the calibration learns answerable from unanswerable, not right from wrong.
    probabilities = calibrated_out_of_fold(features, answerable, [s.group for s in samples])
    model = fit_weights(samples, chosen)
    model.query_encoder = encoder_of(samples, settings)
    model.calibration = fit_calibration(features, answerable)
    model.threshold = choose_threshold(probabilities, answerable, settings)
    # Date, size and a digest of the weights: two fits of one day differ in name when they differ at all.
    fitted = [model.coef, model.intercept, model.query_encoder, model.calibration, model.threshold]
    digest = hashlib.sha1(json.dumps(fitted).encode()).hexdigest()[:6]
    model.version = f"evidence-{date.today().isoformat()}-{len(samples)}q-{digest}"
    model.report = {"C": chosen, "questions": len(samples), "min_answer_rate": getattr(settings, "answer_min_rate", 0.0),
                    "groups": sorted({s.group for s in samples}),
                    "cv_correct_if_all_answered": round(float(correct.mean()), 4),
                    "cv_calibrated_auc": round(float(roc_auc(answerable, probabilities)), 4)}
    return model


def roc_auc(correct: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(correct, scores) if 0 < correct.sum() < len(correct) else 0.5


def cross_validate(samples: list[Sample], settings, decide, outer: list[str] | None = None) -> list[dict]:
    """Nested grouped CV of the whole answer decision: for each held-out paper, a model fitted,
    tuned and calibrated on the other papers decides its questions. One row per question.
    `outer`: other groups to hold out instead (each sample's collection: a model fitted on the other
    collections, its papers the inner folds, decides a collection it never saw)."""
    rows: list[dict] = [{}] * len(samples)
    for train, test in folds_of(outer or [s.group for s in samples]):
        model = fit_model([samples[i] for i in train], decide, settings)
        read_by([samples[i] for i in test], model.query_encoder, settings.model_path())
        for i in test:
            s = samples[i]
            decision, _, holds = judge(s, model, decide, settings)
            rows[i] = {"id": s.id, "group": s.group, "answerable": s.answerable, "confidence": decision.confidence,
                       "answered": decision.answered, "holds": holds, "strict": holds and decision.answered,
                       "quote": decision.chosen[0].text if decision.chosen else ""}
    return rows
