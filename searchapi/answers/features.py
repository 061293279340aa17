"""General evidence features of candidate sentences (model.py weighs them): similarity, rarity-weighted
overlap of the sentence, its neighbours and its passage, support for the subject, the kind of fact, the
year and month, and the numbered words asked about. None knows a particular question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from indexer.store import ChunkRecord

from searchapi.retrieval.lexical import Concept, stem, stem_set, stems
from searchapi.retrieval.query import tokens
from searchapi.answers.extract import matches, name_clash, number_clash
from searchapi.answers.plan import YEAR, QueryPlan

FEATURES = (
    "dense_sentence", "adapted_dense", "passage_score", "coverage_sentence", "coverage_context",
    "heading_match", "type_match", "year_mismatch", "heading_like",
    "named_place", "previous_dense", "dense_rank", "coverage_rank", "subject_min",
)
# What the abstention reads of a question's whole candidate set (question_features).
# Only what carries over to another collection's reports and question writers (`train_evidence.py --cv --across`).
QUESTION_FEATURES = ("year_mismatch", "year_clash", "name_clash", "number_mismatch", "lead_score", "asks_person",
                     "asks_amount", "asks_date", "asks_untyped", "focus_support", "lead_typed")
LACKING = ("year_mismatch", "year_clash", "name_clash", "number_mismatch")  # these speak against an answer, the rest for one
EITHER = ("asks_person", "asks_amount", "asks_date", "asks_untyped")  # the kind asked: a base rate either way


@dataclass(eq=False)  # told apart by identity
class Candidate:
    """One sentence of a retrieved passage (or of a place the question names), scored as evidence."""

    chunk: ChunkRecord
    passage_rank: int
    passage_score: float
    start: int
    end: int
    text: str
    vector: np.ndarray
    window: str = ""  # its section heading, the sentence and its neighbours (set with the features)
    paper_date: str = ""
    in_named_place: bool = False
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0


class Featurizer:
    """Computes FEATURES for the candidates of one question. `terms` is the index's CorpusStats."""

    def __init__(self, terms, acronyms: dict[str, str], encode_words, synonym_similarity: float):
        self.terms = terms
        self.acronyms = {stem(a): frozenset(stems(long)) for a, long in acronyms.items()}
        self.encode_words = encode_words
        self.synonym_similarity = synonym_similarity

    def similarity(self, vocabulary: list[str], words: list[str]) -> np.ndarray:
        """Cosine of each context word (rows) with each question word (columns)."""
        if not vocabulary or not words:
            return np.zeros((len(vocabulary), len(words)))
        return self.encode_words(vocabulary) @ self.encode_words(words).T

    def support(self, words: list[str], context: str) -> np.ndarray:
        """Per word, 1 when the context has it (by stem, or its acronym's long form), else its nearest
        context word's similarity ('picked' ~ 'selected'), which the model calibrates."""
        have = stem_set(context)
        said = [self.concept(w).present(have) for w in words]
        similarity = self.similarity(_vocabulary(context), words)
        return np.where(said, 1.0, np.maximum(0.0, similarity.max(axis=0, initial=0.0)))

    def concept(self, word: str) -> Concept:
        return self.concept_of(stem(word))

    def concept_of(self, word_stem: str) -> Concept:
        return Concept(word_stem, self.acronyms.get(word_stem, frozenset()))

    def unsupported(self, plan: QueryPlan, context: str) -> list[str]:
        """Subject words the context does not say, even in other words; failing those, a year the question
        names that it does not write ('2017/18', as the question writes it), or the question's rarest word
        it lacks ('Brock' beside 'Op Blythe'), if any. A year's parts ('18' of '2017/18') are no words."""
        asked = plan.asked or plan.question
        parts = {t for m in YEAR.finditer(asked) for t in tokens(m.group())}
        words = plan.subject + [w for w in tokens(asked) if w not in parts]
        support = self.support(words, context)
        lacking = [w for w, s in zip(words, support) if s < self.synonym_similarity]
        missing = list(dict.fromkeys(w for w in lacking if w in plan.subject))
        unwritten = [str(y) for y in plan.years if not y.written_in(context)]
        return missing or unwritten[:1] or sorted(lacking, key=lambda w: -self.terms.idf(stem(w)))[:1]

    def compute(self, plan: QueryPlan, qvec: np.ndarray, candidates: list[Candidate], adapted: np.ndarray | None = None) -> np.ndarray:
        """`adapted`: the question's vector as the evidence model's tuned query encoder reads it."""
        if not candidates:
            return np.zeros((0, len(FEATURES)), dtype="float32")
        vectors = np.vstack([c.vector for c in candidates])
        dense, moved = vectors @ qvec, vectors @ (qvec if adapted is None else adapted)
        coverage = self.terms.coverage
        given = plan.given
        subject_min = {}  # chunk id -> how well its passage supports the least supported subject word
        # Subject names the reports never write (nor their long form): a passage must say them otherwise.
        unknown = [w for w in plan.subject if w in plan.proper and not self.terms.knows(w) and not self.concept(w).long_form]
        unsaid = {}  # chunk id -> whether its passage lacks one of them, even in other words
        for c, d, a in zip(candidates, dense, moved):
            context = f"{c.chunk.heading} {c.chunk.text}"
            if c.chunk.id not in subject_min:
                support = self.support(plan.subject, context)
                subject_min[c.chunk.id] = min(support, default=1.0)
                unsaid[c.chunk.id] = any(s < self.synonym_similarity and not (w in plan.initialisms and _spelled_out(w, context))
                                         for w, s in zip(plan.subject, support) if w in unknown)
            type_match = float(matches(plan.answer_type, c.text, given))
            year_match = all(y.written_in(c.text) or y.written_in(context) or y.dated(c.paper_date) for y in plan.years)
            c.features = {
                "dense_sentence": float(d),
                "adapted_dense": float(a),
                "passage_score": c.passage_score,
                "coverage_sentence": coverage(plan.concepts, c.text),
                "coverage_context": coverage(plan.concepts, context),
                "heading_match": coverage(plan.concepts, c.chunk.heading),
                "type_match": type_match,
                "year_mismatch": float(bool(plan.years) and not year_match),
                "year_clash": float(any(y.contradicted_by(c.text) for y in plan.years)),
                "name_clash": float(name_clash(plan.names, c.text,
                                               lambda name: self.concept_of(name).present(stem_set(c.text)))),
                "heading_like": float(_heading_like(c.text)),
                "named_place": float(c.in_named_place),
                "subject_min": subject_min[c.chunk.id],
                "unsaid_name": float(unsaid[c.chunk.id]),  # not weighed: no answer leads with such a sentence
            }
        for name, key in (("dense_rank", "dense_sentence"), ("coverage_rank", "coverage_sentence")):
            for rank, c in enumerate(sorted(candidates, key=lambda c: -c.features[key])):
                c.features[name] = 1.0 / (1 + rank)
        # The sentence before may say what this one is about ('PCSO numbers' ... 'the number stood at 287').
        by_end = {(c.chunk.id, c.end): c for c in candidates}
        before = {c: _preceding(c, by_end) for c in candidates}
        after = {b: c for c, b in before.items() if b is not None}
        for c in candidates:
            f, previous = c.features, before[c]
            window = [n for n in (previous, c, after.get(c)) if n is not None]
            f["previous_dense"] = previous.features["dense_sentence"] if previous else 0.0
            # Its heading, itself and its neighbours: where a numbered word must agree, and what the
            # abstention's reason reads (why_not).
            c.window = " ".join([c.chunk.heading] + [n.text for n in window])
            f["number_mismatch"] = float(number_clash(plan.numbered, c.window))
            # Does it speak of what a 'what is the value of ...' question asks, or state that kind of fact?
            f["focus_support"] = 1.0 if not plan.focus or f["type_match"] else float(self.support([plan.focus], c.window)[0])
        return np.asarray([[c.features[name] for name in FEATURES] for c in candidates], dtype="float32")


