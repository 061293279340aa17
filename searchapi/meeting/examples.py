"""Example questions for the empty page, drawn from the indexed papers' own headings."""

from __future__ import annotations

import re

from searchapi.retrieval.engine import SearchEngine
from searchapi.retrieval.query import tokens
from searchapi.retrieval.rerank import BOILERPLATE

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
    """One question per paper, newest papers first, about a substantial section of it (longest
    sections first), kept only when searching it finds that very section first: an example that
    leads somewhere else would teach the wrong thing about the tool."""
    out: list[str] = []
    seen: set[str] = set()
    docs = sorted(engine.documents.values(), key=lambda d: d.date or "", reverse=True)
    for doc in docs:
        if doc.doc_type == "agenda":  # an agenda's headings are the other papers' titles
            continue
        options = sorted(((s.span[1] - s.span[0], _topic(s.title), s) for s in doc.sections if s.title),
                         key=lambda o: o[0], reverse=True)
        for _, topic, section in options:
            if not topic or topic.lower() in seen:
                continue
            question = f"What do the reports say about {topic}?"
            top = engine.search(question, k=1).results
            if top and top[0].document.id == doc.id and topic in top[0].citation:
                seen.add(topic.lower())
                out.append(question)
                break
        if len(out) == n:
            break
    return out


def cached_examples(owner, n: int, searcher) -> list[str]:
    """example_questions(searcher(), n), kept on `owner` (one generation of the index, one set of examples)."""
    cached = getattr(owner, "_examples", None)
    if cached is None or len(cached) < n:
        cached = owner._examples = example_questions(searcher(), n)
    return cached[:n]
