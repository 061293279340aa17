"""Example questions for the empty page, drawn from the indexed papers' own headings."""

from __future__ import annotations

import re

from .engine import SearchEngine
from .query import tokens
from .rerank import BOILERPLATE

_WORDY = re.compile(r"^[A-Za-z][A-Za-z'’&,\- ]+$")  # a heading of words, not '3.2', a table row or a date
MIN_WORDS, MAX_WORDS = 2, 7


def _topic(title: str) -> str | None:
    title = " ".join(title.split()).strip(" :.-")
    words = title.split()
    if not (MIN_WORDS <= len(words) <= MAX_WORDS) or not _WORDY.match(title) or BOILERPLATE.search(title):
        return None
    if len(tokens(title)) < MIN_WORDS:  # 'For Information', 'Other highlights': containers, not topics
        return None
    if title.isupper():  # 'FIREARMS LICENSING' reads as a shout in a question
        title = title.capitalize()
    return title


def example_questions(engine: SearchEngine, n: int = 4) -> list[str]:
    """One question per paper, newest papers first, each about a substantial section of it (the
    heading whose section is longest), so the examples cover different papers and all have answers."""
    out: list[str] = []
    seen: set[str] = set()
    docs = sorted(engine.documents.values(), key=lambda d: d.date or "", reverse=True)
    for doc in docs:
        if doc.doc_type == "agenda":  # an agenda's headings are the other papers' titles
            continue
        options = [(s.span[1] - s.span[0], _topic(s.title)) for s in doc.sections if s.title]
        options = sorted((o for o in options if o[1] and o[1].lower() not in seen), reverse=True)
        if not options:
            continue
        topic = options[0][1]
        seen.add(topic.lower())
        out.append(f"What do the reports say about {topic}?")
        if len(out) == n:
            break
    return out
