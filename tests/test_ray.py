"""Indexing and serving on a real multi-node Ray cluster on loopback (a head and a worker node, each
its own `ray start` process tree, one CPU each), compared with one machine's index of the same
documents: the shards hold exactly its chunks, and the Ray Serve router ranks exactly as it does.

Ray turns a node address of 127.0.0.1 into the machine's network address (so that other machines
can reach it); here every process is kept on 127.0.0.1: the head and the drivers are told this is a
one-machine cluster (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, which only changes that address lookup),
the worker node is started with that lookup left as given. The test checks that nothing of the
cluster listens beyond loopback, and the cluster requires a token made for the test.

Marked slow, not opt-in: about 3.5 minutes on a 2-core machine (two node starts, indexing the sample on
two one-CPU nodes, a re-index, Ray Serve's start), too long for the default run.
"""

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import CORPUS, DEVSET, ROOT, ServerThread, reserved_port

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed ([ray] extra)")]

START_TIMEOUT = 120
# `ray start` for a worker node with the node address taken as given (127.0.0.1 stays 127.0.0.1).
WORKER_START = ("import sys; from ray._private import services; services.resolve_ip_for_localhost = lambda host: host; "
                "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()")
CLI = "import sys; from searchapi.cli import main; sys.exit(main())"


