"""The router's answer over a sharded index: Answerer.ask run over all shards at once, so a sharded
service answers as one machine does.

The evidence of an answer is the sentences of the first few passages (and of a place the question
names), scored by features that compare the candidates with each other (ranks, recency, lengths). So
the candidates are scored together: the router takes the global passages (global_rank.py), each
shard turns its passages among them into candidate sentences (Answerer.sentences), one shard scores
them all and decides (Answerer.evidence and decide: the evidence model and the merged statistics are
the same on every shard), and the answer is composed by Answerer.compose, each citation written by
its passage's shard.
"""

from __future__ import annotations

from types import SimpleNamespace

from searchapi.answers.answerer import Answerer, passages_read
from searchapi.answers.plan import QueryPlan
from searchapi.distributed.global_rank import ShardedRanker
from searchapi.schemas import Answer, Filters

DECIDING_SHARD = 0  # any shard: they score with the same model and the same merged statistics


class _Composer:
    """What Answerer.compose reads, at the router: citations from the cited passage's shard, the
    reason for abstaining from the deciding shard."""

    abstain = Answerer.abstain

    def __init__(self, ranker: ShardedRanker, shard_of: dict[str, int], filters: dict | None, notice: str | None):
        self.notice = notice

        def citation(n, chunk, start, end):  # asked of the passage's own shard only
            return ranker.on_shard(shard_of[chunk.id], "citation", n, chunk.id, start, end)

        def allowed_chunks(_filters):
            return set() if sum(ranker.each("allowed_count", filters)) == 0 else None

        self.engine = SimpleNamespace(citation=citation, allowed_chunks=allowed_chunks)

    def why_not(self, plan, decision) -> str | None:
        return self.notice


def ask(ranker: ShardedRanker, question: str | QueryPlan, k: int = 8, filters: dict | None = None,
        history=None) -> Answer:
    """Answerer.ask over all shards (local mode; `history`: the conversation's earlier turns)."""
    import time

    started = time.perf_counter()
    plan = question if isinstance(question, QueryPlan) else ranker.plan(question, history)
    passages, ranking = ranker.search_ranked(plan, k, filters)
    top = passages_read(plan, passages, ranker.settings)
    place = ranking.named if passages and passages[0].chunk_id in ranking.named else set()
    shards = range(ranker.shards)
    mine = [[(rank, p.model_dump(mode="json")) for rank, p in enumerate(top) if ranking.owner[p.chunk_id] == s] for s in shards]
    places = [[c for c in place if ranking.owner[c] == s] for s in shards]
    # Only the shards holding some of the passages or the place make candidate sentences.
    parts = [part or [] for part in ranker.fan_out("evidence", [(mine[s], places[s], len(top)) if mine[s] or places[s]
                                                                else None for s in shards])]
    # One machine reads the passages in rank order, the named place last; a paper lives in one shard.
    candidates = [c for _, c in sorted((item for part in parts for item in part), key=lambda item: item[0])]
    decision, notice = ranker.on_shard(DECIDING_SHARD, "decide", plan, candidates)
    shard_of = {c.chunk.id: s for s, part in enumerate(parts) for _, c in part}
    composer = _Composer(ranker, shard_of, filters, notice)
    answer = Answerer.compose(composer, plan, passages, Filters(**filters) if filters else None, decision)
    answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
    return answer
