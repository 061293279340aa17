"""What a question asks for, and whether a sentence states it.

The question's form says what an answer must contain: a sum, a count or a date ('how much did it
cost', 'when'), a person ('who is the …'), the act it asks about ('who was summoned', 'was anyone
convicted'), the year or month it names. A sentence that lacks it does not answer the question,
however close it is to the subject: a close runner-up that has it leads instead, and failing one the
answer abstains and says what is missing.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from typing import Callable

from lemminflect import getLemma

from .engine import SearchEngine
from .lexical import derivational_base, stem
from .query import STOPWORDS, expected_answer, missing_answer_kind, tokens
from .sentences import Candidate

# How far below the best sentence one that states what was asked may score and still lead (dev half).
KIND_MARGIN = 0.2  # a number, sum, date, length of time; or the year asked about
EVENT_MARGIN = 0.4  # a sentence that speaks of the act a 'who was summoned' question asks about
IDENTITY_MARGIN = 0.3  # a name asked 'who is the …': without one that question is not answered at all
EVENT_SIMILARITY = 0.6  # a word of the evidence this close to the act asked about speaks of it ('chose' ~ 'selected')

YEAR = re.compile(r"\b(?:19|20)\d\d(?:/\d\d)?\b")
MONTH = re.compile(r"(?i:\b(?:january|february|march|april|june|july|august|september|october|november|december)\b)"
                   r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b(?=\s+\d{4})")
_IDENTITY = re.compile(r"^\W*who (?:is|was|are|were) (?:the|our|its|their|\w+'s)\b", re.I)
_HOLDER = re.compile(r"\bwho (?:is|was) (?:the|our) (?:[A-Z]\w+ )*[A-Z]\w+")
_WHO_ACTED = re.compile(r"^\W*who\s+(?:(?:was|were|is|are|has|have|had)\s+(?:been\s+)?)?(?P<event>[a-z]{3,})\b", re.I)
# 'was anyone convicted', 'has the complaint been upheld': a yes/no question about an event.
_YES_NO_EVENT = re.compile(r"^\W*(?:was|were|has|have|had)\s+(?:\S+\s+){1,5}?(?:been\s+)?"
                           r"(?P<event>[a-z]{3,}ed|upheld|held|won|lost|paid|made|given|taken|caught|found|sold|brought)\b", re.I)
REPORTED_QUESTION = re.compile(r"\b(?:asked|queried|enquired|questioned)\b(?: \w+){0,4}? (?:whether|if|how|what|why|when|who|which|about)\b"
                               r"|\bsought (?:clarification|assurance)", re.I)


@dataclass
class Expected:
    """What an answering sentence must state, how far below the best sentence one that states it may
    score and still lead, and whether it must come from the best sentence's paper."""

    states: Callable[[Candidate], bool]
    margin: float = KIND_MARGIN
    same_paper: bool = True


