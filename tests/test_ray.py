"""Indexing and serving on a real multi-node Ray cluster on this machine (a head and a worker node),
compared with one machine's index of the same documents. Opt-in: REPORTSEARCH_TEST_RAY=1 python -m pytest -m slow tests/test_ray.py."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import CORPUS, DEVSET, ROOT, free_port

ray = pytest.importorskip("ray")
# Ray's nodes bind the machine's own network address, not only loopback: opt-in, never part of a default or slow run.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.environ.get("REPORTSEARCH_TEST_RAY"),
                                                   reason="set REPORTSEARCH_TEST_RAY=1 to start a local Ray cluster")]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes(timeout=120)
    yield cluster
    ray.shutdown()  # the driver first: a node it is connected to cannot be removed under it
    cluster.shutdown()


@pytest.fixture(scope="module")
def sharded_index(cluster, tmp_path_factory) -> tuple[Path, str, float]:
    index_dir = tmp_path_factory.mktemp("sharded")
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from searchapi.cli import main; sys.exit(main())",
         "index", "--ray", cluster.address, "--shards", "2", str(CORPUS), "--index-dir", str(index_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return index_dir, out.stdout, time.perf_counter() - started


def chunk_rows(index_dir: Path) -> dict[str, tuple[str, np.ndarray]]:
    from indexer.store import IndexReader

    reader = IndexReader(index_dir)
    rows = reader.execute("SELECT id, text, embedding FROM chunks")
    reader.close()
    return {r[0]: (r[1], np.frombuffer(r[2], dtype="float32")) for r in rows}


def test_shards_hold_exactly_the_one_machine_index(sharded_index, sample_index):
    from indexer.distributed import shard_dirs

    index_dir, stdout, _ = sharded_index
    shards = shard_dirs(index_dir)
    assert len(shards) == 2
    per_shard = [chunk_rows(d) for d in shards]
    assert all(per_shard), "both shards received files"
    assert not set(per_shard[0]) & set(per_shard[1]), "a chunk lives in one shard only"
    together = {**per_shard[0], **per_shard[1]}
    single = chunk_rows(sample_index)
    assert together.keys() == single.keys()
    for chunk_id, (text, vector) in single.items():
        assert together[chunk_id][0] == text
        assert float(together[chunk_id][1] @ vector) >= 0.9999
    nodes = set(re.findall(r"on node (\w+)", stdout))
    assert len(nodes) == 2, f"the two shard tasks ran on two nodes: {stdout}"


def test_reindexing_on_ray_is_incremental(cluster, sharded_index):
    index_dir, _, _ = sharded_index
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from searchapi.cli import main; sys.exit(main())",
         "index", "--ray", cluster.address, str(CORPUS), "--index-dir", str(index_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.findall(r"(\d+) indexed, (\d+) unchanged", out.stdout) and all(
        int(indexed) == 0 and int(unchanged) > 0 for indexed, unchanged in re.findall(r"(\d+) indexed, (\d+) unchanged", out.stdout))


def test_sharded_service_on_ray_serve_answers_like_one_machine(cluster, sharded_index, sample_index):
    from ray import serve

    from searchapi.retrieval.engine import SearchEngine
    from searchapi.distributed.shards_ray import serve_on_ray

    index_dir, _, _ = sharded_index
    port = free_port()
    serve_on_ray(cluster.address, index_dir, port=port, blocking=False)
    single = SearchEngine(sample_index, audience="public")
    queries = [json.loads(line)["question"] for line in DEVSET.read_text().splitlines() if line.strip()][:40]
    same_top10, same_top1, overlap = 0, 0, 0.0
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            health = client.get("/api/health").json()
            assert health["chunks"] == len(single.snapshot.chunks) and health["documents"] == len(single.documents)
            for q in queries:
                response = client.post("/api/search", json={"query": q, "k": 10})
                assert response.status_code == 200, response.text[:2000]
                got = response.json()["results"]
                want = single.search(q, k=10).results
                assert [r["rank"] for r in got] == list(range(1, len(got) + 1))
                same_top10 += {r["chunk_id"] for r in got} == {r.chunk_id for r in want}
                overlap += len({r["chunk_id"] for r in got} & {r.chunk_id for r in want}) / max(1, len(want))
                same_top1 += bool(got) and got[0]["chunk_id"] == want[0].chunk_id
            answer = client.post("/api/ask", json={"question": "How much did the PCC pay Salus?"}).json()
            assert answer["answerable"] and answer["citations"]
            for citation in answer["citations"]:
                passage = next(p for p in answer["passages"] if p["chunk_id"] == citation["chunk_id"])
                assert citation["quote"] in passage["text"]
    finally:
        serve.shutdown()
    print(f"\nRay sharded vs one machine: same top-10 set {same_top10}/{len(queries)}, same top-1 "
          f"{same_top1}/{len(queries)}, mean top-10 overlap {overlap / len(queries):.2f}")
    assert same_top1 / len(queries) >= 0.9
