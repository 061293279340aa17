"""The sharded router's HTTP API: the one-machine routes (searchapi/service/routes.py,
meeting_routes.py) over a view that gathers from the shards, so the router serves the same API,
request guard and error shapes as one machine, on Ray Serve (shards_ray.py) or in process.

- search and ask: the global ranking and answer (global_rank.py, global_answer.py);
- documents, a document, its original file: gathered from the shard holding each paper, listed in
  one machine's order (by file, then place in the file);
- precedent: PrecedentFinder's steps over all shards (global dense and BM25 lists fused, each shard's
  best paragraph per paper, grouped at the router), so it finds and groups as one machine does;
- example questions: the one-machine selection (meeting/examples.py) over the papers of all shards,
  checked with the global search;
- saved searches (INDEX/saved.json at the sharded index's root) and their feeds: recorded matches
  rendered by the shard that holds them;
- the generative mode (REPORTSEARCH_LLM_URL) is not served: 501 (its claim checking reads sentence
  vectors and citations of one engine); `"mode": "local"` answers as one machine.

After a re-index (`reportsearch index --ray`) a shard commits a new generation; every
`check_every` seconds one request reads the shards' generations and, when one changed, loads the new
views and merged statistics for every audience and swaps them in whole (as EngineHolder does).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from indexer.settings import Settings, get_settings, model_display_name

from searchapi.distributed.global_answer import ask as global_ask
from searchapi.distributed.global_rank import ShardedRanker
from searchapi.meeting.examples import cached_examples
from searchapi.meeting.precedent import PrecedentFinder, _Found
from searchapi.retrieval.engine import UnknownDocument
from searchapi.retrieval.fuse import rrf
from searchapi.retrieval.query import parse_query, respell
from searchapi.schemas import (Answer, DocumentDetail, DocumentSummary, Health, PrecedentOccurrence, PrecedentResponse,
                               SearchResponse)
from searchapi.service.keys import KeyStore
from searchapi.service.routes import NotServed

log = logging.getLogger("reportsearch.http")

# (ShardNode method, args per shard) -> each shard's answer (None args: not called, None back): in process, or Ray Serve handles.
NodeCalls = Callable[[str, list[tuple | None]], list]


class ShardedHealth(Health):
    shards: int


class ShardedIndex:
    """The router's rankers, one per audience, each on one generation of every shard."""

    def __init__(self, nodes: NodeCalls, shards: int, settings: Settings | None = None, check_every: float = 2.0):
        self.nodes, self.shards = nodes, shards
        self.settings = settings or get_settings()
        self.check_every = check_every
        self._rankers: dict[str, ShardedRanker] = {}
        self._generations: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._checked = time.monotonic()

    def _load(self, audience: str) -> tuple[ShardedRanker, list[int]]:
        """A ranker on fresh views of every shard (a view whose shard did not change is made anew too:
        the merged statistics it ranks with did)."""
        loaded = self.nodes("load", [(audience,)] * self.shards)

        def fan_out(method: str, args_per_shard: list[tuple | None]) -> list:
            return self.nodes("call_at", [None if args is None else ((audience, load), method, *args)
                                          for (load, _), args in zip(loaded, args_per_shard)])

        return ShardedRanker(fan_out, self.shards, self.settings), [generation for _, generation in loaded]

    def ranker(self, audience: str) -> ShardedRanker:
        ranker = self._rankers.get(audience)
        if ranker is None:
            with self._lock:
                if audience not in self._rankers:
                    self._rankers[audience], self._generations[audience] = self._load(audience)
                return self._rankers[audience]
        now = time.monotonic()
        if now - self._checked >= self.check_every and self._lock.acquire(blocking=False):
            try:  # one request reloads; the others go on with the rankers they have
                self._checked = now
                current = self.nodes("generation", [()] * self.shards)
                if any(g != current for g in self._generations.values()):
                    fresh = {a: self._load(a) for a in [audience] + [a for a in self._rankers if a != audience]}
                    self._rankers = {a: r for a, (r, _) in fresh.items()}
                    self._generations = {a: g for a, (_, g) in fresh.items()}
            except Exception as exc:  # a shard's new generation is unreadable: keep serving the loaded one
                log.info(json.dumps({"event": "reload-failed", "detail": f"{type(exc).__name__}: {exc}"}))
            finally:
                self._lock.release()
        return self._rankers.get(audience) or ranker


