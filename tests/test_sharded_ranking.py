"""A sharded index searched through the router ranks exactly as one machine: same passages, same
order, same scores (searchapi/distributed/global_rank.py), in process, without Ray; and the router's
HTTP API (sharded_view.py) answers every route as one machine's service does, picks up a re-index,
and refuses what it cannot serve exactly with a 501.

Each shard folder starts as a copy of the sample index from which the store removes the other
shard's files (as a re-index removes vanished files), so nothing is embedded again.
"""

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from searchapi.schemas import Result
from tests.conftest import CORPUS, DEVSET, HOLDOUT, ServerThread


def split(index_dir: Path, out: Path) -> Path:
    """`index_dir` (an index of CORPUS) as a 2-shard index in `out`, files placed as `index --ray` places them."""
    from indexer.distributed import MANIFEST, assign_shards, shard_dir
    from indexer.load import discover
    from indexer.store import IndexStore

    files = assign_shards(discover([CORPUS]).files, 2, {})
    (out / MANIFEST).write_text(json.dumps({"shards": 2, "files": files}), encoding="utf-8")
    for shard in range(2):
        shutil.copytree(index_dir, shard_dir(out, shard))
        store = IndexStore(shard_dir(out, shard))
        others = [f for f in store.file_hashes() if files.get(f) != shard]
        assert others and len(others) < len(files)
        store.apply([], others, meta={})
        store.close()
    return out


@pytest.fixture(scope="module")
def sharded_index(sample_index, tmp_path_factory) -> Path:
    return split(sample_index, tmp_path_factory.mktemp("sharded"))


@pytest.fixture(scope="module")
def router(sharded_index):
    from searchapi.distributed.sharded_view import LocalShards

    return LocalShards(sharded_index)


@pytest.fixture(scope="module")
def one_machine(sample_index):
    from searchapi.retrieval.engine import SearchEngine

    return SearchEngine(sample_index, audience="public")


def questions(path: Path, n: int) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()][:n]


def ranked(results) -> list[tuple[str, float, tuple[int, int]]]:
    return [(r.chunk_id, r.score, tuple(r.span)) for r in results]


def test_shards_split_the_index(router, one_machine):
    sizes = [len(s.engine.snapshot.chunks) for s in router.shards]
    assert len(sizes) == 2 and min(sizes) > 0 and sum(sizes) == len(one_machine.snapshot.chunks)


def merged_by_score(lists: list[list], k: int) -> list[str]:
    """What a router without global statistics gives: each shard's own results merged by score."""
    tagged = sorted((-r.score, shard, r.rank, r.chunk_id) for shard, results in enumerate(lists) for r in results)
    return [chunk_id for *_, chunk_id in tagged[:k]]


def test_sharded_search_ranks_exactly_as_one_machine(router, one_machine):
    qs = questions(DEVSET, 60) + questions(HOLDOUT, 20)
    own_statistics_differ = 0
    for q in qs:
        want = one_machine.search(q, k=10).results
        assert ranked(router.search(q, k=10).results) == ranked(want), q
        # what the shards' own rankings merged by score give (the old router): not the same
        merged = merged_by_score([s.engine.search(q, k=10).results for s in router.shards], 10)
        own_statistics_differ += merged != [r.chunk_id for r in want]
    assert own_statistics_differ > len(qs) // 2


def test_references_filters_and_sorting_rank_as_one_machine(router, one_machine):
    from searchapi.schemas import Filters

    docs = sorted(one_machine.documents.values(), key=lambda d: d.id)
    in_shard = [next(iter(s.engine.documents)) for s in router.shards]
    cases = [
        ("section 3 of the collaboration report", None),
        ("paragraph 14 police officers vetting", None),
        ("item 5 minutes of the panel", None),
        ("decisions on the precept", Filters(doc_types=[docs[0].doc_type])),
        ("budget and savings", Filters(date_from="2017-01-01", date_to="2017-12-31")),
        ("police and crime plan priorities", Filters(document_ids=in_shard)),
        ("police and crime plan priorities", Filters(document_ids=in_shard[:1])),
    ]
    for q, flt in cases:
        want = one_machine.search(q, k=10, filters=flt).results
        assert want, q
        assert ranked(router.search(q, k=10, filters=flt).results) == ranked(want), (q, flt)
    want = one_machine.search("firearms licensing", k=10, sort="newest").results
    assert ranked(router.search("firearms licensing", k=10, sort="newest").results) == ranked(want)


