"""The vector index: exact below the size threshold, IVF-SQ8 or HNSW above with measured recall,
written atomically, read memory-mapped, filtered searches honoured."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from indexer.settings import Settings
from indexer.store import IndexReader
from indexer.vectors import (
    build_vector_index,
    describe,
    index_kind,
    read_vector_index,
    search_parameters,
    write_vector_index,
)
from tests.conftest import DEVSET


@pytest.fixture(scope="module")
def real_vectors(sample_index) -> tuple[np.ndarray, np.ndarray]:
    """The sample index's own chunk vectors, with their rowids."""
    reader = IndexReader(sample_index)
    rows = reader.execute("SELECT rowid, embedding FROM chunks")
    reader.close()
    ids = np.array([r[0] for r in rows], dtype="int64")
    return ids, np.vstack([np.frombuffer(r[1], dtype="float32") for r in rows])


@pytest.fixture(scope="module")
def queries(engine) -> np.ndarray:
    questions = [json.loads(line)["question"] for line in DEVSET.read_text(encoding="utf-8").splitlines() if line.strip()]
    return engine.embedder.encode(questions[:80])


@pytest.fixture(scope="module")
def archive(real_vectors) -> tuple[np.ndarray, np.ndarray]:
    """20,000 vectors in the neighbourhoods of the real ones: blends of two real chunk vectors plus
    a little noise, normalised (an archive's many papers on the same few subjects)."""
    _, base = real_vectors
    rng = np.random.default_rng(7)
    n = 20_000
    a, b = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
    w = rng.uniform(0.5, 1.0, (n, 1)).astype("float32")
    vectors = w * base[a] + (1 - w) * base[b] + rng.normal(0, 0.03, (n, base.shape[1])).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.arange(n, dtype="int64") * 3 + 11, vectors.astype("float32")


def exact_top(ids, vectors, queries, k, allowed=None):
    scores = queries @ vectors.T
    if allowed is not None:
        scores[:, ~np.isin(ids, list(allowed))] = -np.inf
    return ids[np.argsort(-scores, axis=1)[:, :k]]


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def test_kind_chosen_by_size():
    settings = Settings(ann_min_vectors=200_000, ann_kind="ivf")
    assert index_kind(199_999, settings) == "flat"
    assert index_kind(200_000, settings) == "ivf"
    assert index_kind(5_000_000, Settings(ann_kind="hnsw")) == "hnsw"
    with pytest.raises(ValueError):
        index_kind(300_000, Settings(ann_kind="lsh"))


def test_exact_index_is_exact_on_real_vectors(real_vectors, queries):
    ids, vectors = real_vectors
    index = build_vector_index(ids, vectors, Settings())
    assert describe(index) == "flat" and index.ntotal == len(ids)
    _, found = index.search(queries, 10)
    assert (found == exact_top(ids, vectors, queries, 10)).all()


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_recall_against_exact(kind, archive, queries, tmp_path):
    ids, vectors = archive
    settings = Settings(ann_train_sample=10_000)
    index = build_vector_index(ids, vectors, settings, kind=kind)
    path = tmp_path / f"{kind}.faiss"
    write_vector_index(index, path)
    loaded = read_vector_index(path)
    assert describe(loaded) == describe(index) and loaded.ntotal == len(ids)
    _, found = loaded.search(queries, 10)
    assert recall_at(found, exact_top(ids, vectors, queries, 10)) >= 0.95
    if kind == "ivf":  # 8-bit codes: about a quarter of the float vectors on disk
        assert path.stat().st_size / len(ids) < 450


def test_filtered_search_keeps_to_the_allowed_chunks(archive, queries):
    ids, vectors = archive
    index = build_vector_index(ids, vectors, Settings(ann_train_sample=10_000), kind="ivf")
    allowed = set(ids[::50].tolist())  # 2% of the archive, as a one-body filter might be
    _, found = index.search(queries, 10, params=search_parameters(index, allowed))
    assert set(found.ravel().tolist()) <= allowed  # no -1 either: enough lists were probed
    assert recall_at(found, exact_top(ids, vectors, queries, 10, allowed)) >= 0.9
    flat = build_vector_index(ids, vectors, Settings())
    _, found = flat.search(queries, 10, params=search_parameters(flat, allowed))
    assert (found == exact_top(ids, vectors, queries, 10, allowed)).all()
    assert search_parameters(flat, None) is None


def test_write_is_atomic_and_a_mapped_reader_survives_replacement(real_vectors, queries, tmp_path):
    ids, vectors = real_vectors
    path = tmp_path / "vectors-1.faiss"
    write_vector_index(build_vector_index(ids, vectors, Settings()), path)
    reader = read_vector_index(path)
    before = reader.search(queries, 5)[1]
    write_vector_index(build_vector_index(ids[:10], vectors[:10], Settings()), path)  # the next generation
    assert (reader.search(queries, 5)[1] == before).all()  # the old mapping still reads the old file
    assert read_vector_index(path).ntotal == 10
    assert sorted(os.listdir(tmp_path)) == ["vectors-1.faiss"]  # no temporary files left


def test_the_sample_index_serves_from_its_vector_file(sample_index, engine, queries):
    path = Path(sample_index) / f"vectors-{engine.snapshot.generation}.faiss"
    assert path.is_file()
    mapped = read_vector_index(path)
    assert mapped.ntotal == len(engine.snapshot.chunks)
    assert (mapped.search(queries, 10)[1] == engine.faiss.search(queries, 10)[1]).all()
