"""Shared fixtures: the sample index is built once per test session (embedding is the slow part)."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DEVSET = CORPUS / "devset.jsonl"
HOLDOUT = CORPUS / "holdout.jsonl"
FRESH = CORPUS / "fresh.jsonl"
PACK = CORPUS / "2017-07-20_police-and-crime-panel_agenda-pack.txt"


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory) -> Path:
    from indexer.pipeline import index_paths

    index_dir = tmp_path_factory.mktemp("sample-index")
    report = index_paths([CORPUS], index_dir, progress=False)
    assert report.usable and not report.skipped, report.skipped
    return index_dir


@pytest.fixture(scope="session")
def engine(sample_index):
    from searchapi.retrieval.engine import SearchEngine

    return SearchEngine(sample_index)


@pytest.fixture(scope="session")
def answerer(engine):
    from searchapi.answers.answerer import Answerer

    return Answerer(engine)


@pytest.fixture(scope="session")
def devset() -> list[dict]:
    return _questions(DEVSET)


def _questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def holdout() -> list[dict]:
    """Questions written independently, from the reports alone, after the weights were set."""
    return _questions(HOLDOUT)


@pytest.fixture(scope="session")
def fresh() -> list[dict]:
    """A second independent set, written at stop 10 and scored once, after every change was made."""
    return _questions(FRESH)


def free_port() -> int:
    """A port free now, released at once (another socket may take it before its user binds it): for a
    process that cannot be handed a socket nor binds with SO_REUSEPORT; use reserved_port() where it can."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def reserved_port():
    """A loopback port held until the block ends (bound with SO_REUSEPORT, never listening), so no other
    socket can take it while a server that binds with SO_REUSEPORT (Ray's GCS and Serve's proxy) starts on it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


class ServerThread:
    """A real uvicorn server on 127.0.0.1 in a background thread, serving on a socket bound here to
    port 0 (the port is the one bound, never chosen first and bound later)."""

    def __init__(self, app):
        import uvicorn

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture(scope="session")
def server(sample_index, engine):
    from searchapi.service.app import create_app

    with ServerThread(create_app(sample_index, engine=engine)) as srv:
        yield srv.url


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c
