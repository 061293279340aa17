"""How a passage is cited: 'Title (20 Jul 2017), section 3.2 Revenue'."""

from __future__ import annotations

from indexer.dates import format_date
from indexer.models import Document, Section

from searchapi.schemas import DocumentRef, SectionRef


def section_label(section: Section, enclosing_number: str | None = None, minutes: bool = False) -> str:
    """'section 3.2 Revenue'. An untitled numbered paragraph borrows its parent's title; an
    unnumbered heading ('PEQF') is placed by its nearest numbered ancestor ('section 3.1, PEQF');
    in minutes, paragraph 13 of minute 219 is 'minute 219, paragraph 13', as the minutes number them."""
    title = section.title
    if not title and len(section.path) > 1:
        title = section.path[-2] if section.path[-2] != section.number else ""
    if section.number and minutes and enclosing_number and section.number.isdigit() and enclosing_number.isdigit():
        return f"minute {enclosing_number}, paragraph {section.number} {title}".rstrip()
    if section.number:
        return f"section {section.number} {title}".rstrip()
    if enclosing_number and title:
        return f"section {enclosing_number}, {title}"
    return title


def format_citation(doc: Document, section: Section, enclosing_number: str | None = None,
                    page: int | str | None = None) -> str:
    """'Title (20 Jul 2017), section 3.2 Revenue, p. 14' (the printed page label where there is one)."""
    label = section_label(section, enclosing_number, minutes=doc.doc_type == "minutes")
    parts = [f"{doc.title} ({format_date(doc.date)})"] + ([label] if label else []) + ([f"p. {page}"] if page else [])
    return ", ".join(parts)


def document_ref(doc: Document) -> DocumentRef:
    return DocumentRef(**doc.summary())


def section_ref(section: Section) -> SectionRef:
    return SectionRef(id=section.id, number=section.number, title=section.title, path=section.path)
