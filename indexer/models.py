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
