"""Cleaning raw report text: remove page furniture and markup debris, keep the words verbatim.

Users quote what we return, so cleaning only ever deletes furniture and markup; it never rewrites
wording. The cleaned text is the coordinate system for every span in the index.
"""

from __future__ import annotations

import html
import re
from collections import Counter

# Whole lines that are page furniture, wherever they appear.
FURNITURE_LINE = re.compile(
    r"""^(?:
        (?:agenda\s+)?item(?:\s+no\.?)?\s*[A-Z]?\d+[a-z]?      # Item No. 7 / Item 3 / Agenda Item B2
      | page\s+\d+(?:\s+of\s+\d+)?                            # Page 23 / Page 2 of 9
      | -?\s*\d{1,3}\s*-?                                     # a bare page number
      | this\s+page\s+(?:is\s+)?(?:has\s+been\s+)?intentionally\s+(?:been\s+)?left\s+blank\.?
      | [-=_*\t ]{3,}                                         # rules and empty table separators
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^<>\n]{0,300}?/?>")
_BLOCK_TAGS = {"p", "br", "div", "li", "tr", "td", "th"}
_MD_LINK = re.compile(r"\[([^\[\]\n]*)\]\([^()\s]*\)")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_STRIKE = re.compile(r"~~[^~\n]*~~\s?")
_CARET_INSERT = re.compile(r"\^\{([^{}\n]*)\}")
_BOLD = re.compile(r"(\*\*|__)")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_SPACES = re.compile(r"[ \u00a0]{2,}")
_TERMINAL = tuple(".!?:;\"')]”’")


def strip_markup(line: str) -> str:
    """HTML tags and entities, markdown emphasis, links and heading marks; text content is kept."""

    def tag(match: re.Match) -> str:
        return " " if match.group(1).lower() in _BLOCK_TAGS else ""

    line = _TAG.sub(tag, line)
    line = html.unescape(line)
    line = _MD_LINK.sub(r"\1", line)
    line = _MD_HEADING.sub("", line)
    line = _STRIKE.sub("", line)
    line = _CARET_INSERT.sub(r"\1", line)
    line = _BOLD.sub("", line)
    line = _ITALIC.sub(r"\1", line)
    line = _SPACES.sub(" ", line.replace("\u00a0", " "))
    return re.sub(r" ?\t ?", "\t", line).rstrip()


def _tidy_spaces(line: str) -> str:
    line = _SPACES.sub(" ", line.replace("\u00a0", " "))
    return re.sub(r" ?\t ?", "\t", line).rstrip()


def is_furniture(line: str) -> bool:
    return bool(FURNITURE_LINE.match(line.strip())) if line.strip() else False


def _running_headers(lines: list[str]) -> set[str]:
    """Short lines repeated at least three times that look like running heads (with a number or
    'page'/'item'); real repeated headings such as 'Actions' have neither and are kept."""
    counts = Counter(line.strip() for line in lines if line.strip())
    return {
        text
        for text, n in counts.items()
        if n >= 3
        and len(text) <= 60
        and "\t" not in text
        and not text.startswith(("-", "•"))
        and not re.match(r"^[\w&' ]{1,30}:", text)  # 'Date: 20 July 2017' is a field, not a header
        and not text.endswith(_TERMINAL)
        and re.search(r"\d|\bpage\b|\bitem\b|\bagenda\b", text, re.IGNORECASE)
    }


# A line of cleaned text with the pages that start inside it: [(position in the line, page index)].
_Line = tuple[str, list[tuple[int, int]]]


_HYPHENATED = re.compile(r"[^\W\d_]-$")


def _continues(previous: list[_Line], para: list[_Line], hyphens: bool) -> bool:
    """A paragraph cut by a page break ends without punctuation and resumes in lower case; with
    `hyphens`, a word hyphenated across the break ('Soekarno-' / 'Hatta') continues too."""
    last, first = previous[-1][0], para[0][0].lstrip()
    if hyphens and _HYPHENATED.search(last) and first[:1].isalpha():
        return True
    return continues_sentence(last, first)


def continues_sentence(last: str, first: str) -> bool:
    """Whether a line that ends without closing punctuation is resumed, in lower case, by the next:
    one sentence broken across lines (a wrapped or scanned page) or across a page break. A table
    row (tab-separated cells) is never continued."""
    return first.lstrip()[:1].islower() and not last.rstrip().endswith(_TERMINAL) and "\t" not in last + first


def _join_broken_paragraphs(paragraphs: list[list[_Line]], hyphens: bool = False) -> list[list[_Line]]:
    out: list[list[_Line]] = []
    for para in paragraphs:
        if out and _continues(out[-1], para, hyphens):
            last_text, last_marks = out[-1][-1]
            first_text, first_marks = para[0]
            lead = len(first_text) - len(first_text.lstrip())
            head = last_text.rstrip()
            if hyphens and _HYPHENATED.search(head):
                # 'manage-' + 'ment' is one word; 'Soekarno-' + 'Hatta' keeps its hyphen.
                head = head[:-1] if first_text.lstrip()[:1].islower() else head
            else:
                head += " "
            joined = head + first_text.lstrip()
            marks = last_marks + [(len(head) + max(0, pos - lead), page) for pos, page in first_marks]
            out[-1] = out[-1][:-1] + [(joined, marks)] + para[1:]
        else:
            out.append(list(para))
    return out


def clean_pages(pages: list[str], markup: bool = True) -> tuple[str, list[int]]:
    """Clean the text of consecutive pages as one text; returns it with the offset where each page
    starts in it (a page that lost all its lines starts where the next one does). `markup=False`
    for text already extracted from PDF/DOCX/HTML: '<www.example.org>' there is text, not a tag."""
    tagged: list[tuple[int, str]] = []
    for index, page in enumerate(pages):
        raw = page.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
        if index == 0:
            raw = raw.lstrip("\ufeff")
        tidy = strip_markup if markup else _tidy_spaces
        tagged.extend((index, tidy(line)) for line in raw.split("\n"))
        tagged.append((index, ""))  # a page break ends a paragraph; broken ones are rejoined below
    running = _running_headers([line for _, line in tagged])
    # Paragraphs are runs of non-blank lines. Furniture lines became blank, so text either side of
    # a page break is now two paragraphs, joined again below where the sentence continues.
    paragraphs: list[list[_Line]] = []
    current: list[_Line] = []
    for index, line in tagged:
        if line.strip() and not is_furniture(line) and line.strip() not in running:
            current.append((line, [(0, index)]))
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    starts: list[int | None] = [None] * len(pages)
    parts: list[str] = []
    offset = 0
    for para in _join_broken_paragraphs(paragraphs, hyphens=not markup):
        if parts:
            parts.append("\n\n")
            offset += 2
        for n, (line, marks) in enumerate(para):
            if n:
                parts.append("\n")
                offset += 1
            for pos, page in marks:
                if starts[page] is None:
                    starts[page] = offset + pos
            parts.append(line)
            offset += len(line)
    text = "".join(parts) + "\n"
    following = len(text)
    for index in range(len(pages) - 1, -1, -1):
        if starts[index] is None:
            starts[index] = following
        following = starts[index]
    return text, starts


def clean_text(raw: str) -> str:
    """Return the cleaned text: paragraphs separated by one blank line, lines kept as lines."""
    return clean_pages([raw])[0]
