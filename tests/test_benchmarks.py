"""Speed targets, measured by scripts/benchmark.py (slow; run with `-m slow`)."""

import sys

import pytest

from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.slow
sys.path.insert(0, str(ROOT / "scripts"))


def test_indexing_and_search_speed(tmp_path):
    from benchmark import bench_index, bench_search

    figures = bench_index(CORPUS, tmp_path / "idx")
    assert figures["index_seconds"] < 30
    assert figures["truncated_chunks"] == 0 and figures["word_pieces_max"] <= figures["model_max_word_pieces"]
    assert figures["noop_reindex_seconds"] < 2 and figures["noop_reindexed_files"] == 0
    figures.update(bench_search(tmp_path / "idx"))
    assert figures["search_p50_ms"] < 50 and figures["search_p95_ms"] < 150
    assert figures["http_errors"] == 0
