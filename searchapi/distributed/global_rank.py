"""The router's ranking over a sharded index: the engine's ranking (SearchEngine.rank) run over all
shards at once, so a sharded search ranks as one machine does.

Why not merge each shard's own results: reciprocal rank fusion reads ranks, and a shard's ranks of
its own dense and keyword lists are not its passages' ranks in the whole index; BM25 and the rerank's
IDF read corpus statistics. So the router plans the query with the summed statistics, and:

1. sums the shards' keyword statistics for the query (rows, tokens, rows per phrase);
2. collects each shard's dense top n (inner products, comparable as they are) and keyword top n
   (BM25 with the summed statistics), builds the global top-n lists and fuses them, applies each
   candidate's reference, boilerplate and phrase adjustments (computed by its shard);
3. has each shard rerank its part of the global head (sentence vectors and text are the shard's,
   the IDF is the summed one) with the global fused scores;
4. collapses near duplicates across shards, spreads papers, and has the shards render the results.

Fusion and the final order are the engine's own functions (fuse.fuse, rerank.settle); only gathering
candidates from the shards is this module's. tests/test_sharded_ranking.py checks the two agree.
`fan_out(method, args_per_shard)` calls a ShardSearcher method on every shard (in process or on Ray)
whose args are not None (None comes back for the others).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from indexer.settings import Settings, get_settings

from searchapi.answers.plan import QueryPlan, plan_query
from searchapi.distributed.global_stats import merged
from searchapi.retrieval.engine import UnknownDocument, shown
from searchapi.retrieval.fuse import fuse
from searchapi.retrieval.passage_model import reorder
from searchapi.retrieval.query import respell
from searchapi.retrieval.rerank import settle, shingles
from searchapi.retrieval.bm25 import KeywordStats
from searchapi.schemas import Result

FanOut = Callable[[str, list[tuple]], list]


@dataclass
class Ranking:
    order: list[tuple[str, float]]  # (chunk id, score), best first
    owner: dict[str, int]  # chunk id -> shard
    named: set[str] = field(default_factory=set)  # the one place a reference names (SearchEngine.named_place)


class ShardedRanker:
    def __init__(self, fan_out: FanOut, shards: int, settings: Settings | None = None):
        self.fan_out, self.shards = fan_out, shards
        self.settings = settings or get_settings()
        self.stats = merged(self.each("corpus_stats"))
        self.each("use_stats", self.stats)
        self.terms = self.stats
        self.acronyms = self.stats.acronyms
        self.dense_weight, self.keyword_weight = self.each("fusion_weights")[0]
        self.document_ids = set().union(*self.each("document_ids"))

    def each(self, method: str, *args) -> list:
        """The same call on every shard."""
        return self.fan_out(method, [args] * self.shards)

    def on_shard(self, shard: int, method: str, *args):
        """The call on one shard only."""
        return self.fan_out(method, [args if s == shard else None for s in range(self.shards)])[shard]

    def on_owners(self, method: str, items: list, shard_of: Callable, *args) -> list:
        """`method(*args, part)` on each shard that holds some of `items` (its part, in order), and on no
        other: their answers, in shard order."""
        parts = [[item for item in items if shard_of(item) == s] for s in range(self.shards)]
        return [r for r, part in zip(self.fan_out(method, [(*args, p) if p else None for p in parts]), parts) if part]

    def plan(self, question: str, history=None) -> QueryPlan:
        return plan_query(question, self.acronyms, lambda text: respell(text, self.terms.knows, self.terms.correct),
                          self.terms.idf, self.settings, history)

    # ---- ranking (SearchEngine.rank over all shards) ---------------------------------------
    def check(self, filters: dict | None) -> None:
        """As one machine: a filter naming a paper this audience cannot see names an unknown paper."""
        unknown = [d for d in (filters or {}).get("document_ids") or () if d not in self.document_ids]
        if unknown:
            raise UnknownDocument(unknown[0])

    def candidates(self, query, n: int, filters: dict | None, adjustments: bool = True):
        """Every shard's candidates (ShardSearcher.candidates, BM25 on the query's statistics summed over
        shards), the global dense and keyword top n, and each candidate's shard."""
        self.check(filters)
        fts = query.fts_query()
        keyword_stats = KeywordStats.merged(self.each("keyword_stats", fts)) if fts else None
        parts = self.each("candidates", query, n, filters, keyword_stats, adjustments)
        owner = {}
        for shard, part in enumerate(parts):
            owner.update((c, shard) for c, _ in part["dense"] + part["keyword"] if c is not None)
            owner.update((c, shard) for c in part["info"])
        # Global top n of each list (a shard's hidden keyword rows count towards the cut, as on one machine).
        dense = sorted((hit for part in parts for hit in part["dense"]), key=lambda hit: -hit[1])[:n]
        keyword = sorted((hit for part in parts for hit in part["keyword"]), key=lambda hit: -hit[1])[:n]
        return parts, dense, [hit for hit in keyword if hit[0] is not None], owner

    def rank(self, plan: QueryPlan, k: int, filters: dict | None = None) -> Ranking:
        """(chunk id, score) best first, each candidate's shard, and the place a reference names."""
        s = self.settings
        n = max(s.candidates, k * 3)
        parts, dense, keyword, owner = self.candidates(plan, n, filters)
        info = {c: item for part in parts for c, item in part["info"].items()}
        referenced, named = self.named_place([ref for part in parts for ref in part["references"]])
        ordered = fuse([(dense, self.dense_weight), (keyword, self.keyword_weight)], referenced,
                       lambda ids: {c: (info[c]["factor"], info[c]["phrases"]) for c in ids}, s)
        ordered = self.rerank(plan, ordered, owner)
        out = settle(ordered, named, self.shingles_fetcher(ordered, owner, k * 3), lambda c: info[c]["doc"], k)
        return Ranking(out, owner, named)

    def named_place(self, references: list[tuple[str, str, float]]) -> tuple[dict[str, float], set[str]]:
        """SearchEngine.named_place over all shards' matches: the paper the query describes best is
        chosen among all papers, not per shard."""
        match: dict[str, float] = {}
        for _, doc, m in references:
            match[doc] = max(match.get(doc, 0.0), m)
        best = max(match.values(), default=0.0)
        chosen = {d for d, m in match.items() if m == best}
        weights = {d: 1 + m if d in chosen else self.settings.reference_elsewhere for d, m in match.items()}
        named = {c for c, doc, _ in references if doc in chosen} if len(chosen) == 1 else set()
        return {c: weights[doc] for c, doc, _ in references}, named

    def rerank(self, plan: QueryPlan, ordered: list[tuple[str, float]], owner: dict[str, int]) -> list[tuple[str, float]]:
        depth = self.settings.rerank_depth
        head, tail = ordered[:depth], ordered[depth:]
        if not head:
            return ordered
        scores = {c: v for part in self.on_owners("rerank", head, lambda kv: owner[kv[0]], plan) for c, v in part.items()}
        return reorder(head, [scores[c] for c, _ in head], tail)

    def shingles_fetcher(self, ordered: list[tuple[str, float]], owner: dict[str, int], limit: int):
        """Word shingles of a passage for the near-duplicate check (across shards): texts are fetched from
        their shards a batch at a time, as far down the list as the check reads."""
        position = {c: i for i, (c, _) in enumerate(ordered)}
        grams: dict[str, set[str]] = {}

        def shingles_of(chunk_id: str) -> set[str]:
            if chunk_id not in grams:
                batch = [c for c, _ in ordered[position[chunk_id]:position[chunk_id] + 2 * limit]]
                for part in self.on_owners("texts", batch, owner.get):
                    grams.update((c, shingles(text)) for c, text in part.items())
            return grams[chunk_id]
        return shingles_of

    # ---- search -----------------------------------------------------------------------------
    def search(self, query: str | QueryPlan, k: int = 10, filters: dict | None = None, sort: str = "relevance") -> list[Result]:
        return self.search_ranked(query, k, filters, sort)[0]

    def search_ranked(self, query: str | QueryPlan, k: int = 10, filters: dict | None = None,
                      sort: str = "relevance") -> tuple[list[Result], Ranking]:
        plan = query if isinstance(query, QueryPlan) else self.plan(query)
        ranking = self.rank(plan, k, filters)
        ranked, owner = ranking.order, ranking.owner
        rendered = {c: r for part in self.on_owners("render", ranked, lambda kv: owner[kv[0]]) for c, r in part.items()}
        return shown((Result(**{**rendered[chunk_id], "rank": 0}) for chunk_id, _ in ranked), k, sort), ranking
