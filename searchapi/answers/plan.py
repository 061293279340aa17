"""The query plan: a question parsed once into everything retrieval, ranking and answering read."""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, field

from indexer.dates import MONTH_NAMES, MONTHS
from indexer.settings import Settings

from searchapi.answers.followup import previous_question, rewrite_followup
from searchapi.retrieval.lexical import Concept, concepts, stem
from searchapi.retrieval.query import ParsedQuery, parse_query, tokens
from searchapi.retrieval.rerank import BOILERPLATE
from searchapi.answers.extract import asked_focus, asked_type, name_slots, numbered_as_read

# A year, a financial year ('2016/17', '2016-2017') or a span ('2013-15'): the year, the separator, the second.
YEAR = re.compile(r"\b((?:19|20)\d\d)(?:(\s*[/-]\s*)(\d\d(?:\d\d)?))?\b")
# A month written before the year it belongs to ('December 2022', 'Aug. 27, 2018'), a whole word.
_MONTH_BEFORE = re.compile(rf"\b({MONTH_NAMES})\.?\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?$", re.I)
# Each month's names as whole words ('Dec', 'December'), compiled once: read for every candidate sentence.
_MONTH_WORD = {i: re.compile(rf"\b(?:{'|'.join(n for n, j in MONTHS.items() if j == i)})\b", re.I) for i in set(MONTHS.values())}
_REFERENCE_GOES_ON = re.compile(r"[/-]\d")  # '2018-23' of 'AD 2018-23-51'
_SPAN_MAX = 50  # years a span may cover ('2024-39'); a larger 'second year' is a reference number
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
_INITIALISM = re.compile(r"\b[A-Z]{2,6}\b")
_PART_SPLIT = re.compile(r"\?\s*|;\s*|\band (?=(?:what|how|when|who|why|which|where)\b)", re.I)
# Words asking for the newest statement of a fact ('the latest figure', 'most recent inspection', 'currently'):
# an intent the answer acts on (answerer.current_fact), not a word the evidence must say.
# 'last' before a participle asks it too ('when was the code last amended').
RECENCY = re.compile(r"\b(?:latest|newest|most\s+recent(?:ly)?|last\s+time|last(?=\s+[a-z]+ed\b)|currently|at\s+present|"
                     r"presently|(?:as\s+)?of\s+now|to\s+date|up[\s-]to[\s-]date)\b", re.I)
# A name the question gives the subject: capitalised words after the question's first word, or an acronym.
_PROPER = re.compile(r"(?<!^)(?<![.?!] )\b(?:[A-Z][\w'’-]*|[A-Z]{2,})(?:\s+(?:of|for|and|the|&)?\s*(?:[A-Z][\w'’-]*|[A-Z]{2,}))*")


@dataclass
class Year:
    """A year the question names; `end` the second year it writes, if any: the next one for a financial
    year ('2016/17', any spelling), a later one for a span ('2013-15', '2024-39'); `month` (1-12) when the
    question says one ('December 2022'), which the evidence must then say too."""

    start: int
    end: int = 0
    month: int = 0

    @property
    def financial(self) -> bool:
        return self.end == self.start + 1

    def __str__(self) -> str:
        """As a question would write it: '2016/17', '2013-15', 'December 2022', '2018'."""
        if self.month:
            return f"{calendar.month_name[self.month]} {self.start}"
        return f"{self.start}{'/' if self.financial else '-'}{self.end % 100:02d}" if self.end else str(self.start)

    def written_in(self, text: str) -> bool:
        if self.month:
            return str(self.start) in text and _MONTH_WORD[self.month].search(text) is not None
        if not self.end:
            return str(self.start) in text
        return re.search(rf"\b{self.start}\s*(?:[/–-]|to)\s*(?:{str(self.end)[:2]})?{self.end % 100:02d}\b", text) is not None

    def contradicted_by(self, text: str) -> bool:
        """Whether the text dates what it says otherwise: it writes a year, but not this one (in its
        month, when the question names one). Stricter than its window or paper lacking the year, which
        a neighbour sentence or the paper's date can make up for."""
        return YEAR.search(text) is not None and not self.written_in(text)

    def dated(self, paper_date: str) -> bool:
        """Whether a paper dated so (ISO) is of this year (or within this span), and month if one is
        named; never for a financial year, which a date alone cannot place."""
        if self.financial:
            return False
        if self.end:
            return paper_date[:4].isdigit() and self.start <= int(paper_date[:4]) <= self.end
        return paper_date.startswith(f"{self.start}-{self.month:02d}" if self.month else str(self.start))