def answer_key(answer) -> tuple:
    return (answer.answerable, answer.answer, answer.notice, answer.confidence,
            [(c.n, c.chunk_id, c.quote, tuple(c.span), c.citation) for c in answer.citations],
            [p.chunk_id for p in answer.passages])


def test_sharded_answers_are_one_machines(router, one_machine):
    from searchapi.answers.answerer import Answerer
    from searchapi.schemas import Filters

    answerer = Answerer(one_machine)
    cases = [(q, None) for q in questions(DEVSET, 30)] + [
        ("How much did the PCC pay Salus?", None),
        ("what does section 3 of the collaboration report say", None),
        ("how many officers", Filters(date_from="2017-01-01", date_to="2017-12-31")),
        ("precept", Filters(date_from="1990-01-01", date_to="1990-12-31")),  # no paper: nothing searched
    ]
    answered = 0
    for q, flt in cases:
        want = answerer.ask(q, filters=flt)
        assert answer_key(router.ask(q, filters=flt)) == answer_key(want), q
        answered += want.answerable
    assert 0 < answered < len(cases)


RESTRICTED = CORPUS / "2019-12-04_collaboration-and-partnership-working.txt"


@pytest.fixture(scope="module")
def with_restricted(sample_index, tmp_path_factory) -> tuple[Path, Path]:
    """The sample index with one paper marked restricted (re-indexed from the stored vectors), and it split."""
    from indexer.pipeline import index_paths

    one = tmp_path_factory.mktemp("restricted") / "index"
    shutil.copytree(sample_index, one)
    report = index_paths([RESTRICTED], one, progress=False, access="restricted")
    assert report.indexed and not report.embedded
    return one, split(one, tmp_path_factory.mktemp("restricted-sharded"))


def test_members_and_public_each_get_one_machines_view(with_restricted):
    from searchapi.answers.answerer import Answerer
    from searchapi.distributed.sharded_view import LocalShards
    from searchapi.retrieval.engine import SearchEngine

    one, sharded = with_restricted
    qs = ["collaboration with Essex", "what does the joint firearms licensing unit do",
          "Police and Crime Panel meeting"] + questions(DEVSET, 12)
    seen_restricted = 0
    restricted = {d.id for d in SearchEngine(one, audience="all").documents.values() if d.access == "restricted"}
    assert restricted
    for audience in ("all", "public"):
        engine, router = SearchEngine(one, audience=audience), LocalShards(sharded, audience)
        answerer = Answerer(engine)
        for q in qs:
            results = router.search(q, k=10).results
            assert ranked(results) == ranked(engine.search(q, k=10).results), (audience, q)
            answer = router.ask(q)
            assert answer_key(answer) == answer_key(answerer.ask(q)), (audience, q)
            hits = {r.document.id for r in results} | {c.document.id for c in answer.citations}
            if audience == "public":
                assert not hits & restricted, q
            else:
                seen_restricted += bool(hits & restricted)
    assert seen_restricted > 0, "members find the restricted paper"


# ---- the router's HTTP API (searchapi/distributed/sharded_view.py) against one machine's ----------
# The guard's security headers and what a client reads (a server or proxy may add others: date, request ids).
SHOWN_HEADERS = {"content-type", "cache-control", "content-disposition", "content-security-policy",
                 "x-content-type-options", "x-frame-options", "referrer-policy", "cross-origin-opener-policy"}

