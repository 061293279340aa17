"""The embedder on ONNX Runtime: same vectors as sentence-transformers, exported once, no torch per query."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.embed import Embedder
from indexer.onnx_model import OnnxUnavailable, export_path, plain_model_config
from indexer.settings import bundled_model_path

ROOT = Path(__file__).resolve().parent.parent


def corpus_passages(limit: int = 120) -> list[str]:
    """Paragraphs of the sample reports, short and long, as the index embeds them."""
    texts = []
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        texts += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 3]
    step = max(1, len(texts) // limit)
    return texts[::step][:limit]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_embedder(onnx_cache) -> Embedder:
    embedder = Embedder(bundled_model_path(), onnx="auto", onnx_cache=onnx_cache)
    assert embedder.backend == "onnx"
    return embedder


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    embedder = Embedder(bundled_model_path(), onnx="off")
    assert embedder.backend == "torch"
    return embedder


def test_onnx_vectors_match_sentence_transformers(onnx_embedder, torch_embedder):
    texts = corpus_passages()
    assert len(texts) >= 100 and max(map(len, texts)) > 5 * min(map(len, texts))  # lengths vary: padding matters
    ours, theirs = onnx_embedder.encode(texts), torch_embedder.encode(texts)
    assert ours.shape == theirs.shape == (len(texts), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float((ours * theirs).sum(axis=1).min()) >= 0.999
    query = "How much did the PCC pay Salus?"
    assert float(onnx_embedder.encode_query(query)[0] @ torch_embedder.encode_query(query)[0]) >= 0.999
    # Batching by length must give each text the vector it has alone.
    alone = np.vstack([onnx_embedder.encode([t]) for t in texts[:8]])
    assert np.allclose(alone, ours[:8], atol=1e-4)


def test_word_pieces_counted_as_the_model_counts_them(onnx_embedder, torch_embedder):
    texts = corpus_passages(60) + ["", "£500 — 2016/17 Op Fennel", "word " * 400]
    assert [onnx_embedder.count_pieces(t) for t in texts] == [torch_embedder.count_pieces(t) for t in texts]
    assert onnx_embedder.max_pieces == torch_embedder.max_pieces == 256
    assert onnx_embedder.dim == 384
    assert not onnx_embedder.fits("word " * 400) and onnx_embedder.fits(texts[0])
    # Over-long input is truncated to the model's window, as sentence-transformers does.
    long_text = " ".join(texts)[:20000]
    assert float(onnx_embedder.encode([long_text])[0] @ torch_embedder.encode([long_text])[0]) >= 0.999


def test_export_is_made_once_into_the_cache(onnx_embedder, onnx_cache):
    path = export_path(Path(bundled_model_path()), onnx_cache, quantized=False)
    assert path.is_file() and path.stat().st_size > 10_000_000
    assert [p.name for p in onnx_cache.iterdir()] == [path.name]  # no temporary files left behind
    made = path.stat().st_mtime_ns
    again = Embedder(bundled_model_path(), onnx="auto", onnx_cache=onnx_cache)
    assert again.backend == "onnx" and path.stat().st_mtime_ns == made


def test_a_query_needs_neither_torch_nor_sentence_transformers(onnx_embedder, onnx_cache):
    code = (
        "import sys, json\n"
        "from indexer.embed import Embedder\n"
        "from indexer.settings import bundled_model_path\n"
        f"e = Embedder(bundled_model_path(), onnx_cache={str(onnx_cache)!r})\n"
        "v = e.encode_query('drone unit cost')\n"
        "print(json.dumps({'backend': e.backend, 'vector': v[0].tolist(),"
        " 'heavy': sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["backend"] == "onnx" and report["heavy"] == []
    assert np.allclose(report["vector"], onnx_embedder.encode_query("drone unit cost")[0], atol=1e-5)


def test_models_of_another_kind_stay_on_torch(tmp_path):
    model = tmp_path / "cls-model"
    shutil.copytree(bundled_model_path(), model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(OnnxUnavailable):
        plain_model_config(model)
    embedder = Embedder(str(model), onnx="auto", onnx_cache=tmp_path / "cache")
    assert embedder.backend == "torch"
    assert not (tmp_path / "cache").exists()


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="REPORTSEARCH_ONNX"):
        Embedder(bundled_model_path(), onnx="fast")



@pytest.mark.slow
def test_int8_option_runs_and_its_loss_is_what_the_readme_says(onnx_embedder, onnx_cache):
    """int8 is an option, off by default, because its vectors move (README: mean cosine ~0.96)."""
    int8 = Embedder(bundled_model_path(), onnx="int8", onnx_cache=onnx_cache)
    assert int8.backend == "onnx-int8"
    assert export_path(Path(bundled_model_path()), onnx_cache, quantized=True).is_file()
    texts = corpus_passages(100)
    cosine = (int8.encode(texts) * onnx_embedder.encode(texts)).sum(axis=1)
    assert 0.9 <= float(cosine.mean()) < 0.99