def question_features(plan: QueryPlan, ranked: list[Candidate]) -> dict[str, float]:
    """QUESTION_FEATURES of candidates ranked by the evidence model: does the best one's window speak of
    what was asked (its year, month, numbered words and the asked focus), does the best one itself state
    the kind asked, date its fact otherwise or write another name where the question writes one, and how
    high it scores (`probability` holds the model's logit until the calibration)."""
    if not ranked:
        lacking_all = dict.fromkeys(LACKING, 1.0) | {"lead_score": -10.0}
        return dict.fromkeys(QUESTION_FEATURES, 0.0) | lacking_all | asked_kind(plan)
    lead = ranked[0].features
    return {**{name: lead[name] for name in LACKING}, "lead_score": ranked[0].probability,
            "focus_support": lead["focus_support"], "lead_typed": lead["type_match"] if plan.answer_type else 1.0,
            **asked_kind(plan)}


def asked_kind(plan: QueryPlan) -> dict[str, float]:
    """The kind of fact asked, as EITHER features: base rates of the calibration. A reason has no base rate of
    its own, it shares the untyped one: a kind left out of all four is the calibration's reference, and one
    whose labelled questions are nearly all answerable (80 of 88 'why' questions) would be answered whatever
    its evidence ('why' near-misses at 0.99 before)."""
    kind = plan.answer_type
    return {"asks_person": float(kind == "person"), "asks_amount": float(kind in ("money", "count", "amount", "percent")),
            "asks_date": float(kind in ("date", "duration", "time")), "asks_untyped": float(kind in (None, "reason"))}


def _preceding(c: Candidate, by_end: dict[tuple[str, int], Candidate]) -> Candidate | None:
    """The candidate sentence just before this one in its chunk, if any (a few characters of gap)."""
    return next((by_end[(c.chunk.id, end)] for end in range(c.start, max(c.chunk.start, c.start - 8) - 1, -1)
                 if (c.chunk.id, end) in by_end), None)


def _spelled_out(word: str, context: str) -> bool:
    """Whether the context writes out an acronym in full: the initials of running words, with or
    without the short ones ('quality assurance' for QA, 'Office of the Police and Crime Commissioner')."""
    words = re.findall(r"[A-Za-z]+", context)
    return any(word in "".join(w[0] for w in ws).lower() for ws in (words, [w for w in words if len(w) > 3 or w.isupper()]))


@lru_cache(maxsize=20_000)
def _vocabulary(text: str) -> list[str]:
    return sorted({w for w in tokens(text) if len(w) > 2 and not w.isdigit()})


def _heading_like(text: str) -> bool:
    """A heading or list label ('SALUS, £25,000.00 – 10 May 2017:') rather than a statement."""
    stripped = text.rstrip()
    return stripped.endswith(":") or not re.search(r"[.!?)'”]$", stripped) or len(stripped.split()) < 7
