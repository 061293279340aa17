"""IDF-weighted word overlap: how much of a question's rarer vocabulary a text contains."""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from typing import Iterable

import snowballstemmer

from .query import tokens


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """English Snowball stem: 'OCGs'/'OCG', 'funding'/'funded', but 'electric' apart from 'election'."""
    return _STEMMER.stemWord(word.lower())


def stems(text: str) -> list[str]:
    return [stem(t) for t in tokens(text)]


class TermStats:
    def __init__(self, texts: Iterable[str]):
        self.df: Counter = Counter()
        self.n = 0
        for text in texts:
            self.df.update(set(stems(text)))
            self.n += 1

    def idf(self, term: str) -> float:
        return math.log(1 + (self.n + 1) / (self.df.get(term, 0) + 0.5))

    def coverage(self, terms: list[str], text: str) -> float:
        """Share of the terms' IDF mass present in the text."""
        if not terms:
            return 0.0
        have = set(stems(text))
        total = sum(self.idf(t) for t in terms)
        return sum(self.idf(t) for t in terms if t in have) / total

    def known(self, terms: list[str]) -> float:
        """Share of the terms' IDF mass that occurs anywhere in the index."""
        if not terms:
            return 1.0
        total = sum(self.idf(t) for t in terms)
        return sum(self.idf(t) for t in terms if self.df.get(t)) / total
