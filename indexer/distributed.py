"""Indexing on a Ray cluster (`reportsearch index --ray ADDRESS PATHS`).

Files are split into shards, each new file to the shard with the fewest bytes so far (recorded in
INDEX/shards.json, so a file stays in its shard on every later run); Ray Data runs one task per shard, anywhere in
the cluster, and each task runs the ordinary pipeline (parse, chunk, embed, store) over its files
into an ordinary index folder INDEX/shard-NN. A shard folder is a complete index: it can be served
alone, searched with `--index-dir INDEX/shard-NN`, or served with the others behind the shard router
(searchapi/distributed/shards.py). Re-running is incremental per shard, as on one machine.

Every node must see the input files and the index folder at the same paths (a shared file system,
as a loopback cluster trivially does); the shard count is fixed when the index is first made.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .load import display_path

SHARD_PREFIX = "shard-"
MANIFEST = "shards.json"


def assign_shards(files: list[Path], shards: int, known: dict[str, int]) -> dict[str, int]:
    """File -> shard: files already placed keep their shard; new ones, largest first, go to the shard
    holding the fewest bytes (balanced where a hash of a few large files would not be)."""
    sizes = {display_path(f): f.stat().st_size for f in files}
    load = [0] * shards
    placed = {k: v for k, v in known.items() if 0 <= v < shards}
    for key, shard in placed.items():
        load[shard] += sizes.get(key, 0)
    for key in sorted((k for k in sizes if k not in placed), key=lambda k: (-sizes[k], k)):
        shard = min(range(shards), key=lambda s: (load[s], s))
        placed[key] = shard
        load[shard] += sizes[key]
    return placed


def shard_dir(index_dir: Path, shard: int) -> Path:
    return Path(index_dir) / f"{SHARD_PREFIX}{shard:02d}"


def read_manifest(index_dir: Path) -> dict | None:
    try:
        return json.loads((Path(index_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def shard_dirs(index_dir: Path) -> list[Path]:
    """The shard folders of a sharded index (empty for an ordinary one)."""
    manifest = read_manifest(index_dir)
    if not manifest:
        return []
    return [shard_dir(index_dir, s) for s in range(manifest["shards"])]


@dataclass
class ShardedReport:
    shards: list[dict] = field(default_factory=list)  # per shard: its IndexReport fields, node and seconds
    seconds: float = 0.0

    @property
    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for shard in self.shards:
            for key, value in shard["totals"].items():
                out[key] = out.get(key, 0) + value
        return out

    @property
    def usable(self) -> bool:
        return self.totals.get("chunks", 0) > 0

    def merged(self, name: str) -> list:
        return [item for shard in self.shards for item in shard[name]]


@contextmanager
def _only_shard(files: set[str], first: bool):
    """The pipeline's file discovery, keeping this shard's files (other shards' files are not 'vanished');
    files skipped at discovery are reported by the first shard only."""
    import indexer.pipeline as pipeline

    discover = pipeline.discover

    def discover_shard(paths):
        found = discover(paths)
        found.files = [f for f in found.files if display_path(f) in files]
        found.skipped = found.skipped if first else []
        return found

    pipeline.discover = discover_shard
    try:
        yield
    finally:
        pipeline.discover = discover


def index_shard(shard: int, files: list[str], paths: list[str], index_dir: str, access: str | None = None) -> dict:
    """One shard's files through the ordinary pipeline into its own folder (runs on a cluster node)."""
    from .pipeline import index_paths

    started = time.perf_counter()
    with _only_shard(set(files), first=shard == 0):
        report = index_paths([Path(p) for p in paths], shard_dir(Path(index_dir), shard), progress=False, access=access)
    out = asdict(report)
    out.update(shard=shard, node=_node_name(), task_seconds=round(time.perf_counter() - started, 2))
    return out


def _node_name() -> str:
    try:
        import ray

        if ray.is_initialized():  # asking outside Ray would start a local Ray instance
            return ray.get_runtime_context().get_node_id()
    except Exception:  # Ray not installed
        pass
    return os.uname().nodename


def index_on_ray(address: str, paths: list[Path], index_dir: Path, shards: int | None = None,
                 cpus_per_shard: float = 1.0, access: str | None = None) -> ShardedReport:
    """Index `paths` into shard folders under `index_dir`, one Ray Data task per shard.

    `address`: a running cluster ('127.0.0.1:6379', 'auto'), or 'local' for a cluster in this process.
    `shards`: fixed at the first run (default: one per node with CPUs); later runs reuse the manifest.
    """
    try:
        import ray
    except ImportError:
        raise ValueError("Ray is not installed here: pip install 'reportsearch[ray]'") from None

    from .load import discover

    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    threads = str(max(1, int(cpus_per_shard)))
    runtime_env = {"env_vars": {"REPORTSEARCH_EMBED_THREADS": threads, "TOKENIZERS_PARALLELISM": "false"}}
    if address == "local":
        ray.init(ignore_reinit_error=True, log_to_driver=False, include_dashboard=False, runtime_env=runtime_env)
    else:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, runtime_env=runtime_env)
    try:
        if manifest:
            if shards and shards != manifest["shards"]:
                raise ValueError(f"{index_dir} has {manifest['shards']} shards; it cannot be re-indexed with {shards}")
            shards = manifest["shards"]
        else:
            nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
            shards = shards or max(1, len(nodes))
        index_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        files = assign_shards(discover(list(paths)).files, shards, (manifest or {}).get("files", {}))
        tmp = index_dir / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps({"shards": shards, "by": "bytes, first placement kept", "files": files}), encoding="utf-8")
        os.replace(tmp, index_dir / MANIFEST)
        resolved = [str(Path(p).expanduser().resolve()) for p in paths]
        by_shard = {s: [k for k, v in files.items() if v == s] for s in range(shards)}
        import ray.data

        dataset = ray.data.from_items([{"shard": s} for s in range(shards)], override_num_blocks=shards)
        rows = dataset.map(
            lambda row: {"report": json.dumps(
                index_shard(row["shard"], by_shard[row["shard"]], resolved, str(index_dir), access))},
            num_cpus=cpus_per_shard,
        ).take_all()
        reports = sorted((json.loads(r["report"]) for r in rows), key=lambda r: r["shard"])
        return ShardedReport(shards=reports, seconds=time.perf_counter() - started)
    finally:
        ray.shutdown()
