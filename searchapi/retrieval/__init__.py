"""Query parsing, first-stage retrieval, fusion, reranking and results: one loaded index generation."""
