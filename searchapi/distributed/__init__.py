"""Sharded serving on Ray: one deployment per shard and a router that merges them."""
