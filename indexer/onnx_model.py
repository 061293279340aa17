"""The embedding model on ONNX Runtime: exported once from the local sentence-transformers folder into
a cache folder, then run with onnxruntime and the model's own `tokenizers` tokenizer.

Why: ONNX Runtime encodes several times faster than torch on CPU, and a cold `reportsearch ask`
that only needs one query vector never imports torch or sentence-transformers. Only the plain kind
of model is exported (a transformer, mean pooling, optional normalisation, as all-MiniLM-L6-v2 is);
anything else stays on sentence-transformers. Mean pooling and normalisation are part of the graph.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

# Bump when the exported graph changes, so cached exports are made again.
EXPORT_VERSION = 1
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class OnnxUnavailable(Exception):
    """This model cannot (or could not) be run on ONNX Runtime; sentence-transformers is used instead."""


def _read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def plain_model_config(model_dir: Path) -> dict:
    """{'max_length', 'dim'} of a transformer + mean pooling (+ normalise) model folder, else OnnxUnavailable."""
    modules = _read_json(model_dir / "modules.json")
    if not isinstance(modules, list) or not (model_dir / "tokenizer.json").is_file():
        raise OnnxUnavailable(f"{model_dir} is not a local sentence-transformers folder with tokenizer.json")
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise OnnxUnavailable(f"modules {kinds} are not transformer + pooling (+ normalise)")
    pooling = _read_json(model_dir / modules[1].get("path", "1_Pooling") / "config.json") or {}
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise OnnxUnavailable(f"pooling {modes} is not mean pooling")
    sbert = _read_json(model_dir / "sentence_bert_config.json") or {}
    if sbert.get("do_lower_case"):
        raise OnnxUnavailable("do_lower_case models lower-case outside the tokenizer")
    if not any((model_dir / name).is_file() for name in WEIGHT_FILES):
        raise OnnxUnavailable(f"no weights in {model_dir}")
    return {"max_length": int(sbert.get("max_seq_length") or 512), "dim": int(pooling["word_embedding_dimension"])}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "reportsearch" / "onnx"


def export_path(model_dir: Path, cache_dir: Path, quantized: bool) -> Path:
    """One file per model version: the folder, its weights' size and time, and the export recipe."""
    weights = next(model_dir / n for n in WEIGHT_FILES if (model_dir / n).is_file())
    stat = weights.stat()
    key = f"{model_dir.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|v{EXPORT_VERSION}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir / f"{model_dir.name}-{digest}{'-int8' if quantized else ''}.onnx"


def _replace_atomically(write, target: Path) -> None:
    """write(tmp) then rename: a reader never sees half a file, two exporters never clash."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def export(model_dir: Path, target: Path) -> None:
    """Trace the transformer with mean pooling and normalisation into one ONNX graph (needs torch once)."""
    import inspect

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    with_types = "token_type_ids" in inspect.signature(model.forward).parameters

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {"token_type_ids": token_type_ids} if with_types else {}
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_types else [])
    sample = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
    axes = {n: {0: "batch", 1: "pieces"} for n in names} | {"sentence_embedding": {0: "batch"}}

    def write(tmp: Path) -> None:
        import warnings

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Pooled(model), sample, str(tmp), input_names=names, output_names=["sentence_embedding"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)

    _replace_atomically(write, target)


def quantize(source: Path, target: Path) -> None:
    """Dynamic int8 weights (an option: vectors move slightly, so it is off unless asked for)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    _replace_atomically(lambda tmp: quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8), target)


def ensure_variant(model_dir: Path, cache_dir: Path, key: str, write_weights) -> Path:
    """A copy of a model folder with other weights (the same tokenizer and pooling), written once under
    `key` by `write_weights(folder)` and renamed into place whole: a reader never sees half of it."""
    folder = cache_dir / f"{model_dir.name}-{key}"
    if not folder.is_dir():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=cache_dir))
        try:
            shutil.copytree(model_dir, tmp, ignore=shutil.ignore_patterns(*WEIGHT_FILES), dirs_exist_ok=True)
            write_weights(tmp)
            os.replace(tmp, folder)
        except OSError:
            if not folder.is_dir():  # else another process put its copy there first
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def ensure_export(model_dir: Path, cache_dir: Path, quantized: bool = False) -> Path:
    """The cached ONNX file for this model, exported (and quantised) first if missing."""
    plain_model_config(model_dir)
    full = export_path(model_dir, cache_dir, quantized=False)
    if not full.is_file():
        export(model_dir, full)
    if not quantized:
        return full
    small = export_path(model_dir, cache_dir, quantized=True)
    if not small.is_file():
        quantize(full, small)
    return small


class OnnxEncoder:
    """Tokenise with `tokenizers`, run the pooled graph, batch texts of similar length together."""

    def __init__(self, model_dir: Path, onnx_path: Path, threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        config = plain_model_config(model_dir)
        self.max_length, self.dim = config["max_length"], config["dim"]
        self.counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.counter.no_padding()
        self.counter.no_truncation()
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Threads that spin between batches take cores from the request threads and other processes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def count_pieces(self, text: str) -> int:
        return len(self.counter.encode(text).ids)

    def _run(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]

    def encode(self, texts: list[str], batch_size: int = 32, on_batch=None) -> np.ndarray:
        """Normalised float32 vectors in input order; sorted by length inside so padding stays small."""
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            out[rows] = self._run([encodings[r] for r in rows])
            if on_batch:
                on_batch(len(rows))
        return out
