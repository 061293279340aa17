"""Running headers and footers learned per document, and the printed page numbers they show.

A line is furniture when the same line (digits aside) sits among the first or last few lines of
most pages: 'Kent Minerals & Waste Local Plan, Inspector's Report February 2025', 'Page 3 of 9',
a bare '41'. The printed page number is the number in those lines that rises with the page, at a
constant distance from the physical page (Federal Register 47699 on physical page 2).
"""

from __future__ import annotations

import re
from collections import Counter

EDGE_LINES = 3  # lines at the top and at the bottom of a page where running heads sit
POSITION_TOLERANCE = 6.0  # points: running heads on different pages sit at the same height
MAX_FURNITURE_CHARS = 120
_DIGITS = re.compile(r"\d+")
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


def _placed_edges(lines: list[str], baselines: list[float | None] | None) -> list[tuple[int, str]]:
    """(line index, place) for the lines at a page's top and bottom. The place is the line's rank
    from the top or bottom and, where the geometry is known, also its height on the page (a
    running head sits at the same height on every page, whatever the reading order did)."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    edges = [(i, f"top{r}") for r, i in enumerate(filled[:EDGE_LINES])]
    edges += [(i, f"bottom{r}") for r, i in enumerate(reversed(filled[-EDGE_LINES:]))]
    if baselines is not None:
        edges += [(i, f"y{round(baselines[i] / POSITION_TOLERANCE)}") for i, _ in edges if baselines[i] is not None]
    return edges


def furniture_shapes(pages: list[list[str]], positions: list | None = None) -> set[str]:
    """Shapes of lines that sit in the same place at the top or bottom of most pages; a table row
    that happens to open many pages ('MM24 79 Paragraph') is at another height or rank each time."""
    positions = positions or [None] * len(pages)
    counts: Counter[tuple[str, str]] = Counter()
    for lines, baselines in zip(pages, positions):
        counts.update({(_shape(lines[i]), place) for i, place in _placed_edges(lines, baselines)
                       if len(lines[i].strip()) <= MAX_FURNITURE_CHARS})
    needed = _threshold(sum(1 for lines in pages if any(l.strip() for l in lines)))
    return {shape for (shape, _), n in counts.items() if shape and n >= needed and len(pages) >= 2}


def printed_labels(pages: list[list[str]], furniture: set[str]) -> list[str | None]:
    """The printed page number of each page, read from its running head or foot."""
    candidates: list[set[int]] = []
    for lines in pages:
        numbers: set[int] = set()
        for i in _edges(lines):
            if _shape(lines[i]) in furniture:
                numbers.update(int(n) for m in _PAGE_NUMBER.finditer(lines[i].strip()) for n in m.groups() if n)
        candidates.append(numbers)
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
            edge_numbers = {int(n) for i in _edges(pages[index]) for m in _PAGE_NUMBER.finditer(pages[index][i].strip()) for n in m.groups() if n}
            numbers = edge_numbers
        labels.append(str(expected) if expected in numbers else None)
    return labels


def strip_furniture(pages: list[list[str]], positions: list | None = None) -> tuple[list[list[str]], list[str | None]]:
    """(pages without their running heads and feet, printed page label of each page or None).
    `positions`: per page, the height of each line on the page (None where not known)."""
    furniture = furniture_shapes(pages, positions)
    labels = printed_labels(pages, furniture)
    cleaned = []
    for lines in pages:
        edges = set(_edges(lines))
        cleaned.append([line for i, line in enumerate(lines) if not (i in edges and _shape(line) in furniture)])
    return cleaned, labels
