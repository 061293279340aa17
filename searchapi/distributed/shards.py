"""Serving a sharded index (INDEX/shard-NN, made by `reportsearch index --ray`) behind the same API
as one machine, ranking and answering exactly as one machine would.

Each shard is an ordinary index with an ordinary SearchEngine; `ShardSearcher` adds the primitives the
router's global ranking and answer call (global_rank.py, global_answer.py): corpus and keyword
statistics, candidates with BM25 on summed statistics, the rerank of its part of the global head,
texts, rendering, candidate sentences, the evidence decision, citations; and the parts of the
router's other routes (documents, sources, precedent, examples, saved matches; sharded_view.py).
`ShardNode` holds the searchers the router loaded, per audience. On Ray each shard is one Serve
deployment and the router another (shards_ray.py); in one process, sharded_view.LocalShards.
"""

from __future__ import annotations

from pathlib import Path

from indexer.distributed import shard_dirs

from searchapi.schemas import Filters, Result


def shard_folders(index_dir: Path) -> list[Path]:
    """The shard folders of a sharded index that hold an index (FileNotFoundError for an ordinary one)."""
    dirs = [d for d in shard_dirs(index_dir) if (d / "index.sqlite").exists()]
    if not dirs:
        raise FileNotFoundError(f"{index_dir} is not a sharded index (no shards.json, or no shard folder holds an index)")
    return dirs


