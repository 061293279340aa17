"""From one file's text to its papers: clean -> split into papers -> metadata -> sections.

Paged formats arrive as an `Extracted` (indexer/formats): its pages are cleaned together while
recording where each page starts, and every paper gets those starts rebased to its own text, so
`Document.page_at(offset)` names the source page of any span.
"""

from __future__ import annotations

import hashlib
import re

from .clean import clean_pages, clean_text
from .formats import Extracted
from .metadata import describe
from .models import Document
from .sections import parse_sections
from .split import agenda_page_ranges, paper_starts, split_papers

PageStart = tuple[int, int, str | None]


def document_id(source_path: str, position: int) -> str:
    """Stable while the file's path and its papers' order are unchanged."""
    return hashlib.sha1(f"{source_path}#{position}".encode()).hexdigest()[:12]


def paper_pages(pages: list[PageStart], start: int, end: int) -> list[PageStart]:
    """The page starts of the file that fall in one paper [start, end), relative to the paper;
    the page the paper opens on starts at its offset 0."""
    inside = [(offset - start, page, label) for offset, page, label in pages if start < offset < end]
    opening = [(0, page, label) for offset, page, label in pages if offset <= start]
    return opening[-1:] + inside


def _clean(raw_text: str, extracted: Extracted | None) -> tuple[str, list[PageStart], list[int] | None]:
    """Cleaned file text, its page starts and, for a pack with bookmarks, where its papers start."""
    if extracted is None:
        return clean_text(raw_text), [], None
    text, starts = clean_pages([page.text for page in extracted.pages], markup=False)
    pages = [(starts[i], page.number, page.label) for i, page in enumerate(extracted.pages) if page.number is not None]
    papers = [starts[i] for i in extracted.paper_starts] or None
    if papers is None and pages:
        papers = _agenda_starts(text, pages) or [s for s in paper_starts(text) if _opens_page(text, s, starts)]
    return text, pages, papers


def _agenda_starts(text: str, pages: list[PageStart]) -> list[int]:
    """Paper starts from the agenda's page ranges, printed numbers mapped to physical pages by
    their labels; only when every listed page is found."""
    agenda = text[: pages[3][0]] if len(pages) > 3 else text  # an agenda fills the pack's first pages
    first_pages = agenda_page_ranges(agenda)
    by_label = {label: offset for offset, _, label in pages if label}
    found = [by_label.get(str(n)) for n in first_pages]
    return found if found and all(o is not None for o in found) else []


def _opens_page(text: str, offset: int, page_starts: list[int]) -> bool:
    """A paper of a printed pack begins on a new page: at most a letterhead's few lines above it."""
    before = [start for start in page_starts if start <= offset]
    if not before:
        return True
    return len([line for line in text[before[-1] : offset].split("\n") if line.strip()]) <= 3


def _substantial(title: str) -> bool:
    """Two real words at least: not '47698', 'Metro' or a scanner's stray '®'."""
    return len(re.findall(r"[^\W\d_]{3,}", title)) >= 2


def _title_for(title: str, paper: str) -> str:
    """Text cut from a PDF often opens with a page number, a reference or a logo's word: then the
    first line of real words among the paper's opening lines."""
    if _substantial(title):
        return title
    opening = [line.strip() for line in paper.split("\n") if line.strip()][:8]
    return next((line[:160] for line in opening if _substantial(line) and len(line.split()) <= 20), title)


def _type_for(title: str, doc_type: str) -> str:
    """'Rivergrove City Council Meeting Minutes', 'Regular Meeting Agenda' say what they are."""
    if doc_type == "report":
        for word in ("minutes", "agenda"):
            if re.search(rf"\b{word}\b", title, re.IGNORECASE):
                return word
    return doc_type


def build_documents(source_path: str, raw_text: str, extracted: Extracted | None = None) -> list[Document]:
    text, pages, starts = _clean(raw_text, extracted)
    papers = split_papers(text, starts)
    headings = extracted.headings if extracted else None
    documents: list[Document] = []
    pack_date = pack_body = None
    bounds = [offset for offset, _ in papers[1:]] + [len(text)]
    for position, ((offset, paper), end) in enumerate(zip(papers, bounds)):
        info = describe(paper, fallback_date=pack_date, fallback_body=pack_body)
        if extracted is not None:
            info.title = _title_for(info.title, paper)
            info.doc_type = _type_for(info.title, info.doc_type)
        if position == 0:
            pack_date, pack_body = info.date, info.body
        doc_id = document_id(source_path, position)
        document = Document(
            id=doc_id,
            title=info.title,
            text=paper,
            source_path=source_path,
            position=position,
            date=info.date,
            dates=info.dates,
            doc_type=info.doc_type,
            body=info.body,
            author=info.author,
            contact=info.contact,
            reference=info.reference,
            confidential=info.confidential,
            sections=parse_sections(paper, doc_id, headings),
            pages=paper_pages(pages, offset, end),
        )
        if document.pages:
            for section in document.sections:
                section.page = document.page_at(section.span[0])[0]
        documents.append(document)
    return documents
