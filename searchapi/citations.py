"""How a passage is cited: 'Title (20 Jul 2017), section 3.2 Revenue'."""

from __future__ import annotations

from indexer.dates import format_date
from indexer.models import Document, Section

from .schemas import DocumentRef, SectionRef


def section_label(doc: Document, section: Section) -> str:
    """The section's number and title; an untitled numbered paragraph borrows its parent's title."""
    title = section.title
    if not title and len(section.path) > 1:
        title = section.path[-2] if section.path[-2] != section.number else ""
    if section.number:
        return f"section {section.number} {title}".rstrip()
    return title


def format_citation(doc: Document, section: Section) -> str:
    label = section_label(doc, section)
    head = f"{doc.title} ({format_date(doc.date)})"
    return f"{head}, {label}" if label else head


def document_ref(doc: Document) -> DocumentRef:
    return DocumentRef(**doc.summary())


def section_ref(section: Section) -> SectionRef:
    return SectionRef(id=section.id, number=section.number, title=section.title, path=section.path)
