"""Section structure of one paper: numbered, lettered, capitalised and run-in headings as a tree.

Every line is classified as a heading (with a rank: lower ranks are larger divisions) or body.
Numbering decides nesting where it can ('3.1' under '3'; '218.' is the sibling of '217.', and a
'1.' under it opens a new level); otherwise rank does. Bullet and roman/lettered list items in a
paragraph are lists, not sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .metadata import _SMALL_WORDS, title_case
from .models import Section

RANK_LETTER, RANK_CAPS, RANK_TITLED, RANK_RUN_IN, RANK_PARAGRAPH = 5, 10, 20, 30, 40
HEADER_SKIP_LINES = 6

_NUMBERED = re.compile(r"^(?P<bullet>[-•]\s+)?(?P<num>\d{1,3}(?:\.\d{1,3}){1,3}|\d{1,3}\.)\.?\s+(?P<rest>\S.*)$")
_LETTERED = re.compile(r"^(?P<num>[A-H])\s+[-–]\s+(?P<rest>\S.{2,100})$")
_ITEM_REF = re.compile(r"^\(Item [A-Z]?\d+[a-z]?\)$")
_FIELD = re.compile(r"^(?:[\w&']+ ){0,6}[\w&']+:\s+(?=.*[a-z])\S")  # 'Date: 1 March 2017'; not a CAPS title
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)'’])\.\s+(?=[A-Z0-9‘'\"(])")


@dataclass
class Heading:
    start: int
    end: int
    rank: int
    number: str | None
    title: str


@dataclass
class _Frame:
    section: Section
    rank: int
    children: list = field(default_factory=list)


def _words(text: str) -> list[str]:
    return text.split()


def _title_like(text: str, max_words: int) -> bool:
    words = _words(text)
    if not words or len(words) > max_words or not (text[0].isupper() or text[0].isdigit() or text[0] in "'‘\""):
        return False
    capitalised = sum(1 for w in words if w[:1].isupper() or not w[:1].isalpha())
    return capitalised / len(words) >= 0.5 or len(words) <= 4


def _clean_title(text: str) -> str:
    text = text.strip().rstrip(":.").strip()
    return title_case(text) if " " in text or len(text) > 5 else text


def _lead_in(rest: str) -> str | None:
    """'Seven Force Overview. Collaboration projects ...' -> 'Seven Force Overview'."""
    m = _SENTENCE_END.search(rest)
    if m and m.start() <= 120:
        lead = rest[: m.start()]
        if _headline(lead, 14):
            return lead
    return None


def _headline(text: str, max_words: int) -> bool:
    """Capitalised like a title ('Seven Force Overview'), unlike a sentence ('The Chairman said')."""
    content = [w for w in _words(text) if w.lower() not in _SMALL_WORDS]
    capitalised = sum(1 for w in content if not w[:1].isalpha() or w[:1].isupper())
    short = len(_words(text)) <= 5
    return bool(content) and _title_like(text, max_words) and (short or capitalised / len(content) >= 0.75)


def lead_continues(text: str) -> bool:
    """True when a line has a second sentence after its first (so it is a paragraph)."""
    return bool(_SENTENCE_END.search(text))


def _numbered(line: str) -> tuple[str, str | None, bool] | None:
    """(number, title or None, titled) for a numbered heading or paragraph line."""
    m = _NUMBERED.match(line)
    if not m or "\t" in line:
        return None
    number, rest = m.group("num").rstrip("."), m.group("rest").strip()
    lead = _lead_in(rest)
    whole = rest.rstrip()
    n_words = len(_words(whole))
    plain_end = not whole.endswith((".", ":", ";", ",", "?"))
    if whole[:1].isupper() and "?" not in whole:
        # 'Tackling crime & catching criminals' (no full stop) or a one-sentence title line.
        one_sentence_title = whole.endswith(".") and not lead_continues(whole) and _headline(whole[:-1], 12)
        if (plain_end and n_words <= 20) or one_sentence_title:
            return number, whole, True
    if lead:
        return number, lead, True
    if m.group("bullet"):
        return None  # '- 3. something long' is a list item, not a section
    return number, None, False


_DATE_TEXT = re.compile(r"\d{1,2}(?:st|nd|rd|th)?\s+[A-Z][a-z]+\.?,?\s+\d{4}")


def _caps_heading(line: str) -> bool:
    """'INTRODUCTION:', 'SALUS, £25,000.00 – 10 May 2017:' (a date inside does not count)."""
    letters = [c for c in _DATE_TEXT.sub("", line) if c.isalpha()]
    upper = sum(1 for c in letters if c.isupper())
    first = _words(line)[0] if line.split() else ""
    return (
        len(letters) >= 3
        and upper / len(letters) >= 0.8
        and first.isupper()
        and not line.endswith(".")
        and len(_words(line)) <= 16
        and "\t" not in line
        and not line.startswith(("-", "•"))
    )


def _run_in_heading(line: str, next_line: str = "") -> bool:
    """Short standalone headings: 'Vetting.', 'ICT Convergence Programme', 'Compass House'."""
    text = line.strip()
    if "\t" in next_line:
        return False  # a label above a table's rows
    if "\t" in text or text.startswith(("-", "•", "(")) or "?" in text or text[:1].isdigit() or "☐" in text:
        return False
    if _FIELD.match(text) or text.endswith((",", ";")) or len(text) > 90:
        return False
    words = _words(text)
    if text.endswith(".") and len(words) > 6:
        return False
    if text.endswith(":") and len(words) > 3:
        return False
    return _title_like(text, 10)


def _bullet_heading(lines: list[str], i: int) -> bool:
    """'• Cutting crime and reducing re-offending' standing alone is a heading, not a list item."""
    text = lines[i].strip()
    if not text.startswith("• ") or len(_words(text)) > 12:
        return False
    neighbours = [lines[j].strip() for j in (i - 1, i + 1) if 0 <= j < len(lines)]
    return not any(n.startswith(("•", "-")) for n in neighbours)


def _header_length(nonblank: list[str]) -> int:
    """How many opening lines are the paper's letterhead/fields rather than its body."""
    head = nonblank[:HEADER_SKIP_LINES + 4]
    body = next((i for i, line in enumerate(head) if len(_words(line)) > 15), len(head))
    fields = [i for i, line in enumerate(head[:body]) if _FIELD.match(line)]  # short 'Date: …' lines
    if fields:
        return fields[-1] + 1
    for i, line in enumerate(head[:HEADER_SKIP_LINES]):
        if _NUMBERED.match(line) or len(_words(line)) > 15:
            return i
        if line.endswith(".") and len(_words(line)) >= 8 and i >= 3 and _caps_heading(head[i - 1]):
            return i - 1  # 'CALL TO ORDER' above the first sentence of the body is its first heading
    return HEADER_SKIP_LINES