def comparable(response: httpx.Response):
    """Status, body (JSON without timings and the router's shard count, or the text with the server's own
    address taken out) and the guard's headers."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("took_ms", "shards")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    if response.headers.get("content-type", "").startswith("application/json"):
        body = strip(response.json())
    else:
        body = re.sub(r'"took_ms": [0-9.]+', "", response.text).replace(str(response.url.copy_with(path="/", query=None)), "/")
    headers = {k: v for k, v in response.headers.items() if k in SHOWN_HEADERS}
    return response.status_code, body, headers


def api_requests(documents: list[dict]) -> list[tuple[str, str, dict | None, dict]]:
    """Every route: found and unknown papers, errors the guard and validation give, streamed answers."""
    ids = [d["id"] for d in documents]
    out = [("GET", "/api/health", None, {}), ("GET", "/api/documents", None, {}), ("GET", "/api/examples?n=6", None, {}),
           ("GET", "/api/saved", None, {}), ("GET", "/api/saved/essex/feed", None, {}),
           ("GET", "/api/saved/never-saved/feed", None, {}), ("GET", "/api/documents/nope", None, {}),
           ("GET", "/api/documents/nope/source", None, {}), ("GET", "/", None, {})]
    out += [("GET", f"/api/documents/{d}", None, {}) for d in ids[:4]]
    out += [("GET", f"/api/documents/{d}/source", None, {}) for d in ids]
    out += [("POST", "/api/search", {"query": "collaboration with Essex", "k": 5}, {}),
            ("POST", "/api/search", {"query": "firearms", "sort": "newest", "filters": {"document_ids": ids[:2]}}, {}),
            ("POST", "/api/search", {"query": "x", "filters": {"document_ids": ["nope"]}}, {}),
            ("POST", "/api/search", {"query": " "}, {}),
            ("POST", "/api/search", {"query": "a\u0001b"}, {}),
            ("POST", "/api/search", {"query": "x" * 70_000}, {}),
            ("POST", "/api/search", {"query": "budget"}, {"host": "attacker.example"}),
            ("POST", "/api/ask", {"question": "How much did the PCC pay Salus?"}, {}),
            ("POST", "/api/ask", {"question": "what does the joint firearms licensing unit do", "mode": "local"},
             {"accept": "text/event-stream"}),
            ("POST", "/api/ask", {"question": "q", "filters": {"document_ids": ["nope"]}}, {})]
    for query in ["collaboration with Essex Police", "firearms licensing backlog", "police and crime plan priorities"]:
        out += [("POST", "/api/precedent", {"query": query}, {}),
                ("POST", "/api/precedent", {"query": query, "k": 4, "sort": "oldest"}, {})]
    out += [("POST", "/api/precedent", {"query": "policing", "filters": {"date_from": "2017-01-01", "date_to": "2017-12-31"}}, {}),
            ("POST", "/api/precedent", {"query": "x", "filters": {"document_ids": ["nope"]}}, {})]
    return out


@pytest.fixture(scope="module")
def served_pair(with_restricted):
    """One machine's service and the router's (shards in process), each with a saved search whose
    matches were recorded on one machine, and a member's key."""
    from searchapi.distributed.sharded_view import create_sharded_app, local_nodes
    from searchapi.meeting.saved import SAVED_FILE, SavedSearches, record_new_matches
    from searchapi.service.app import create_app
    from searchapi.service.keys import KeyStore

    one, sharded = with_restricted
    SavedSearches(one).add("essex", "collaboration with Essex")
    record_new_matches(one, before=set())
    shutil.copy(one / SAVED_FILE, sharded / SAVED_FILE)
    keys = (KeyStore(one).add("member-one", "member"), KeyStore(sharded).add("member-sharded", "member"))
    with ServerThread(create_app(one)) as single, ServerThread(create_sharded_app(sharded, *local_nodes(sharded))) as router:
        yield single.url, router.url, keys