@dataclass
class QueryPlan(ParsedQuery):
    """A ParsedQuery (what retrieval reads) plus what ranking and answering read."""

    question: str = ""  # as typed
    asked: str = ""  # as the reports would word it: respelled, without the words asking for the latest
    latest: bool = False  # it asks for the newest statement of the fact: RECENCY
    follow_up: bool = False  # read after the previous question (followup.previous_question): `text` holds both
    concepts: list[Concept] = field(default_factory=list)
    years: list[Year] = field(default_factory=list)
    answer_type: str | None = None
    focus: str | None = None  # the noun a 'what is the ...' question asks the value of: extract.asked_focus
    parts: list[list[Concept]] = field(default_factory=list)  # of a two-part question, each part's concepts
    subject: list[str] = field(default_factory=list)  # the words naming what the question is about
    proper: frozenset = frozenset()  # words it writes with a capital, after its first ('France'): the names it gives
    initialisms: frozenset = frozenset()  # words in capitals, 2-6 letters ('QA'): a passage may write them out in full
    numbered: frozenset = frozenset()  # words it labels with a number ('Tranche 3'): extract.numbered_as_read
    names: frozenset = frozenset()  # its names beside their neighbours ('Essex Police'): extract.name_slots

    @property
    def given(self) -> frozenset[str]:
        """The stems the question itself says (acronyms' long forms too): no part of an answer."""
        return frozenset(c.stem for c in self.concepts).union(*(c.long_form for c in self.concepts))


def salient_subject(question: str, idf, max_share: float) -> list[str]:
    """What the question is about: the names it gives (capitalised phrases, acronyms), else its rarest word.
    A name word as common as the reports themselves (the body's own name, in most passages) singles nothing out."""
    floor = math.log(1 + 1 / max_share)  # the IDF of a word in `max_share` of the passages
    names = [m.group() for m in _PROPER.finditer(question)]
    words = list(dict.fromkeys(w for name in names for w in tokens(name) if idf(stem(w)) > floor))
    return words or sorted(tokens(question), key=lambda t: -idf(stem(t)))[:1]


def years_named(text: str) -> list[Year]:
    """The years a question names, each with the month written before it, if any. A second year makes
    a financial year when it follows the first ('2016/17'), a span when later ('2013-15'); otherwise, or
    when more numbers follow ('AD 2018-23-51', 'item 2017-0425'), it is a reference, not a year."""
    out = []
    for m in YEAR.finditer(text):
        start, second = int(m.group(1)), m.group(3)
        end = (int(second) if len(second) == 4 else start // 100 * 100 + int(second)) if second else 0
        if _REFERENCE_GOES_ON.match(text, m.end()) or (second and not start < end <= start + _SPAN_MAX):
            continue
        month = _MONTH_BEFORE.search(text[max(0, m.start() - 16): m.start()])
        out.append(Year(start, end, MONTHS[month.group(1).lower()] if month else 0))
    return out


def plan_query(question: str, acronyms: dict[str, str], respell, idf, settings: Settings, history=None) -> QueryPlan:
    """Parse once: follow-up context folded in, respelled as the reports spell, typed."""
    asked = respell(question)
    latest = RECENCY.search(asked) is not None
    text, asked = _without_recency(respell(rewrite_followup(question, history or []))), _without_recency(asked)
    parts = [p for p in _PART_SPLIT.split(asked) if len(tokens(p)) >= 2]
    subject = salient_subject(asked, idf, settings.answer_subject_max_share)
    plan = QueryPlan(**vars(parse_query(text, acronyms)), question=question, asked=asked, latest=latest,
                     follow_up=previous_question(question, history or []) is not None, concepts=concepts(text, acronyms),
                     years=years_named(text), answer_type=asked_type(asked), focus=asked_focus(asked),
                     parts=[concepts(p, acronyms) for p in parts] if len(parts) > 1 else [], subject=subject,
                     numbered=numbered_as_read(asked), names=name_slots(asked, subject),
                     proper=frozenset(w.lower() for w in _CAPITALISED.findall(question[1:])),
                     initialisms=frozenset(w.lower() for w in _INITIALISM.findall(question)))
    # Apologies, declarations, agenda furniture are demoted unless that is what is asked about.
    plan.boilerplate_wanted = bool(BOILERPLATE.search(text)) or "agenda" in plan.terms
    return plan


def _without_recency(text: str) -> str:
    """The text without RECENCY's words, unless nothing else would be left."""
    rest = " ".join(RECENCY.sub(" ", text).split())
    return rest if tokens(rest) else text
