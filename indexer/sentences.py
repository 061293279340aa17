"""Quotable sentences of a chunk: the units answers quote and sentence vectors are stored for."""

from __future__ import annotations

import hashlib
import re

from .chunk import sentence_spans

_LEADING_MARKER = re.compile(r"^\s*(?:[-•]\s+|\d{1,3}(?:\.\d{1,3})*\.?\s+|\(?[a-z]\)\s+)?")  # one marker: '- 3.1' keeps its number
MIN_WORDS = 4  # shorter lines are headings and labels, not statements


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
            if len(text[s:e].split()) >= MIN_WORDS:
                spans.append((s, e))
    return spans


def sentence_key(sentence: str) -> str:
    """Identifies a sentence's text, so an unchanged sentence keeps its stored vector across re-indexing."""
    return hashlib.sha1(sentence.encode("utf-8", "surrogatepass")).hexdigest()


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’]*")


def vocabulary(text: str) -> set[str]:
    """The words of a text whose vectors are stored with the index (answers compare question words
    with the words of their evidence): lower-cased, three letters or more, not numbers."""
    return {w for w in (t.lower().replace("’", "'") for t in _WORD.findall(text)) if len(w) > 2 and not w.isdigit()}
