"""Extractive answers: the sentences of the top passages that answer the question, each cited.

Every sentence of an answer is a verbatim quote from one chunk, so every [n] can be checked.
When the evidence is weak the answer says so plainly (answerable=false) instead of guessing.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from indexer.chunk import sentence_spans
from indexer.store import ChunkRecord

from .citations import document_ref, format_citation, section_ref
from .engine import SearchEngine
from .followup import rewrite_followup
from .query import STOPWORDS, tokens
from .schemas import Answer, Citation, Filters, Result, Turn

# Calibrated on the dev half of corpus/devset.jsonl (see `reportsearch eval --split dev`).
ANSWERABLE_THRESHOLD = 0.50
MAX_SENTENCES = 3
READ_PASSAGES = 6

_CUES = {
    "amount": (re.compile(r"\bhow (?:much|many)\b|\bcost|\bspen[dt]|\bbudget|\bnumber of\b|\bamount|\btotal|\bfund|\bpaid\b|\bpay\b|\bpercentage|\bhow big", re.I),
               re.compile(r"£|\d")),
    "date": (re.compile(r"\bwhen\b|\bwhat date\b|\bwhich (?:year|month|day)\b|\bwhat year\b|\bdeadline\b|\bhow long\b", re.I),
             re.compile(r"\b(?:19|20)\d\d\b|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b|\b\d+\s+(?:weeks?|months?|years?|days?)\b")),
    "who": (re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (?:officer|person|organisation|body|company|force|charity)\b|\bname of\b", re.I),
            re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Cllr|Councillor|Chief|Commissioner|Officer|Head|Director|Chairman|Inspector|Constable|PCC)\b|[A-Z][a-z]+ [A-Z][a-z]+")),
    "why": (re.compile(r"\bwhy\b|\breason|\bpurpose\b|\baim\b|\bwhat for\b", re.I),
            re.compile(r"\bbecause\b|\bdue to\b|\bin order to\b|\bso that\b|\baims?\b|\bto ensure\b|\bas a result\b|\bpurpose\b|\breason|\btherefore\b|\bfollowing\b|\bto (?:help|support|improve|reduce|provide|enable)\b", re.I)),
}
_LEADING_MARKER = re.compile(r"^(?:[-•]\s+|\d{1,3}(?:\.\d{1,3})*\.?\s+|\(?[a-z]\)\s+)")


@dataclass
class Candidate:
    chunk: ChunkRecord
    passage_rank: int
    start: int
    end: int
    text: str
    score: float = 0.0
    dense: float = 0.0
    lexical: float = 0.0


def stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word


def question_cues(question: str) -> list[str]:
    return [name for name, (ask, _) in _CUES.items() if ask.search(question)]


def sentences_of(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans line by line; list markers and paragraph numbers left out of the quote."""
    spans = []
    for m in re.finditer(r"[^\n]+", text[start:end]):
        ls, le = start + m.start(), start + m.end()
        for s, e in sentence_spans(text, ls, le):
            marker = _LEADING_MARKER.match(text[s:e])
            if marker:
                s += marker.end()
            while e > s and text[e - 1] in " \t":
                e -= 1
            if len(text[s:e].split()) >= 4:
                spans.append((s, e))
    return spans


