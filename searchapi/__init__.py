"""Search and answers over an index built by `indexer`.

Pipeline, one module per step: query (understand) -> retrieve (dense + keyword) -> fuse (RRF)
-> rerank (civic sense, duplicates, diversity) -> passages -> answer -> serve (app) / cli.
"""
