"""The FAISS index of chunk vectors, chosen by size, written atomically and read memory-mapped.

Below `ann_min_vectors` an exact inner-product index is both fast enough and exact. Above it the
float vectors alone would cost 1.5 KB per chunk of RAM and a full scan per query, so an IVF index
with 8-bit scalar codes (~0.4 KB per chunk, a few lists scanned per query) or HNSW is built instead,
its coarse centroids trained on a random sample. Files are read memory-mapped where the index type
allows, so a server starts without reading the vectors and shares their pages with the OS cache.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .settings import Settings, get_settings

KINDS = ("flat", "ivf", "hnsw")
HNSW_LINKS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def index_kind(n_vectors: int, settings: Settings | None = None) -> str:
    """'flat' below the configured size, else the configured approximate kind."""
    settings = settings or get_settings()
    if n_vectors < settings.ann_min_vectors:
        return "flat"
    kind = settings.ann_kind.lower()
    if kind not in KINDS[1:]:
        raise ValueError(f"REPORTSEARCH_ANN_KIND must be ivf or hnsw, not {settings.ann_kind!r}")
    return kind


def ivf_lists(n_vectors: int) -> int:
    """~2·√n lists: a probe scans a small share, and k-means on the sample stays affordable."""
    return int(min(65536, max(16, round(2 * math.sqrt(n_vectors)))))


def _training_sample(vectors: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    if len(vectors) <= size:
        return vectors
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size, replace=False))
    return vectors[rows]


def build_vector_index(ids: np.ndarray, vectors: np.ndarray, settings: Settings | None = None, kind: str | None = None):
    """An inner-product index over normalised `vectors`, searchable by `ids` (int64 chunk rowids)."""
    import faiss

    settings = settings or get_settings()
    ids = np.ascontiguousarray(ids, dtype="int64")
    vectors = np.ascontiguousarray(vectors, dtype="float32")
    dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else 384
    kind = kind or index_kind(len(ids), settings)
    if kind == "flat" or len(ids) == 0:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    elif kind == "ivf":
        nlist = min(ivf_lists(len(ids)), max(1, len(ids) // 39))  # faiss wants >= 39 points per centroid
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 20
        index.train(_training_sample(vectors, max(settings.ann_train_sample, 39 * nlist)))
        index.nprobe = min(nlist, settings.ann_nprobe)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
        index = faiss.IndexIDMap2(inner)
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    if len(ids):
        index.add_with_ids(vectors, ids)
    return index


def search_parameters(index, allowed: set[int] | None):
    """Parameters for `index.search`: the filter as an ID selector, of the type this index accepts.

    IVF indexes refuse generic parameters. A filter that keeps a share s of the vectors pushes its
    top k as far out as the unfiltered top k/s, so it probes nprobe/s lists; the selector is checked
    before any distance is computed, so even probing every list stays cheap."""
    import faiss

    selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype="int64")) if allowed is not None else None
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        nprobe = ivf.nprobe
        if allowed is not None and index.ntotal:
            share = max(len(allowed) / index.ntotal, 1e-9)
            nprobe = math.ceil(nprobe / min(1.0, share))
        return faiss.SearchParametersIVF(sel=selector, nprobe=min(ivf.nlist, nprobe))
    if selector is None:
        return None
    return faiss.SearchParameters(sel=selector)


def describe(index) -> str:
    """'flat', 'ivf-sq8 (2000 lists, nprobe 32)' or 'hnsw (M=32, efSearch 128)': for reports."""
    import faiss

    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        return f"ivf-sq8 ({ivf.nlist} lists, nprobe {ivf.nprobe})"
    inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
    if isinstance(inner, faiss.IndexHNSW):
        return f"hnsw (M={HNSW_LINKS}, efSearch {inner.hnsw.efSearch})"
    return "flat"


def write_vector_index(index, path: Path) -> None:
    """Write under a unique temporary name, fsync, then rename: readers see the old file or the new one."""
    import faiss

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        faiss.write_index(index, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_vector_index(path: Path):
    """The index at `path`, memory-mapped read-only where its type allows (flat and IVF), else read."""
    import faiss

    # MMAP_IFC maps flat codes and IVF lists alike; combined with MMAP it fails on IVF files.
    for flags in (faiss.IO_FLAG_READ_ONLY | getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP),
                  faiss.IO_FLAG_READ_ONLY | faiss.IO_FLAG_MMAP):
        try:
            return faiss.read_index(str(path), flags)
        except RuntimeError:
            continue
    return faiss.read_index(str(path))  # a type that cannot be mapped (HNSW): read it whole
