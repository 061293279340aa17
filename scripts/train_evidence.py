"""Fit the evidence model on labelled question sets of one or more collections and store it as package data.

    python scripts/train_evidence.py --index-dir /tmp/ans-index
    # the stored model: the Kent sample and the ten labelled sets of the real-format collection
    python scripts/train_evidence.py --index-dir /tmp/ans-index --also /tmp/real-idx corpus/dev-real-formats.jsonl \
        --also /tmp/real-idx corpus/dev2-real-formats.jsonl --also /tmp/real-idx corpus/dev3-real-formats.jsonl \
        --also /tmp/real-idx corpus/dev4-real-formats.jsonl --also /tmp/real-idx corpus/dev5-real-formats.jsonl \
        --also /tmp/real-idx corpus/dev6-real-formats.jsonl --also /tmp/real-idx corpus/dev7-real-formats.jsonl \
        --also /tmp/real-idx corpus/dev8-real-formats.jsonl --also /tmp/real-idx corpus/dev9-real-formats.jsonl \
        --also /tmp/real-idx corpus/dev10-real-formats.jsonl
    python scripts/train_evidence.py --index-dir /tmp/ans-index --cv --also /tmp/real-idx corpus/dev-real-formats.jsonl
    python scripts/train_evidence.py --index-dir /tmp/ans-index --score /tmp/real-idx corpus/dev-real-formats.jsonl

The evidence model reads the passages the passage model ranks: after refitting that one
(scripts/train_rank.py, same arguments), refit this one.

Reproducible: the first index is built from corpus/ (`reportsearch index corpus/`) and asked
corpus/devset.jsonl, holdout.jsonl, fresh.jsonl, dev3- to dev6-, dev8- to dev10-kent.jsonl (all splits); `--also` adds another
collection's index and question set (the real-format one: `reportsearch index ../shared/corpora/real-formats
--index-dir /tmp/real-idx`; the blind set is never trained on). The folds are grouped by paper (a paper
is one group whichever sets ask of it; papers of different indexes never share one) and deterministic,
and the fits have no randomness (the query encoder's tuning is seeded).
`--cv` reports nested cross-validation over all the collections, and for each one, and stores nothing;
with `--across` its outer folds are whole collections, so that each is decided by a model fitted on the
others alone (does a change carry over to reports and question writers it never saw?);
`--score` fits on the training collections and scores a collection it never saw, and stores nothing.
`--samples FILE` caches the collected candidates and features (for repeated `--cv` runs of a change to the
fitting); `--rows FILE` writes each question's out-of-fold decision, for reading the misses of the labelled sets.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.settings import get_settings  # noqa: E402
from searchapi.answers.answerer import Answerer, decide  # noqa: E402
from searchapi.answers.fit import collect, cross_validate, fit_model, judge, read_by, roc_auc  # noqa: E402
from searchapi.answers.model import MODEL_PATH, EvidenceModel  # noqa: E402
from searchapi.evaluate import summarise  # noqa: E402
from searchapi.retrieval.engine import SearchEngine  # noqa: E402

SETS = ("devset.jsonl", "holdout.jsonl", "fresh.jsonl", "dev3-kent.jsonl", "dev4-kent.jsonl", "dev5-kent.jsonl",
        "dev6-kent.jsonl", "dev8-kent.jsonl", "dev9-kent.jsonl", "dev10-kent.jsonl")


def load(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for p in paths for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def samples_of(index_dir: Path, questions: list[dict], collection: str):
    """One collection's labelled samples; features do not depend on the weights, so no model is needed."""
    engine = SearchEngine(index_dir)
    engine.warm()
    engine.sentences.warm(list(engine.snapshot.chunks.values()))
    placeholder = EvidenceModel("bootstrap", [], [], [], [], 0.0)
    return collect(Answerer(engine, model=placeholder), questions, collection=collection)


def figures(rows: list[dict]) -> dict:
    out = summarise(rows)
    keep = ("answerable_questions", "answer_rate", "strict_correct_rate", "correct_if_all_answered",
            "unanswerable_questions", "abstention_rate")
    answerable = np.array([r["answerable"] for r in rows])
    auc = roc_auc(answerable, np.array([r["confidence"] for r in rows]))  # answerable against unanswerable
    return {k: round(out[k], 3) for k in keep} | {"abstention_auc": round(float(auc), 4),
                                                  "reliability": [round(p["precision"], 2) for p in out["reliability"]]}