class LoopbackCluster:
    """A head and a worker node on 127.0.0.1, each a `ray start --block` process we own and stop."""

    def __init__(self, logs: Path, workers: int = 1, cpus_per_node: int = 1):
        self.logs = logs
        # Serve's HTTP proxies bind with SO_REUSEPORT (as they do by default), so a port held by
        # reserved_port() stays ours until they listen on it.
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
                    "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                    "SERVE_SOCKET_REUSE_PORT_ENABLED": "1", "PYTHONPATH": str(ROOT)}
        node = ["--num-cpus", str(cpus_per_node), "--object-store-memory", str(100 * 1024 * 1024), "--block"]
        self.nodes: list[subprocess.Popen] = []
        try:  # the head's GCS binds a port of its own choosing (--port 0), read back from its node's processes
            self._start([sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--node-ip-address", "127.0.0.1",
                         "--port", "0", "--include-dashboard", "false", "--disable-usage-stats", *node], self.env)
            self.address = self._gcs_address()
            self.port = int(self.address.rsplit(":", 1)[1])
            worker_env = {k: v for k, v in self.env.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
            for _ in range(workers):
                self._start([sys.executable, "-c", WORKER_START, "start", "--address", self.address,
                             "--node-ip-address", "127.0.0.1", *node], worker_env)
        except BaseException:
            self.stop()
            raise

    def _start(self, command: list[str], env: dict) -> None:
        """Start a node and wait until `ray start` reports it running (it then blocks, owning the node)."""
        log = self.logs / f"node-{len(self.nodes)}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(proc)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if "Ray runtime started" in text:
                return
            if proc.poll() is not None:
                raise RuntimeError("ray start failed:\n" + text[-4000:])
            time.sleep(0.5)
        raise TimeoutError("ray start did not report the node running:\n" + log.read_text(errors="replace")[-4000:])

    def _gcs_address(self) -> str:
        """The address the head's GCS bound, as the head gives it to its raylet and agents (--gcs-address)."""
        for pid in self.processes():
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            for arg in args:
                if arg.startswith(b"--gcs-address="):
                    return arg.split(b"=", 1)[1].decode()
        raise RuntimeError("no process of the head node names its GCS address")

    def run(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        """A `reportsearch` command as a driver of this cluster."""
        return subprocess.run([sys.executable, "-c", CLI, *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def processes(self) -> set[int]:
        """The nodes' `ray start` processes and all their descendants (from /proc)."""
        parent_of = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent_of[int(stat.parent.name)] = int(fields[1])
        found = {node.pid for node in self.nodes}
        while True:
            more = {pid for pid, parent in parent_of.items() if parent in found} - found
            if not more:
                return found
            found |= more

    def listening(self) -> list[tuple[str, int]]:
        """(address as /proc/net writes it, port) of every TCP socket the cluster's processes listen on."""
        inodes = set()
        for pid in self.processes():
            for fd in Path(f"/proc/{pid}/fd").glob("*"):
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        out = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                    address, port = fields[1].split(":")
                    out.append((address, int(port, 16)))
        return out

    def stop(self) -> None:
        """Worker first, then the head: each `ray start --block` stops its node's processes on SIGTERM."""
        for proc in reversed(self.nodes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LoopbackCluster(tmp_path_factory.mktemp("ray-logs"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def sharded_index(cluster, tmp_path_factory) -> tuple[Path, str, float]:
    index_dir = tmp_path_factory.mktemp("sharded")
    started = time.perf_counter()
    out = cluster.run("index", "--ray", cluster.address, "--shards", "2", str(CORPUS), "--index-dir", str(index_dir))
    assert out.returncode == 0, out.stderr[-3000:]
    return index_dir, out.stdout, time.perf_counter() - started


def chunk_rows(index_dir: Path) -> dict[str, tuple[str, np.ndarray]]:
    from indexer.store import IndexReader

    reader = IndexReader(index_dir)
    rows = reader.execute("SELECT id, text, embedding FROM chunks")
    reader.close()
    return {r[0]: (r[1], np.frombuffer(r[2], dtype="float32")) for r in rows}


def test_cluster_is_two_nodes_on_loopback_only(cluster):
    assert len(cluster.nodes) == 2 and all(node.poll() is None for node in cluster.nodes)
    listening = cluster.listening()
    assert ("0100007F", cluster.port) in listening or ("0000000000000000FFFF00000100007F", cluster.port) in listening
    # 127.0.0.1 (IPv4, and IPv4-mapped IPv6) and ::1, as /proc/net writes them
    loopback = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
    assert len(listening) > 5 and [a for a in listening if a[0] not in loopback] == []


def test_shards_hold_exactly_the_one_machine_index(sharded_index, sample_index):
    from indexer.distributed import shard_dirs

    index_dir, stdout, seconds = sharded_index
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
    print(f"\nindexed {len(single)} chunks on 2 nodes in {seconds:.1f} s ({len(single) / seconds:.1f} chunks/s)")


def test_reindexing_on_ray_is_incremental_and_records_saved_matches(cluster, sharded_index, sample_index, tmp_path):
    """`index --ray` again with a paper added (on a copy of the sharded index): only that paper is
    indexed, and a saved search records the new matches one machine's re-index of the same files records."""
    from indexer.load import discover
    from indexer.pipeline import index_paths
    from searchapi.meeting.saved import SavedSearches, chunk_ids, record_new_matches
    from tests.test_saved import PUBLIC_PAPER, QUERY

    index_dir = tmp_path / "sharded"
    shutil.copytree(sharded_index[0], index_dir)
    papers = tmp_path / "new"
    papers.mkdir()
    (papers / "2023-03-14_collaboration-update.txt").write_text(PUBLIC_PAPER, encoding="utf-8")
    SavedSearches(index_dir).add("essex", QUERY)
    out = cluster.run("index", "--ray", cluster.address, str(CORPUS), str(papers), "--index-dir", str(index_dir))
    assert out.returncode == 0, out.stderr[-3000:]
    counts = [(int(i), int(u)) for i, u in re.findall(r"(\d+) indexed, (\d+) unchanged", out.stdout)]
    assert sorted(i for i, _ in counts) == [0, 1] and all(u > 0 for _, u in counts), out.stdout
    assert sum(u for _, u in counts) == len(discover([CORPUS]).files), out.stdout

    one = tmp_path / "one"
    shutil.copytree(sample_index, one)
    SavedSearches(one).add("essex", QUERY)
    before = chunk_ids(one)
    assert index_paths([papers], one, progress=False).indexed
    want = [(r.chunk_id, r.score) for r in record_new_matches(one, before)["essex"]]
    assert want and f"Saved search essex: {len(want)} new passage" in out.stdout, out.stdout
    assert [(m.chunk_id, m.score) for m in SavedSearches(index_dir).get("essex").matches] == want


@pytest.fixture(scope="module")
def ray_service(cluster, sharded_index):
    """The sharded service on Ray Serve (its own driver process), until the module's tests are done."""
    index_dir, _, _ = sharded_index
    with reserved_port() as port:  # held until the proxies listen on it
        driver = subprocess.Popen([sys.executable, "-m", "searchapi.distributed.shards_ray", "--address", cluster.address,
                                   "--index-dir", str(index_dir), "--port", str(port)], cwd=ROOT, env=cluster.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline, up = time.monotonic() + START_TIMEOUT, False
        while not up and time.monotonic() < deadline and driver.poll() is None:
            try:
                up = httpx.get(url + "/api/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                time.sleep(1)
    try:
        assert driver.poll() is None, "the Serve driver exited"
        if not up:
            raise TimeoutError("the sharded service did not come up")
        yield url
    finally:
        driver.terminate()
        driver.wait(timeout=30)


def test_member_key_is_served_from_every_paper(cluster, sharded_index, ray_service, sample_index):
    from searchapi.retrieval.engine import SearchEngine

    from searchapi.service.keys import KeyStore

    index_dir, _, _ = sharded_index
    out = cluster.run("keys", "add", "member-test", "--role", "member", "--index-dir", str(index_dir))
    assert out.returncode == 0, out.stderr[-2000:]
    try:
        key = re.findall(r"\b[A-Za-z0-9_-]{32,}\b", out.stdout)[-1]
        everything = SearchEngine(sample_index, audience="all")
        with httpx.Client(base_url=ray_service, timeout=120) as client:
            for q in ["collaboration with Essex", "firearms licensing backlog"]:
                got = client.post("/api/search", json={"query": q}, headers={"Authorization": f"Bearer {key}"}).json()
                assert [r["chunk_id"] for r in got["results"]] == [r.chunk_id for r in everything.search(q).results]
            wrong = client.get("/api/health", headers={"Authorization": "Bearer not-a-key"})
            assert wrong.status_code == 200 and wrong.json()["chunks"] == len(everything.snapshot.chunks)
    finally:  # the module's index as it was: no key
        KeyStore(index_dir).remove("member-test")


def test_sharded_service_on_ray_serve_ranks_and_answers_as_one_machine(ray_service, sample_index):
    from searchapi.answers.answerer import Answerer
    from searchapi.retrieval.engine import SearchEngine

    single = SearchEngine(sample_index, audience="public")
    queries = [json.loads(line)["question"] for line in DEVSET.read_text().splitlines() if line.strip()][:40]
    with httpx.Client(base_url=ray_service, timeout=120) as client:
        health = client.get("/api/health").json()
        assert health["chunks"] == len(single.snapshot.chunks) and health["documents"] == len(single.documents)
        assert health["shards"] == 2
        for q in queries:
            response = client.post("/api/search", json={"query": q, "k": 10})
            assert response.status_code == 200, response.text[:2000]
            got = [(r["chunk_id"], r["score"], r["rank"]) for r in response.json()["results"]]
            want = [(r.chunk_id, r.score, r.rank) for r in single.search(q, k=10).results]
            assert got == want, q
        answerer = Answerer(single)
        for q in ["How much did the PCC pay Salus?"] + queries[:10]:
            response = client.post("/api/ask", json={"question": q})
            assert response.status_code == 200, response.text[:2000]
            got = response.json()
            want = answerer.ask(q).model_dump(mode="json")
            for key in ("answerable", "answer", "notice", "confidence", "citations"):
                assert got[key] == want[key], (q, key)
            assert [p["chunk_id"] for p in got["passages"]] == [p["chunk_id"] for p in want["passages"]]


def test_every_route_through_ray_serve_as_one_machine(ray_service, sample_index):
    """Documents, sources, examples, precedent, saved searches, streamed answers and the guard's errors
    (size, host, validation, unknown papers) through the Ray Serve proxy, as one machine serves them."""
    from searchapi.service.app import create_app
    from tests.test_sharded_ranking import api_requests, comparable

    with ServerThread(create_app(sample_index)) as one, httpx.Client(base_url=one.url, timeout=120) as single, \
            httpx.Client(base_url=ray_service, timeout=120) as router:
        documents = single.get("/api/documents").json()
        for method, path, body, headers in api_requests(documents):
            want = comparable(single.request(method, path, json=body, headers=headers))
            assert comparable(router.request(method, path, json=body, headers=headers)) == want, (method, path, body)
        streamed = router.post("/api/ask", json={"question": "How much did the PCC pay Salus?"},
                               headers={"accept": "text/event-stream"})
        events = re.findall(r"^event: (\w+)$", streamed.text, flags=re.M)
        assert events[0] == "passages" and events[-1] == "answer" and "token" in events




def test_router_on_ray_serves_a_reindex(cluster, sharded_index, ray_service, sample_index, tmp_path):
    """A re-index on the cluster that adds a paper is served without restarting the router, ranked as
    one machine's index of the same files; then the paper is removed again by another re-index, so the
    module's index and service are as they were for any test after this one."""
    from indexer.pipeline import index_paths
    from searchapi.retrieval.engine import SearchEngine
    from tests.test_sharded_ranking import NEW_PAPER

    index_dir, _, _ = sharded_index
    papers = tmp_path / "new"
    papers.mkdir()
    paper = papers / "2023-03-14_rural-crime.txt"
    paper.write_text(NEW_PAPER, encoding="utf-8")
    # The serving replicas hold 0.75 of the cluster's 2 CPUs, so each shard task asks for a quarter of one.
    code = ("import sys; from pathlib import Path; from indexer.distributed import index_on_ray; "
            "index_on_ray(sys.argv[1], [Path(p) for p in sys.argv[3:]], Path(sys.argv[2]), cpus_per_shard=0.25)")

    def reindex_and_wait(chunks: int) -> None:
        out = subprocess.run([sys.executable, "-c", code, cluster.address, str(index_dir), str(CORPUS), str(papers)],
                             cwd=ROOT, env=cluster.env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        deadline = time.monotonic() + 60
        while client.get("/api/health").json()["chunks"] != chunks:
            assert time.monotonic() < deadline, "the router did not pick up the new generation"
            time.sleep(1)

    one = tmp_path / "one"
    shutil.copytree(sample_index, one)
    assert index_paths([papers], one, progress=False).indexed
    single = SearchEngine(one, audience="public")
    query = "thefts of farm machinery"
    with httpx.Client(base_url=ray_service, timeout=120) as client:
        try:
            reindex_and_wait(len(single.snapshot.chunks))
            got = client.post("/api/search", json={"query": query, "k": 10}).json()["results"]
            assert [(r["chunk_id"], r["score"]) for r in got] == [(r.chunk_id, r.score) for r in single.search(query, k=10).results]
            assert got[0]["document"]["title"] == "Rural Crime Partnership Update"
        finally:
            paper.unlink()
            reindex_and_wait(len(SearchEngine(sample_index, audience="public").snapshot.chunks))