def test_router_serves_the_one_machine_api(served_pair):
    single_url, router_url, (single_key, router_key) = served_pair
    with httpx.Client(base_url=single_url, timeout=120) as single, httpx.Client(base_url=router_url, timeout=120) as router:
        assert router.get("/api/health").json()["shards"] == 2
        for who, single_auth, router_auth in [("public", {}, {}),
                                              ("member", {"Authorization": f"Bearer {single_key}"},
                                               {"Authorization": f"Bearer {router_key}"})]:
            documents = single.get("/api/documents", headers=single_auth).json()
            restricted = [d["id"] for d in documents if d["access"] == "restricted"]
            assert bool(restricted) == (who == "member")
            for method, path, body, headers in api_requests(documents):
                want = comparable(single.request(method, path, json=body, headers={**headers, **single_auth}))
                got = comparable(router.request(method, path, json=body, headers={**headers, **router_auth}))
                assert got == want, (who, method, path, body)
            saved = router.get("/api/saved", headers=router_auth).json()
            assert saved[0]["matches"], "the recorded matches are served"
            if who == "member":
                assert any(m["result"]["document"]["id"] in restricted for m in saved[0]["matches"])


def test_router_refuses_the_generative_mode_with_501(with_restricted):
    from indexer.settings import get_settings
    from searchapi.distributed.sharded_view import create_sharded_app, local_nodes

    _, sharded = with_restricted
    settings = get_settings().model_copy(update={"llm_url": "http://127.0.0.1:9/v1"})
    with ServerThread(create_sharded_app(sharded, *local_nodes(sharded), settings=settings)) as router:
        refused = httpx.post(router.url + "/api/ask", json={"question": "How much did the PCC pay Salus?"}, timeout=120)
        assert refused.status_code == 501 and "mode" in refused.json()["detail"]
        local = httpx.post(router.url + "/api/ask", json={"question": "How much did the PCC pay Salus?", "mode": "local"},
                           timeout=120)
        assert local.status_code == 200 and local.json()["mode"] == "local" and local.json()["passages"]


NEW_PAPER = """## Report to the Police and Crime Panel

Date: 14 March 2023

Title: Rural Crime Partnership Update

1. The rural crime partnership with the National Farmers Union recorded 212 thefts of farm machinery in 2022,
down from 264 in 2021, after quad bikes were fitted with trackers at the partnership's expense.
"""


def test_router_picks_up_a_reindex(sample_index, tmp_path):
    """A shard's re-index (a paper added to one shard, a new generation committed) is served without a
    restart, ranked as one machine's index after the same change: the other shard's statistics change
    too, so its view is loaded afresh."""
    from indexer.distributed import shard_dir
    from indexer.pipeline import index_paths
    from searchapi.distributed.sharded_view import create_sharded_app, local_nodes
    from searchapi.retrieval.engine import SearchEngine

    (tmp_path / "sharded").mkdir()
    sharded = split(sample_index, tmp_path / "sharded")
    one = tmp_path / "one"
    shutil.copytree(sample_index, one)
    papers = tmp_path / "new"
    papers.mkdir()
    (papers / "2023-03-14_rural-crime.txt").write_text(NEW_PAPER, encoding="utf-8")
    app = create_sharded_app(sharded, *local_nodes(sharded), check_every=0.0)
    queries = ["thefts of farm machinery", "collaboration with Essex Police"]
    with ServerThread(app) as router, httpx.Client(base_url=router.url, timeout=120) as client:
        before = client.get("/api/health").json()
        for folder in (shard_dir(sharded, 1), one):
            assert index_paths([papers], folder, progress=False).indexed
        after = client.get("/api/health").json()
        want = SearchEngine(one, audience="public")
        assert after["chunks"] == len(want.snapshot.chunks) > before["chunks"]
        assert after["documents"] == len(want.documents) == before["documents"] + 1
        for query in queries:
            got = client.post("/api/search", json={"query": query, "k": 10}).json()["results"]
            assert ranked([Result(**r) for r in got]) == ranked(want.search(query, k=10).results), query
