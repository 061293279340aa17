"""Splitting an agenda pack into its papers, so results cite the paper and not 'agenda pack'."""

from __future__ import annotations

import re

_MEMO_FIELDS = ("to:", "subject:")


def _lines_with_offsets(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def _next_nonblank(lines: list[tuple[int, str]], i: int, n: int) -> list[str]:
    return [l.strip().lower() for _, l in lines[i + 1 :] if l.strip()][:n]


def _starts_paper(lines: list[tuple[int, str]], i: int) -> bool:
    line = lines[i][1].strip()
    low = line.lower()
    following = _next_nonblank(lines, i, 6)
    if line == "AGENDA" or line == "Record of Decision":
        return True
    if line.startswith("MINUTES of a meeting"):
        return True
    if low.startswith(("from:", "by:")):
        return all(any(f.startswith(field) for f in following) for field in _MEMO_FIELDS)
    if low == "meeting notes":
        return bool(following) and following[0].startswith("title:")
    if "work programme" in low and len(line) < 100 and not re.match(r"^[-•\d]", line):
        return not line.endswith(".")
    return False


def paper_starts(text: str) -> list[int]:
    """Character offsets where a new paper begins; [0] for an ordinary single report."""
    lines = _lines_with_offsets(text)
    starts = [0]
    for i, (offset, line) in enumerate(lines):
        if not _starts_paper(lines, i):
            continue
        # A paper's letterhead ('KENT COUNTY COUNCIL') sits just above its first header line.
        j = i
        while j > 0:
            prev = lines[j - 1][1].strip()
            if prev and not (prev.isupper() and len(prev) < 80):
                break
            j -= 1
        start = lines[j][0] if j < i else offset
        if start - starts[-1] > 300:
            starts.append(start)
    return starts


_PAGE_RANGE = re.compile(r"\(?\bPages?\s+(\d{1,4})\s*[-–]\s*(\d{1,4})\)?", re.IGNORECASE)


def agenda_page_ranges(text: str) -> list[int]:
    """Printed first pages of the papers an agenda lists with page ranges ('(Pages 43 - 48)'),
    in order; empty unless there are at least two ranges that run forward without overlapping."""
    ranges = [(int(m.group(1)), int(m.group(2))) for m in _PAGE_RANGE.finditer(text)]
    ranges = [(a, b) for a, b in ranges if a <= b]
    if len(ranges) < 2 or any(b[0] <= a[1] for a, b in zip(ranges, ranges[1:])):
        return []
    return [a for a, _ in ranges]


def split_papers(text: str, starts: list[int] | None = None) -> list[tuple[int, str]]:
    """(offset of the paper's first character, paper text) for each paper in the cleaned file text.
    `starts` (offsets where papers begin, e.g. from a PDF's bookmarks) overrides the text cues."""
    bounds = sorted({0, *starts}) if starts is not None else paper_starts(text)
    bounds = bounds + [len(text)]
    papers = []
    for s, e in zip(bounds, bounds[1:]):
        body = text[s:e]
        if body.strip():
            lead = len(body) - len(body.lstrip("\n"))
            papers.append((s + lead, body.strip("\n") + "\n"))
    return papers
