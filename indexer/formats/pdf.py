"""PDF text page by page with pypdfium2: running heads removed, printed page numbers kept, words
hyphenated at line ends rejoined, pages without a text layer recognised by OCR or reported."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..load import SkipFile
from ..settings import get_settings
from . import Extracted, Page, page_ranges
from .furniture import strip_furniture
from .layout import page_lines, paragraphs, reflow_plain
from .ocr import ocr_image, tesseract_available

MIN_TEXT_CHARS = 20  # fewer visible characters than this: the page has no usable text layer
_GENERIC_BOOKMARK = re.compile(r"^(?:pg|page|p|slide|sheet)\.?\s*\d+$", re.IGNORECASE)
_HYPHENS = "-\ufffe\x02\xad"  # pdfium marks generated and soft hyphens as U+FFFE / U+0002
_LETTER_END = re.compile(rf"[A-Za-z][{_HYPHENS}]$")
# pdfium joins a line ending in a hyphen to the next, marking the hyphen U+FFFE: 'manage\ufffement'
# was hyphenated by the typesetter, 'Apr\ufffeJun' is a real dash.
_MERGED_HYPHEN = re.compile(r"(?<=[^\W\d_])[\ufffe\x02](?=[a-z])")


def _open(data: bytes):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise SkipFile("encrypted PDF (needs a password)") from exc
        raise SkipFile(f"corrupt or truncated PDF ({exc})") from exc


def rejoin_hyphenated(lines: list[str]) -> list[str]:
    """'manage-' + 'ment of the site' -> 'management' + 'of the site'; real dashes are kept."""
    out = list(lines)
    for i in range(len(out) - 1):
        line, following = out[i].rstrip(), out[i + 1].lstrip()
        if _LETTER_END.search(line) and following[:1].islower():
            word, _, rest = following.partition(" ")
            out[i] = line[:-1] + word
            out[i + 1] = rest
    return [_MERGED_HYPHEN.sub("", line).replace("\ufffe", "-").replace("\x02", "-").replace("\xad", "") for line in out]


def _page_lines(textpage, rotation: int, headings: list[tuple[str, int]]) -> tuple[list[str], list[float | None] | None]:
    """Paragraphs as lines (blank lines between them) where the geometry reads, with the height of
    each on the page; else pdfium's visual lines and None. Bold standalone lines go to `headings`."""
    geometry = page_lines(textpage) if rotation in (0, 180) else None
    if geometry:
        baselines: list[float | None] = []
        return rejoin_hyphenated(paragraphs(geometry, headings, baselines)), baselines
    text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
    return rejoin_hyphenated([line.rstrip() for line in text.split("\n")]), None


def _visible_chars(lines: list[str]) -> int:
    return sum(len("".join(line.split())) for line in lines)


def missing_spaces(lines: list[str]) -> bool:
    """Text extracted without the spaces between words: long runs of letters with few breaks."""
    words = re.findall(r"[^\W\d_]+", " ".join(lines))
    letters = sum(len(w) for w in words)
    return letters >= 200 and letters / len(words) > 10


def _blank(page) -> bool:
    """A page that draws nothing at all (a separator sheet) needs no OCR and no warning."""
    return next(iter(page.get_objects(max_depth=1)), None) is None


def _outline_paper_starts(pdf, n_pages: int) -> list[int]:
    """Pages where the papers of a bundled pack begin, from top-level bookmarks that name papers
    ('Minutes 10/18/22'), not pages ('Pg 2') or headings of one report (several per page)."""
    starts: set[int] = set()
    top_level = [b for b in pdf.get_toc() if b.level == 0]
    if len(top_level) * 2 > n_pages:
        return []  # a bookmark per page or more: slides or headings, not papers
    for bookmark in top_level:
        if _GENERIC_BOOKMARK.match((bookmark.get_title() or "").strip()):
            continue
        dest = bookmark.get_dest()
        index = dest.get_index() if dest is not None else None
        if index is not None and 0 < index < n_pages:
            starts.add(index)
    starts_sorted = sorted(starts)
    if starts_sorted and n_pages / (len(starts_sorted) + 1) >= 2:
        return starts_sorted
    return []


def extract_pdf(path: Path, data: bytes | None = None) -> Extracted:
    settings = get_settings()
    pdf = _open(path.read_bytes() if data is None else data)
    try:
        n_pages = len(pdf)
        if n_pages == 0:
            raise SkipFile("PDF has no pages")
        if n_pages > settings.max_pages:
            raise SkipFile(f"{n_pages} pages, over the {settings.max_pages}-page limit (REPORTSEARCH_MAX_PAGES)")
        raw_pages: list[list[str]] = []
        positions: list[list[float | None] | None] = []
        headings: list[tuple[str, int]] = []
        textless: list[int] = []
        ocr_done: list[int] = []
        ocr_tried: list[int] = []
        unspaced: list[int] = []
        can_ocr = settings.ocr and tesseract_available()
        show = n_pages >= 100 and sys.stderr.isatty()
        for index in range(n_pages):
            if show and index % 50 == 0:
                print(f"\r  {path.name}: page {index + 1}/{n_pages}", end="", file=sys.stderr, flush=True)
            page = pdf[index]
            textpage = page.get_textpage()
            lines, baselines = _page_lines(textpage, page.get_rotation(), headings)
            textpage.close()
            if _visible_chars(lines) < MIN_TEXT_CHARS and not _blank(page):
                textless.append(index + 1)
                if can_ocr and len(ocr_tried) < settings.ocr_max_pages:
                    ocr_tried.append(index + 1)
                    image = page.render(scale=settings.ocr_dpi / 72, grayscale=True).to_pil()
                    lines, baselines = reflow_plain(ocr_image(image, settings.ocr_timeout).split("\n")), None
                    if _visible_chars(lines) >= MIN_TEXT_CHARS:
                        ocr_done.append(index + 1)
                    else:
                        lines, baselines = [], None
            elif missing_spaces(lines):
                unspaced.append(index + 1)
            page.close()
            raw_pages.append(lines)
            positions.append(baselines)
        if show:
            print(file=sys.stderr)
        pages_lines, footer_labels = strip_furniture(raw_pages, positions)
        stated = [pdf.get_page_label(i) or None for i in range(n_pages)]
        pages = [
            Page("\n".join(lines), number=i + 1, label=stated[i] or footer_labels[i], ocr=(i + 1) in ocr_done)
            for i, lines in enumerate(pages_lines)
        ]
        notes = []
        if ocr_done:
            notes.append(f"OCR text on pages {page_ranges(ocr_done)}")
        if not can_ocr:
            hint = ("install tesseract-ocr to index them" if settings.ocr
                    else "OCR is off, REPORTSEARCH_OCR=0")
            reasons = {hint: textless}
        else:
            reasons = {"OCR found no text": [n for n in ocr_tried if n not in ocr_done],
                       f"over the {settings.ocr_max_pages}-page OCR limit, REPORTSEARCH_OCR_MAX_PAGES":
                           [n for n in textless if n not in ocr_tried]}
        for hint, numbers in reasons.items():
            if numbers:
                notes.append(f"no text layer on pages {page_ranges(numbers)} ({hint})")
        if unspaced:
            notes.append(f"text extracted without spaces between words on pages {page_ranges(unspaced)}")
        if not any(p.text.strip() for p in pages):
            raise SkipFile(notes[-1] if notes else "no text in any page")
        headings = [(rejoin_hyphenated([text])[0], level) for text, level in headings]
        return Extracted(pages=pages, headings=headings, paper_starts=_outline_paper_starts(pdf, n_pages), notes=notes)
    finally:
        pdf.close()
