"""Text out of paged and structured formats (PDF, DOCX, HTML), page by page, with notes for the summary.

Extractors return an `Extracted`: the text of each source page (one pseudo-page for unpaged formats),
headings the format states outright (Word heading styles, HTML h1-h6), the pages where the papers
of a bundled pack begin (PDF outline), and notes such as pages with no text layer. Cleaning and
splitting then keep track of where every page starts (indexer/clean.py, indexer/documents.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Page:
    text: str
    number: int | None = None  # 1-based physical page; None for formats without pages
    label: str | None = None  # the printed page number or locator ('14', 'S5552')
    ocr: bool = False  # text recognised from the page image


@dataclass
class Extracted:
    pages: list[Page]
    # Headings stated by the format: (heading text as it appears in the page text, level 1-6).
    headings: list[tuple[str, int]] = field(default_factory=list)
    # Indexes into `pages` where a new paper of a bundled pack begins (besides 0).
    paper_starts: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def paged(self) -> bool:
        return any(p.number is not None for p in self.pages)

    @property
    def text(self) -> str:
        return "\f".join(p.text for p in self.pages)


def page_ranges(numbers: list[int]) -> str:
    """'7–15' or '2, 4–6' for a sorted list of page numbers."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)
