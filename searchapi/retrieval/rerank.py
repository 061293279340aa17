"""Second stage: civic sense on top of fused scores.

References ('section 3.2', 'item B2', a decision number) pull their section up; procedural
boilerplate (apologies, declarations, agenda furniture) is pushed down unless asked for; near
duplicates (the same text in minutes and report) collapse; one paper cannot fill the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache

from indexer.models import Document, Section
from indexer.store import ChunkRecord

from searchapi.retrieval.query import ParsedQuery, tokens

BOILERPLATE = re.compile(
    r"apologies|declarations? of interest|welcome (?:&|and) introduction|webcast|election of (?:vice-)?chairman"
    r"|notice is hereby given|tea/coffee|true and accurate record|were an accurate record|substitutes"
    r"|intentionally left blank",
    re.IGNORECASE,
)


def is_boilerplate(chunk: ChunkRecord, doc: Document) -> bool:
    return doc.doc_type == "agenda" or _procedural(chunk.heading, chunk.text[:200])


@lru_cache(maxsize=50_000)
def _procedural(heading: str, opening: str) -> bool:
    """Kept per text: a large archive's candidates recur from query to query (about 15 us a search)."""
    return bool(BOILERPLATE.search(heading) or BOILERPLATE.search(opening))


def reference_matches(query: ParsedQuery, section: Section, chunk: ChunkRecord, doc: Document) -> bool:
    number = section.number or ""
    for ref in query.section_refs:
        if number == ref or number.startswith(ref + "."):
            return True
        # A numbered paragraph that shares a chunk with the heading above it ('SUMMARY\n\n14. ...').
        dot = r"\.?" if "." in ref else r"\."  # '14.' opens paragraph 14; '14 officers' does not
        if re.search(rf"^(?:- )?{re.escape(ref)}{dot}\s", chunk.text, re.M):
            return True
    for ref in query.item_refs:
        if re.search(rf"\(Item {re.escape(ref)}\)|^{re.escape(ref)}\b|^- {re.escape(ref)}\b", chunk.heading + "\n" + chunk.text, re.M | re.I):
            return True
        if ref.isdigit() and number == ref:
            return True
    for ref in query.decision_refs:
        if (doc.reference and ref.upper() in doc.reference.upper()) or re.search(rf"\bdecisions? (?:[\d &]*\b)?0*{re.escape(ref)}\b", chunk.text, re.I):
            return True
    return False


_NUMBER = re.compile(r"(?!(?:19|20)\d\d$)\d+")  # paragraph numbers, not years
_REFERENCE_WORDS = {"section", "paragraph", "para", "item", "minute", "decision", "report", "paper", "agenda"}


def paper_match(query: ParsedQuery, doc: Document, heading: str = "") -> float:
    """How well the query describes this place ('para 14 of the Sept 2017 collaboration paper',
    'para 9 vetting'): share of its descriptive words found in the paper's title, type, body,
    month and year, or in the heading path of the referenced section."""
    words = {w for w in query.terms if not _NUMBER.fullmatch(w) and w not in _REFERENCE_WORDS}
    words -= {r.lower() for r in query.section_refs + query.item_refs + query.decision_refs}
    if not words:
        return 0.0
    described = set(tokens(f"{doc.title} {doc.doc_type} {doc.body or ''} {heading}"))
    if doc.date:
        day = date.fromisoformat(doc.date)
        described |= {day.strftime("%B").lower(), str(day.year)}
    return len(words & described) / len(words)


def shingles(text: str, n: int = 5) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def near_duplicate(a: set[str], b: set[str], threshold: float = 0.6) -> bool:
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= threshold


def diversify(ranked: list[int], doc_of: dict[int, str], per_doc: int, window: int) -> list[int]:
    """Within the first `window` places, at most `per_doc` passages of one paper; extras move down."""
    head, tail, counts = [], [], {}
    for item in ranked:
        doc = doc_of[item]
        if len(head) < window and counts.get(doc, 0) < per_doc:
            head.append(item)
            counts[doc] = counts.get(doc, 0) + 1
        else:
            tail.append(item)
    return head + tail


def settle(ordered: list[tuple], named: set, shingles_of: Callable, doc_of: Callable, k: int) -> list[tuple]:
    """The order shown, from the reranked list: the place a reference names first (ordered by content
    among itself), near duplicates of a passage above dropped (3k kept), papers spread, and scores made to
    read downwards like the ranks. One machine and the sharded router both settle through this."""
    if named:
        rest = [kv for kv in ordered if kv[0] not in named]
        top = rest[0][1] if rest else 0.0
        ordered = [(item, max(score, top)) for item, score in ordered if item in named] + rest
    kept: list[tuple] = []
    for item, score in ordered:
        if any(near_duplicate(shingles_of(item), shingles_of(other)) for other, _ in kept):
            continue
        kept.append((item, score))
        if len(kept) >= k * 3:
            break
    order = diversify([item for item, _ in kept], {item: doc_of(item) for item, _ in kept}, per_doc=4, window=k)
    scores, out, ceiling = dict(kept), [], 1.0
    for item in order:
        ceiling = min(ceiling, max(0.0, scores[item]))
        out.append((item, round(ceiling, 4)))
    return out
