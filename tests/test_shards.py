"""Shard placement for the Ray-sharded index (the cluster itself: tests/test_ray.py)."""


from indexer.distributed import assign_shards
from indexer.load import discover, display_path
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
