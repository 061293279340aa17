"""IDF-weighted word overlap: how much of a question's rarer vocabulary a text contains."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import snowballstemmer
from spellchecker import SpellChecker

from searchapi.retrieval.query import tokens


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """English Snowball stem: 'OCGs'/'OCG', 'funding'/'funded', but 'electric' apart from 'election'."""
    return _STEMMER.stemWord(word.lower())


def stems(text: str) -> list[str]:
    return [stem(t) for t in tokens(text)]


@lru_cache(maxsize=50_000)
def stem_set(text: str) -> frozenset[str]:
    """The stems of a text, cached: the same passages are read by many questions."""
    return frozenset(stems(text))


@dataclass(frozen=True)
class Concept:
    """One word of a query; an acronym also counts as present when its whole long form is."""

    stem: str
    long_form: frozenset[str] = frozenset()

    def present(self, have: set[str] | frozenset[str]) -> bool:
        return self.stem in have or bool(self.long_form) and self.long_form <= have


def concepts(text: str, acronyms: dict[str, str] | None = None) -> list[Concept]:
    """'VAWG exemplar' -> [VAWG or 'violence against women and girls', exemplar]: an expansion is
    an alternative spelling of one concept, so it must not outweigh the question's other words."""
    long_forms = {stem(a): frozenset(stems(long)) for a, long in (acronyms or {}).items()}
    return [Concept(s, long_forms.get(s, frozenset())) for s in stems(text)]


MIN_CORRECTED_LENGTH = 6  # shorter words are one slip away from too many others
_LOWER_WORD = re.compile(r"\b[a-z]+\b")
_HYPHENATED = re.compile(r"\b[A-Za-z]+-[A-Za-z]+\b")


def _stem_hyphenated(word: str) -> str:
    """'de-prioritising' and 'de-prioritise' alike: 'de-prioritis'."""
    head, _, tail = word.lower().partition("-")
    return f"{head}-{stem(tail)}"


class TermStats:
    def __init__(self, texts: Iterable[str]):
        self.df: Counter = Counter()
        self.hyphenated: set[str] = set()  # 're-launching', as the reports write it (stemmed: 're-launch')
        self.n = 0
        self._spelling = SpellChecker(language=None, distance=1)
        for text in texts:
            lower = _LOWER_WORD.findall(text)
            self._spelling.word_frequency.load_words(lower)
            self.df.update(set(stems(text)))
            self.hyphenated.update(_stem_hyphenated(w) for w in _HYPHENATED.findall(text))
            self.n += 1

    def idf(self, term: str) -> float:
        return math.log(1 + (self.n + 1) / (self.df.get(term, 0) + 0.5))

    def coverage(self, terms: list[Concept], text: str) -> float:
        """Share of the query concepts' IDF mass present in the text."""
        if not terms:
            return 0.0
        have = stem_set(text)
        total = sum(self.idf(t.stem) for t in terms)
        return sum(self.idf(t.stem) for t in terms if t.present(have)) / total

    def knows(self, word: str) -> bool:
        """Whether the reports use this word (a hyphenated one as written, hyphen and all)."""
        return _stem_hyphenated(word) in self.hyphenated if "-" in word else stem(word) in self.df

    def correct(self, word: str) -> str | None:
        """The reports' spelling of a longer word typed one slip away ('summonsed' -> 'summoned'):
        the commonest such word with the same first letter, or None."""
        if len(word) < MIN_CORRECTED_LENGTH or not word.isalpha():
            return None
        lowered = word.lower()
        options = [w for w in self._spelling.candidates(lowered) or () if w != lowered and w[0] == lowered[0]]
        return max(options, key=self._spelling.word_frequency.__getitem__, default=None)

    def known(self, terms: list[str], also: frozenset[str] = frozenset()) -> float:
        """Share of the terms' IDF mass that occurs anywhere in the index (or is vouched for in `also`)."""
        if not terms:
            return 1.0
        total = sum(self.idf(t) for t in terms)
        return sum(self.idf(t) for t in terms if self.df.get(t) or t in also) / total
