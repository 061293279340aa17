"""Safe to deploy: restricted papers never leak, reloads are atomic, bad input gives clear errors.

Each test builds its own small corpus of real-looking papers, indexes it with the real pipeline and
talks to a real server on 127.0.0.1.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.conftest import ServerThread

SECRET = "Quillfeather"  # a word only the restricted paper uses
SECRET_ACRONYM = "ZQEP"
PUBLIC_PAPER = """Kent and Medway Police and Crime Panel
Date: 12 March 2024

Drone unit review

1. Background
1.1 The drone unit flew 412 missions in 2023, mostly searches for missing people.
1.2 The unit costs £310,000 a year, funded from the precept.
"""
RESTRICTED_PAPER = f"""NOT FOR PUBLICATION
by virtue of paragraph 3 of Part 1 of Schedule 12A to the Local Government Act 1972

Contract award: drone maintenance

1. Recommendation
1.1 The Panel is asked to note the award of the drone maintenance contract to {SECRET} Aviation Ltd.
1.2 The Zeta {SECRET} Exchange Programme ({SECRET_ACRONYM}) will cost £1.2m over three years.
"""


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "searchapi.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def access_index(tmp_path_factory):
    from indexer.pipeline import index_paths

    root = tmp_path_factory.mktemp("access")
    docs = root / "papers"
    docs.mkdir()
    (docs / "drone-review.txt").write_text(PUBLIC_PAPER)
    (docs / "drone-contract.txt").write_text(RESTRICTED_PAPER)
    report = index_paths([docs], root / "idx", progress=False)
    assert len(report.indexed) == 2 and not report.skipped
    return root / "idx"


@pytest.fixture(scope="module")
def access_server(access_index):
    from searchapi.service.app import create_app
    from searchapi.service.keys import KeyStore

    keys = {role: KeyStore(access_index).add(f"{role}-key", role) for role in ("public", "member", "officer")}
    with ServerThread(create_app(access_index)) as srv:
        yield srv.url, keys


def test_markings_are_detected_at_index_time(access_index):
    from searchapi.retrieval.engine import SearchEngine

    everything = SearchEngine(access_index)
    access = {d.title: (d.access, d.access_reason) for d in everything.documents.values()}
    restricted = [reason for state, reason in access.values() if state == "restricted"]
    assert len(restricted) == 1 and "NOT FOR PUBLICATION" in restricted[0]
    assert sum(state == "public" for state, _ in access.values()) == 1
    public = SearchEngine(access_index, audience="public", reader=everything.store)
    assert len(public.documents) == 1 and public.faiss.ntotal == len(public.snapshot.chunks)
    assert SECRET_ACRONYM not in public.acronyms and SECRET_ACRONYM in everything.acronyms


CALLS = [
    ("GET", "/api/health", None),
    ("GET", "/api/documents", None),
    ("POST", "/api/search", {"query": f"{SECRET} drone maintenance contract", "k": 10}),
    ("POST", "/api/search", {"query": f"{SECRET_ACRONYM} cost", "k": 10}),
    ("POST", "/api/search", {"query": "Quilfeather aviation", "k": 10}),  # a slip: no spelling help from restricted words
    ("POST", "/api/ask", {"question": f"Who won the drone maintenance contract with {SECRET}?"}),
    ("POST", "/api/ask", {"question": f"What does {SECRET_ACRONYM} stand for?"}),
    ("POST", "/api/precedent", {"query": "drone maintenance contract"}),
    ("GET", "/api/examples", None),
]


def _call(base: str, method: str, path: str, body, key: str | None, stream: bool = False) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if stream:
        headers["Accept"] = "text/event-stream"
    return httpx.request(method, base + path, json=body, headers=headers, timeout=120)


@pytest.mark.parametrize("role", ["none", "bogus", "public", "member", "officer"])
def test_leak_matrix(access_server, access_index, role):
    """Endpoint × role × paper: a public caller never sees a character of the restricted paper."""
    from searchapi.retrieval.engine import SearchEngine

    base, keys = access_server
    key = {"none": None, "bogus": "rs_not-a-real-key"}.get(role, keys.get(role))
    sees_restricted = role in ("member", "officer")
    restricted_ids = [d.id for d in SearchEngine(access_index).documents.values() if d.access == "restricted"]
    bodies = []
    for method, path, body in CALLS:
        response = _call(base, method, path, body, key)
        assert response.status_code == 200, (path, response.text[:200])
        bodies.append(response.text)
    bodies.append(_call(base, "POST", "/api/ask", {"question": f"{SECRET} contract"}, key, stream=True).text)
    direct = []  # asking for the paper by id (a 404 may repeat the id the caller sent)
    for doc_id in restricted_ids:
        for suffix in ("", "/source"):
            response = _call(base, "GET", f"/api/documents/{doc_id}{suffix}", None, key)
            assert response.status_code == (200 if sees_restricted else 404)
            direct.append(response.text)
    health = json.loads(bodies[0])
    assert health["documents"] == (2 if sees_restricted else 1)
    # What only the restricted paper says (queries may name the secret word; echoes of them are not leaks).
    markers = ["Aviation Ltd", "Exchange Programme", "1.2m", "Schedule 12A", "drone-contract", *restricted_ids]
    leaked = [text[:120] for text in bodies if any(marker in text for marker in markers)]
    leaked += [text[:120] for text in direct if any(marker in text for marker in markers[:4])]
    if sees_restricted:
        assert leaked, "a member's key must see the restricted paper"
    else:
        assert leaked == []


def test_cli_reads_everything_and_previews_public(access_index):
    full = _cli("search", f"{SECRET} contract", "--index-dir", str(access_index), "--json")
    public = _cli("search", f"{SECRET} contract", "--index-dir", str(access_index), "--json", "--as", "public")
    assert full.returncode == 0 and "Aviation Ltd" in full.stdout
    assert public.returncode == 0 and "Aviation Ltd" not in public.stdout and json.loads(public.stdout)["results"]


def test_access_override_is_kept_across_runs(tmp_path):
    from indexer.pipeline import index_paths
    from searchapi.retrieval.engine import SearchEngine

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(PUBLIC_PAPER)
    index_paths([docs / "a.txt"], tmp_path / "idx", progress=False, access="restricted")
    (docs / "b.txt").write_text(PUBLIC_PAPER.replace("412", "413"))
    index_paths([docs], tmp_path / "idx", progress=False)  # a later run over the folder keeps a.txt restricted
    access = {d.source_path: d.access for d in SearchEngine(tmp_path / "idx").documents.values()}
    assert access == {"a.txt": "restricted", "b.txt": "public"}


def test_keys_are_hashed_and_listed(tmp_path):
    added = _cli("keys", "add", "clerk", "--role", "officer", "--index-dir", str(tmp_path))
    assert added.returncode == 0
    key = added.stdout.strip().splitlines()[-1]
    assert key.startswith("rs_") and len(key) > 30
    stored = (tmp_path / "keys.json").read_text()
    assert key not in stored and "officer" in stored
    assert "clerk\tofficer" in _cli("keys", "list", "--index-dir", str(tmp_path)).stdout
    again = _cli("keys", "add", "clerk", "--role", "member", "--index-dir", str(tmp_path))
    assert again.returncode == 1 and "exists" in again.stderr and "Traceback" not in again.stderr
    assert _cli("keys", "remove", "clerk", "--index-dir", str(tmp_path)).returncode == 0
    assert "clerk" not in _cli("keys", "list", "--index-dir", str(tmp_path)).stdout


def test_hosts_size_limit_bad_text_and_headers(access_server):
    base, _ = access_server
    assert httpx.get(base + "/api/health", headers={"Host": "attacker.example"}).status_code == 400
    assert httpx.get(base + "/api/health", headers={"Host": "localhost:1234"}).status_code == 200
    big = httpx.post(base + "/api/search", content=b'{"query": "' + b"a" * 200_000 + b'"}',
                     headers={"content-type": "application/json"})
    assert big.status_code == 413 and len(big.content) < 200
    for path, field in (("/api/search", "query"), ("/api/ask", "question")):
        raw = ('{"%s": "budget \\ud800"}' % field).encode()
        bad = httpx.post(base + path, content=raw, headers={"content-type": "application/json"})
        assert bad.status_code == 422 and "surrogate" in bad.text
    bad_filter = httpx.post(base + "/api/search", content=b'{"query": "drone", "filters": {"document_ids": ["\\ud800"]}}',
                            headers={"content-type": "application/json"})
    assert bad_filter.status_code == 422
    page = httpx.get(base + "/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert page.headers["x-content-type-options"] == "nosniff"
    docs = httpx.get(base + "/docs")
    assert docs.status_code == 200 and "http" not in docs.text.replace('http-equiv', '')
    assert httpx.get(base + "/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_only_the_corpus_is_indexed(tmp_path):
    from indexer.pipeline import index_paths
    from searchapi.retrieval.engine import SearchEngine

    outside = tmp_path / "outside.txt"
    outside.write_text("Private notes\n\nThe outside file must never be indexed, it holds private notes.\n")
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "report.txt").write_text(PUBLIC_PAPER)
    (docs / "link.txt").symlink_to(outside)
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    os.mkfifo(docs / "pipe.txt")
    (docs / "utf16.txt").write_bytes("Cycle patrols\n\n1. Cycle patrols began in Canterbury in May.\n".encode("utf-16"))
    odd = os.fsencode(str(docs / "sub")) + b"/caf\xe9-minutes.txt"
    with open(odd, "wb") as handle:
        handle.write(b"Minutes\n\n1. The panel met in the council chamber and agreed the minutes.\n")
    report = index_paths([docs], tmp_path / "idx", progress=False)
    reasons = dict(report.skipped)
    assert "outside the indexed folders" in reasons[str(docs / "link.txt")]
    assert "symbolic link not followed" in reasons[str(docs / "loop")]
    assert "FIFO" in reasons[str(docs / "pipe.txt")]
    assert len(report.indexed) == 3
    engine = SearchEngine(tmp_path / "idx")
    paths = sorted(d.source_path for d in engine.documents.values())
    assert paths == ["report.txt", "sub/caf\\xe9-minutes.txt", "utf16.txt"]
    assert not any("private notes" in c.text for c in engine.snapshot.chunks.values())
    assert engine.search("cycle patrols Canterbury", k=1).results[0].document.source_path == "utf16.txt"


def test_damaged_index_is_a_clear_error_and_rebuilds(tmp_path):
    from searchapi.service.app import create_app

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(PUBLIC_PAPER)
    index_dir = tmp_path / "idx"
    assert _cli("index", str(docs), "--index-dir", str(index_dir), "-q").returncode == 0
    db = index_dir / "index.sqlite"
    for extra in ("index.sqlite-wal", "index.sqlite-shm"):
        (index_dir / extra).unlink(missing_ok=True)
    db.write_bytes(db.read_bytes()[:3000])  # truncated
    search = _cli("search", "drone", "--index-dir", str(index_dir))
    assert search.returncode == 1 and "damaged" in search.stderr and "Traceback" not in search.stderr
    with ServerThread(create_app(index_dir)) as srv:
        assert httpx.post(srv.url + "/api/search", json={"query": "drone"}).status_code == 503
    rebuilt = _cli("index", str(docs), "--index-dir", str(index_dir), "-q")
    assert rebuilt.returncode == 0 and "rebuilt" in rebuilt.stdout
    assert "drone unit" in _cli("search", "drone missions", "--index-dir", str(index_dir)).stdout


@pytest.mark.parametrize("args, env, message", [
    (["search", "x", "--index-dir", "{file}"], {}, "is a file"),
    (["index", "{docs}", "--index-dir", "{file}"], {}, "is a file"),
    (["search", "x"], {"REPORTSEARCH_MAX_FILE_BYTES": "abc"}, "REPORTSEARCH_MAX_FILE_BYTES"),
    (["serve", "--port", "70000"], {}, "between 1 and 65535"),
])
def test_one_line_errors(tmp_path, args, env, message):
    (tmp_path / "file").write_text("not an index")
    (tmp_path / "docs").mkdir()
    result = _cli(*[a.format(file=tmp_path / "file", docs=tmp_path / "docs") for a in args], env=env)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_batch_lines_are_answered_independently(access_index, tmp_path):
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(json.dumps(line) for line in [
        {"id": 1, "query": "drone missions"}, {"id": 2, "query": "x" * 5000}, {"id": 3, "query": "drone cost"}]))
    out = _cli("search", "--batch", str(batch), "--index-dir", str(access_index), "-k", "2")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["id"] for line in lines] == [1, 2, 3]
    assert "error" in lines[1] and lines[0]["results"] and lines[2]["results"]


def test_text_without_line_breaks_is_chunked_in_linear_time():
    """Packing words into chunks counts tokens a bounded number of times per word (no quadratic rescans)."""
    from indexer.chunk import ChunkBudget, _word_pieces

    calls = 0

    def count(text: str) -> int:
        nonlocal calls
        calls += 1
        return len(text.split())

    text = " ".join(f"word{i}" for i in range(20000))
    pieces = _word_pieces(text, 0, len(text), ChunkBudget(max_tokens=50, count=count))
    assert len(pieces) == 400 and all(len(text[s:e].split()) == 50 for s, e in pieces)
    assert calls <= 3 * 20000


def test_reindexing_edited_papers_under_load(tmp_path):
    """Papers edited and re-indexed again and again while clients search and ask: no errors, and every
    returned passage is its document's text at its span in the generation that served it."""
    from indexer.documents import build_documents
    from indexer.pipeline import index_paths
    from searchapi.service.app import create_app

    docs = tmp_path / "docs"
    docs.mkdir()

    def version(n: int) -> str:
        lines = "\n".join(f"1.{i} Version {n}: the drone unit flew {n * 10 + i} missions in area {i} this year."
                          for i in range(1, 8))
        return f"Drone report version {n}\n\n{'Intro paragraph. ' * n}\n\n1. Missions\n{lines}\n"

    texts = {}
    for n in range(6):
        texts[n] = {d.text for d in build_documents(str(docs / "drones.txt"), version(n))}
    (docs / "drones.txt").write_text(version(0))
    index_paths([docs], tmp_path / "idx", progress=False)
    app = create_app(tmp_path / "idx")
    stop = threading.Event()
    with ServerThread(app) as srv:
        app.state.holder.check_every = 0.0

        def client(i: int) -> list[tuple[int, dict]]:
            seen = []
            with httpx.Client(base_url=srv.url, timeout=120) as http:
                while not stop.is_set():
                    if i % 2:
                        r = http.post("/api/search", json={"query": "drone missions this year", "k": 5})
                        seen.append((r.status_code, r.json()))
                    else:
                        r = http.post("/api/ask", json={"question": "how many missions did the drone unit fly"})
                        seen.append((r.status_code, r.json()))
            return seen

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(client, i) for i in range(4)]
            for n in range(1, 6):
                (docs / "drones.txt").write_text(version(n))
                index_paths([docs], tmp_path / "idx", progress=False)
                time.sleep(0.2)
            stop.set()
            outcomes = [item for f in futures for item in f.result()]
    assert outcomes and all(status == 200 for status, _ in outcomes), [b for s, b in outcomes if s != 200][:2]
    checked = 0
    for _, body in outcomes:
        for result in body.get("results", []) + body.get("passages", []):
            n = int(result["text"].split("Version ", 1)[1].split(":")[0]) if "Version " in result["text"] else None
            candidates = texts[n] if n is not None else set().union(*texts.values())
            start, end = result["span"]
            assert any(t[start:end] == result["text"] for t in candidates)
            checked += 1
        for citation in body.get("citations", []):
            assert any(citation["quote"] in t for t in set().union(*texts.values()))
    assert checked > 20


@pytest.mark.browser
def test_web_page_shows_restricted_papers_only_with_a_members_key(access_server):
    """The page is public by default; a member who enters a key sees the restricted paper too."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    base, keys = access_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(base + "/")
        page.wait_for_selector(".doc-option")
        assert page.locator(".doc-option").count() == 1
        assert "Aviation" not in page.content()
        page.click(".access-key-panel summary")
        page.fill("#access-key", keys["member"])
        with page.expect_navigation():  # the key is kept for the tab and the page reloads with it
            page.click("#access-key-form button[type=submit]")
        page.wait_for_selector(".doc-option >> nth=1")
        assert page.locator(".doc-option").count() == 2
        assert "restricted papers" in page.locator("#access-key-status").text_content()
        page.click(".access-key-panel summary")
        with page.expect_navigation():  # forgetting the key reloads the page
            page.click("#access-key-forget")
        page.wait_for_selector(".doc-option")
        assert page.locator(".doc-option").count() == 1
        assert "Public papers only" in page.locator("#access-key-status").text_content()
        browser.close()
