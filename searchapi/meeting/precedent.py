"""Precedent: what the papers said on a topic, one passage per paper, ordered by meeting date.

Staff drafting a report ask "what wording did we use last time, and has it changed?". Each paper
contributes the paragraph that best matches the query; paragraphs whose wording is near-identical
across papers (Jaccard similarity of word 3-shingles) form one group, with the first and last
meeting that used it, and a word-level diff between successive versions shows what changed.
"""

from __future__ import annotations

import difflib
import re
import time

import numpy as np

from indexer.store import ChunkRecord

from searchapi.retrieval.citations import document_ref
from searchapi.retrieval.engine import SearchEngine
from searchapi.retrieval.fuse import rrf
from searchapi.retrieval.lexical import Concept, concepts
from searchapi.retrieval.query import parse_query
from searchapi.retrieval.retrieve import dense_search, keyword_search
from searchapi.schemas import DiffOp, Filters, PrecedentGroup, PrecedentOccurrence, PrecedentResponse

SHINGLE_WORDS = 3  # wording is compared by word 3-shingles (Settings.precedent_same_wording)

_WORD = re.compile(r"\w+")
_MARKER = re.compile(r"(?:[-•]\s+|\d{1,3}(?:\.\d{1,3})*\.?\s+|\(?[a-z]\)\s+)")  # '- ', '8. ', '(a) ' opening a paragraph
_TOKEN = re.compile(r"\S+|\s+")


