"""Quotable sentences of a chunk: the units answers quote and sentence vectors are stored for."""

from __future__ import annotations

import hashlib
import re

from .chunk import sentence_spans
from .clean import continues_sentence

_LEADING_MARKER = re.compile(r"^\s*(?:[-•]\s+|\d{1,3}(?:\.\d{1,3})*\.?\s+|\(?[a-z]\)\s+)?")  # one marker: '- 3.1' keeps its number
MIN_WORDS = 4  # shorter lines are headings and labels, not statements


def sentences_of(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans line by line (a sentence wrapped over lines read as one); list markers and
    paragraph numbers left out of the quote."""
    spans = []
    for ls, le in _lines(text, start, end):
        for s, e in sentence_spans(text, ls, le):
            marker = _LEADING_MARKER.match(text[s:e])
            if marker:
                s += marker.end()
            while e > s and text[e - 1] in " \t":
                e -= 1
            if len(text[s:e].split()) >= MIN_WORDS:
                spans.append((s, e))
    return spans


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the lines of text[start:end], a line joined to the next where the sentence runs on
    ('shall serve for a term of three' / 'years.'), so that no quote stops mid-sentence."""
    lines: list[tuple[int, int]] = []
    for m in re.finditer(r"[^\n]+", text[start:end]):
        s, e = start + m.start(), start + m.end()
        if lines and s == lines[-1][1] + 1 and continues_sentence(text[lines[-1][0] : lines[-1][1]], text[s:e]):
            lines[-1] = (lines[-1][0], e)
        else:
            lines.append((s, e))
    return lines


def sentence_key(sentence: str) -> str:
    """Identifies a sentence's text, so an unchanged sentence keeps its stored vector across re-indexing."""
    return hashlib.sha1(sentence.encode("utf-8", "surrogatepass")).hexdigest()


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’]*")


def vocabulary(text: str) -> set[str]:
    """The words of a text whose vectors are stored with the index (answers compare question words
    with the words of their evidence): lower-cased, three letters or more, not numbers."""
    return {w for w in (t.lower().replace("’", "'") for t in _WORD.findall(text)) if len(w) > 2 and not w.isdigit()}
