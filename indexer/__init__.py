"""Turns report files into a searchable index.

Pipeline, one module per step: load -> clean -> split (agenda packs into papers) -> metadata ->
sections -> chunk -> embed -> store. `pipeline.index_paths` runs it incrementally.
"""
