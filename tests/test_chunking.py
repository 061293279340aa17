"""Chunks are verbatim slices inside their section, token-budgeted, never truncated by the model."""

import statistics

from indexer.settings import get_settings
from indexer.store import IndexStore


def test_chunks_are_verbatim_slices_and_fit_the_model(sample_index, engine):
    store = IndexStore(sample_index)
    embedder = engine.embedder
    rows = store.conn.execute(
        "SELECT c.text, c.start, c.end, c.embed_text, c.n_tokens, d.text FROM chunks c JOIN documents d ON d.id = c.document_id"
    ).fetchall()
    assert len(rows) > 300
    for text, start, end, embed_text, n_tokens, doc_text in rows:
        assert doc_text[start:end] == text
        assert n_tokens <= get_settings().chunk_max_tokens
        assert embedder.count_pieces(embed_text) <= embedder.max_pieces, "would be silently truncated"
        assert embed_text.endswith(text)
    lengths = [r[4] for r in rows]
    assert statistics.median(lengths) > 60


def test_chunk_starts_in_its_section(engine):
    sections = engine.snapshot.sections
    for chunk in engine.snapshot.chunks.values():
        start, end = sections[chunk.section_id].span
        assert start <= chunk.start < end


def test_long_section_splits_at_sentences_with_overlap():
    from indexer.chunk import ChunkBudget, chunk_document
    from indexer.documents import build_documents

    sentences = " ".join(f"Sentence number {i} talks about the budget of project {i}." for i in range(120))
    (doc,) = build_documents("/tmp/long.txt", f"Long Report\n\n1. Background.\n\n{sentences}\n")
    chunks = chunk_document(doc, ChunkBudget(max_tokens=60))
    assert len(chunks) > 5
    for a, b in zip(chunks, chunks[1:]):
        assert a.text.rstrip().endswith(".") and b.text[0].isupper()
        assert b.span[0] < a.span[1], "consecutive chunks of one paragraph overlap by a sentence"
    assert all(c.n_tokens <= 60 for c in chunks)


def test_heading_only_section_merges_into_next_chunk():
    from indexer.chunk import ChunkBudget, chunk_document
    from indexer.documents import build_documents

    preamble = "This paper updates the board on joint work with other forces across the region and beyond. " * 2
    raw = f"Report Title\n\n{preamble}\n\n3. Collaboration.\n\n3.1 Seven Force Overview. " + "Forces work together on many projects. " * 5 + "\n"
    (doc,) = build_documents("/tmp/x.txt", raw)
    chunks = chunk_document(doc, ChunkBudget())
    first = next(c for c in chunks if "Collaboration." in c.text)
    assert "3.1 Seven Force Overview" in first.text
    assert doc.sections[[s.id for s in doc.sections].index(first.section_id)].number == "3"


def test_one_line_paragraph_keeps_its_own_chunk_and_a_heading_joins_what_follows(engine):
    """Expenditure paper: '4. For information, …' is content; the CAPS heading after it opens the next chunk."""
    text_of = engine.document_text
    opened = False
    for chunk in engine.snapshot.chunks.values():
        section = engine.snapshot.sections[chunk.section_id]
        tail = text_of(chunk.document_id)[chunk.start : chunk.end].rstrip().splitlines()[-1]
        assert not tail.startswith("ASSOCIATION OF POLICE AND CRIME COMMISSIONERS"), "a heading ended a chunk"
        if chunk.text.startswith("5. The Association of Police and Crime Commissioners"):
            raise AssertionError("paragraph 5 lost its heading to the previous chunk")
        if chunk.text.startswith("ASSOCIATION OF POLICE AND CRIME COMMISSIONERS, £19,750.00"):
            assert "membership subscription cost for 2017/18" in chunk.text
            assert section.title.startswith("ASSOCIATION OF POLICE AND CRIME COMMISSIONERS")
            opened = True
    assert opened


def test_word_vectors_are_cached_and_match_plain_encoding(engine):
    import numpy as np

    embedder = engine.embedder
    words = ["payment", "pay", "payment", "helicopter"]
    cached = embedder.encode_words(words)
    assert cached.shape == (4, embedder.dim)
    assert np.allclose(cached, embedder.encode(words), atol=1e-5)
    assert {"payment", "pay", "helicopter"} <= embedder._words.keys()
    assert embedder.encode_words([]).shape == (0, embedder.dim)


def test_a_sentence_wrapped_over_lines_is_one_quote_and_table_rows_stay_apart():
    from indexer.sentences import sentences_of

    text = ("Members of the Commission shall serve for a term of three\nyears, renewable once. The Chair is elected\n"
            "annually by the members.\nHeading In Capitals\nA new line that starts in capitals is a new sentence.\n"
            "EA\tEnvironment Agency of England\nand\tthe tab keeps table rows apart here\n")
    quotes = [text[s:e] for s, e in sentences_of(text, 0, len(text))]
    assert quotes[:2] == ["Members of the Commission shall serve for a term of three\nyears, renewable once.",
                          "The Chair is elected\nannually by the members."]
    assert "A new line that starts in capitals is a new sentence." in quotes
    assert not any("Agency of England\nand" in q for q in quotes)
