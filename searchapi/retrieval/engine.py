"""The search engine: one loaded index, shared by the CLI and every request of the service."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from indexer.embed import get_embedder
from indexer.models import Document
from indexer.settings import Settings, get_settings
from indexer.store import ChunkRecord, IndexMissing, IndexReader, _LRU

from searchapi.retrieval.citations import document_ref, format_citation, section_ref
from searchapi.retrieval.fuse import fuse
from searchapi.retrieval.lexical import CorpusStats
from searchapi.answers.extract import matches
from searchapi.answers.plan import QueryPlan, plan_query
from searchapi.retrieval.query import ParsedQuery, respell
from searchapi.retrieval.passage_model import PASSAGE_FEATURES, describe, load_passage_model, reorder
from searchapi.retrieval.rerank import is_boilerplate, paper_match, reference_matches, settle, shingles
from searchapi.retrieval.retrieve import dense_search, keyword_search
from searchapi.schemas import Citation, Filters, Result, SearchResponse
from searchapi.retrieval.sentences import SentenceStore


class UnknownDocument(KeyError):
    pass


def _enclosing_numbers(documents) -> dict[str, str]:
    """For each section under a numbered ancestor, that ancestor's number (an unnumbered heading is
    placed by it; a paragraph numbered afresh inside a numbered minute is cited with the minute's)."""
    out: dict[str, str] = {}
    for doc in documents:
        stack: list[tuple[int, str | None]] = []  # (level, number) of open ancestors
        for section in doc.sections:
            while stack and stack[-1][0] >= section.level:
                stack.pop()
            inherited = next((num for _, num in reversed(stack) if num), None)
            if inherited and not (section.number or "").startswith(inherited + "."):
                out[section.id] = inherited
            stack.append((section.level, section.number))
    return out


def _overlaps(a: Result, b: Result) -> bool:
    """Passages of one paper sharing more than half of the shorter one (after extension)."""
    if a.document.id != b.document.id:
        return False
    shared = min(a.span[1], b.span[1]) - max(a.span[0], b.span[0])
    return shared > 0.5 * min(a.span[1] - a.span[0], b.span[1] - b.span[0])


class DocumentChunks(Mapping):
    """doc id -> its passages in order, read by document from the pinned index (a bounded LRU)."""

    def __init__(self, snapshot, cache_size: int = 512):
        self.snapshot = snapshot
        self.cache = _LRU(cache_size)

    def __getitem__(self, doc_id: str) -> list[ChunkRecord]:
        if doc_id not in self.snapshot.documents:
            raise KeyError(doc_id)
        chunks = self.cache.get(doc_id)
        if chunks is None:
            chunks = self.snapshot.chunks.of_document(doc_id)
            self.cache.put(doc_id, chunks)
        return chunks

    def __len__(self) -> int:
        return len(self.snapshot.documents)

    def __iter__(self):
        return iter(self.snapshot.documents)


def _fts_phrase(ref: str) -> str:
    """A reference as an FTS5 phrase of its tokens ('3.2' -> '"3 2"'), as the index tokenises text."""
    return '"' + " ".join(re.findall(r"[A-Za-z0-9]+", ref.lower())) + '"'


def shown(results: Iterable[Result], k: int, sort: str = "relevance") -> list[Result]:
    """The first k results, best first, leaving out any that overlaps one above, numbered; 'newest'
    reorders them by date. Results are made lazily: only as many as are read."""
    out: list[Result] = []
    for result in results:
        if not any(_overlaps(result, kept) for kept in out):
            result.rank = len(out) + 1
            out.append(result)
        if len(out) == k:
            break
    if sort == "newest":
        out.sort(key=lambda r: r.document.date or "", reverse=True)
        for i, r in enumerate(out):
            r.rank = i + 1
    return out


