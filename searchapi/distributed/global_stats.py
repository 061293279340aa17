"""Corpus statistics of a sharded index, summed over its shards, so every shard (and the router's
query planning) reads the statistics one machine would: word document frequencies and the chunk
count (IDF of the rerank and the answer features), the spelling vocabulary with its counts
(respelling), the hyphenated spellings, and the acronyms defined in the passages (the first
definition in document order wins, as on one machine).

A shard's part is its engine's own CorpusStats (of the chunks its audience sees, counted at index
time), so `CorpusStats.merged` over the shards is what one machine's engine reads.
"""

from __future__ import annotations

from searchapi.retrieval.lexical import CorpusStats


def shard_part(engine) -> CorpusStats:
    """This shard's statistics (plain counts; pickled without the spelling index)."""
    return engine.terms


def merged(parts: list[CorpusStats]) -> CorpusStats:
    return CorpusStats.merged(parts)


def install(engine, stats: CorpusStats) -> None:
    """Make a loaded engine rank, plan and answer with the merged statistics instead of its shard's
    own (what SearchEngine(stats=...) does at construction)."""
    engine.terms = stats
    engine.acronyms = stats.acronyms
