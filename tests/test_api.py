"""The HTTP API against a real server on 127.0.0.1 over the sample index."""

from __future__ import annotations

import concurrent.futures
import json

import httpx
import pytest

from tests.conftest import ServerThread


def test_health(client):
    body = client.get("/api/health").json()
    assert body == {"status": "ok", "documents": 14, "chunks": body["chunks"], "model": "all-MiniLM-L6-v2"}
    assert body["chunks"] > 300


def test_search_result_shape_and_span(client):
    body = client.post("/api/search", json={"query": "Salus youth clinics funding", "k": 5}).json()
    assert body["query"] == "Salus youth clinics funding" and len(body["results"]) == 5
    for rank, result in enumerate(body["results"], 1):
        assert result["rank"] == rank
        doc = client.get(f"/api/documents/{result['document']['id']}").json()
        start, end = result["span"]
        assert doc["text"][start:end] == result["text"]
        assert set(result["section"]) == {"id", "number", "title", "path"}
        assert result["citation"].startswith(result["document"]["title"])
    assert "SALUS" in body["results"][0]["text"]


def test_documents_listing_and_detail(client):
    docs = client.get("/api/documents").json()
    assert len(docs) == 14
    assert {"id", "title", "date", "doc_type", "body", "source_path", "sections"} <= set(docs[0])
    expenditure = next(d for d in docs if d["title"] == "Update on expenditure to support the Police and Crime Plan")
    detail = client.get(f"/api/documents/{expenditure['id']}").json()
    assert len(detail["sections"]) == expenditure["sections"]
    for section in detail["sections"]:
        assert {"id", "number", "title", "path", "span", "page"} <= set(section)
        assert 0 <= section["span"][0] < section["span"][1] <= len(detail["text"])


def test_filters_apply_before_the_cut(client):
    docs = client.get("/api/documents").json()
    minutes = [d["id"] for d in docs if d["doc_type"] == "minutes"]
    body = client.post("/api/search", json={"query": "budget", "k": 20, "filters": {"doc_types": ["minutes"]}}).json()
    assert body["results"] and all(r["document"]["doc_type"] == "minutes" for r in body["results"])
    one = docs[3]["id"]
    body = client.post("/api/search", json={"query": "police", "k": 30, "filters": {"document_ids": [one]}}).json()
    assert body["results"] and {r["document"]["id"] for r in body["results"]} == {one}
    body = client.post("/api/search", json={"query": "collaboration", "k": 10,
                                            "filters": {"date_from": "2019-01-01", "date_to": "2022-12-31"}}).json()
    assert body["results"] and all(r["document"]["date"] >= "2019-01-01" for r in body["results"])
    body = client.post("/api/search", json={"query": "collaboration", "k": 10, "filters": {"bodies": ["Governance Board"]}}).json()
    assert body["results"] and all(r["document"]["body"] == "Governance Board" for r in body["results"])
    assert minutes