class SearchEngine:
    """One generation of the index, never changed once loaded: a re-index is picked up by loading
    a new engine (see app.EngineHolder), so a request in flight always sees one consistent state."""

    def __init__(self, index_dir: Path, settings: Settings | None = None, dense_weight: float = 0.8,
                 keyword_weight: float = 1.0, audience: str = "all", reader: IndexReader | None = None,
                 stats: CorpusStats | None = None):
        """`audience="public"` sees only public papers: everything below (statistics, acronyms,
        spellings, vectors) is read from them alone, so nothing of a restricted paper can surface.
        `stats`: corpus statistics to rank with instead of this index's own (sharded serving passes
        the merged statistics of every shard, `CorpusStats.merged`; of the same audience)."""
        self.settings = settings or get_settings()
        self.index_dir = Path(index_dir)
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self.audience = audience
        self.store = reader or IndexReader(self.index_dir)  # raises IndexMissing
        # Per engine, not per class: a class-level cache would keep retired generations alive.
        self.document_text = lru_cache(maxsize=256)(self._document_text)
        snap = self.store.snapshot(audience, self.settings.chunk_cache, self.settings.chunk_cache)
        if not snap.chunks:
            what = "no public papers" if audience == "public" and snap.generation else "empty"
            raise IndexMissing(f"the index at {self.index_dir} is {what} (run `reportsearch index PATH`)")
        self.snapshot = snap
        self.faiss = self.store.load_vectors(audience)  # the public file holds public papers only
        self.embedder = get_embedder(snap.model or self.settings.model_path(), self.settings.embed_batch_size)
        # Statistics, spellings and acronyms were counted at index time (indexer/store.py).
        self.terms = stats if stats is not None else CorpusStats.load(self.store, audience)
        self.acronyms = self.terms.acronyms
        self.doc_chunks = DocumentChunks(snap)
        # Word shingles of a chunk, computed when a ranking first compares it (not for every chunk at start).
        self.shingles_of = lru_cache(maxsize=self.settings.shingle_cache)(lambda rowid: shingles(snap.chunks[rowid].text))
        # Per paper, when a citation first needs it (not every section of the archive at start-up).
        self.enclosing_numbers = lru_cache(maxsize=1024)(lambda doc_id: _enclosing_numbers([snap.documents[doc_id]]))
        self.sentences = SentenceStore(self.store, self.settings.sentence_cache)
        self.passage_model = load_passage_model()
        self._word_vectors: dict[str, np.ndarray] = {}

    def encode_words(self, words: list[str]) -> np.ndarray:
        """Vectors of single words: those the reports use were stored at index time; only words new
        to the index (a question's own) are encoded now, once each."""
        missing = [w for w in dict.fromkeys(words) if w not in self._word_vectors]
        if missing:
            found = self.store.word_vectors(missing)
            unseen = [w for w in missing if w not in found]
            if unseen:
                found.update(zip(unseen, self.embedder.encode_words(unseen)))
            if len(self._word_vectors) + len(found) > self.settings.word_vector_cache:
                self._word_vectors = {}
            self._word_vectors.update(found)
        vectors = self._word_vectors
        return np.vstack([vectors[w] for w in words]) if words else np.zeros((0, self.embedder.dim), "float32")

    def is_stale(self) -> bool:
        """Whether a re-index has committed a newer generation than the one loaded."""
        return self.store.current_generation() != self.snapshot.generation

    def warm(self, sentences: bool = False) -> None:
        """Load the model now; optionally read every sentence vector into memory, when they all fit in the
        sentence cache. A larger archive reads them by passage as queries need them: warming an arbitrary
        part of it (the first papers in id order) would only delay the start."""
        self.embedder.encode_query("warm up")
        if sentences and len(self.snapshot.chunks) <= self.sentences.cache_size:
            self.sentences.warm(list(islice(self.snapshot.chunks.values(), self.sentences.cache_size)))

    # ---- documents ---------------------------------------------------------------------------
    @property
    def documents(self) -> dict[str, Document]:
        return self.snapshot.documents

    def document(self, doc_id: str) -> Document:
        try:
            return self.snapshot.documents[doc_id]
        except KeyError:
            raise UnknownDocument(doc_id) from None

    def _document_text(self, doc_id: str) -> str:
        text = self.store.document_text(doc_id) if doc_id in self.snapshot.documents else None
        if text is None:
            raise UnknownDocument(doc_id)
        return text

    # ---- filters -----------------------------------------------------------------------------
    def allowed_chunks(self, filters: Filters | None) -> set[int] | None:
        if filters is None or not any(v for v in filters.model_dump().values()):
            return None
        if filters.document_ids:
            unknown = [d for d in filters.document_ids if d not in self.documents]
            if unknown:
                raise UnknownDocument(unknown[0])
        docs = set()
        for doc in self.documents.values():
            if filters.document_ids and doc.id not in filters.document_ids:
                continue
            if filters.doc_types and doc.doc_type not in filters.doc_types:
                continue
            if filters.bodies and doc.body not in filters.bodies:
                continue
            if filters.date_from or filters.date_to:
                if not doc.date:
                    continue
                d = date.fromisoformat(doc.date)
                if (filters.date_from and d < filters.date_from) or (filters.date_to and d > filters.date_to):
                    continue
            docs.add(doc.id)
        table = self.snapshot.chunks
        return set(table.rowids_of(table.doc_number[d] for d in docs).tolist())

    # ---- search ------------------------------------------------------------------------------
    def rank(self, query: QueryPlan, k: int, allowed: set[int] | None, use_dense: bool = True,
             use_keyword: bool = True, rerank: bool = True) -> list[tuple[int, float]]:
        """Chunk rowids with scores, best first: fused, the head reranked by the passage model, settled."""
        ordered, named = self.fused(query, k, allowed, use_dense, use_keyword)
        if rerank and use_dense and use_keyword:
            ordered = self.rerank(query, ordered)
        return self.settled(ordered, named, k)

    def fused(self, query: QueryPlan, k: int, allowed: set[int] | None, use_dense: bool = True,
              use_keyword: bool = True) -> tuple[list[tuple[int, float]], set[int]]:
        """The fused candidate list (best first) and the one place a reference names, if any."""
        n = max(self.settings.candidates, k * 3)
        rankings = []
        if use_dense:
            vec = self.embedder.encode_query(query.dense_text)
            rankings.append((dense_search(self.faiss, vec, n, allowed), self.dense_weight))
        if use_keyword:
            hits = keyword_search(self.store, query.fts_query(), n, allowed)
            # The full-text table is read live: a re-index may have committed chunks this generation lacks.
            rankings.append(([h for h in hits if h[0] in self.snapshot.chunks], self.keyword_weight))
        referenced, named = self.named_place(query, allowed)
        docs = self.documents

        def adjust(rowids: list[int]) -> dict[int, tuple[float, int]]:
            out = {}
            for rowid, chunk in self.snapshot.chunks.fetch(rowids).items():  # one read for every candidate
                doc = docs[chunk.document_id]
                factor = 1.0
                if not query.boilerplate_wanted and is_boilerplate(chunk, doc):
                    factor = self.settings.agenda_factor if doc.doc_type == "agenda" else self.settings.boilerplate_factor
                out[rowid] = (factor, sum(phrase.lower() in chunk.text.lower() for phrase in query.phrases))
            return out

        return fuse(rankings, referenced, adjust, self.settings), named

    def settled(self, ordered: list[tuple[int, float]], named: set[int], k: int) -> list[tuple[int, float]]:
        return settle(ordered, named, self.shingles_of, lambda rowid: self.snapshot.chunks[rowid].document_id, k)

    def named_place(self, query: ParsedQuery, allowed: set[int] | None = None) -> tuple[dict[int, float], set[int]]:
        """Chunks a reference points at ('section 3.2', 'item B2', a decision number), with bonus
        weights, and the chunks of the one place it names when that is unambiguous.

        'para 14 of the Sept 2017 collaboration paper': the paper the query describes best gets
        1 + its match and is the named place; the same number in other papers gets REFERENCE_ELSEWHERE.
        'section 3' alone, with several papers having a section 3, names no place: each gets 1.
        At most `reference_max_papers` papers take the bonus (see `_referenced`).
        """
        if not (query.section_refs or query.item_refs or query.decision_refs):
            return {}, set()
        docs = self.documents
        # in document order, as a scan of the papers meets them
        hits = sorted(self._referenced(query, allowed), key=lambda c: (c.document_id, c.ord))
        match: dict[str, float] = {}
        described: dict[tuple[str, str], float] = {}  # passages of one heading describe their paper alike
        for c in hits:
            key = (c.document_id, c.heading)
            if key not in described:
                described[key] = paper_match(query, docs[c.document_id], c.heading)
            match[c.document_id] = max(match.get(c.document_id, 0.0), described[key])
        best = max(match.values(), default=0.0)
        chosen = {d for d, m in match.items() if m == best}
        weights = {d: 1 + m if d in chosen else self.settings.reference_elsewhere for d, m in match.items()}
        named = {c.rowid for c in hits if c.document_id in chosen} if len(chosen) == 1 else set()
        return {c.rowid: weights[c.document_id] for c in hits}, named

    def _referenced(self, query: ParsedQuery, allowed: set[int] | None) -> list[ChunkRecord]:
        """The allowed candidates that match the reference, from at most `reference_max_papers` papers: all
        of them when no more papers hold candidates; else papers are read best described first (title,
        type, body, date: `paper_match` without the heading), in document order among equals, until that
        many match. Passages of numbered sections are read for the papers being read only."""
        table, sections, docs = self.snapshot.chunks, self.snapshot.sections, self.documents
        limit = self.settings.reference_max_papers
        rowids, numbered, numbered_rows = self._reference_candidates(query)
        papers = np.union1d(table.doc_of[rowids], numbered)  # document numbers follow document ids
        if allowed is not None:  # papers with an allowed passage
            papers = papers[np.isin(papers, table.doc_of[np.fromiter(allowed, "int64", len(allowed))])]
        if len(papers) > limit:
            papers = papers[np.argsort(-self._paper_descriptions(query)[papers], kind="stable")]
        found: list[ChunkRecord] = []
        kept, step = 0, max(1, limit)
        for start in range(0, len(papers), step):
            if kept >= limit:
                break
            batch = papers[start:start + step]
            rows = np.union1d(rowids[np.isin(table.doc_of[rowids], batch)], numbered_rows(batch)).tolist()
            matched = [c for c in table.read([r for r in rows if allowed is None or r in allowed])
                       if reference_matches(query, sections[c.section_id], c, docs[c.document_id])]
            holding = {c.document_id for c in matched}
            take = set([table.doc_ids[d] for d in batch if table.doc_ids[d] in holding][: limit - kept])
            found += [c for c in matched if c.document_id in take]
            kept += len(take)
        return found

    def _paper_descriptions(self, query: ParsedQuery) -> np.ndarray:
        """Per document number, how well the query describes the paper by its title, type, body and date
        (`paper_match` without a heading): computed once per distinct description, not per paper."""
        kinds, kind_of = self._descriptions
        match = np.array([paper_match(query, self.documents[doc_id]) for doc_id in kinds], dtype="float64")
        return match[kind_of]

    @cached_property
    def _descriptions(self) -> tuple[list[str], np.ndarray]:
        """One paper per distinct (title, type, body, date), and each document number's description."""
        seen: dict[tuple, int] = {}
        kinds: list[str] = []
        kind_of = np.empty(len(self.snapshot.chunks.doc_ids), dtype="int32")
        for number, doc_id in enumerate(self.snapshot.chunks.doc_ids):
            doc = self.documents[doc_id]
            key = (doc.title, doc.doc_type, doc.body, doc.date)
            if key not in seen:
                seen[key] = len(kinds)
                kinds.append(doc_id)
            kind_of[number] = seen[key]
        return kinds, kind_of

    def _reference_candidates(self, query: ParsedQuery) -> tuple[np.ndarray, np.ndarray, Callable]:
        """What could match a reference (reference_matches decides), no text read: the visible passages
        whose text or heading holds the number as a word (FTS5) or whose paper has the decision reference
        (rowids, ascending); the visible papers with a section of the number or under it ('3' -> '3.1')
        (document numbers); and a reader of those sections' passages in given papers (rowids)."""
        table, sections, rowids = self.snapshot.chunks, self.snapshot.sections, set()
        numbers = set(query.section_refs) | {r for r in query.item_refs if r.isdigit()}
        prefixes = list(dict.fromkeys(query.section_refs))
        holders = {table.doc_number[d] for d in sections.numbered_papers(numbers, prefixes) if d in table.doc_number}

        def numbered_rows(batch: np.ndarray) -> np.ndarray:
            papers = [table.doc_ids[d] for d in batch.tolist() if d in holders]
            return np.array(sections.numbered_passages(numbers, prefixes, papers), dtype="int64")

        phrases = [_fts_phrase(ref) for ref in query.section_refs + query.item_refs]
        for ref in query.decision_refs:
            variants = [ref.zfill(width) for width in range(len(ref), 7)] if ref.isdigit() else [ref]  # 'decision 015'
            phrases.append("(decision AND (" + " OR ".join(_fts_phrase(v) for v in variants) + "))")
            referenced = [table.doc_number[d.id] for d in self.documents.values()
                          if d.reference and ref.upper() in d.reference.upper()]
            rowids.update(table.rowids_of(referenced).tolist())
        phrases = [p for p in phrases if p != '""']
        if phrases:
            rowids.update(r for (r,) in self.store.execute(
                "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (" OR ".join(phrases),)))
        found = np.array(sorted(rowids), dtype="int64")
        found = found[found < len(table.doc_of)]
        return found[table.doc_of[found] >= 0], np.array(sorted(holders), dtype="int32"), numbered_rows

    def rerank(self, query: QueryPlan, ordered: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """The head of the fused list in the passage model's order (passage_model.py), scored by it."""
        head, tail = ordered[: self.settings.rerank_depth], ordered[self.settings.rerank_depth :]
        if not head:
            return ordered
        return reorder(head, self.passage_model.scores(self.passage_features(query, head)), tail)

    def passage_features(self, query: QueryPlan, head: list[tuple[int, float]]) -> np.ndarray:
        """PASSAGE_FEATURES of each (rowid, fused score), from its stored sentence vectors and text."""
        qvec = self.embedder.encode_query(query.dense_text)[0]
        chunks = [self.snapshot.chunks[r] for r, _ in head]
        rows = []
        for (_, fused), chunk, (spans, vectors) in zip(head, chunks, self.sentences.get(chunks)):
            sims = vectors @ qvec if len(vectors) else np.zeros(0)
            typed = np.zeros(len(sims))
            if query.answer_type and len(sims):  # a 'how much' question wants the sentence with the amount in it
                text = self.document_text(chunk.document_id)
                typed = np.array([matches(query.answer_type, text[s:e], query.given) for s, e in spans], dtype=float)
            rows.append(describe(query, fused, chunk, self.documents[chunk.document_id], sims, typed,
                                 self.terms.coverage, self.settings.rerank_answer_type))
        return np.asarray(rows, dtype="float32").reshape(-1, len(PASSAGE_FEATURES))

    def respell(self, text: str) -> str:
        """The query in the reports' spelling ('relaunching' -> 're-launching', 'summonsed' -> 'summoned')."""
        return respell(text, self.terms.knows, self.terms.correct)

    def plan(self, question: str, history=None) -> QueryPlan:
        """The question parsed once (follow-up context, spelling, acronyms, references, years, answer type)."""
        return plan_query(question, self.acronyms, self.respell, self.terms.idf, self.settings, history)

    def search(self, query: str | QueryPlan, k: int = 10, filters: Filters | None = None, sort: str = "relevance",
               use_dense: bool = True, use_keyword: bool = True) -> SearchResponse:
        started = time.perf_counter()
        parsed = query if isinstance(query, QueryPlan) else self.plan(query)
        allowed = self.allowed_chunks(filters)
        ranked = self.rank(parsed, k, allowed, use_dense, use_keyword)
        results = shown((self.result(rowid, score, 0) for rowid, score in ranked), k, sort)
        return SearchResponse(query=parsed.question, results=results, took_ms=round((time.perf_counter() - started) * 1000, 2))

    # ---- results ------------------------------------------------------------------------------
    def passage_span(self, chunk: ChunkRecord) -> tuple[int, int]:
        """A short chunk is extended with the following chunk(s) of the same part of the paper."""
        start, end = chunk.start, chunk.end
        least, most = self.settings.passage_min_chars, self.settings.passage_max_chars
        if end - start >= least:
            return start, end
        sections = self.snapshot.sections
        parent = sections[chunk.section_id].path[:-1]
        for nxt in self.doc_chunks[chunk.document_id][chunk.ord + 1 :]:
            nxt_path = sections[nxt.section_id].path
            if nxt_path[: len(parent)] != parent or nxt.end - start > most:
                break
            end = max(end, nxt.end)
            if end - start >= least:
                break
        return start, end

    def result(self, rowid: int, score: float, rank: int) -> Result:
        chunk = self.snapshot.chunks[rowid]
        doc = self.documents[chunk.document_id]
        section = self.snapshot.sections[chunk.section_id]
        start, end = self.passage_span(chunk)
        page, label = doc.page_at(start)
        return Result(
            rank=rank,
            score=round(score, 4),
            chunk_id=chunk.id,
            text=self.document_text(doc.id)[start:end],
            document=document_ref(doc),
            section=section_ref(section),
            span=(start, end),
            page=page,
            page_label=label,
            citation=self.cite(chunk, start),
        )

    def cite(self, chunk: ChunkRecord, offset: int | None = None) -> str:
        """'Title (date), section 3.2 Revenue, p. 14': the page holding `offset` (default: the chunk's start)."""
        doc, section = self.documents[chunk.document_id], self.snapshot.sections[chunk.section_id]
        page, label = doc.page_at(chunk.start if offset is None else offset)
        return format_citation(doc, section, self.enclosing_numbers(doc.id).get(section.id), label or page)

    def citation(self, n: int, chunk: ChunkRecord, start: int, end: int) -> Citation:
        """Citation [n]: the quote document_text[start:end], which lies inside `chunk`."""
        doc, section = self.documents[chunk.document_id], self.snapshot.sections[chunk.section_id]
        page, label = doc.page_at(start)
        return Citation(n=n, chunk_id=chunk.id, quote=self.document_text(doc.id)[start:end], document=document_ref(doc),
                        section=section_ref(section), page=page, page_label=label, citation=self.cite(chunk, start),
                        span=(start, end))

    def source_file(self, doc_id: str) -> Path | None:
        """The original file of a paper this engine may show, only while it lies inside its indexed root."""
        self.document(doc_id)  # UnknownDocument for papers outside this audience
        file_path, root = self.snapshot.file_paths.get(doc_id, (None, None))
        if not file_path or not root:
            return None
        real = Path(os.path.realpath(file_path))
        if not real.is_relative_to(os.path.realpath(root)) or not real.is_file():
            return None
        return real