class WhatWasAsked:
    def __init__(self, engine: SearchEngine):
        self.engine = engine

    def expected(self, question: str) -> Expected | None:
        """What a sentence must state to answer the question, if its form says."""
        if _IDENTITY.search(question):
            # A name answers 'who is the deputy PCC' only in a sentence about the whole role, not
            # 'Deputy Chief Constable Paul Brandon'.
            return Expected(lambda c: c.lexical >= 1.0 and self.identifies(c.text), IDENTITY_MARGIN)
        acted = _WHO_ACTED.match(question)
        if acted and acted.group("event").lower() not in STOPWORDS:
            # 'who was summoned over …' is answered by a sentence that speaks of summoning, in whichever paper.
            return Expected(lambda c: self.speaks_of(acted.group("event"), c.text), EVENT_MARGIN, same_paper=False)
        kind = expected_answer(question)
        return None if kind is None else Expected(lambda c: kind[1].search(c.text) is not None)

    def unanswered(self, question: str, answer: str) -> str | None:
        """Why the answer's sentences do not answer the question, if they don't: they state no sum, count,
        proportion, date or length of time the question's form asks for; asked 'who is the …', they name
        nobody ('The Chief Constable stated …'); asked 'was anyone convicted', they never speak of it."""
        if _IDENTITY.search(question) and not self.identifies(answer):
            return "The closest passages mention the subject but state no name."
        missing = missing_answer_kind(question, answer)
        if missing:
            return f"The closest passages mention the subject but state no {missing}."
        event = _YES_NO_EVENT.match(question)
        if event and not self.speaks_of(event.group("event"), answer):
            return f"The closest passages mention the subject but never say ‘{event.group('event')}’ or the like."
        return None

    def identifies(self, text: str) -> bool:
        """A person's name, or a role named as its holder ('the Monitoring Officer, who is the Chief of Staff')."""
        return self.engine.terms.names_person(text) or _HOLDER.search(text) is not None

    def speaks_of(self, word: str, text: str) -> bool:
        """Whether the text has the word, another form of it ('spoke': 'speaker') or a near-synonym ('chose': 'selected')."""
        words = sorted({w for w in tokens(text) if len(w) > 2})
        forms = {stem(w) for w in words} | {stem(base) for w in words if (base := derivational_base(w))}
        if {stem(word), *map(stem, getLemma(word, upos="VERB"))} & forms:
            return True
        vectors = self.engine.embedder.encode_words([word, *words])
        return bool(words) and float((vectors[1:] @ vectors[0]).max()) >= EVENT_SIMILARITY


def lead_with_what_was_asked(question: str, ranked: list[Candidate], expected: Expected | None,
                             paper_date: Callable[[Candidate], str]) -> list[Candidate]:
    """When the best sentence lacks what the question asks for (`expected`, or the year it names), lead
    with a close runner-up that has it: '3.1 Since May 2016 there have been 5 recorded complaints'
    over 'This report covers the period since Mr Scott was elected'. Failing that, one of the date asked
    about leads. Then sentences about other years (or naming other months) are no longer evidence."""
    if not ranked or not (expected or YEAR.search(question) or MONTH.search(question)):
        return ranked
    expected = expected or Expected(lambda c: True)

    def dated(c: Candidate) -> bool:
        return of_the_date(question, c, paper_date(c))

    def has_it(c: Candidate) -> bool:
        return dated(c) and expected.states(c)

    def answers_it(c: Candidate) -> bool:  # 'The CoS asked what happens when the £39k runs out' states no answer
        return has_it(c) and not REPORTED_QUESTION.search(c.text)

    best = ranked[0]
    if has_it(best):
        return ranked
    close = [c for c in ranked[1:10] if c.score >= best.score - expected.margin]
    alt = next((c for c in close if answers_it(c) and (c.chunk.document_id == best.chunk.document_id or not expected.same_paper)), None)
    if alt is None and not dated(best):
        alt = next(filter(dated, close), None)  # one of the right date is better evidence than one of another
    return ranked if alt is None else [alt] + [c for c in ranked if c is not alt and dated(c)]


def of_the_date(question: str, cand: Candidate, paper_date: str) -> bool:
    """Whether a sentence can speak for the year (and month) the question names: its passage mentions
    the year, or its paper is of that calendar year and month (minutes of June 2017 never say '2017';
    a paper's date does not say which financial year its figures are for), and it names no other
    month ('Jan 2017: …' does not answer for June)."""
    years, months = YEAR.findall(question), {m.lower()[:3] for m in MONTH.findall(question)}
    named = {m.lower()[:3] for m in MONTH.findall(cand.text)}
    if months and named and not months & named:
        return False
    if all(_mentions_year(y, cand.chunk.text + " " + cand.chunk.heading) for y in years):
        return True
    year, _, month = paper_date.partition("-")
    return bool(years) and all(y == year for y in years) and (
        not months or month[:2].isdigit() and calendar.month_abbr[int(month[:2])].lower() in months)


def _mentions_year(year: str, text: str) -> bool:
    """A year, or a financial year in any of its spellings: '2025/26', '2025/2026', '2025-26'."""
    start, _, end = year.partition("/")
    if not end:
        return year in text
    return re.search(rf"\b{start}\s*[/-]\s*(?:{start[:2]})?{end}\b", text) is not None
