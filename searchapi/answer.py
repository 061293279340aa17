"""Extractive answers: the sentences of the top passages that answer the question, each cited.

Every sentence of an answer is a verbatim quote from one chunk, so every [n] can be checked.
When the evidence is weak the answer says so plainly (answerable=false) instead of guessing.
"""

from __future__ import annotations

import re
import time

import numpy as np

from indexer.store import ChunkRecord

from .asked import REPORTED_QUESTION, YEAR, WhatWasAsked, lead_with_what_was_asked, of_the_date
from .engine import SearchEngine
from .followup import rewrite_followup
from .lexical import concepts, derivational_base, stem
from .query import cue_match, parse_query, question_cues, spells_out, tokens
from .schemas import Answer, Filters, Result, Turn
from .sentences import Candidate

# Calibrated on the dev half of corpus/devset.jsonl (see `reportsearch eval --split dev`).
ANSWERABLE_THRESHOLD = 0.40
SYNONYM_SIMILARITY = 0.7  # an unknown question word the evidence says in other words ('picked' ~ 'selected')
INCIDENTAL_SIMILARITY = 0.96  # the question without an unknown word still means this much the same (dev half)
YEAR_MISMATCH_FACTOR = 0.5  # the question names a year (or 2016/17) that the evidence never mentions
MAX_SENTENCES = 3
# Sentence score: similarity to the question, rare-word overlap, question-type cue, passage rank.
W_DENSE, W_LEXICAL, W_CUE, W_PRIOR = 0.55, 0.35, 0.10, 0.10
MAX_PLACE_CHUNKS = 12  # a named place is read whole, up to this many chunks
PART_FLOOR, PART_KIND_FLOOR = 0.75, 0.6  # share of the best score a sentence answering one part needs (dev half)
READ_PASSAGES = 3  # deeper passages rarely hold the answer and mostly lend false evidence (dev half)


