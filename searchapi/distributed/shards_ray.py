"""The sharded service on Ray Serve: one deployment per shard folder, and a router deployment that
serves the HTTP API and ranks over all shards as one machine would (searchapi/distributed/global_rank.py:
each request is a few fan-out rounds to the shards' ShardSearcher primitives).

Defined at module level so Ray pickles them by reference; importing this module needs Ray
(`pip install 'reportsearch[ray]'`).
"""


import asyncio
import time
from pathlib import Path

from fastapi import FastAPI
from ray import serve

from indexer.distributed import shard_dirs
from indexer.settings import model_display_name

from searchapi.schemas import AskRequest, SearchRequest
from searchapi.distributed.global_answer import ask as global_ask
from searchapi.distributed.global_rank import ShardedRanker
from searchapi.distributed.shards import ShardSearcher

api = FastAPI(title="ReportSearch (sharded)")


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class Shard:
    def __init__(self, path: str):
        self.searcher = ShardSearcher(path)

    def call(self, method: str, *args):
        """One of the global ranking's primitives (corpus_stats, use_stats, keyword_stats, candidates,
        rerank, texts, render, fusion_weights)."""
        return getattr(self.searcher, method)(*args)

    def search(self, query: str, k: int, filters: dict | None) -> list[dict]:
        return self.searcher.search(query, k, filters)

    def ask(self, question: str, k: int, filters: dict | None) -> dict:
        return self.searcher.ask(question, k, filters)

    def documents(self) -> list[dict]:
        return self.searcher.documents()

    def counts(self) -> dict:
        return self.searcher.counts()


@serve.deployment(ray_actor_options={"num_cpus": 0.25})
@serve.ingress(api)
class Router:
    def __init__(self, *shards):
        self.shards = shards
        self._ranker: ShardedRanker | None = None
        self._ranker_lock = asyncio.Lock()

    async def _all(self, method: str, *args) -> list:
        return await asyncio.gather(*[getattr(s, method).remote(*args) for s in self.shards])

    def _fan_out(self, method: str, args_per_shard: list[tuple]) -> list:
        """Every shard's primitive at once, waited for together (runs in a worker thread, not the event loop)."""
        calls = [shard.call.remote(method, *args) for shard, args in zip(self.shards, args_per_shard)]
        return [call.result() for call in calls]

    async def ranker(self) -> ShardedRanker:
        """Made at the first request: gathers the shards' statistics and gives each the merged ones."""
        async with self._ranker_lock:
            if self._ranker is None:
                self._ranker = await asyncio.to_thread(ShardedRanker, self._fan_out, len(self.shards))
        return self._ranker

    @api.get("/api/health")
    async def health(self) -> dict:
        counts = await self._all("counts")
        return {"status": "ok", "documents": sum(c["documents"] for c in counts),
                "chunks": sum(c["chunks"] for c in counts), "model": model_display_name(counts[0]["model"]),
                "shards": len(counts)}

    @api.post("/api/search")
    async def search(self, request: SearchRequest) -> dict:
        started = time.perf_counter()
        raw = request.filters.model_dump(mode="json") if request.filters else None
        ranker = await self.ranker()
        plan = ranker.plan(request.query)
        results = await asyncio.to_thread(ranker.search, plan, request.k, raw, request.sort)
        return {"query": plan.question, "results": [r.model_dump(mode="json") for r in results],
                "took_ms": round((time.perf_counter() - started) * 1000, 2)}

    @api.post("/api/ask")
    async def ask(self, request: AskRequest) -> dict:
        raw = request.filters.model_dump(mode="json") if request.filters else None
        ranker = await self.ranker()
        answer = await asyncio.to_thread(global_ask, ranker, request.question, request.k, raw, request.history)
        return answer.model_dump(mode="json")

    @api.get("/api/documents")
    async def documents(self) -> list[dict]:
        return [d for docs in await self._all("documents") for d in docs]


def build_app(index_dir: Path):
    dirs = [d for d in shard_dirs(index_dir) if (d / "index.sqlite").exists()]
    if not dirs:
        raise FileNotFoundError(f"{index_dir} is not a sharded index (no shards.json)")
    return Router.bind(*[Shard.options(name=d.name).bind(str(d)) for d in dirs])


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