class ShardedView:
    """The caller's view (routes.View, meeting_routes.MeetingView) over all shards."""

    def __init__(self, ranker: ShardedRanker, index_dir: Path):
        self.ranker = ranker
        self.saved_dir = index_dir

    @staticmethod
    def _raw(filters) -> dict | None:
        return filters.model_dump(mode="json") if filters else None

    def health(self) -> Health:
        counts = self.ranker.each("counts")
        return ShardedHealth(status="ok", documents=sum(c["documents"] for c in counts),
                             chunks=sum(c["chunks"] for c in counts), model=model_display_name(counts[0]["model"]),
                             shards=len(counts))

    def search(self, query: str, k: int = 10, filters=None, sort: str = "relevance") -> SearchResponse:
        started = time.perf_counter()
        plan = self.ranker.plan(query)
        results = self.ranker.search(plan, k, self._raw(filters), sort)
        return SearchResponse(query=plan.question, results=results, took_ms=round((time.perf_counter() - started) * 1000, 2))

    def knows_document(self, doc_id: str) -> bool:
        return doc_id in self.ranker.document_ids

    def ask(self, question: str, k: int = 8, filters=None, history=None) -> Answer:
        return global_ask(self.ranker, question, k, self._raw(filters), history)

    def generative(self, settings: Settings):
        raise NotServed("the generative mode (REPORTSEARCH_LLM_URL) is not served by the sharded router: its claim "
                        "checking reads one engine's sentences; ask with \"mode\": \"local\"")

    def _ordered(self, method: str) -> list[dict]:
        """A per-paper list from every shard, in one machine's order (file, then place in the file)."""
        return [item for *_, item in sorted(row for part in self.ranker.each(method) for row in part)]

    def documents(self) -> list[DocumentSummary]:
        return [DocumentSummary(**d) for d in self._ordered("documents")]

    def document(self, doc_id: str) -> DocumentDetail:
        found = [d for d in self.ranker.each("document", doc_id) if d is not None]
        if not found:
            raise UnknownDocument(doc_id)
        return DocumentDetail(**found[0])

    def source_file(self, doc_id: str) -> Path | None:
        """The shards' paths are the router's too: inputs sit at the same path on every node."""
        for here, path in self.ranker.each("source_file", doc_id):
            if here:
                return Path(path) if path else None
        raise UnknownDocument(doc_id)

    def precedent(self, query: str, k: int, filters, sort: str) -> PrecedentResponse:
        return ShardedPrecedent(self.ranker).find(query, k, self._raw(filters), sort)

    def examples(self, n: int) -> list[str]:
        def searcher():  # what example_questions reads of an engine: papers' sections, and search
            documents = {d["id"]: SimpleNamespace(
                id=d["id"], date=d["date"], doc_type=d["doc_type"],
                sections=[SimpleNamespace(title=title, span=tuple(span)) for title, span in d["sections"]])
                for d in self._ordered("example_documents")}
            return SimpleNamespace(documents=documents, search=lambda q, k: SimpleNamespace(results=self.ranker.search(q, k)))
        return cached_examples(self.ranker, n, searcher)

    def visible_matches(self, search) -> list[tuple]:
        """meeting.saved.visible_matches on each shard: recorded matches this caller may see, numbered."""
        found = sorted(item for part in self.ranker.each("visible_matches", search) for item in part)
        return [(search.matches[i], r.model_copy(update={"rank": rank})) for rank, (i, r) in enumerate(found, 1)]


