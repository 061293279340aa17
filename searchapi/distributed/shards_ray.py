"""The sharded service on Ray Serve: one deployment per shard folder, and a router deployment that
serves the one-machine HTTP API (searchapi/service/routes.py and meeting_routes.py, with the same
request guard and error shapes) over a view that ranks, answers and gathers over all shards as one
machine would (sharded_view.py; search and ask are a few fan-out rounds to the shards'
ShardSearcher primitives, global_rank.py and global_answer.py).

As on one machine, a request with the `Authorization: Bearer KEY` of a member or officer (keys.json
in the sharded index folder, `reportsearch keys add NAME --role member --index-dir INDEX`) is served
from every paper; any other request from the public papers alone, with the public statistics. A
re-index (`reportsearch index --ray`) is picked up without a restart: the router checks the shards'
generations every few seconds and swaps to the new ones whole.

Defined at module level so Ray pickles them by reference; importing this module needs Ray
(`pip install 'reportsearch[ray]'`).
"""


from pathlib import Path

from ray import serve

from searchapi.distributed.shards import ShardNode, shard_folders

NODE_METHODS = {"load", "generation", "call_at"}


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class Shard:
    def __init__(self, path: str):
        self.node = ShardNode(path)  # views are loaded when the router asks (at its start, and after a re-index)

    def run(self, method: str, *args):
        """A ShardNode method (load a generation's view, read the committed generation, or call a view's
        ShardSearcher primitive)."""
        if method not in NODE_METHODS:
            raise ValueError(f"not a shard node method: {method}")
        return getattr(self.node, method)(*args)


@serve.deployment(ray_actor_options={"num_cpus": 0.25})
@serve.ingress()
class Router:
    """The HTTP API of the sharded index; its FastAPI app is made in the replica (create_sharded_app)."""

    def __init__(self, index_dir: str, *shards):
        self.index_dir = index_dir
        self.shards = shards

    def _nodes(self, method: str, args_per_shard: list[tuple | None]) -> list:
        """The shards' node method at once (None args: that shard is not called), waited for together
        (from a route's worker thread)."""
        calls = [None if args is None else shard.run.remote(method, *args) for shard, args in zip(self.shards, args_per_shard)]
        return [None if call is None else call.result() for call in calls]

    def __serve_build_asgi_app__(self):
        from searchapi.distributed.sharded_view import create_sharded_app

        return create_sharded_app(Path(self.index_dir), self._nodes, len(self.shards))


def build_app(index_dir: Path):
    return Router.bind(str(index_dir), *[Shard.options(name=d.name).bind(str(d)) for d in shard_folders(index_dir)])


def serve_on_ray(address: str, index_dir: Path, host: str = "127.0.0.1", port: int = 8000, blocking: bool = True):
    """Deploy the sharded service on the cluster at `address`; its HTTP proxy listens on host:port."""
    import ray

    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(Path(index_dir)), name="reportsearch", route_prefix="/", blocking=blocking)


def main() -> int:
    """python -m searchapi.distributed.shards_ray --address HEAD:6379 --index-dir INDEX [--host H] [--port P]"""
    import argparse

    parser = argparse.ArgumentParser(description="Serve a sharded index (reportsearch index --ray) on Ray Serve")
    parser.add_argument("--address", required=True, help="the Ray cluster, e.g. 127.0.0.1:6379")
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    serve_on_ray(args.address, args.index_dir, args.host, args.port, blocking=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