def shingles(text: str, n: int = SHINGLE_WORDS) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def word_diff(before: str, after: str) -> list[DiffOp]:
    """Word-level changes from `before` to `after`: the equal and deleted parts rebuild `before`,
    the equal and inserted parts rebuild `after` (spaces are tokens of their own)."""
    old, new = _TOKEN.findall(before), _TOKEN.findall(after)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    ops: list[DiffOp] = []

    def add(op: str, tokens: list[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if ops and ops[-1].op == op:
            ops[-1].text += text
        else:
            ops.append(DiffOp(op=op, text=text))

    codes = matcher.get_opcodes()
    removed, added = [], []  # the change run being gathered: '7 November 2016' -> '1 March 2017' is one change
    for n, (tag, i1, i2, j1, j2) in enumerate(codes):
        between = 0 < n < len(codes) - 1 and "".join(old[i1:i2]).isspace()
        if tag == "equal" and not (between and (removed or added)):
            add("delete", removed)
            add("insert", added)
            removed, added = [], []
            add("equal", new[j1:j2])
        else:  # a change, or the space inside a run of changes
            removed += old[i1:i2]
            added += new[j1:j2]
    add("delete", removed)
    add("insert", added)
    return ops


class _Found:
    """A paper's best paragraph for the query."""

    def __init__(self, chunk: ChunkRecord, start: int, end: int, score: float, text: str):
        self.chunk, self.start, self.end, self.score, self.text = chunk, start, end, score, text
        self.shingles = shingles(text)


class PrecedentFinder:
    def __init__(self, engine: SearchEngine):
        self.engine = engine
        self.settings = engine.settings

    def find(self, query: str, k: int = 20, filters: Filters | None = None, sort: str = "newest") -> PrecedentResponse:
        started = time.perf_counter()
        engine = self.engine
        parsed = parse_query(engine.respell(query), engine.acronyms)
        allowed = engine.allowed_chunks(filters)
        qvec = engine.embedder.encode_query(parsed.dense_text)
        chunks = self._candidates(parsed, qvec, allowed)
        terms = [c for c in concepts(parsed.text, engine.acronyms) if engine.terms.df.get(c.stem)]
        best = self._best_per_paper(chunks, qvec[0] if qvec.ndim > 1 else qvec, terms)
        ranked = sorted(best.values(), key=lambda f: f.score, reverse=True)[:k]
        groups = self._group(ranked, sort)
        return PrecedentResponse(query=query, groups=groups, took_ms=round((time.perf_counter() - started) * 1000, 2))

    # ---- retrieval -------------------------------------------------------------------------
    def _candidates(self, parsed, qvec: np.ndarray, allowed: set[int] | None) -> list[ChunkRecord]:
        """Dense and keyword candidates fused, without the search page's near-duplicate collapse:
        the same wording in two papers is exactly what precedent looks for."""
        engine = self.engine
        known = engine.snapshot.chunks
        dense = dense_search(engine.faiss, qvec, self.settings.precedent_depth, allowed)
        keyword = keyword_search(engine.store, parsed.fts_query(), self.settings.precedent_depth, allowed)
        fused = rrf([(dense, engine.dense_weight), ([h for h in keyword if h[0] in known], engine.keyword_weight)],
                    engine.settings.rrf_k)
        order = sorted(fused, key=fused.get, reverse=True)[: self.settings.precedent_depth]
        return [known[r] for r in order if r in known]

    def _best_per_paper(self, chunks: list[ChunkRecord], qvec: np.ndarray, terms: list[Concept]) -> dict[str, _Found]:
        engine = self.engine
        best: dict[str, _Found] = {}
        share, topic = self.settings.precedent_dense_share, self.settings.precedent_topic_coverage
        for chunk, (spans, vectors) in zip(chunks, engine.sentences.get(chunks)):
            if not len(spans):
                continue
            text = engine.document_text(chunk.document_id)
            sims = np.asarray(vectors) @ qvec
            scores = [share * float(sim) + (1 - share) * engine.terms.coverage(terms, text[s:e] + " " + chunk.heading)
                      for (s, e), sim in zip(spans, sims)]
            i = int(np.argmax(scores))
            current = best.get(chunk.document_id)
            if current is not None and current.score >= scores[i]:
                continue
            start, end = self._paragraph(text, spans, i, self.settings.precedent_max_chars)
            if terms and engine.terms.coverage(terms, text[start:end] + " " + chunk.heading) < topic:
                continue
            best[chunk.document_id] = _Found(chunk, start, end, scores[i], text[start:end])
        return best

    @staticmethod
    def _paragraph(text: str, spans: list[tuple[int, int]], i: int, budget: int) -> tuple[int, int]:
        """The paragraph (line) holding sentence i; one over `budget` characters is cut to the sentences
        around it."""
        s, e = spans[i]
        start = text.rfind("\n", 0, s) + 1
        marker = _MARKER.match(text, start, s)  # paragraph numbers change between papers; the wording does not
        if marker:
            start = marker.end()
        end = text.find("\n", e)
        end = len(text) if end < 0 else end
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start <= budget:
            return start, end
        inside = [sp for sp in spans if sp[0] >= start and sp[1] <= end]
        j = inside.index(spans[i])
        lo = hi = j
        while True:  # grow by whole sentences, alternately after and before, within the budget
            grown = False
            for cand in ((lo, hi + 1), (lo - 1, hi)):
                a, b = cand
                if 0 <= a and b < len(inside) and inside[b][1] - inside[a][0] <= budget // 2:
                    lo, hi, grown = a, b, True
            if not grown:
                break
        return inside[lo][0], inside[hi][1]

    # ---- grouping ----------------------------------------------------------------------------
    def _group(self, found: list[_Found], sort: str) -> list[PrecedentGroup]:
        parent = list(range(len(found)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i in range(len(found)):
            for j in range(i + 1, len(found)):
                if jaccard(found[i].shingles, found[j].shingles) >= self.settings.precedent_same_wording:
                    parent[root(j)] = root(i)
        members: dict[int, list[_Found]] = {}
        for i, f in enumerate(found):
            members.setdefault(root(i), []).append(f)
        groups = [self._group_of(m, sort) for m in members.values()]
        newest = sort != "oldest"
        key = (lambda g: g.last_used or "") if newest else (lambda g: g.first_used or "9999")
        return sorted(groups, key=key, reverse=newest)

    def _date(self, f: _Found) -> str:
        return self.engine.documents[f.chunk.document_id].date or ""

    def _group_of(self, members: list[_Found], sort: str) -> PrecedentGroup:
        in_time = sorted(members, key=lambda f: (self._date(f), f.chunk.document_id))
        diffs = {id(f): word_diff(prev.text, f.text) for prev, f in zip(in_time, in_time[1:])}
        shown = in_time if sort == "oldest" else in_time[::-1]
        dated = [self._date(f) for f in in_time if self._date(f)]
        return PrecedentGroup(
            wording=in_time[-1].text,
            papers=len(members),
            first_used=dated[0] if dated else None,
            last_used=dated[-1] if dated else None,
            occurrences=[self._occurrence(f, diffs.get(id(f))) for f in shown],
        )

    def _occurrence(self, f: _Found, diff: list[DiffOp] | None) -> PrecedentOccurrence:
        engine = self.engine
        doc = engine.documents[f.chunk.document_id]
        page, label = doc.page_at(f.start) if hasattr(doc, "page_at") else (None, None)
        return PrecedentOccurrence(
            document=document_ref(doc),
            citation=engine.cite(f.chunk),
            text=f.text,
            span=(f.start, f.end),
            page=page,
            page_label=label,
            chunk_id=f.chunk.id,
            score=round(f.score, 4),
            diff=diff,
        )


def render_text(response: PrecedentResponse, width: int = 100) -> str:
    """The terminal view: each wording with where it was used; changes as [-removed-] {+added+}."""
    import textwrap

    from indexer.dates import format_date

    out = []
    for n, group in enumerate(response.groups, 1):
        span = format_date(group.first_used) if group.first_used == group.last_used else \
            f"{format_date(group.first_used)} – {format_date(group.last_used)}"
        papers = f"{group.papers} papers" if group.papers > 1 else "1 paper"
        out.append(f"{n}. {papers}, {span}")
        for occ in group.occurrences:
            out.append(f"   {occ.citation}")
            if occ.diff and any(d.op != "equal" for d in occ.diff):
                marked = "".join(d.text if d.op == "equal" else f"[-{d.text.strip()}-] " if d.op == "delete"
                                 else f"{{+{d.text.strip()}+}} " for d in occ.diff)
                body = "changed: " + marked
            else:
                body = f"“{' '.join(occ.text.split())}”"
            out.append(textwrap.indent(textwrap.fill(body, width=width - 6), "      "))
        out.append("")
    return "\n".join(out).rstrip()