class ShardedPrecedent(PrecedentFinder):
    """PrecedentFinder.find over all shards: the global candidate lists fused by rank, each shard's best
    paragraph per paper, then one machine's ordering and grouping (PrecedentFinder._group) at the router."""

    def __init__(self, ranker: ShardedRanker):
        self.ranker = ranker
        self.settings = ranker.settings
        self._dates: dict[str, str] = {}
        self._parts: dict[str, dict] = {}

    def find(self, query: str, k: int = 20, filters: dict | None = None, sort: str = "newest") -> PrecedentResponse:
        started = time.perf_counter()
        ranker = self.ranker
        terms = ranker.stats
        parsed = parse_query(respell(query, terms.knows, terms.correct), ranker.acronyms)
        _, dense, keyword, owner = ranker.candidates(parsed, self.settings.precedent_depth, filters, adjustments=False)
        fused = rrf([(dense, ranker.dense_weight), (keyword, ranker.keyword_weight)], ranker.settings.rrf_k)
        order = sorted(fused, key=fused.get, reverse=True)[: self.settings.precedent_depth]
        parts = ranker.on_owners("precedent_best", list(enumerate(order)), lambda item: owner[item[1]], parsed)
        best = []  # in the order one machine's loop first kept each paper
        for item in sorted((item for part in parts for item in part), key=lambda item: item["position"]):
            chunk = SimpleNamespace(id=item["chunk_id"], document_id=item["document_id"])
            best.append(_Found(chunk, item["start"], item["end"], item["score"], item["text"]))
            self._dates[item["chunk_id"]] = item["date"]
            self._parts[item["chunk_id"]] = item["occurrence"]
        ranked = sorted(best, key=lambda f: f.score, reverse=True)[:k]
        return PrecedentResponse(query=query, groups=self._group(ranked, sort),
                                 took_ms=round((time.perf_counter() - started) * 1000, 2))

    def _date(self, f: _Found) -> str:
        return self._dates[f.chunk.id]

    def _occurrence(self, f: _Found, diff) -> PrecedentOccurrence:
        return PrecedentOccurrence(**self._parts[f.chunk.id], text=f.text, span=(f.start, f.end), chunk_id=f.chunk.id,
                                   score=round(f.score, 4), diff=diff)


def create_sharded_app(index_dir: Path, nodes: NodeCalls, shards: int, settings: Settings | None = None,
                       check_every: float = 2.0) -> FastAPI:
    """The router's FastAPI app over `shards` shard nodes reached through `nodes`."""
    from searchapi.service.app import _setup_logging, serve_api

    _setup_logging()
    settings = settings or get_settings()
    index = ShardedIndex(nodes, shards, settings, check_every)
    keys = KeyStore(Path(index_dir))

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        try:  # gather the public statistics before the first request
            await run_in_threadpool(index.ranker, "public")
        except Exception as exc:  # noqa: BLE001 - served as errors per request, as one machine without an index
            log.info(json.dumps({"event": "no-index", "index": str(index_dir), "detail": f"{type(exc).__name__}: {exc}"}))
        yield

    app = FastAPI(lifespan=lifespan, title="ReportSearch (sharded)", version="0.1.0",
                  description="Search and cited question answering over long formal reports, over index shards.",
                  docs_url=None)
    app.state.index = index
    return serve_api(app, settings, keys, lambda audience: ShardedView(index.ranker(audience), Path(index_dir)), ShardedHealth)


def _in_process(objects: list) -> NodeCalls:
    """Calls on objects in this process, as NodeCalls (None args: that one is not called)."""
    def call(method: str, args_per_shard: list[tuple | None]) -> list:
        return [None if args is None else getattr(o, method)(*args) for o, args in zip(objects, args_per_shard)]
    return call


def local_nodes(index_dir: Path) -> tuple[NodeCalls, int]:
    """The shard nodes of a sharded index in this process (tests; one machine with a sharded index)."""
    from searchapi.distributed.shards import ShardNode, shard_folders

    nodes = [ShardNode(str(d)) for d in shard_folders(index_dir)]
    return _in_process(nodes), len(nodes)


class LocalShards(ShardedView):
    """The router's view over one audience's shard engines in this process (tests; saved searches'
    matches after `index --ray`)."""

    def __init__(self, index_dir: Path, audience: str = "public"):
        from searchapi.distributed.shards import ShardSearcher, shard_folders

        self.shards = [ShardSearcher(str(d), audience) for d in shard_folders(index_dir)]
        super().__init__(ShardedRanker(_in_process(self.shards), len(self.shards)), Path(index_dir))
