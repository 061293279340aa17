"""The sharded service on Ray Serve: one deployment per shard folder, and a router deployment that
serves the HTTP API and ranks and answers over all shards as one machine would
(searchapi/distributed/global_rank.py, global_answer.py: each request is a few fan-out rounds to the
shards' ShardSearcher primitives).

As on one machine, a request with the `Authorization: Bearer KEY` of a member or officer (keys.json
in the sharded index folder, `reportsearch keys add NAME --role member --index-dir INDEX`) is served
from every paper; any other request from the public papers alone, with the public statistics.

Defined at module level so Ray pickles them by reference; importing this module needs Ray
(`pip install 'reportsearch[ray]'`).
"""


import asyncio
import time
from functools import partial
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from ray import serve

from indexer.distributed import shard_dirs
from indexer.settings import model_display_name

from searchapi.distributed.global_answer import ask as global_ask
from searchapi.distributed.global_rank import ShardedRanker
from searchapi.distributed.shards import ShardNode
from searchapi.retrieval.engine import UnknownDocument
from searchapi.schemas import AskRequest, SearchRequest
from searchapi.service.keys import KeyStore, audience_of, bearer

api = FastAPI(title="ReportSearch (sharded)")


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class Shard:
    def __init__(self, path: str):
        self.node = ShardNode(path)
        self.node.view("public").engine.warm()

    def call(self, audience: str, method: str, *args):
        """A ShardSearcher method of this shard's view for `audience` (the global ranking's primitives,
        documents, counts)."""
        return self.node.call(audience, method, *args)


@serve.deployment(ray_actor_options={"num_cpus": 0.25})
@serve.ingress(api)
class Router:
    def __init__(self, index_dir: str, *shards):
        self.keys = KeyStore(Path(index_dir))
        self.shards = shards
        self._rankers: dict[str, ShardedRanker] = {}
        self._ranker_lock = asyncio.Lock()

    def audience(self, request: Request) -> str:
        return audience_of(self.keys.role_of(bearer(request.headers.get("authorization"))))

    async def _all(self, audience: str, method: str, *args) -> list:
        return await asyncio.gather(*[s.call.remote(audience, method, *args) for s in self.shards])

    def _fan_out(self, audience: str, method: str, args_per_shard: list[tuple]) -> list:
        """Every shard's primitive at once, waited for together (runs in a worker thread, not the event loop)."""
        calls = [shard.call.remote(audience, method, *args) for shard, args in zip(self.shards, args_per_shard)]
        return [call.result() for call in calls]

    async def ranker(self, audience: str) -> ShardedRanker:
        """Made at an audience's first request: gathers the shards' statistics and gives each the merged ones."""
        async with self._ranker_lock:
            if audience not in self._rankers:
                self._rankers[audience] = await asyncio.to_thread(
                    ShardedRanker, partial(self._fan_out, audience), len(self.shards))
        return self._rankers[audience]

    @api.get("/api/health")
    async def health(self, http: Request) -> dict:
        counts = await self._all(self.audience(http), "counts")
        return {"status": "ok", "documents": sum(c["documents"] for c in counts),
                "chunks": sum(c["chunks"] for c in counts), "model": model_display_name(counts[0]["model"]),
                "shards": len(counts)}

    @api.post("/api/search")
    async def search(self, request: SearchRequest, http: Request) -> dict:
        started = time.perf_counter()
        raw = request.filters.model_dump(mode="json") if request.filters else None
        ranker = await self.ranker(self.audience(http))
        plan = ranker.plan(request.query)
        try:
            results = await asyncio.to_thread(ranker.search, plan, request.k, raw, request.sort)
        except UnknownDocument as exc:
            raise HTTPException(status_code=422, detail=f"unknown document id in filters: {exc.args[0]}") from None
        return {"query": plan.question, "results": [r.model_dump(mode="json") for r in results],
                "took_ms": round((time.perf_counter() - started) * 1000, 2)}

    @api.post("/api/ask")
    async def ask(self, request: AskRequest, http: Request) -> dict:
        raw = request.filters.model_dump(mode="json") if request.filters else None
        ranker = await self.ranker(self.audience(http))
        try:
            answer = await asyncio.to_thread(global_ask, ranker, request.question, request.k, raw, request.history)
        except UnknownDocument as exc:
            raise HTTPException(status_code=422, detail=f"unknown document id in filters: {exc.args[0]}") from None
        return answer.model_dump(mode="json")

    @api.get("/api/documents")
    async def documents(self, http: Request) -> list[dict]:
        return [d for docs in await self._all(self.audience(http), "documents") for d in docs]

    @api.get("/api/documents/{doc_id}")
    async def document(self, doc_id: str, http: Request) -> dict:
        found = [d for d in await self._all(self.audience(http), "document", doc_id) if d is not None]
        if not found:
            raise HTTPException(status_code=404, detail=f"no document with id {doc_id!r}")
        return found[0]


def build_app(index_dir: Path):
    dirs = [d for d in shard_dirs(index_dir) if (d / "index.sqlite").exists()]
    if not dirs:
        raise FileNotFoundError(f"{index_dir} is not a sharded index (no shards.json)")
    return Router.bind(str(index_dir), *[Shard.options(name=d.name).bind(str(d)) for d in dirs])


def serve_on_ray(address: str, index_dir: Path, host: str = "127.0.0.1", port: int = 8000, blocking: bool = True):
    """Deploy the sharded service on the cluster at `address`; its HTTP proxy listens on host:port."""
    import ray

    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(Path(index_dir)), name="reportsearch", route_prefix="/", blocking=blocking)


def main() -> int:
    """python -m searchapi.distributed.shards_ray --address HEAD:6379 --index-dir INDEX [--host H] [--port P]"""
    import argparse

    parser = argparse.ArgumentParser(description="Serve a sharded index (reportsearch index --ray) on Ray Serve")
    parser.add_argument("--address", required=True, help="the Ray cluster, e.g. 127.0.0.1:6379")
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    serve_on_ray(args.address, args.index_dir, args.host, args.port, blocking=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
