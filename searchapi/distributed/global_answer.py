"""The router's answer over a sharded index: Answerer.ask run over all shards at once, so a sharded
service answers as one machine does.

The evidence of an answer is the sentences of the first few passages (and of a place the question
names), scored by features that compare the candidates with each other (ranks, recency, lengths). So
the candidates must be scored together: the router takes the global passages (global_rank.py), has
each shard turn its passages among them into candidate sentences (Answerer.sentences), has one shard
score all candidates and decide (the evidence model and the merged statistics are the same on every
shard), and has each cited passage's shard write its citation.
"""

from __future__ import annotations

import time

from searchapi.answers.answerer import Answerer
from searchapi.answers.plan import QueryPlan
from searchapi.distributed.global_rank import ShardedRanker
from searchapi.schemas import Answer

DECIDING_SHARD = 0  # any shard: they score with the same model and the same merged statistics


def ask(ranker: ShardedRanker, question: str | QueryPlan, k: int = 8, filters: dict | None = None,
        history=None) -> Answer:
    """Answerer.ask over all shards (local mode; `history`: the conversation's earlier turns)."""
    started = time.perf_counter()
    plan = question if isinstance(question, QueryPlan) else ranker.plan(question, history)
    passages, ranking = ranker.search_ranked(plan, k, filters)
    settings = ranker.settings
    if not passages:
        empty = filters and sum(ranker.each("allowed_count", filters)) == 0
        answer = Answerer.abstain(None, plan.question, passages,
                                  "No paper matches the filters, so nothing was searched." if empty else None)
        answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer
    top = passages[: settings.answer_passages]
    place = ranking.named if passages[0].chunk_id in ranking.named else set()
    owner = {**ranking.owner}
    groups = [[] for _ in range(ranker.shards)]
    for rank, passage in enumerate(top):
        groups[owner[passage.chunk_id]].append((rank, passage.score, passage.document.id, tuple(passage.span)))
    place_parts = [[c for c in place if owner[c] == shard] for shard in range(ranker.shards)]
    parts = ranker.fan_out("evidence", [(groups[s], place_parts[s], len(top)) for s in range(ranker.shards)])
    # One machine reads the passages in rank order, the named place last; a paper lives in one shard.
    candidates = [c for _, c in sorted((item for part in parts for item in part), key=lambda item: item[0])]
    decision, notice = ranker.fan_out("decide", [(plan, candidates) if s == DECIDING_SHARD else (None, None)
                                                  for s in range(ranker.shards)])[DECIDING_SHARD]
    if not decision.answered:
        answer = Answerer.abstain(None, plan.question, passages, notice=notice)
    else:
        cited = list(enumerate(decision.chosen, 1))
        if decision.earlier is not None:
            cited.append((len(cited) + 1, decision.earlier))
        shard_of = {c.chunk.id: shard for shard, part in enumerate(parts) for _, c in part}
        asks = [[(n, c.chunk.id, c.start, c.end) for n, c in cited if shard_of[c.chunk.id] == s] for s in range(ranker.shards)]
        citations = sorted((c for part in ranker.fan_out("citations", [(a,) for a in asks]) for c in part), key=lambda c: c.n)
        text = " ".join(f"{c.text} [{n}]" for n, c in enumerate(decision.chosen, 1))
        if decision.earlier is not None:
            from indexer.dates import format_date

            text += f" Earlier ({format_date(decision.earlier.paper_date or None)}): {decision.earlier.text} [{len(cited)}]"
        answer = Answer(question=plan.question, answer=text, answerable=True, citations=citations, passages=passages,
                        took_ms=0.0, mode="local")
    answer.confidence = round(decision.confidence, 3) if decision.ranked else None
    answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
    return answer