class ShardSearcher:
    """One shard: an engine over one shard folder for one audience ('public': public papers only, or
    'all'), with the primitives the router's global ranking calls (searchapi/distributed/global_rank.py);
    chunks are named by id."""

    def __init__(self, path: str, audience: str = "public"):
        from searchapi.retrieval.engine import SearchEngine

        self.path = path
        self.engine = SearchEngine(Path(path), audience=audience)
        self.engine.warm()
        self.rowid_of = self.engine.snapshot.chunks.rowids_by_id()  # no passage text read
        self._answerer = None

    def _allowed(self, filters: dict | None) -> set[int] | None | bool:
        """The engine's allowed chunks for the filter; False when the filter names only other shards' papers."""
        flt = Filters(**filters) if filters else None
        if flt and flt.document_ids:  # another shard's papers: this shard has none of them
            flt.document_ids = [d for d in flt.document_ids if d in self.engine.documents]
            if not flt.document_ids:
                return False
        return self.engine.allowed_chunks(flt)

    # ---- statistics ------------------------------------------------------------------------------
    def corpus_stats(self) -> dict:
        from searchapi.distributed.global_stats import shard_part

        return shard_part(self.engine)

    def fusion_weights(self) -> tuple[float, float]:
        return self.engine.dense_weight, self.engine.keyword_weight

    def use_stats(self, stats: dict) -> None:
        from searchapi.distributed.global_stats import install

        install(self.engine, stats)
        self._answerer = None  # its features read the statistics

    def keyword_stats(self, fts_query: str | None):
        from searchapi.retrieval.bm25 import keyword_stats

        return keyword_stats(self.engine.store, fts_query)

    # ---- global ranking primitives ---------------------------------------------------------------
    def candidates(self, query, n: int, filters: dict | None, keyword_stats, adjustments: bool = True) -> dict:
        """This shard's dense and keyword top n (BM25 with the summed statistics); with `adjustments`,
        also the chunks a reference in the query points at with their paper's match, and each
        candidate's paper and adjustments (the search's, not precedent's)."""
        from searchapi.retrieval.rerank import is_boilerplate, paper_match, reference_matches
        from searchapi.retrieval.retrieve import dense_search, keyword_search

        allowed = self._allowed(filters)
        if allowed is False:
            return {"dense": [], "keyword": [], "references": [], "info": {}}
        engine, settings = self.engine, self.engine.settings
        chunks, docs, sections = engine.snapshot.chunks, engine.documents, engine.snapshot.sections
        dense = dense_search(engine.faiss, engine.embedder.encode_query(query.dense_text), n, allowed)
        keyword = keyword_search(engine.store, query.fts_query(), n, allowed, stats=keyword_stats)
        references, info = [], {}
        if adjustments and (query.section_refs or query.item_refs or query.decision_refs):
            pool = allowed if allowed is not None else chunks.keys()
            references = [(r, chunks[r].document_id, paper_match(query, docs[chunks[r].document_id], chunks[r].heading))
                          for r in pool if reference_matches(query, sections[chunks[r].section_id], chunks[r], docs[chunks[r].document_id])]
        adjusted = {r for r, _ in dense} | {r for r, _ in keyword if r in chunks} | {r for r, _, _ in references}
        for rowid in adjusted if adjustments else ():
            chunk, doc = chunks[rowid], docs[chunks[rowid].document_id]
            factor = 1.0
            if not query.boilerplate_wanted and is_boilerplate(chunk, doc):
                factor = settings.agenda_factor if doc.doc_type == "agenda" else settings.boilerplate_factor
            info[chunk.id] = {"doc": doc.id, "factor": factor,
                              "phrases": sum(p.lower() in chunk.text.lower() for p in query.phrases)}
        return {"dense": [(chunks[r].id, s) for r, s in dense],
                # rows this generation or audience lacks stay in the list (they count towards the cut) unnamed
                "keyword": [(chunks[r].id if r in chunks else None, s) for r, s in keyword],
                "references": [(chunks[r].id, doc, m) for r, doc, m in references], "info": info}

    def rerank(self, plan, items: list[tuple[str, float]]) -> dict[str, float]:
        """The engine's rerank of these chunks (a part of the global head) from their global fused scores."""
        if not items:
            return {}
        chunks = self.engine.snapshot.chunks
        return {chunks[r].id: s for r, s in self.engine.rerank(plan, [(self.rowid_of[c], v) for c, v in items])}

    def texts(self, chunk_ids: list[str]) -> dict[str, str]:
        fetched = self.engine.snapshot.chunks.fetch([self.rowid_of[c] for c in chunk_ids])  # one read
        return {c: fetched[self.rowid_of[c]].text for c in chunk_ids}

    def render(self, items: list[tuple[str, float]]) -> dict[str, dict]:
        return {c: self.engine.result(self.rowid_of[c], score, 0).model_dump(mode="json") for c, score in items}

    # ---- global answer primitives (global_answer.py) ---------------------------------------------
    def _answerer_here(self):
        from searchapi.answers.answerer import Answerer

        if self._answerer is None:
            self._answerer = Answerer(self.engine)
        return self._answerer

    def allowed_count(self, filters: dict | None) -> int:
        allowed = self._allowed(filters)
        return len(self.engine.snapshot.chunks) if allowed is None else len(allowed or ())

    def evidence(self, passages: list[tuple[int, dict]], place: list[str], place_rank: int) -> list:
        """Candidate sentences of this shard's passages among the answer's first ones, made by
        Answerer.sentences: `passages` are (global rank, passage); the named place's chunks (its part in
        this shard) come last, at `place_rank`. Returns (rank, Candidate) pairs in reading order."""
        answerer = self._answerer_here()
        named = {self.rowid_of[c] for c in place}
        groups = [(rank, [c for c in answerer.sentences([Result(**p)], named) if c.passage_rank == 0])
                  for rank, p in passages]
        if named:
            groups.append((place_rank, answerer.sentences([], named)))
        out, seen = [], set()
        for rank, candidates in groups:  # a sentence is read once, in its first passage (as one machine reads)
            for c in candidates:
                if (c.chunk.document_id, c.start, c.end) not in seen:
                    seen.add((c.chunk.document_id, c.start, c.end))
                    c.passage_rank = rank
                    out.append((rank, c))
        return out

    def decide(self, plan, candidates: list):
        """All the answer's candidates scored together (Answerer.score) and the decision, with the reason
        for abstaining."""
        answerer = self._answerer_here()
        decision = answerer.decide(plan, answerer.score(plan, candidates))
        return decision, (None if decision.answered else answerer.why_not(plan, decision))

    def citation(self, n: int, chunk_id: str, start: int, end: int):
        return self.engine.citation(n, self.engine.snapshot.chunks[self.rowid_of[chunk_id]], start, end)

    # ---- whole requests' parts (the router's API, searchapi/distributed/sharded_view.py) ----------
    def _per_paper(self, describe) -> list[tuple[str, int, dict]]:
        """describe(paper) for each paper, keyed (file, position) so the router lists all shards' papers
        in one machine's order (by file, then place in the file)."""
        files = self.engine.snapshot.file_paths
        return [(files.get(d.id, ("", ""))[0] or "", i, describe(d)) for i, d in enumerate(self.engine.documents.values())]

    def documents(self) -> list[tuple[str, int, dict]]:
        """Each paper's summary."""
        from searchapi.service.app import _meta

        return self._per_paper(lambda d: {**_meta(d), "sections": len(d.sections)})

    def example_documents(self) -> list[tuple[str, int, dict]]:
        """What example questions read of each paper (date, type, its sections' titles and spans)."""
        return self._per_paper(lambda d: {"id": d.id, "date": d.date, "doc_type": d.doc_type,
                                          "sections": [(s.title, s.span) for s in d.sections]})

    def document_ids(self) -> list[str]:
        return list(self.engine.documents)

    def document(self, doc_id: str) -> dict | None:
        """GET /api/documents/{id} of a paper in this shard (None: not here)."""
        from searchapi.service.app import document_detail

        if doc_id not in self.engine.documents:
            return None
        return document_detail(self.engine, doc_id).model_dump(mode="json")

    def source_file(self, doc_id: str) -> tuple[bool, str | None]:
        """(whether the paper is in this shard, its original file while it lies inside its indexed root)."""
        if doc_id not in self.engine.documents:
            return False, None
        path = self.engine.source_file(doc_id)
        return True, str(path) if path else None

    def visible_matches(self, search) -> list[tuple[int, Result]]:
        """meeting.saved.visible_matches in this shard: (position among the search's matches, result)."""
        from searchapi.meeting.saved import visible_matches

        position = {id(m): i for i, m in enumerate(search.matches)}
        return [(position[id(m)], result) for m, result in visible_matches(self.engine, search)]

    def precedent_best(self, parsed, items: list[tuple[int, str]]) -> list[dict]:
        """PrecedentFinder's best paragraph per paper over this shard's chunks of the global candidate
        list, `items` (global position, chunk id) in global order. A paper's entry carries the position
        where one machine's loop first kept it (its place among the papers), and its occurrence parts."""
        from searchapi.meeting.precedent import PrecedentFinder
        from searchapi.retrieval.citations import document_ref
        from searchapi.retrieval.lexical import concepts

        engine = self.engine
        finder = PrecedentFinder(engine)
        qvec = engine.embedder.encode_query(parsed.dense_text)
        qvec = qvec[0] if qvec.ndim > 1 else qvec
        terms = [c for c in concepts(parsed.text, engine.acronyms) if engine.terms.df.get(c.stem)]
        chunks = engine.snapshot.chunks
        best, first = {}, {}
        for position, chunk_id in items:  # one chunk at a time: the loop's rule, kept across calls
            for doc_id, found in finder._best_per_paper([chunks[self.rowid_of[chunk_id]]], qvec, terms).items():
                if doc_id not in best:
                    best[doc_id], first[doc_id] = found, position
                elif found.score > best[doc_id].score:
                    best[doc_id] = found
        out = []
        for doc_id, f in best.items():
            doc = engine.documents[doc_id]
            page, label = doc.page_at(f.start) if hasattr(doc, "page_at") else (None, None)
            out.append({"position": first[doc_id], "document_id": doc_id, "chunk_id": f.chunk.id, "start": f.start,
                        "end": f.end, "score": f.score, "text": f.text, "date": doc.date or "",
                        "occurrence": {"document": document_ref(doc).model_dump(mode="json"),
                                       "citation": engine.cite(f.chunk), "page": page, "page_label": label}})
        return out

    def counts(self) -> dict:
        return {"documents": len(self.engine.documents), "chunks": len(self.engine.snapshot.chunks),
                "model": self.engine.embedder.model_path}

    def generation(self) -> int:
        return self.engine.snapshot.generation


