"""Deploy-day figures (a benchmark, not a test): cold CLI, first query, reloads, load on loopback.

    python scripts/deploy_benchmark.py --index-dir /tmp/idx --corpus corpus/ [--clients 16 --seconds 60] [--json]

Reports: cold `reportsearch ask` wall time; first-query latency of a freshly started server against
warm; server RSS before and after N re-index reloads; C clients for S seconds on 127.0.0.1 (req/s,
p50/p95/p99, errors); index time of a generated 5 MB file without line breaks. Every loop is bounded
by count and time, and only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

QUESTIONS = ["How much did the PCC pay Salus?", "drones in public spaces", "what is Op Locality",
             "MARAC repeat rate", "how many officers in the Tactical Operations team", "precept increase 2018/19"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1) if ordered else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _cli(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "searchapi.cli", *args], check=True, capture_output=True, timeout=3600)
    return round(time.perf_counter() - started, 2)


class Server:
    def __init__(self, index_dir: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "searchapi.cli", "serve", "--index-dir", str(index_dir),
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started = time.perf_counter()
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.ready_s = round(time.perf_counter() - self.started, 2)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _ask_ms(url: str, question: str) -> float:
    started = time.perf_counter()
    httpx.post(url + "/api/ask", json={"question": question}, timeout=60).raise_for_status()
    return (time.perf_counter() - started) * 1000


def load(url: str, clients: int, seconds: float, max_requests: int = 20000) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.time() + seconds

    def worker(i: int) -> None:
        nonlocal errors
        rng = random.Random(i)
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.time() < deadline and len(latencies) < max_requests:
                q = rng.choice(QUESTIONS)
                started = time.perf_counter()
                try:
                    if rng.random() < 0.5:
                        ok = http.post("/api/search", json={"query": q, "k": 10}).status_code == 200
                    else:
                        ok = http.post("/api/ask", json={"question": q}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    errors += not ok

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "seconds": round(wall, 1), "requests": len(latencies),
            "req_per_s": round(len(latencies) / wall, 1), "p50_ms": _pct(latencies, 0.5),
            "p95_ms": _pct(latencies, 0.95), "p99_ms": _pct(latencies, 0.99), "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--reloads", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-long", action="store_true", help="leave out the 5 MB one-line file")
    parser.add_argument("--long-only", action="store_true", help="only the 5 MB one-line file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rs-deploy-"))
    out = Figures(quiet=args.json)
    try:
        if not args.long_only:
            _serving(args, work, out)
        if not args.skip_long:
            _long_line(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))
    return 0


class Figures(dict):
    """Each figure printed as soon as it is measured, so a long run that is stopped keeps what it had."""

    def __init__(self, quiet: bool):
        super().__init__()
        self.quiet = quiet

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if not self.quiet:
            print(f"{key:28} {value}", flush=True)


def _serving(args, work: Path, out: Figures) -> None:
    docs, index_dir = work / "docs", work / "idx"
    shutil.copytree(args.corpus, docs, ignore=shutil.ignore_patterns("*.jsonl"))
    out["index_s"] = _cli("index", str(docs), "--index-dir", str(index_dir), "-q")
    out["cold_cli_ask_s"] = min(_cli("ask", QUESTIONS[0], "--index-dir", str(index_dir)) for _ in range(3))
    server = Server(index_dir)
    try:
        out["server_ready_s"] = server.ready_s
        out["first_ask_ms"] = round(_ask_ms(server.url, QUESTIONS[1]), 1)
        out["warm_ask_ms"] = round(statistics.median(_ask_ms(server.url, QUESTIONS[1]) for _ in range(5)), 1)
        out["rss_mb_start"] = _rss_mb(server.proc.pid)
        extra = docs / "reload-note.txt"
        for n in range(args.reloads):  # each re-index commits a generation the server swaps in
            extra.write_text(f"Reload note {n}\n\n1. Note. The panel noted reload number {n} of the drone review.\n")
            _cli("index", str(docs), "--index-dir", str(index_dir), "-q")
            deadline = time.time() + 30
            while time.time() < deadline:
                hits = httpx.post(server.url + "/api/search", json={"query": f"reload number {n}", "k": 3}).json()
                if any(f"reload number {n} " in r["text"] for r in hits["results"]):
                    break
                time.sleep(0.5)
        out["rss_mb_after_reloads"] = _rss_mb(server.proc.pid)
        out["reloads"] = args.reloads
        out["load"] = load(server.url, args.clients, args.seconds)
    finally:
        server.close()


def _long_line(work: Path, out: Figures) -> None:
    long_dir = work / "long"
    long_dir.mkdir()
    rng = random.Random(7)
    words = "panel budget police crime plan officers commissioner report precept estates fleet".split()
    (long_dir / "one-line.txt").write_text(" ".join(rng.choice(words) for _ in range(5_000_000 // 8))[:5_000_000])
    out["five_mb_one_line_index_s"] = _cli("index", str(long_dir), "--index-dir", str(work / "long-idx"), "-q")


if __name__ == "__main__":
    sys.exit(main())
