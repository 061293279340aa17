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


def chunk_terms(text: str) -> tuple[set[str], list[str], set[str]]:
    """What one passage (text and heading) adds to the corpus statistics: its distinct stems (document
    frequency), its lower-case words (spelling), its hyphenated forms (stemmed). The indexer stores
    these per passage's access class, so an engine reads them instead of re-reading every passage."""
    return set(stems(text)), _LOWER_WORD.findall(text), {_stem_hyphenated(w) for w in _HYPHENATED.findall(text)}


class CorpusStats:
    """Corpus statistics for ranking, respelling and answers: document frequency per stem, the
    hyphenated forms, lower-case word frequencies (spelling), the passage count and the acronyms
    defined in the reports. Built at index time and read whole at start-up (they grow with the
    vocabulary, not with the passages); `merged` sums several (shards), so every shard can rank with
    the statistics of the whole archive."""

    def __init__(self, df: dict[str, int] | None = None, words: dict[str, int] | None = None,
                 hyphenated: dict[str, int] | None = None, n: int = 0,
                 acronym_defs: dict[str, tuple[str, str]] | None = None):
        self.df: dict[str, int] = dict(df or {})
        self.words: dict[str, int] = dict(words or {})
        self.hyphenated_counts: dict[str, int] = dict(hyphenated or {})
        self.n = n
        # acronym -> (order key, long form): the definition met first in (document id, passage order) wins.
        self.acronym_defs: dict[str, tuple[str, str]] = dict(acronym_defs or {})
        self._spelling = None

    # ---- building ------------------------------------------------------------------------------
    @classmethod
    def from_texts(cls, texts: Iterable[str], acronym_texts: Iterable[str] | None = None) -> "CorpusStats":
        """From passages in memory (tests, indexes made before the statistics were stored).
        `acronym_texts`: the texts acronyms are mined from (default: none)."""
        from searchapi.retrieval.query import acronym_definitions

        df, words, hyphenated, n = Counter(), Counter(), Counter(), 0
        for text in texts:
            stem_set_, lower, hyph = chunk_terms(text)
            df.update(stem_set_)
            words.update(lower)
            hyphenated.update(hyph)
            n += 1
        defs: dict[str, tuple[str, str]] = {}
        for i, text in enumerate(acronym_texts or ()):
            for j, (acronym, long_form) in enumerate(acronym_definitions(text)):
                defs.setdefault(acronym, (acronym_order("", i, j), long_form))
        return cls(df, words, hyphenated, n, defs)

    @classmethod
    def load(cls, reader, audience: str = "all") -> "CorpusStats":
        """The statistics stored in a pinned index generation, summed over the access classes the
        audience may see ("public": public papers only)."""
        from indexer.store import STATS_VERSION

        if reader.meta.get("stats") != STATS_VERSION:  # made before statistics were stored: count now
            return cls._count_snapshot(reader, audience)
        where = "WHERE access = 'public'" if audience == "public" else ""
        counts: dict[str, dict[str, int]] = {"df": {}, "word": {}, "hyph": {}, "n": {}}
        for kind, term, n in reader.execute(f"SELECT kind, term, SUM(n) FROM stat_terms {where} GROUP BY kind, term"):
            counts[kind][term] = n
        defs = {acronym: (key, long_form) for acronym, long_form, key in reader.execute(
            f"SELECT acronym, long_form, MIN(sort_key) FROM stat_acronyms {where} GROUP BY acronym")}
        return cls(counts["df"], counts["word"], counts["hyph"], counts["n"].get("", 0), defs)

    @classmethod
    def _count_snapshot(cls, reader, audience: str) -> "CorpusStats":
        hidden = "AND COALESCE(d.access, 'public') = 'public'" if audience == "public" else ""
        rows = reader.execute(
            "SELECT c.text, f.heading FROM chunks c JOIN chunks_fts f ON f.rowid = c.rowid "
            f"JOIN documents d ON d.id = c.document_id WHERE 1 {hidden} ORDER BY c.document_id, c.ord")
        return cls.from_texts((f"{text} {heading}" for text, heading in rows), (text for text, _ in rows))

    @classmethod
    def merged(cls, parts: Iterable["CorpusStats"]) -> "CorpusStats":
        """The statistics of several indexes (shards) together: counts summed, the first definition
        of each acronym (in document order) kept."""
        df, words, hyphenated, n, defs = Counter(), Counter(), Counter(), 0, {}
        for part in parts:
            df.update(part.df)
            words.update(part.words)
            hyphenated.update(part.hyphenated_counts)
            n += part.n
            for acronym, entry in part.acronym_defs.items():
                if acronym not in defs or entry[0] < defs[acronym][0]:
                    defs[acronym] = entry
        return cls(df, words, hyphenated, n, defs)

    def __getstate__(self):  # the spelling index is rebuilt where it is used (Ray ships the counts)
        return {**self.__dict__, "_spelling": None}

    @property
    def acronyms(self) -> dict[str, str]:
        """acronym -> long form, in the order the definitions first occur (a query's expansions follow it)."""
        ordered = sorted(self.acronym_defs.items(), key=lambda kv: kv[1][0])
        return {acronym: long_form for acronym, (_, long_form) in ordered}

    @property
    def spelling(self):
        """pyspellchecker over the reports' own lower-case words, built when first asked."""
        if self._spelling is None:
            spelling = SpellChecker(language=None, distance=1)
            spelling.word_frequency.load_json(self.words)
            self._spelling = spelling
        return self._spelling

    # ---- reading -------------------------------------------------------------------------------
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
        return _stem_hyphenated(word) in self.hyphenated_counts if "-" in word else stem(word) in self.df

    def correct(self, word: str) -> str | None:
        """The reports' spelling of a longer word typed one slip away ('summonsed' -> 'summoned'):
        the commonest such word with the same first letter, or None."""
        if len(word) < MIN_CORRECTED_LENGTH or not word.isalpha():
            return None
        lowered = word.lower()
        spelling = self.spelling
        options = [w for w in spelling.candidates(lowered) or () if w != lowered and w[0] == lowered[0]]
        return max(options, key=spelling.word_frequency.__getitem__, default=None)


def acronym_order(document_id: str, ord_: int, position: int) -> str:
    """A sortable key for 'which definition comes first': document id, passage order, place in passage
    (the order in which an engine used to read the passages)."""
    return f"{document_id}\x01{ord_:09d}{position:06d}"