class ShardNode:
    """A shard folder served to every audience: ShardSearchers per audience, each loaded on the newest
    generation when the router asks (`load`; each ranks with its own audience's merged statistics, so a
    public view never reads a restricted paper's). After any shard's re-index the router loads fresh
    views on every shard, since the merged statistics change for all of them, and swaps to them whole;
    the views loaded before stay for requests still in flight."""

    KEEP_LOADS = 2

    def __init__(self, path: str):
        self.path = path
        self.views: dict[tuple[str, int], ShardSearcher] = {}  # (audience, load number) -> view
        self._loads = 0

    def load(self, audience: str) -> tuple[int, int]:
        """A fresh view of the newest committed generation for `audience`: (its load number, generation)."""
        if audience not in ("public", "all"):
            raise ValueError(f"unknown audience {audience!r}")
        searcher = ShardSearcher(self.path, audience)
        self._loads += 1
        self.views[(audience, self._loads)] = searcher
        kept = sorted((n for a, n in self.views if a == audience), reverse=True)[: self.KEEP_LOADS]
        self.views = {key: v for key, v in self.views.items() if key[0] != audience or key[1] in kept}
        return self._loads, searcher.generation()

    def generation(self) -> int:
        """The newest committed generation of the shard folder (read past any loaded view's pinned one)."""
        if self.views:
            return next(iter(self.views.values())).engine.store.current_generation()
        from indexer.store import IndexReader

        reader = IndexReader(Path(self.path))
        try:
            return reader.current_generation()
        finally:
            reader.close()

    def view(self, audience: str, load: int) -> ShardSearcher:
        """The view of that load (audience, load number)."""
        try:
            return self.views[(audience, load)]
        except KeyError:
            raise LookupError(f"view {load} of {self.path} is no longer loaded") from None

    def call_at(self, view: tuple[str, int], method: str, *args):
        """A ShardSearcher method of the view (audience, load number) the router ranks with."""
        return getattr(self.view(*view), method)(*args)