def _mostly_figures(line: str) -> bool:
    """'DCLG 96 847', a table row cut out of a PDF, is data, not a heading."""
    words = line.split()
    figures = sum(1 for w in words if re.fullmatch(r"[£$€]?[\d.,%]+", w))
    return figures >= 2 and figures > len(words) - figures


def _stated_key(line: str) -> str:
    return " ".join(line.split()).lower()


def find_headings(text: str, stated: list[tuple[str, int]] | None = None) -> list[Heading]:
    """`stated`: headings the format names outright (Word heading styles, HTML h1-h6) with their
    level; a line that is one of them is a heading of that level whatever it looks like."""
    stated_levels = {_stated_key(title): level for title, level in (stated or []) if title.strip()}
    lines = text.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    nonblank_seen = 0
    header_lines = _header_length([l.strip() for l in lines if l.strip()])
    headings: list[Heading] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        nonblank_seen += 1
        start, end = offsets[i], offsets[i] + len(line)
        level = stated_levels.get(_stated_key(stripped))
        if level is not None:
            m = _NUMBERED.match(stripped)
            number = m.group("num").rstrip(".") if m else None
            title = m.group("rest") if m else stripped
            headings.append(Heading(start, end, level, number, _clean_title(title)))
            continue
        numbered = None if "\t" in line else _numbered(stripped)
        if numbered:
            number, title, titled = numbered
            depth = number.count(".")
            if titled and i + 2 < len(lines) and _ITEM_REF.match(lines[i + 1].strip()):
                title = f"{title} {lines[i + 1].strip()}"
            rank = (RANK_TITLED if titled else RANK_PARAGRAPH) + depth
            headings.append(Heading(start, end, rank, number, _clean_title(title) if title else ""))
            continue
        if nonblank_seen <= header_lines or _mostly_figures(stripped):
            continue
        lettered = _LETTERED.match(stripped)
        if lettered and not stripped.endswith("."):
            headings.append(Heading(start, end, RANK_LETTER, lettered.group("num"), _clean_title(lettered.group("rest"))))
        elif _caps_heading(stripped):
            headings.append(Heading(start, end, RANK_CAPS, None, _clean_title(stripped)))
        elif _bullet_heading(lines, i):
            headings.append(Heading(start, end, RANK_CAPS, None, _clean_title(stripped[2:])))
        elif _run_in_heading(stripped, lines[i + 1] if i + 1 < len(lines) else ""):
            headings.append(Heading(start, end, RANK_RUN_IN, None, _clean_title(stripped)))
    return headings


def _sibling_index(stack: list[_Frame], number: str) -> int | None:
    """Where a heading numbered `number` belongs: index of the frame it follows or nests under."""
    parts = number.split(".")
    if len(parts) > 1:
        parent = ".".join(parts[:-1])
        for idx in range(len(stack) - 1, 0, -1):
            if stack[idx].section.number == parent:
                return idx + 1  # keep the parent, pop everything above it
            prev = stack[idx].section.number
            if prev and prev.count(".") == len(parts) - 1 and prev.split(".")[:-1] == parts[:-1]:
                return idx  # previous sibling '3.1' before '3.2'
        return None
    if not parts[0].isdigit():
        return None
    n = int(parts[0])
    for idx in range(len(stack) - 1, 0, -1):
        prev = stack[idx].section.number
        if prev and prev.isdigit() and int(prev) in (n - 1, n):
            return idx
    return len(stack) if n == 1 else None  # a fresh '1.' opens a level under the current heading


def parse_sections(text: str, doc_id: str, stated: list[tuple[str, int]] | None = None) -> list[Section]:
    """All sections of a paper in reading order; the first is the root (the paper as a whole)."""
    root = Section(id=f"{doc_id}:s0", number=None, title="", path=[], span=(0, len(text)), level=0)
    sections = [root]
    stack = [_Frame(root, rank=-1)]
    for heading in find_headings(text, stated):
        cut = _sibling_index(stack, heading.number) if heading.number else None
        if cut is None:
            cut = len(stack)
            while cut > 1 and stack[cut - 1].rank >= heading.rank:
                cut -= 1
        for frame in stack[cut:]:
            frame.section.span = (frame.section.span[0], heading.start)
        del stack[cut:]
        parent = stack[-1].section
        label = heading.title or heading.number or ""
        section = Section(
            id=f"{doc_id}:s{len(sections)}",
            number=heading.number,
            title=heading.title,
            path=parent.path + [label],
            span=(heading.start, len(text)),
            level=len(parent.path) + 1,
        )
        sections.append(section)
        stack.append(_Frame(section, heading.rank))
    return sections
