"""Extractive answers: verbatim cited quotes of the sentences the evidence model scores best.

Below the calibrated threshold it abstains and names what the closest evidence lacks. When papers
of different dates state the same fact, the latest leads and the earlier is cited.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from indexer.dates import format_date

from searchapi.answers.features import Candidate, Featurizer, question_features
from searchapi.answers.model import EvidenceModel, load_model
from searchapi.answers.plan import QueryPlan
from searchapi.answers.query_encoder import query_encoder_of
from searchapi.retrieval.engine import SearchEngine
from searchapi.retrieval.lexical import stem_set
from searchapi.retrieval.query import tokens
from searchapi.schemas import Answer, Filters, Result, Turn


@dataclass
class Decision:
    """The candidates best first, the calibrated confidence of the best, and what an answer quotes."""

    ranked: list[Candidate]
    confidence: float
    chosen: list[Candidate]
    earlier: Candidate | None = None  # the same fact stated by an older paper
    answered: bool = False  # the confidence reached the model's threshold


class Answerer:
    def __init__(self, engine: SearchEngine, model: EvidenceModel | None = None):
        self.engine = engine
        self.settings = engine.settings
        self.model = model or load_model()
        # The reports' word vectors are stored with the index: checking a subject never waits for the model.
        self.featurizer = Featurizer(engine.terms, engine.acronyms, engine.encode_words, self.settings.synonym_similarity)
        self.query_encoder = query_encoder_of(engine.embedder, self.model)

    def warm(self) -> "Answerer":
        """Load the tuned query encoder now rather than on the first question."""
        if self.query_encoder:
            self.query_encoder.vector("warm up")
        return self

    def ask(self, question: str, k: int = 8, filters: Filters | None = None, history: list[Turn] | None = None) -> Answer:
        started = time.perf_counter()
        plan = self.engine.plan(question, history)
        answer = self.respond(plan, self.engine.search(plan, k=k, filters=filters).results, filters)[0]
        answer.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return answer

    def sentences(self, passages: list[Result], place: set[int] | None = None) -> list[Candidate]:
        """Sentences of the passages and of the whole place the question names ('decision
        OPCC.D.015.17'): its decision may lie below the passages retrieved."""
        engine, place = self.engine, place or set()
        groups = [(rank, p.score, [c for c in engine.doc_chunks[p.document.id] if c.end > p.span[0] and c.start < p.span[1]])
                  for rank, p in enumerate(passages)]
        groups.append((len(passages), 0.0, [engine.snapshot.chunks[r] for r in sorted(place)[: self.settings.answer_place_chunks]]))
        out = {}  # each sentence once, in the first passage that holds it
        for rank, score, group in groups:
            for chunk, (spans, vectors) in zip(group, engine.sentences.get(group)):
                text, doc = engine.document_text(chunk.document_id), engine.documents[chunk.document_id]
                for (s, e), vector in zip(spans, vectors):
                    key = (chunk.document_id, s, e)
                    if key not in out:
                        out[key] = Candidate(chunk, rank, score, s, e, text[s:e], vector, paper_date=doc.date or "",
                                             in_named_place=chunk.rowid in place)
        return list(out.values())

    def evidence(self, plan: QueryPlan, passages: list[Result], filters: Filters | None = None) -> list[Candidate]:
        """The sentences of the passages read (passages_read) and of the named place, scored, best first."""
        return self.score(plan, self.sentences(passages_read(plan, passages, self.settings), self.named_place(plan, passages, filters)))

    def score(self, plan: QueryPlan, candidates: list[Candidate]) -> list[Candidate]:
        """Candidate sentences with their features and model scores, best first (a sharded router's
        candidates come from several shards). A follow-up's sentences are compared with the conversation
        and with the follow-up itself: read only as '<previous question> And Tranche 3?', the sentence
        that answered the previous question would lead again."""
        texts = [plan.dense_text] + ([plan.asked] if plan.follow_up else [])
        qvec = _direction([self.engine.embedder.encode_query(t)[0] for t in texts])
        tuned = _direction([self.query_encoder.vector(t) for t in texts]) if self.query_encoder else None
        features = self.featurizer.compute(plan, qvec, candidates, tuned)
        for cand, logit in zip(candidates, self.model.logits(features)):
            cand.probability = float(logit)
        return sorted(candidates, key=lambda c: c.probability, reverse=True)

    def named_place(self, plan: QueryPlan, passages: list[Result], filters: Filters | None = None) -> set[int]:
        """Chunks of the place a reference names, when the first passage is one of them."""
        _, named = self.engine.named_place(plan, self.engine.allowed_chunks(filters))
        first = self.engine.snapshot.chunk_by_id.get(passages[0].chunk_id) if passages else None
        return named if first is not None and first.rowid in named else set()

    def decide(self, plan: QueryPlan, ranked: list[Candidate]) -> Decision:
        return decide(plan, ranked, self.model, self.settings)

    def respond(self, plan: QueryPlan, passages: list[Result], filters: Filters | None = None) -> tuple[Answer, Decision]:
        """The answer and the decision behind it (for evaluation)."""
        decision = self.decide(plan, self.evidence(plan, passages, filters))
        return self.compose(plan, passages, filters, decision), decision

    def compose(self, plan: QueryPlan, passages: list[Result], filters: Filters | None, decision: Decision) -> Answer:
        if not passages:
            empty = self.engine.allowed_chunks(filters) == set()
            answer = self.abstain(plan.question, passages, "No paper matches the filters, so nothing was searched." if empty else None)
        elif not decision.answered:
            answer = self.abstain(plan.question, passages, self.why_not(plan, decision))
        else:
            quoted = decision.chosen + ([decision.earlier] if decision.earlier else [])
            citations = [self.engine.citation(n, c.chunk, c.start, c.end) for n, c in enumerate(quoted, 1)]
            parts = [f"{' '.join(c.text.split())} [{n}]" for n, c in enumerate(quoted, 1)]  # a wrapped line read as one
            if decision.earlier:
                parts[-1] = f"Earlier ({format_date(decision.earlier.paper_date or None)}): {parts[-1]}"
            answer = Answer(question=plan.question, answer=" ".join(parts), answerable=True, citations=citations,
                            passages=passages, took_ms=0.0)
        answer.confidence = round(decision.confidence, 3) if decision.ranked else None
        return answer

    def why_not(self, plan: QueryPlan, decision: Decision) -> str | None:
        """What the best sentence and its neighbours lack: a subject the reports never mention at all,
        or one the closest evidence does not speak of ('Op Brock' where it says 'Op Blythe')."""
        missing = self.featurizer.unsupported(plan, decision.ranked[0].window) if decision.ranked else []
        if not missing:
            return None
        # As the question wrote them ('the Violence Reduction Unit', not 'violence reduction unit').
        named = " ".join(m.group() if (m := re.search(rf"\b{re.escape(w)}\b", plan.question, re.I)) else w for w in missing)
        if any(self.engine.terms.knows(t) for w in missing for t in tokens(w)):  # a year's '2017' of '2017/18'
            return f"The closest passages do not speak of {named}; they are listed below."
        return f"The reports never mention {named}; the closest passages are below."

    def abstain(self, question: str, passages: list[Result], notice: str | None = None) -> Answer:
        reason = notice or f"Nothing in them answers “{question}”; the closest passages are listed below as related reading."
        return Answer(question=question, answer=f"The indexed reports don't say. {reason}", answerable=False,
                      citations=[], passages=passages, took_ms=0.0, notice=notice)


def passages_read(plan: QueryPlan, passages: list[Result], settings) -> list[Result]:
    """The passages whose sentences are candidate evidence: the first `answer_passages`; for a question asking
    for the latest, the best passage of the newest paper retrieved too."""
    read = passages[: settings.answer_passages]
    dated = [p for p in passages if p.document.date]
    if plan.latest and dated:
        newest = max(dated, key=lambda p: p.document.date)  # the best of that date: max keeps the first
        read += [newest] if newest not in read else []
    return read


def decide(plan: QueryPlan, ranked: list[Candidate], model: EvidenceModel, settings) -> Decision:
    """Answer from the best sentence when its calibrated probability reaches the threshold; quote close
    runners-up of its paper and the best sentence for each part of a two-part question."""
    if not ranked:
        return Decision(ranked, 0.0, [])
    confidence = model.confidence(question_features(plan, ranked))
    lead, earlier = current_fact(plan, ranked, settings)
    chosen = [lead]
    for part in plan.parts:
        best = max(ranked, key=lambda c: (_share(part, c.text), c.probability))
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
    # The subject must be said: a name the reports never write, which the lead's passage does not say in
    # other words either ('the capital of France'), is never answered at any threshold, however well the
    # rest matches.
    said = not lead.features.get("unsaid_name")
    return Decision(ranked, confidence if said else 0.0, chosen, earlier, answered=said and confidence >= model.threshold)


def current_fact(plan: QueryPlan, ranked: list[Candidate], settings) -> tuple[Candidate, Candidate | None]:
    """(lead, earlier): when a paper of another date states nearly the best sentence, the later leads. A
    question asking for the latest (`plan.latest`) is answered from the newest paper whose sentence scores
    within `answer_latest_margin` and states the asked kind of fact, whatever its wording."""
    best = ranked[0]
    close = [c for c in ranked[1:10] if c.probability >= best.probability - settings.answer_extra_margin
             and c.paper_date and best.paper_date and c.paper_date != best.paper_date and not _similar(c.text, best.text, 0.95)]
    if plan.latest:
        newer = [c for c in close if c.paper_date > best.paper_date and c.probability >= best.probability - settings.answer_latest_margin
                 and (not plan.answer_type or c.features.get("type_match"))]
        if newer:
            return max(newer, key=lambda c: (c.paper_date, c.probability)), best
    for other in close:
        if float(other.vector @ best.vector) >= settings.same_fact_similarity:
            return (other, best) if other.paper_date > best.paper_date else (best, other)
    return best, None


def _direction(vectors: list[np.ndarray]) -> np.ndarray:
    """The unit vector midway between unit vectors (one alone is itself)."""
    total = np.sum(vectors, axis=0)
    return vectors[0] if len(vectors) == 1 else total / np.linalg.norm(total)


def _share(concepts, text: str) -> float:
    """Share of the concepts the text has, each counted once however rare."""
    have = stem_set(text)
    return sum(c.present(have) for c in concepts) / max(1, len(concepts))


def _similar(a: str, b: str, threshold: float = 0.7) -> bool:
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) > threshold