class Answerer:
    def __init__(self, engine: SearchEngine):
        self.engine = engine
        self.asked = WhatWasAsked(engine)

    # ---- answering ---------------------------------------------------------------------------
    def ask(self, question: str, k: int = 8, filters: Filters | None = None, history: list[Turn] | None = None) -> Answer:
        started = time.perf_counter()
        search_query = rewrite_followup(question, history or [])
        response = self.engine.search(search_query, k=k, filters=filters)
        answer = self.answer_from(question, search_query, response.results, filters)
        answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def candidates(self, passages: list[Result], place: set[int] | None = None) -> list[Candidate]:
        """Sentences of the top passages and, when the question names a place ('decision
        OPCC.D.015.17'), of the whole place: its decision may lie below the passages retrieved."""
        groups = []
        for rank, passage in enumerate(passages[:READ_PASSAGES]):
            doc_chunks = self.engine.doc_chunks[passage.document.id]
            groups.append((rank, [c for c in doc_chunks if c.end > passage.span[0] and c.start < passage.span[1]]))
        chunks = self.engine.snapshot.chunks
        groups.append((READ_PASSAGES, [chunks[r] for r in sorted(place or ())[:MAX_PLACE_CHUNKS]]))
        out: list[Candidate] = []
        seen: set[tuple[str, int, int]] = set()
        for rank, group in groups:
            for chunk, (spans, vectors) in zip(group, self.engine.sentences.get(group)):
                text = self.engine.document_text(chunk.document_id)
                for (s, e), vector in zip(spans, vectors):
                    if (chunk.document_id, s, e) not in seen:
                        seen.add((chunk.document_id, s, e))
                        out.append(Candidate(chunk, rank, s, e, text[s:e], vector=vector))
        return out

    def score(self, question: str, query_text: str, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        qvec = self.engine.embedder.encode_query(query_text)[0]
        dense = np.vstack([c.vector for c in candidates]) @ qvec
        terms = concepts(query_text, self.engine.acronyms)
        cues = question_cues(question)
        for cand, d in zip(candidates, dense):
            cand.dense = float(d)
            cand.lexical = self.engine.terms.coverage(terms, cand.text + " " + cand.chunk.heading)
            cue = cue_match(cues, cand.text) if cues else 0.5
            prior = W_PRIOR / (1 + cand.passage_rank)
            cand.score = W_DENSE * cand.dense + W_LEXICAL * cand.lexical + W_CUE * cue + prior

    def answer_from(self, question: str, query_text: str, passages: list[Result], filters: Filters | None = None) -> Answer:
        place = self.named_place(query_text, passages, filters)
        candidates = self.candidates(passages, place)
        # Words spelled as the reports spell them ('relaunching' -> 're-launching') for overlap scores.
        asked, query_text = (self.engine.respell(t) for t in (question, query_text))
        self.score(asked, query_text, candidates)
        ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
        first = ranked[0] if ranked else None
        ranked = lead_with_what_was_asked(asked, ranked, self.asked.expected(asked), self.paper_date)
        # A runner-up that states what was asked leads on the strength of the evidence about the subject.
        leads = ranked[:1] + [c for c in ranked[1:] if c is first]
        confidence = max((self.confidence(asked, c) for c in leads), default=0.0)
        if place:  # 'section 5.3 of the collaboration report': the named place is the answer
            ranked = [c for c in ranked if c.chunk.rowid in place] or ranked
            confidence = max(confidence, ANSWERABLE_THRESHOLD)
        if confidence < ANSWERABLE_THRESHOLD:
            return self.abstain(question, passages)
        chosen = self.select(asked, ranked)
        unanswered = self.asked.unanswered(asked, " ".join(c.text for c in chosen))
        if unanswered:  # 'how much did X cost' answered by sentences that name no sum is not answered
            return self.abstain(question, passages, notice=unanswered)
        citations = [self.engine.citation(n, c.chunk, c.start, c.end) for n, c in enumerate(chosen, 1)]
        sentences = [f"{c.text} [{n}]" for n, c in enumerate(chosen, 1)]
        return Answer(question=question, answer=" ".join(sentences), answerable=True, citations=citations,
                      passages=passages, took_ms=0.0, mode="local")

    def named_place(self, query_text: str, passages: list[Result], filters: Filters | None = None) -> set[int]:
        """Chunks of the place a reference names (among the papers searched), when the first passage is one of them."""
        query = parse_query(query_text, self.engine.acronyms)
        _, named = self.engine.named_place(query, self.engine.allowed_chunks(filters))
        first = self.engine.snapshot.chunk_by_id.get(passages[0].chunk_id) if passages else None
        return named if first is not None and first.rowid in named else set()

    def confidence(self, question: str, best: Candidate) -> float:
        """Evidence strength: the best sentence's score, discounted for question words the index
        has never seen and for a year the question asks about that the evidence does not mention."""
        score = best.score * self.known_share(question, best.chunk) ** 2
        if YEAR.search(question) and not of_the_date(question, best, self.paper_date(best)):
            score *= YEAR_MISMATCH_FACTOR
        return score

    def paper_date(self, cand: Candidate) -> str:
        return self.engine.documents[cand.chunk.document_id].date or ""

    def known_share(self, question: str, evidence: ChunkRecord) -> float:
        """Share of the question's IDF mass the index knows. A word the reports never use still counts
        when the evidence has a word the model finds near-synonymous ('picked' ~ 'selected',
        'overseeing' ~ 'overseen'); a subject the reports never touch ('helicopter', 'drones') does not."""
        words = tokens(question)
        unknown = [w for w in words if not self.engine.terms.df.get(stem(w))]
        expressed: set[str] = set()
        if unknown:
            unknown_stems = {stem(w) for w in unknown}
            text = evidence.text + " " + evidence.heading
            vocabulary = sorted({w for w in tokens(text) if len(w) > 2 and not w.isdigit()})
            embed = self.engine.embedder.encode_words
            similarity = embed(unknown) @ embed(vocabulary).T if vocabulary else np.zeros((len(unknown), 1))
            expressed = {stem(w) for w, row in zip(unknown, similarity) if row.max() >= SYNONYM_SIMILARITY}
            # 'QA' typed, 'quality assurance' written: an acronym the evidence spells out.
            expressed |= {stem(a) for a in _ACRONYM.findall(question) if stem(a) in unknown_stems and spells_out(a, text)}
            # 'payment' ~ 'pay', 'lawyers' ~ 'law': a derived form of a word the reports use.
            expressed |= {stem(w) for w in unknown if self._derived_from_known(w)}
            expressed |= {stem(w) for w in self._incidental(question, unknown)}
        return self.engine.terms.known([stem(w) for w in words], also=frozenset(expressed))

    def _incidental(self, question: str, words: list[str]) -> list[str]:
        """Words the question means nearly the same without ('savings at stake', 'let the contract'):
        their absence from the reports is a matter of wording, not of a subject the reports lack."""
        without = [re.sub(rf"\b{re.escape(w)}\b", "", question, flags=re.I) for w in words]
        vectors = self.engine.embedder.encode([question, *without])
        return [w for w, v in zip(words, vectors[1:]) if float(vectors[0] @ v) >= INCIDENTAL_SIMILARITY]

    def _derived_from_known(self, word: str) -> bool:
        base = derivational_base(word)
        return base is not None and bool(self.engine.terms.df.get(stem(base)))

    def select(self, question: str, ranked: list[Candidate]) -> list[Candidate]:
        """The best sentence, then close runners-up that add something (and each part of a two-part question)."""
        best = ranked[0]
        chosen = [best]
        if _heading_like(best.text) or REPORTED_QUESTION.search(best.text):
            # 'SALUS, £25,000.00 – 10 May 2017:' needs the sentence that explains it; 'The PCC asked
            # how many victims had been re-contacted' (minutes) needs the reply that follows.
            follow = [c for c in ranked[1:] if c.chunk.id == best.chunk.id and c.start > best.start]
            if follow:
                chosen.append(max(follow[:3], key=lambda c: c.score))
        parts = [p for p in re.split(r"\?\s*|;\s*|\band (?=(?:what|how|when|who|why|which|where)\b)", question) if len(tokens(p)) >= 2]
        if len(parts) > 1:
            for part in parts:
                part_terms = concepts(part, self.engine.acronyms)
                # A part asking for a sum or a date ('what savings were at stake') draws on sentences that state one.
                expected = self.asked.expected(part)
                pool = [c for c in ranked[:40] if expected is None or expected.states(c)]
                floor = PART_FLOOR if expected is None else PART_KIND_FLOOR
                top = max(pool, key=lambda c: self.engine.terms.coverage(part_terms, c.text) + 0.5 * c.score, default=None)
                if top is not None and top not in chosen and top.score >= floor * best.score:
                    chosen.append(top)
        for cand in ranked[1:]:
            if len(chosen) >= MAX_SENTENCES:
                break
            if cand.score < best.score - 0.06:
                break
            if cand.score > best.score:  # passed over for a lead that states what was asked
                continue
            if any(_similar(cand.text, c.text) for c in chosen):
                continue
            chosen.append(cand)
        # The answer first, then the rest in document order within a paper, its paper first.
        return sorted(chosen[: MAX_SENTENCES + 1],
                      key=lambda c: (c is not best, c.chunk.document_id != best.chunk.document_id, c.chunk.document_id, c.start))

    def abstain(self, question: str, passages: list[Result], notice: str | None = None) -> Answer:
        text = (
            f"The indexed reports don't say. Nothing in them answers “{question}”; "
            "the closest passages are listed below as related reading."
        )
        return Answer(question=question, answer=text, answerable=False, citations=[], passages=passages,
                      took_ms=0.0, mode="local", notice=notice)


_ACRONYM = re.compile(r"\b[A-Z]{2,6}\b")


def _heading_like(text: str) -> bool:
    return text.rstrip().endswith(":") or not text.rstrip().endswith((".", "!", "?", ")", "'", "”")) or len(text.split()) < 7


def _similar(a: str, b: str) -> bool:
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) > 0.7