def collected(pairs, collection: dict[Path, str], cache: Path | None):
    """Every collection's samples and the set each question came from. With a cache file, samples
    collected once are read back, so that a change to the fitting alone (or to its settings) can be
    measured again in minutes; the cache names the sets and indexes it was collected from and is
    refused for others."""
    key = [[str(Path(i).resolve()), [str(p.resolve()) for p in sets]] for i, sets, _ in pairs]
    if cache and cache.exists():
        with cache.open("rb") as f:
            stored = pickle.load(f)
        if stored["key"] != key:
            raise SystemExit(f"{cache} was collected from other sets or indexes; delete it to collect again")
        return stored["samples"], stored["set_of"]
    samples, set_of = [], {}
    for index_dir, sets, name in pairs:
        got = samples_of(index_dir, load(sets), collection[Path(index_dir).resolve()])
        samples += got
        set_of |= {s.id: name for s in got}
    if cache:
        with cache.open("wb") as f:
            pickle.dump({"key": key, "samples": samples, "set_of": set_of}, f)
    return samples, set_of


def collection_names(args) -> dict[Path, str]:
    """Each index's name in the groups: the Kent one 'corpus', the others 'collection1', ... in order. A
    collection is its index, not its question set, so that two sets asked of the same papers
    (dev-real-formats and dev2-real-formats) put each paper in one fold."""
    indexes = dict.fromkeys(Path(i).resolve() for i in [args.index_dir, *(i for i, _ in args.also)])
    return {d: "corpus" if n == 0 else f"collection{n}" for n, d in enumerate(indexes)}


def training_sets(description: str) -> argparse.ArgumentParser:
    """The arguments both training scripts share: the Kent index (asked SETS) and other collections."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--index-dir", type=Path, required=True, help="an index of corpus/ (asked the sets in SETS)")
    parser.add_argument("--also", nargs=2, action="append", default=[], metavar=("INDEX_DIR", "QUESTIONS"),
                        help="another collection's index and labelled questions to train on (repeatable)")
    return parser


def main() -> int:
    parser = training_sets(__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="report nested CV grouped by paper over all collections; store nothing")
    parser.add_argument("--score", nargs=2, metavar=("INDEX_DIR", "QUESTIONS"),
                        help="fit on the training collections, score this unseen one; store nothing")
    parser.add_argument("--samples", type=Path, help="cache of the collected samples: read when present, else written")
    parser.add_argument("--rows", type=Path, help="with --cv: write each question's out-of-fold decision here (JSON Lines)")
    parser.add_argument("--across", action="store_true",
                        help="with --cv: hold out whole collections (fit on the others, decide each), not papers")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    pairs = [(args.index_dir, [ROOT / "corpus" / name for name in SETS], "corpus")]
    pairs += [(Path(i), [Path(q)], Path(q).stem) for i, q in args.also]
    samples, set_of = collected(pairs, collection_names(args), args.samples)
    settings = get_settings()  # what every engine above read
    if args.cv:
        rows = cross_validate(samples, settings, decide, [s.group.split(":")[0] for s in samples] if args.across else None)
        if args.rows:
            args.rows.write_text("".join(json.dumps(r | {"set": set_of[r["id"]]}) + "\n" for r in rows), encoding="utf-8")
        report = {"all": figures(rows)}
        for name in dict.fromkeys(set_of.values()):
            report[name] = figures([r for r in rows if set_of[r["id"]] == name])
        print(json.dumps(report, indent=1))
        return 0
    model = fit_model(samples, decide, settings)
    model.report["sets"] = [str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for _, sets, _ in pairs for p in sets]
    if args.score:
        held = samples_of(Path(args.score[0]), load([Path(args.score[1])]), "scored")
        rows = []
        for s in read_by(held, model.query_encoder, settings.model_path()):
            decision, _, holds = judge(s, model, decide, settings)
            rows.append({"id": s.id, "answerable": s.answerable, "confidence": decision.confidence,
                         "answered": decision.answered, "holds": holds, "strict": holds and decision.answered})
        print(json.dumps({"trained_on": model.report["sets"], "scored": args.score[1], **figures(rows)}, indent=1))
        return 0
    args.out.write_text(model.to_json() + "\n", encoding="utf-8")
    print(json.dumps(model.report, indent=1))
    print(f"threshold {model.threshold:.3f} (the highest answering >= {model.report['min_answer_rate']} of answerable, out of fold); wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
