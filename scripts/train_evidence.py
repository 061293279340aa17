"""Fit the evidence model on the labelled question sets and store it as package data.

    python scripts/train_evidence.py --index-dir /tmp/ans-index

Reproducible: the index is built from corpus/ (`reportsearch index corpus/`), the questions are
corpus/devset.jsonl, holdout.jsonl and fresh.jsonl (all splits), the near-miss unanswerable copies
mined from them (searchapi/answers/nearmiss.py) are drawn by a hash of each question's id, the folds
are grouped by paper and deterministic, and logistic regression (lbfgs) has no randomness.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchapi.answers.answerer import Answerer, decide  # noqa: E402
from searchapi.answers.fit import collect, fit_model  # noqa: E402
from searchapi.answers.model import MODEL_PATH, EvidenceModel  # noqa: E402
from searchapi.retrieval.engine import SearchEngine  # noqa: E402

SETS = ("devset.jsonl", "holdout.jsonl", "fresh.jsonl")


def load(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for p in paths for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    engine = SearchEngine(args.index_dir)
    questions = load([ROOT / "corpus" / name for name in SETS])
    # Features do not depend on the weights; any stored model (or none yet) serves to collect them.
    placeholder = EvidenceModel("bootstrap", [], [], [], [], 0.0)
    samples = collect(Answerer(engine, model=placeholder), questions)
    model = fit_model(samples, decide, engine.settings)
    model.report["sets"] = list(SETS)
    args.out.write_text(model.to_json() + "\n", encoding="utf-8")
    print(json.dumps(model.report, indent=1))
    print(f"{model.report['near_misses']} near-miss unanswerable copies mined for the abstention; threshold "
          f"{model.threshold:.3f} (the highest answering >= {model.report['min_answer_rate']} of answerable, out of fold); wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
