"""Typed records shared by the indexer, the search service and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Section:
    id: str
    number: str | None
    title: str
    path: list[str]
    span: tuple[int, int]
    level: int = 0
    page: int | None = None


@dataclass
class Document:
    """One paper: a whole file, or one paper split out of an agenda pack."""

    id: str
    title: str
    text: str
    source_path: str
    position: int = 0
    date: str | None = None
    dates: list[str] = field(default_factory=list)
    doc_type: str = "report"
    body: str | None = None
    author: str | None = None
    contact: str | None = None
    reference: str | None = None
    confidential: bool = False
    sections: list[Section] = field(default_factory=list)
    # Where each source page starts in `text`: [(offset, 1-based page, printed label or None)], in
    # order; empty for formats without pages. `page_at` reads it.
    pages: list[tuple[int, int, str | None]] = field(default_factory=list)
    # "public" or "restricted" (exempt items); the reason names the marker or the override.
    access: str = "public"
    access_reason: str | None = None

    def page_at(self, offset: int) -> tuple[int | None, str | None]:
        """(page, printed label) of the page holding character `offset`; (None, None) without pages."""
        found: tuple[int | None, str | None] = (None, None)
        for start, page, label in self.pages:
            if start > offset:
                break
            found = (page, label)
        return found

    def summary(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "date": self.date,
            "doc_type": self.doc_type,
            "body": self.body,
            "source_path": self.source_path,
        }


@dataclass
class Chunk:
    id: str
    document_id: str
    section_id: str
    span: tuple[int, int]
    text: str
    embed_text: str
    n_tokens: int
    ord: int = 0
    context: str = ""  # document title and heading path, for the embedder and keyword search
