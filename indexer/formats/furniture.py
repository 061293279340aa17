"""Running headers and footers learned per document, and the printed page numbers they show.

A line is furniture when the same line (digits aside) sits among the first or last few lines of
most pages: 'Kent Minerals & Waste Local Plan, Inspector's Report February 2025', 'Page 3 of 9',
a bare '41'. The printed page number is the number in those lines that rises with the page, at a
constant distance from the physical page (Federal Register 47699 on physical page 2).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

EDGE_LINES = 3  # lines at the top and at the bottom of a page where running heads sit
POSITION_TOLERANCE = 6.0  # points: running heads on different pages sit at the same height
MAX_FURNITURE_CHARS = 120
_DIGITS = re.compile(r"\d+")
# 'Page 2 of 2' at a page's edge is furniture even on a single page: a bundled pack's papers carry their own
# running heads, too few times to count as the pack's.
_PAGE_OF = re.compile(r"\bpage\s+[1-9]\d{0,4}\s+of\s+[1-9]\d{0,4}\b", re.IGNORECASE)
# A printed page number stands at either end of its line, or follows 'page' ('Page 2 Printed on ...').
_PAGE_NUMBER = re.compile(r"^([1-9]\d{0,5})\b|\b([1-9]\d{0,5})$|\bpage\s*([1-9]\d{0,5})\b", re.IGNORECASE)


def _shape(line: str) -> str:
    """A line with its numbers and spacing blurred, so 'Page 3' and 'Page 4' are the same line, and
    '47700 Federal Register' on a left page the same as 'Federal Register 47701' on a right page."""
    words = _DIGITS.sub("#", line.lower()).split()
    while len(words) > 1 and words[0] == "#":
        words.pop(0)
    while len(words) > 1 and words[-1] == "#":
        words.pop()
    return " ".join(words)


def _edges(lines: list[str]) -> list[int]:
    """Indexes of the non-blank lines at the top and bottom of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def _threshold(pages_with_text: int) -> int:
    """On most pages: half of them, and never fewer than two."""
    return max(2, (pages_with_text + 1) // 2)


def _places(lines: list[str], baselines: list[float | None] | None) -> dict[int, list[str]]:
    """Where each line sits: its rank from the top or bottom for the lines at the page's edges,
    and, where the geometry is known, its height on the page for every line (a running head sits
    at the same height on each page, wherever the reading order put it)."""
    places: dict[int, list[str]] = defaultdict(list)
    filled = [i for i, line in enumerate(lines) if line.strip() and len(line.strip()) <= MAX_FURNITURE_CHARS]
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    for rank, i in enumerate(nonblank[:EDGE_LINES]):
        places[i].append(f"top{rank}")
    for rank, i in enumerate(reversed(nonblank[-EDGE_LINES:])):
        places[i].append(f"bottom{rank}")
    if baselines is not None:
        for i in filled:
            if baselines[i] is not None:
                places[i].append(f"y{round(baselines[i] / POSITION_TOLERANCE)}")
    return {i: p for i, p in places.items() if len(lines[i].strip()) <= MAX_FURNITURE_CHARS}


def furniture_keys(pages: list[list[str]], positions: list | None = None) -> set[tuple[str, str]]:
    """(shape, place) of lines found in the same place on most pages; a table row that happens
    to open many pages ('MM24 79 Paragraph') is at another height or rank each time."""
    positions = positions or [None] * len(pages)
    counts: Counter[tuple[str, str]] = Counter()
    for lines, baselines in zip(pages, positions):
        counts.update({(_shape(lines[i]), place) for i, found in _places(lines, baselines).items() for place in found})
    needed = _threshold(sum(1 for lines in pages if any(l.strip() for l in lines)))
    return {key for key, n in counts.items() if key[0] and n >= needed and len(pages) >= 2}


def _furniture_lines(lines: list[str], baselines, keys: set[tuple[str, str]]) -> set[int]:
    return {i for i, found in _places(lines, baselines).items()
            if any((_shape(lines[i]), p) in keys for p in found)
            or (any(p.startswith(("top", "bottom")) for p in found) and _PAGE_OF.search(lines[i]))}


def _numbers(line: str) -> set[int]:
    return {int(n) for m in _PAGE_NUMBER.finditer(line.strip()) for n in m.groups() if n}


def printed_labels(pages: list[list[str]], furniture: list[set[int]]) -> list[str | None]:
    """The printed page number of each page, read from its running head or foot."""
    candidates = [set().union(*(_numbers(lines[i]) for i in found)) if found else set()
                  for lines, found in zip(pages, furniture)]
    shifts = Counter(n - index for index, numbers in enumerate(candidates) for n in numbers)
    if not shifts:
        return [None] * len(pages)
    shift, count = shifts.most_common(1)[0]
    if count < _threshold(sum(1 for c in candidates if c)):
        return [None] * len(pages)
    labels = []
    for index, numbers in enumerate(candidates):
        expected = index + shift
        if expected not in numbers:  # a first page's head is often laid out differently
            numbers = set().union(*(_numbers(pages[index][i]) for i in _edges(pages[index]))) if pages[index] else set()
        labels.append(str(expected) if expected in numbers else None)
    return labels


def strip_furniture(pages: list[list[str]], positions: list | None = None) -> tuple[list[list[str]], list[str | None]]:
    """(pages without their running heads and feet, printed page label of each page or None).
    `positions`: per page, the height of each line on the page (None where not known)."""
    positions = positions or [None] * len(pages)
    keys = furniture_keys(pages, positions)
    furniture = [_furniture_lines(lines, baselines, keys) for lines, baselines in zip(pages, positions)]
    labels = printed_labels(pages, furniture)
    cleaned = [[line for i, line in enumerate(lines) if i not in found] for lines, found in zip(pages, furniture)]
    return cleaned, labels