def test_newest_first_ordering(client):
    body = client.post("/api/search", json={"query": "collaboration with Essex", "k": 8, "sort": "newest"}).json()
    dates = [r["document"]["date"] for r in body["results"]]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    "payload",
    [
        {"query": ""},
        {"query": "   "},
        {"query": "x" * 2001},
        {"query": "ok", "k": 0},
        {"query": "ok", "k": 101},
        {"query": "ok", "filters": {"date_from": "2017-13-45"}},
        {"query": "ok", "filters": {"document_ids": ["does-not-exist"]}},
        {"query": "ok", "filters": {"colour": "red"}},
        {},
    ],
)
def test_search_bad_input_is_4xx_with_message(client, payload):
    response = client.post("/api/search", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_malformed_json_and_unknown_document(client):
    response = client.post("/api/search", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    response = client.get("/api/documents/nope")
    assert response.status_code == 404 and "nope" in response.json()["detail"]
    response = client.post("/api/ask", json={"question": ""})
    assert response.status_code == 422


def test_no_index_gives_503(tmp_path):
    from searchapi.service.app import create_app

    with ServerThread(create_app(tmp_path / "no-index")) as srv:
        for method, path, body in [("GET", "/api/health", None), ("POST", "/api/search", {"query": "x"}),
                                   ("GET", "/api/documents", None), ("POST", "/api/ask", {"question": "x?"})]:
            response = httpx.request(method, srv.url + path, json=body, timeout=30)
            assert response.status_code == 503 and "reportsearch index" in response.json()["detail"]
        assert httpx.get(srv.url + "/", timeout=30).status_code == 200  # the page still loads and explains


def test_page_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and "ReportSearch" in page.text
    spec = client.get("/openapi.json").json()
    assert {"/api/health", "/api/search", "/api/ask", "/api/documents", "/api/documents/{doc_id}"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_ask_json_and_streaming_agree(client):
    question = "When did the Head of Strategic Procurement start?"
    plain = client.post("/api/ask", json={"question": question}).json()
    assert plain["answerable"] and plain["citations"]
    events, current = [], None
    with client.stream("POST", "/api/ask", json={"question": question}, headers={"Accept": "text/event-stream"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                current = line[7:]
            elif line.startswith("data: "):
                events.append((current, json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[0] == "passages" and kinds[-1] == "answer" and "token" in kinds
    final = events[-1][1]
    assert final["answer"] == plain["answer"] and final["citations"] == plain["citations"]
    streamed = "".join(d["text"] for k, d in events if k == "token").strip()
    assert streamed == plain["answer"]


def test_concurrent_clients_no_errors(server):
    queries = ["drone", "Salus", "PEQF", "precept 2016/17", "mental health street triage", "item B2", "section 5.3"]

    def hit(i):
        with httpx.Client(base_url=server, timeout=60) as c:
            return c.post("/api/search", json={"query": queries[i % len(queries)], "k": 5}).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(hit, range(64)))
    assert statuses == [200] * 64


def _one_paper_index(tmp_path):
    """A folder with one short paper, indexed into tmp_path/idx; returns the folder."""
    from indexer.pipeline import index_paths

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Drone unit\n\n1. Background. The drone unit cost £120,000 in its first year.\n")
    index_paths([docs], tmp_path / "idx", progress=False)
    return docs


def test_service_picks_up_a_reindex(tmp_path):
    """Re-indexing while the service runs: new papers become searchable without a restart."""
    import time as _time

    from indexer.pipeline import index_paths
    from searchapi.service.app import create_app

    docs = _one_paper_index(tmp_path)
    with ServerThread(create_app(tmp_path / "idx")) as srv:
        assert httpx.get(srv.url + "/api/health", timeout=30).json()["documents"] == 1
        (docs / "b.txt").write_text("Cycle patrols\n\n1. Background. Cycle patrols began in Canterbury in May.\n")
        index_paths([docs], tmp_path / "idx", progress=False)
        _time.sleep(2.1)
        body = httpx.post(srv.url + "/api/search", json={"query": "cycle patrols Canterbury", "k": 1}, timeout=30).json()
        assert "Cycle patrols" in body["results"][0]["text"]
        assert httpx.get(srv.url + "/api/health", timeout=30).json()["documents"] == 2


def test_requests_during_reindexes_see_one_whole_generation(tmp_path):
    """The service swaps in a freshly loaded engine; requests in flight keep a consistent one."""
    import concurrent.futures
    import time as _time

    from indexer.pipeline import index_paths
    from searchapi.service.app import create_app

    docs = _one_paper_index(tmp_path)
    app = create_app(tmp_path / "idx")
    with ServerThread(app) as srv:
        first = app.state.holder.get()
        app.state.holder.check_every = 0.0

        def ask(i: int) -> tuple[int, list]:
            r = httpx.post(srv.url + "/api/search", json={"query": "drone unit cost", "k": 5}, timeout=60)
            return r.status_code, r.json()["results"]

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            pending = [pool.submit(ask, i) for i in range(40)]
            for n in range(3):  # each re-index adds a paper and commits a new generation
                (docs / f"extra{n}.txt").write_text(f"Paper {n}\n\n1. Drones. Drone flights numbered {n}00 this year.\n")
                index_paths([docs], tmp_path / "idx", progress=False)
                _time.sleep(0.3)
            outcomes = [f.result() for f in pending]
        assert [status for status, _ in outcomes] == [200] * 40
        for _, results in outcomes:  # every passage is the text its span points at in its own generation
            assert results and all(r["text"].strip() for r in results)
        latest = app.state.holder.get()
        assert latest is not first and len(latest.documents) == 4
        assert len(first.documents) == 1 and first.search("drone unit cost", k=1).results  # the old generation still whole


def test_a_retired_generation_is_freed(tmp_path):
    """After a hot reload nothing keeps the old engine (its vectors and caches) alive."""
    import gc
    import weakref

    from fastapi.testclient import TestClient

    from indexer.pipeline import index_paths
    from searchapi.service.app import create_app

    docs = _one_paper_index(tmp_path)
    app = create_app(tmp_path / "idx")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.post("/api/ask", json={"question": "drone unit cost"}).status_code == 200
        old = weakref.ref(app.state.holder.get())
        app.state.holder.check_every = 0.0
        (docs / "b.txt").write_text("Cycle patrols\n\n1. Background. Cycle patrols began in Canterbury in May.\n")
        index_paths([docs], tmp_path / "idx", progress=False)
        assert client.post("/api/ask", json={"question": "cycle patrols Canterbury"}).json()["answerable"]
        gc.collect()
        assert old() is None
