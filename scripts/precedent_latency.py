"""Precedent latency, warm, on an index (default: the sample corpus, indexed into a temporary folder).

    python scripts/precedent_latency.py [--index-dir DIR] [--rounds 5] [--json]

Queries: every section heading of the indexed papers used as a topic (what a person preparing for a
meeting types), plus a few wordings pasted whole. Each is run once to warm up, then `rounds` times;
p50 and p95 are over all timed runs, in process (no HTTP).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDINGS = [
    "The Meeting Notes from the Governance Board were noted as a true and accurate record",
    "firearms licensing backlog of renewals and grants",
    "collaboration with Essex Police",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from searchapi.retrieval.engine import SearchEngine
    from searchapi.meeting.precedent import PrecedentFinder

    index_dir = args.index_dir
    if index_dir is None:
        from indexer.pipeline import index_paths

        index_dir = Path(tempfile.mkdtemp(prefix="precedent-latency-"))
        index_paths([ROOT / "corpus"], index_dir, progress=False)
    engine = SearchEngine(index_dir)
    engine.warm(sentences=True)
    finder = PrecedentFinder(engine)
    topics = sorted({s.title for d in engine.documents.values() for s in d.sections if len(s.title.split()) >= 2})
    queries = topics + WORDINGS
    for q in queries:  # warm: model, sentence vectors, caches
        finder.find(q)
    timings, groups, reused = [], [], 0
    for _ in range(args.rounds):
        for q in queries:
            started = time.perf_counter()
            response = finder.find(q)
            timings.append((time.perf_counter() - started) * 1000)
            groups.append(len(response.groups))
            reused += sum(1 for g in response.groups if g.papers > 1)
    figures = {
        "index": str(index_dir), "documents": len(engine.documents), "chunks": len(engine.snapshot.chunks),
        "queries": len(queries), "runs": len(timings),
        "p50_ms": round(percentile(timings, 0.50), 1), "p95_ms": round(percentile(timings, 0.95), 1),
        "max_ms": round(max(timings), 1), "mean_groups": round(statistics.mean(groups), 1),
        "groups_with_reused_wording_per_query": round(reused / len(timings), 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"precedent on {figures['documents']} papers / {figures['chunks']} passages, {figures['queries']} queries "
              f"x {args.rounds}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, max {figures['max_ms']} ms; "
              f"{figures['mean_groups']} groups per query, {figures['groups_with_reused_wording_per_query']} with a "
              "wording used in several papers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
