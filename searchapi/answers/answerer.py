"""Extractive answers: the sentences that answer the question, each a verbatim cited quote.

Candidate sentences of the top passages (and of a place the question names) are scored by the
fitted evidence model (model.py) over general features (features.py). The answer abstains below
the model's calibrated threshold and names what the closest evidence lacks. When papers of
different dates state the same fact, the latest leads and the earlier is cited.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from indexer.dates import format_date

from searchapi.answers.features import Candidate, Featurizer, question_features
from searchapi.answers.model import EvidenceModel, load_model
from searchapi.answers.plan import QueryPlan
from searchapi.retrieval.engine import SearchEngine
from searchapi.retrieval.lexical import stem_set
from searchapi.retrieval.rerank import is_boilerplate
from searchapi.schemas import Answer, Filters, Result, Turn


@dataclass
class Decision:
    """The scored evidence for one question: candidates best first, the calibrated confidence of
    the best, and the sentences an answer quotes (empty when it abstains)."""

    ranked: list[Candidate]
    confidence: float
    chosen: list[Candidate]  # what the answer quotes, were it to answer
    earlier: Candidate | None = None  # the same fact stated by an older paper
    answered: bool = False  # the confidence reached the model's threshold


class Answerer:
    def __init__(self, engine: SearchEngine, model: EvidenceModel | None = None):
        self.engine = engine
        self.settings = engine.settings
        self.model = model or load_model()
        # Word vectors of the reports' vocabulary are stored with the index: checking a question's
        # subject against the words of its evidence never waits for the model.
        self.featurizer = Featurizer(engine.terms, engine.acronyms, engine.encode_words,
                                     self.settings.synonym_similarity)

    def ask(self, question: str, k: int = 8, filters: Filters | None = None, history: list[Turn] | None = None) -> Answer:
        started = time.perf_counter()
        plan = self.engine.plan(question, history)
        passages = self.engine.search(plan, k=k, filters=filters).results
        answer = self.answer(plan, passages, filters)
        answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    # ---- evidence ----------------------------------------------------------------------------
    def sentences(self, passages: list[Result], place: set[int] | None = None) -> list[Candidate]:
        """Sentences of the given passages and, when the question names a place ('decision
        OPCC.D.015.17'), of the whole place: its decision may lie below the passages retrieved."""
        chunks = self.engine.snapshot.chunks
        groups = []
        for rank, passage in enumerate(passages):
            doc_chunks = self.engine.doc_chunks[passage.document.id]
            groups.append((rank, passage.score, [c for c in doc_chunks if c.end > passage.span[0] and c.start < passage.span[1]]))
        groups.append((len(passages), 0.0, [chunks[r] for r in sorted(place or ())[: self.settings.answer_place_chunks]]))
        out: list[Candidate] = []
        seen: set[tuple[str, int, int]] = set()
        for rank, score, group in groups:
            for chunk, (spans, vectors) in zip(group, self.engine.sentences.get(group)):
                text = self.engine.document_text(chunk.document_id)
                doc = self.engine.documents[chunk.document_id]
                for (s, e), vector in zip(spans, vectors):
                    if (chunk.document_id, s, e) not in seen:
                        seen.add((chunk.document_id, s, e))
                        out.append(Candidate(chunk, rank, score, s, e, text[s:e], vector, paper_date=doc.date or "",
                                             in_named_place=chunk.rowid in (place or ()), boilerplate=is_boilerplate(chunk, doc)))
        return out

    def evidence(self, plan: QueryPlan, passages: list[Result], filters: Filters | None = None) -> list[Candidate]:
        """Candidate sentences with their features and model scores, best first."""
        place = self.named_place(plan, passages, filters)
        candidates = self.sentences(passages[: self.settings.answer_passages], place)
        features = self.featurizer.compute(plan, self.engine.embedder.encode_query(plan.dense_text)[0], candidates)
        for cand, logit in zip(candidates, self.model.logits(features)):
            cand.probability = float(logit)
        return sorted(candidates, key=lambda c: c.probability, reverse=True)

    def named_place(self, plan: QueryPlan, passages: list[Result], filters: Filters | None = None) -> set[int]:
        """Chunks of the place a reference names (among the papers searched), when the first passage is one of them."""
        _, named = self.engine.named_place(plan, self.engine.allowed_chunks(filters))
        first = self.engine.snapshot.chunk_by_id.get(passages[0].chunk_id) if passages else None
        return named if first is not None and first.rowid in named else set()

    def decide(self, plan: QueryPlan, ranked: list[Candidate]) -> Decision:
        return decide(plan, ranked, self.model, self.settings)

    # ---- the answer --------------------------------------------------------------------------
    def answer(self, plan: QueryPlan, passages: list[Result], filters: Filters | None = None) -> Answer:
        return self.respond(plan, passages, filters)[0]

    def respond(self, plan: QueryPlan, passages: list[Result], filters: Filters | None = None) -> tuple[Answer, Decision]:
        """The answer, with the calibrated confidence of its evidence, and the decision behind it (for evaluation)."""
        decision = self.decide(plan, self.evidence(plan, passages, filters))
        answer = self.compose(plan, passages, filters, decision)
        answer.confidence = round(decision.confidence, 3) if decision.ranked else None
        return answer, decision

    def compose(self, plan: QueryPlan, passages: list[Result], filters: Filters | None, decision: Decision) -> Answer:
        if not passages:
            empty = self.engine.allowed_chunks(filters) == set()
            return self.abstain(plan.question, passages, "No paper matches the filters, so nothing was searched." if empty else None)
        if not decision.answered:
            return self.abstain(plan.question, passages, notice=self.why_not(plan, decision))
        citations = [self.engine.citation(n, c.chunk, c.start, c.end) for n, c in enumerate(decision.chosen, 1)]
        text = " ".join(f"{c.text} [{n}]" for n, c in enumerate(decision.chosen, 1))
        if decision.earlier is not None:
            n = len(citations) + 1
            citations.append(self.engine.citation(n, decision.earlier.chunk, decision.earlier.start, decision.earlier.end))
            text += f" Earlier ({format_date(decision.earlier.paper_date or None)}): {decision.earlier.text} [{n}]"
        return Answer(question=plan.question, answer=text, answerable=True, citations=citations,
                      passages=passages, took_ms=0.0, mode="local")

    def why_not(self, plan: QueryPlan, decision: Decision) -> str | None:
        """Name what the best sentence and its neighbours lack: a subject the reports never mention at all,
        or one the closest evidence does not speak of ('Op Brock' where it says 'Op Blythe')."""
        if not decision.ranked:
            return None
        best = decision.ranked[0]
        missing = self.featurizer.unsupported(plan, best.window or f"{best.chunk.heading} {best.chunk.text}")
        # As the question wrote them ('the Violence Reduction Unit', not 'violence reduction unit').
        named = " ".join(m.group() if (m := re.search(rf"\b{re.escape(w)}\b", plan.question, re.I)) else w for w in missing)
        if missing and not any(self.engine.terms.knows(w) for w in missing):
            return f"The reports never mention {named}; the closest passages are below."
        if missing:
            return f"The closest passages do not speak of {named}; they are listed below."
        return None

    def abstain(self, question: str, passages: list[Result], notice: str | None = None) -> Answer:
        reason = notice or f"Nothing in them answers “{question}”; the closest passages are listed below as related reading."
        text = f"The indexed reports don't say. {reason}"
        return Answer(question=question, answer=text, answerable=False, citations=[], passages=passages,
                      took_ms=0.0, mode="local", notice=notice)


def decide(plan: QueryPlan, ranked: list[Candidate], model: EvidenceModel, settings) -> Decision:
    """Answer from the best sentence when its calibrated probability reaches the model's threshold;
    quote close runners-up of its paper, the best sentence for each part of a two-part question,
    and, when an older paper states the same fact, lead with the latest and cite the earlier."""
    if not ranked:
        return Decision(ranked, 0.0, [])
    confidence = model.confidence(question_features(plan, ranked))
    lead, earlier = current_fact(ranked, settings)
    chosen = [lead]
    for part in plan.parts:
        best = max(ranked, key=lambda c: (coverage(part, c.text), c.probability))
        if best not in chosen and best.probability >= lead.probability - settings.answer_part_margin:
            chosen.append(best)
    for cand in ranked[1:]:
        if len(chosen) >= settings.answer_max_sentences or cand.probability < lead.probability - settings.answer_extra_margin:
            break
        if (cand.chunk.document_id == lead.chunk.document_id and cand is not earlier and not cand.features.get("heading_like")
                and not any(_similar(cand.text, c.text) for c in chosen)):
            chosen.append(cand)
    # The answer first, then the rest in reading order.
    chosen = [lead] + sorted(chosen[1:], key=lambda c: (c.chunk.document_id, c.start))
    return Decision(ranked, confidence, chosen, earlier, answered=confidence >= model.threshold)


def current_fact(ranked: list[Candidate], settings) -> tuple[Candidate, Candidate | None]:
    """(lead, earlier): when a paper of another date states nearly the same sentence as the best one,
    the later paper's sentence leads and the earlier one is cited beside it."""
    best = ranked[0]
    for other in ranked[1:10]:
        if other.probability < best.probability - settings.answer_extra_margin:
            break
        if (other.paper_date and best.paper_date and other.paper_date != best.paper_date
                and float(other.vector @ best.vector) >= settings.same_fact_similarity and not _similar(other.text, best.text, 0.95)):
            return (other, best) if other.paper_date > best.paper_date else (best, other)
    return best, None


def coverage(concepts, text: str) -> float:
    """Share of the concepts the text has (each counted once, however rare)."""
    have = stem_set(text)
    return sum(c.present(have) for c in concepts) / max(1, len(concepts))


def _similar(a: str, b: str, threshold: float = 0.7) -> bool:
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) > threshold

