"""Serving a sharded index (INDEX/shard-NN, made by `reportsearch index --ray`): fan a query out to
every shard and merge, behind the same /api/search, /api/ask, /api/health and /api/documents.

Each shard is an ordinary index served by an ordinary SearchEngine, so its scores are on the engine's
own 0–1 scale (fused rank scores, then the sentence/overlap rerank) and comparable across shards;
the router merges by score. What differs from one machine: each shard's BM25 statistics and RRF ranks
are its own, so a passage near the cut can rank differently (the test measures how often). On Ray,
each shard is one Serve deployment and the router another (searchapi/shards_ray.py); `LocalShards`
is the same router in one process. The sharded service answers as a public caller: restricted papers never
surface (API keys are not read there).
"""

from __future__ import annotations

import time
from pathlib import Path

from indexer.distributed import shard_dirs

from searchapi.schemas import Answer, Filters, Result, SearchResponse


def merge_results(lists: list[list[dict]], k: int) -> list[dict]:
    """Results of all shards, best score first (ties: shard order, then the shard's rank), renumbered."""
    tagged = [(-r["score"], shard, r["rank"], r) for shard, results in enumerate(lists) for r in results]
    merged = [r for *_, r in sorted(tagged, key=lambda t: t[:3])][:k]
    return [{**r, "rank": i + 1} for i, r in enumerate(merged)]


def merge_answers(question: str, answers: list[dict], k: int, started: float) -> dict:
    """The answer of the shard whose evidence ranks best among the answerable ones (else an abstention),
    with the merged passages of all shards: a shard's citations point into its own passages."""
    def best(answer: dict) -> float:
        return max((p["score"] for p in answer["passages"]), default=0.0)

    answerable = [a for a in answers if a["answerable"]]
    chosen = max(answerable or answers, key=best)
    out = dict(chosen)
    cited = {c["chunk_id"] for c in chosen.get("citations", [])}
    passages = merge_results([a["passages"] for a in answers], k)
    kept = {p["chunk_id"] for p in passages}
    out["passages"] = passages + [p for p in chosen["passages"] if p["chunk_id"] in cited - kept]
    out["question"] = question
    out["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return out


class ShardSearcher:
    """One shard: an engine over one shard folder, as a public caller sees it."""

    def __init__(self, path: str):
        from searchapi.retrieval.engine import SearchEngine

        self.path = path
        self.engine = SearchEngine(Path(path), audience="public")
        self.engine.warm()
        self._answerer = None

    def search(self, query: str, k: int, filters: dict | None = None) -> list[dict]:
        flt = Filters(**filters) if filters else None
        known = set(self.engine.documents)
        if flt and flt.document_ids:  # another shard's papers: this shard has none of them
            flt.document_ids = [d for d in flt.document_ids if d in known]
            if not flt.document_ids:
                return []
        return [r.model_dump(mode="json") for r in self.engine.search(query, k=k, filters=flt).results]

    def ask(self, question: str, k: int, filters: dict | None = None) -> dict:
        from searchapi.answers.answerer import Answerer

        if self._answerer is None:
            self._answerer = Answerer(self.engine)
        flt = Filters(**filters) if filters else None
        return self._answerer.ask(question, k, flt).model_dump(mode="json")

    def documents(self) -> list[dict]:
        return [{**d.summary(), "sections": len(d.sections)} for d in self.engine.documents.values()]

    def counts(self) -> dict:
        return {"documents": len(self.engine.documents), "chunks": len(self.engine.snapshot.chunks),
                "model": self.engine.embedder.model_path}


class LocalShards:
    """The router over shard engines in this process (tests, and one machine with a sharded index)."""

    def __init__(self, index_dir: Path):
        dirs = shard_dirs(index_dir)
        if not dirs:
            raise FileNotFoundError(f"{index_dir} is not a sharded index (no shards.json)")
        self.shards = [ShardSearcher(str(d)) for d in dirs if (d / "index.sqlite").exists()]

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> SearchResponse:
        started = time.perf_counter()
        raw = filters.model_dump(mode="json") if filters else None
        results = merge_results([s.search(query, k, raw) for s in self.shards], k)
        return SearchResponse(query=query, results=[Result(**r) for r in results],
                              took_ms=round((time.perf_counter() - started) * 1000, 2))

    def ask(self, question: str, k: int = 8, filters: Filters | None = None) -> Answer:
        started = time.perf_counter()
        raw = filters.model_dump(mode="json") if filters else None
        return Answer(**merge_answers(question, [s.ask(question, k, raw) for s in self.shards], k, started))
