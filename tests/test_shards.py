"""Shard placement and result merging for the Ray-sharded index (the cluster itself: tests/test_ray.py)."""

from pathlib import Path

from indexer.distributed import assign_shards
from indexer.load import discover, display_path
from searchapi.distributed.shards import merge_answers, merge_results
from tests.conftest import CORPUS


def test_files_are_placed_by_bytes_and_keep_their_shard(tmp_path):
    files = discover([CORPUS]).files
    placed = assign_shards(files, 2, {})
    assert set(placed) == {display_path(f) for f in files} and set(placed.values()) == {0, 1}
    load = [sum(f.stat().st_size for f in files if placed[display_path(f)] == s) for s in (0, 1)]
    biggest = max(f.stat().st_size for f in files)
    assert abs(load[0] - load[1]) <= biggest  # greedy largest-first: never worse than one file apart
    # A later run: known files stay where they are, a new file goes to the lighter shard.
    new = tmp_path / "new-paper.txt"
    new.write_text((CORPUS / sorted(p.name for p in CORPUS.glob("*.txt"))[0]).read_text(encoding="utf-8"))
    again = assign_shards(files + [new], 2, placed)
    assert {k: again[k] for k in placed} == placed
    assert again[display_path(new)] == load.index(min(load))


def result(chunk: str, score: float, rank: int) -> dict:
    return {"chunk_id": chunk, "score": score, "rank": rank}


def test_results_merge_by_score_and_are_renumbered():
    a = [result("a1", 0.9, 1), result("a2", 0.5, 2), result("a3", 0.4, 3)]
    b = [result("b1", 0.7, 1), result("b2", 0.5, 2)]
    merged = merge_results([a, b], 4)
    assert [r["chunk_id"] for r in merged] == ["a1", "b1", "a2", "b2"]  # a tie keeps shard order
    assert [r["rank"] for r in merged] == [1, 2, 3, 4]
    assert merge_results([[], []], 10) == []


def test_the_answer_comes_from_the_shard_with_the_best_evidence():
    def answer(answerable: bool, scores: list[float], shard: str) -> dict:
        passages = [result(f"{shard}{i}", s, i + 1) for i, s in enumerate(scores)]
        citations = [{"n": 1, "chunk_id": passages[-1]["chunk_id"]}] if answerable else []
        return {"question": "q", "answer": shard, "answerable": answerable, "citations": citations, "passages": passages}

    weak, strong, abstains = answer(True, [0.6], "w"), answer(True, [0.8, 0.1], "s"), answer(False, [0.95], "x")
    merged = merge_answers("q", [weak, abstains, strong], k=2, started=0.0)
    assert merged["answer"] == "s"  # answerable beats a higher-scoring abstention
    ids = [p["chunk_id"] for p in merged["passages"]]
    assert ids[:2] == ["x0", "s0"] and "s1" in ids  # the cited passage is kept though below the cut
    none = merge_answers("q", [answer(False, [0.3], "a"), answer(False, [0.4], "b")], k=8, started=0.0)
    assert not none["answerable"] and none["answer"] == "b"