class Answerer:
    def __init__(self, engine: SearchEngine):
        self.engine = engine
        self._df = None

    # ---- corpus statistics for IDF-weighted overlap ----------------------------------------
    @property
    def df(self) -> Counter:
        if self._df is None or self._df_generation != self.engine.snapshot.generation:
            df: Counter = Counter()
            for chunk in self.engine.snapshot.chunks.values():
                df.update({stem(t) for t in tokens(chunk.text + " " + chunk.heading)})
            self._df, self._df_generation, self._n = df, self.engine.snapshot.generation, len(self.engine.snapshot.chunks)
        return self._df

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self._n + 1) / (df + 0.5))

    def lexical(self, terms: list[str], text: str) -> float:
        if not terms:
            return 0.0
        have = {stem(t) for t in tokens(text)}
        total = sum(self.idf(t) for t in terms)
        return sum(self.idf(t) for t in terms if t in have) / total

    def corpus_coverage(self, terms: list[str]) -> float:
        """IDF-weighted share of the question's words that occur anywhere in the index."""
        if not terms:
            return 1.0
        total = sum(self.idf(t) for t in terms)
        return sum(self.idf(t) for t in terms if self.df.get(t)) / total

    # ---- answering ---------------------------------------------------------------------------
    def ask(self, question: str, k: int = 8, filters: Filters | None = None, history: list[Turn] | None = None) -> Answer:
        started = time.perf_counter()
        search_query = rewrite_followup(question, history or [])
        response = self.engine.search(search_query, k=k, filters=filters)
        answer = self.answer_from(question, search_query, response.results)
        answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def candidates(self, passages: list[Result]) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[tuple[str, int, int]] = set()
        for rank, passage in enumerate(passages[:READ_PASSAGES]):
            doc_id = passage.document.id
            text = self.engine.document_text(doc_id)
            for chunk in self.engine.doc_chunks[doc_id]:
                if chunk.end <= passage.span[0] or chunk.start >= passage.span[1]:
                    continue
                for s, e in sentences_of(text, chunk.start, chunk.end):
                    if (doc_id, s, e) not in seen:
                        seen.add((doc_id, s, e))
                        out.append(Candidate(chunk, rank, s, e, text[s:e]))
        return out

    def score(self, question: str, query_text: str, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        embedder = self.engine.embedder
        qvec = embedder.encode_query(query_text)[0]
        vecs = sentence_vectors(embedder, [c.text for c in candidates])
        dense = vecs @ qvec
        terms = [stem(t) for t in tokens(query_text) if t not in STOPWORDS]
        cues = question_cues(question)
        for cand, d in zip(candidates, dense):
            cand.dense = float(d)
            cand.lexical = self.lexical(terms, cand.text + " " + cand.chunk.heading)
            cue = sum(1 for name in cues if _CUES[name][1].search(cand.text)) / len(cues) if cues else 0.5
            prior = 0.04 / (1 + cand.passage_rank)
            cand.score = 0.55 * cand.dense + 0.35 * cand.lexical + 0.10 * cue + prior

    def answer_from(self, question: str, query_text: str, passages: list[Result]) -> Answer:
        candidates = self.candidates(passages)
        self.score(question, query_text, candidates)
        ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
        terms = [stem(t) for t in tokens(query_text)]
        confidence = (ranked[0].score if ranked else 0.0) * self.corpus_coverage(terms)
        if not ranked or confidence < ANSWERABLE_THRESHOLD:
            return self.abstain(question, passages, confidence)
        chosen = self.select(question, ranked)
        citations, sentences = [], []
        for n, cand in enumerate(chosen, 1):
            doc = self.engine.documents[cand.chunk.document_id]
            section = self.engine.snapshot.sections[cand.chunk.section_id]
            citations.append(Citation(
                n=n, chunk_id=cand.chunk.id, quote=cand.text, document=document_ref(doc), section=section_ref(section),
                page=section.page, citation=format_citation(doc, section), span=(cand.start, cand.end),
            ))
            sentences.append(f"{cand.text} [{n}]")
        return Answer(question=question, answer=" ".join(sentences), answerable=True, citations=citations,
                      passages=passages, took_ms=0.0, mode="local")

    def select(self, question: str, ranked: list[Candidate]) -> list[Candidate]:
        """The best sentence, then close runners-up that add something (and each part of a two-part question)."""
        best = ranked[0]
        chosen = [best]
        if _heading_like(best.text):
            # 'SALUS, £25,000.00 – 10 May 2017:' needs the sentence that explains it.
            follow = [c for c in ranked[1:] if c.chunk.id == best.chunk.id and c.start > best.start]
            if follow:
                chosen.append(max(follow[:3], key=lambda c: c.score))
        parts = [p for p in re.split(r"\?\s*|;\s*|\band (?=(?:what|how|when|who|why|which|where)\b)", question) if len(tokens(p)) >= 2]
        if len(parts) > 1:
            for part in parts:
                part_terms = [stem(t) for t in tokens(part)]
                top = max(ranked[:40], key=lambda c: self.lexical(part_terms, c.text) + 0.5 * c.score)
                if top not in chosen and top.score >= 0.75 * best.score:
                    chosen.append(top)
        for cand in ranked[1:]:
            if len(chosen) >= MAX_SENTENCES:
                break
            if cand.score < best.score - 0.06:
                break
            if any(_similar(cand.text, c.text) for c in chosen):
                continue
            chosen.append(cand)
        # Read in document order within a paper, best paper first.
        return sorted(chosen[:MAX_SENTENCES + 1], key=lambda c: (c is not best and c.chunk.document_id != best.chunk.document_id, c.chunk.document_id, c.start))

    def abstain(self, question: str, passages: list[Result], confidence: float) -> Answer:
        text = (
            "The indexed reports don't say. Nothing in them answers this question; "
            "the closest passages are listed below as related reading."
        )
        return Answer(question=question, answer=text, answerable=False, citations=[], passages=passages,
                      took_ms=0.0, mode="local")


def _heading_like(text: str) -> bool:
    return text.rstrip().endswith(":") or not text.rstrip().endswith((".", "!", "?", ")", "'", "”")) or len(text.split()) < 7


def _similar(a: str, b: str) -> bool:
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) > 0.7


_SENTENCE_CACHE: dict[str, np.ndarray] = {}


def sentence_vectors(embedder, texts: list[str]) -> np.ndarray:
    """Sentence embeddings, batched for the ones not seen before (answers reread the same passages)."""
    missing = list(dict.fromkeys(t for t in texts if t not in _SENTENCE_CACHE))
    if missing:
        if len(_SENTENCE_CACHE) > 50000:
            _SENTENCE_CACHE.clear()
        for text, vec in zip(missing, embedder.encode(missing)):
            _SENTENCE_CACHE[text] = vec
    return np.vstack([_SENTENCE_CACHE[t] for t in texts])
