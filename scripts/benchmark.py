"""Speed and size figures on this machine: indexing, chunk lengths, search latency under load.

    python scripts/benchmark.py [--corpus corpus] [--json]
    python scripts/benchmark.py --scale N [--real-chunks R] [--json]   (see scripts/scale.py)
    python scripts/benchmark.py --reuse DIR [--json]   (serving figures of an index already built)

Measures, in one run: a from-scratch index of the corpus (chunks/s next to the model's raw encode
rate on the same texts), the chunk-length distribution (tokens, word pieces, truncated = 0), a
no-op re-index, warm search latency (p50/p95), and a bounded load of concurrent clients against a
real server on 127.0.0.1 (errors must be 0). With --scale N: an index of N chunks and what serving
it costs (scripts/scale.py); the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = [
    "expenditure over £500 published on the website", "how much did the PCC pay Salus", "PEQF", "drone unit cost",
    "council tax precept 2016/17", "section 5.3 of the collaboration report", "item B2", "Athena deed of variation",
    "street triage mental health", "HMIC crime data integrity inadequate", "Medway Task Force", "EU exit traffic plans",
    "victim services Compass House", "cadets subscription £10 per month", "Op Fennel", "knife crime diversion",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench_index(corpus: Path, index_dir: Path) -> dict:
    from indexer.chunk import count_tokens
    from indexer.embed import get_embedder
    from indexer.pipeline import index_paths
    from indexer.settings import get_settings
    from indexer.store import IndexStore

    embedder = get_embedder(get_settings().model_path())
    embedder.encode(["load the model before timing"])
    report = index_paths([corpus], index_dir, progress=False)
    store = IndexStore(index_dir)
    rows = store.conn.execute("SELECT text, embed_text FROM chunks").fetchall()
    texts = [r[1] for r in rows]
    started = time.perf_counter()
    embedder.encode(texts)
    raw_seconds = time.perf_counter() - started
    pieces = [embedder.count_pieces(t) for t in texts]
    tokens = [count_tokens(r[0]) for r in rows]
    started = time.perf_counter()
    noop = index_paths([corpus], index_dir, progress=False)
    noop_seconds = time.perf_counter() - started
    return {
        "chunks": len(rows),
        "documents": report.totals["documents"],
        "index_seconds": round(report.seconds, 2),
        "embed_seconds": round(report.embed_seconds, 2),
        "pipeline_chunks_per_s": round(len(rows) / report.seconds, 1),
        "raw_encode_chunks_per_s": round(len(rows) / raw_seconds, 1),
        "raw_encode_word_pieces_per_s": round(sum(pieces) / raw_seconds),
        "overhead_beyond_embedding_s": round(report.seconds - report.embed_seconds, 2),
        "tokens_min_median_max": [min(tokens), statistics.median(tokens), max(tokens)],
        "word_pieces_max": max(pieces),
        "model_max_word_pieces": embedder.max_pieces,
        "truncated_chunks": sum(1 for p in pieces if p > embedder.max_pieces),
        "noop_reindex_seconds": round(noop_seconds, 3),
        "noop_reindexed_files": len(noop.indexed),
    }


def bench_search(index_dir: Path, rounds: int = 10, clients: int = 4, per_client: int = 50) -> dict:
    from searchapi.service.app import create_app
    from searchapi.retrieval.engine import SearchEngine
    from tests.conftest import ServerThread

    engine = SearchEngine(index_dir)
    engine.warm(sentences=True)  # warm: as the service is after start-up
    in_process = []
    for r in range(rounds):
        for q in QUERIES:
            started = time.perf_counter()
            engine.search(f"{q} {r}" if r else q, k=10)  # vary the text so the query cache does not help
            in_process.append((time.perf_counter() - started) * 1000)
    logging.getLogger("reportsearch.http").setLevel(logging.WARNING)
    app = create_app(index_dir)
    with ServerThread(app) as server:
        served = app.state.holder.get()
        while len(served.sentences) < min(len(served.snapshot.chunks), served.sentences.cache_size):  # still warming
            time.sleep(0.2)
        single = []
        with httpx.Client(base_url=server.url, timeout=30) as c:
            c.get("/api/health")
            for i, q in enumerate(QUERIES * 3):
                started = time.perf_counter()
                c.post("/api/search", json={"query": f"{q} s{i}", "k": 10}).raise_for_status()
                single.append((time.perf_counter() - started) * 1000)

        def client(i: int) -> tuple[list[float], int]:
            latencies, errors = [], 0
            with httpx.Client(base_url=server.url, timeout=30) as c:
                for j in range(per_client):
                    started = time.perf_counter()
                    resp = c.post("/api/search", json={"query": f"{QUERIES[(i + j) % len(QUERIES)]} {i}-{j}", "k": 10})
                    latencies.append((time.perf_counter() - started) * 1000)
                    errors += resp.status_code != 200
            return latencies, errors

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            outcomes = list(pool.map(client, range(clients)))
        wall = time.perf_counter() - started
    http = [x for lat, _ in outcomes for x in lat]
    return {
        "search_p50_ms": round(pct(in_process, 0.5), 1),
        "search_p95_ms": round(pct(in_process, 0.95), 1),
        "search_queries": len(in_process),
        "http_single_client_p50_ms": round(pct(single, 0.5), 1),
        "http_single_client_p95_ms": round(pct(single, 0.95), 1),
        "http_clients": clients,
        "http_requests": len(http),
        "http_errors": sum(e for _, e in outcomes),
        "http_p50_ms": round(pct(http, 0.5), 1),
        "http_p95_ms": round(pct(http, 0.95), 1),
        "http_requests_per_s": round(len(http) / wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--scale", type=int, metavar="N", help="build an index of N chunks and measure serving it")
    parser.add_argument("--real-chunks", type=int, default=2000, help="with --scale: chunks embedded by the real model")
    parser.add_argument("--work-dir", type=Path, help="with --scale: build here (kept) instead of a temporary folder")
    parser.add_argument("--no-torch", action="store_true", help="with --scale: skip the ONNX-against-torch query timing")
    parser.add_argument("--builder", choices=("bulk", "pipeline"), default="bulk",
                        help="with --scale: how the synthetic part is written (scripts/scale.py bulk_copies, or the pipeline)")
    parser.add_argument("--vectors-only", action="store_true",
                        help="with --scale: the vector index alone (build, open, RSS, latency, recall@10)")
    parser.add_argument("--reuse", type=Path, metavar="DIR",
                        help="serve an index already built in DIR (an index folder, or the --work-dir of an earlier "
                             "--scale run) and measure start, RSS, search/ask p50/p95 over HTTP (the first requests "
                             "after start, then warm_*: the searches again with other numbers and 30 other questions) "
                             "and recall@10, without rebuilding; --scale is then only recorded")
    args = parser.parse_args()
    if args.reuse:
        return reuse_main(args)
    if args.scale:
        return scale_main(args)
    with tempfile.TemporaryDirectory() as tmp:
        figures = bench_index(args.corpus, Path(tmp) / "idx")
        figures.update(bench_search(Path(tmp) / "idx"))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:<32} {value}")
    return 0


def dev_questions(limit: int = 30) -> list[str]:
    return [json.loads(line)["question"] for line in (ROOT / "corpus" / "devset.jsonl").read_text().splitlines()
            if line.strip()][:limit]


def print_figures(figures: dict, as_json: bool) -> None:
    if not as_json:
        for key, value in figures.items():
            print(f"{key:<34} {value}")
    print(json.dumps(figures))


def reuse_main(args) -> int:
    from scripts.scale import serve_only

    figures = {"requested_chunks": args.scale} if args.scale else {}
    questions = dev_questions(60)
    figures.update(serve_only(args.reuse, QUERIES * 3, questions[:30], questions[30:]))
    print_figures(figures, args.json)
    return 0


def scale_main(args) -> int:
    from scripts.scale import bench_scale

    questions = dev_questions()
    with tempfile.TemporaryDirectory(dir=args.work_dir.parent if args.work_dir else None) as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.vectors_only:
            from indexer.embed import get_embedder
            from indexer.settings import get_settings
            from scripts.scale import bench_vectors

            embedder = get_embedder(get_settings().model_path())
            figures = bench_vectors(args.scale, work, embedder.encode(QUERIES + questions))
        else:
            figures = bench_scale(args.scale, args.real_chunks, work, QUERIES * 3, questions, not args.no_torch,
                                  args.builder)
    print_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
