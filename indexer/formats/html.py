"""HTML with selectolax: the page's own text in document order, h1-h6 as stated headings, site
chrome (navigation, scripts, forms, headers and footers) dropped, and print-page locators such as
the Congressional Record's '[[Page S5552]]' turned into pages."""

from __future__ import annotations

import re

from ..load import SkipFile, decode
from . import Extracted, Page
from .layout import reflow_plain

CHROME_TAGS = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
               "button", "input", "select", "textarea", "svg", "iframe", "object", "embed", "head"]
BLOCK_TAGS = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "table",
              "blockquote", "figure", "figcaption", "address", "hr", "center", "caption", "tbody", "thead"}
HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
PAGE_MARKER = re.compile(r"^[ \t]*\[\[Page ([^\]\n]{1,20})\]\][ \t]*$", re.MULTILINE)
_LOCATOR = re.compile(r"^([A-Za-z]*)(\d+)$")


class _Writer:
    """Accumulates text with block boundaries as blank lines and table cells as tabs."""

    def __init__(self):
        self.parts: list[str] = []
        self.headings: list[tuple[str, int]] = []

    def block(self):
        self.parts.append("\n\n")

    def walk(self, node, in_pre: bool = False, in_cell: bool = False):
        """`in_cell`: inside a table cell, whose paragraphs and line breaks stay on the row's line."""
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                text = child.text_content or ""
                self.parts.append(text if in_pre and not in_cell else re.sub(r"\s+", " ", text))
            elif in_cell and tag not in ("td", "th", "tr"):
                self.parts.append(" ")
                self.walk(child, in_pre, in_cell)
                self.parts.append(" ")
            elif tag == "br":
                self.parts.append("\n")
            elif tag in HEADING_TAGS:
                title = " ".join((child.text(deep=True) or "").split())
                if title:
                    self.headings.append((title, HEADING_TAGS[tag]))
                    self.block()
                    self.parts.append(title)
                    self.block()
            elif tag == "pre":
                self.block()
                inner = _Writer()
                inner.walk(child, in_pre=True)
                self.headings.extend(inner.headings)
                self.parts.append(_reflow_pre("".join(inner.parts)))
                self.block()
            elif tag == "tr":  # a table's rows are consecutive lines of one block
                self.parts.append("\n")
                self.walk(child, in_pre, in_cell=False)
            elif tag in ("td", "th"):
                self.parts.append("\t")
                self.walk(child, in_pre, in_cell=True)
            elif tag in BLOCK_TAGS:
                self.block()
                self.walk(child, in_pre)
                self.block()
            else:
                self.walk(child, in_pre)

    def text(self) -> str:
        raw = "".join(self.parts)
        lines = [re.sub(r" *\t *", "\t", re.sub(r" {2,}", " ", line)).strip(" ") for line in raw.split("\n")]
        # Row cells were written as '\tA\tB': the leading tab is the row's start, not a cell.
        lines = [line[1:] if line.startswith("\t") else line for line in lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _reflow_pre(text: str) -> str:
    """Preformatted text hard-wrapped at a fixed width (the Congressional Record) as paragraphs:
    wrapped lines joined, short lines, blank lines and page locators kept as they are."""
    segments = PAGE_MARKER.split(text)  # text, locator, text, ...
    out = []
    for i, segment in enumerate(segments):
        if i % 2:
            out.append(f"\n\n[[Page {segment}]]\n\n")
        else:
            out.append("\n".join(reflow_plain(segment.split("\n"))))
    return "".join(out)


def _pages(text: str) -> list[Page]:
    """Split at '[[Page X]]' lines; the text before the first one is on the page before it."""
    markers = list(PAGE_MARKER.finditer(text))
    if not markers:
        return [Page(text)]
    pages: list[Page] = []
    first = _LOCATOR.match(markers[0].group(1))
    before_label = f"{first.group(1)}{int(first.group(2)) - 1}" if first and int(first.group(2)) > 1 else None
    segments = [(before_label, text[: markers[0].start()])]
    for marker, following in zip(markers, markers[1:] + [None]):
        end = following.start() if following else len(text)
        segments.append((marker.group(1), text[marker.end() : end]))
    for label, body in segments:
        if body.strip() or pages:
            pages.append(Page(body.strip("\n"), number=len(pages) + 1, label=label))
    return pages


def _content_root(tree):
    """The page's one <main> (or one <article>) when it marks its content, else <body>: site
    chrome such as help pop-ups and sidebars sits outside it."""
    for selector in ("main", "article", "[role=main]"):
        found = tree.css(selector)
        if len(found) == 1 and (found[0].text(deep=True) or "").strip():
            return found[0]
    return tree.body or tree.root


def extract_html(data: bytes) -> Extracted:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode(data))
    root = _content_root(tree)
    if root is None:
        raise SkipFile("HTML has no body")
    for node in root.css(", ".join(CHROME_TAGS) + ", [role=navigation], [role=banner], [role=search], [aria-hidden=true], [hidden]"):
        node.decompose()
    writer = _Writer()
    writer.walk(root)
    text = writer.text()
    if not text.strip():
        raise SkipFile("HTML has no visible text")
    return Extracted(pages=_pages(text), headings=writer.headings)
