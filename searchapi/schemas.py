"""Typed request and response shapes of the HTTP API and the CLI's --json output."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_QUERY_CHARS = 2000
_BAD_CHARS = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_text(value):
    """Every string of a request, however nested: no unpaired surrogates, no control characters."""
    if isinstance(value, str):
        if _BAD_CHARS.search(value):
            raise ValueError("text must not contain unpaired surrogates or control characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_text(item)
    return value


class RequestModel(BaseModel):
    """Base of every request body: text that cannot be printed or stored is refused with a 422."""

    _text = model_validator(mode="before")(_check_text)


class Filters(RequestModel):
    model_config = ConfigDict(extra="forbid")

    document_ids: list[str] | None = None
    date_from: date | None = None
    date_to: date | None = None
    doc_types: list[str] | None = None
    bodies: list[str] | None = None


def clean_query(value: str) -> str:
    """Shared by the API and the CLI: no empty or whitespace-only queries, none over 2,000 characters."""
    if not value or not value.strip():
        raise ValueError("must not be empty")
    if _BAD_CHARS.search(value):
        raise ValueError("must not contain unpaired surrogates or control characters")
    if len(value) > MAX_QUERY_CHARS:
        raise ValueError(f"must be at most {MAX_QUERY_CHARS} characters")
    return value.strip()


class SearchRequest(RequestModel):
    query: str
    k: int = Field(10, ge=1, le=100)
    filters: Filters | None = None
    sort: Literal["relevance", "newest"] = "relevance"

    _check = field_validator("query")(clean_query)


class Turn(RequestModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20000)


class AskRequest(RequestModel):
    question: str
    k: int = Field(8, ge=1, le=100)
    filters: Filters | None = None
    history: list[Turn] | None = Field(None, max_length=50)
    mode: Literal["auto", "local", "llm"] = "auto"

    _check = field_validator("question")(clean_query)


class DocumentRef(BaseModel):
    id: str
    title: str
    date: str | None
    doc_type: str
    body: str | None
    source_path: str


class SectionRef(BaseModel):
    id: str
    number: str | None
    title: str
    path: list[str]


class Result(BaseModel):
    rank: int
    score: float
    chunk_id: str
    text: str
    document: DocumentRef
    section: SectionRef
    span: tuple[int, int]
    page: int | None = None
    page_label: str | None = None
    citation: str


class SearchResponse(BaseModel):
    query: str
    results: list[Result]
    took_ms: float


class Citation(BaseModel):
    n: int
    chunk_id: str
    quote: str
    document: DocumentRef
    section: SectionRef
    page: int | None = None
    page_label: str | None = None
    citation: str
    span: tuple[int, int] | None = None  # the quote's offsets in the document text


class Answer(BaseModel):
    question: str
    answer: str
    answerable: bool
    citations: list[Citation]
    passages: list[Result]
    took_ms: float
    mode: str = "local"
    notice: str | None = None
    # Calibrated probability that the cited evidence answers the question (None when nothing was found).
    confidence: float | None = None


class DocumentMeta(DocumentRef):
    """Header facts beyond the interface's document fields."""

    dates: list[str] = []
    author: str | None = None
    contact: str | None = None
    reference: str | None = None
    confidential: bool = False
    access: str = "public"
    access_reason: str | None = None


class DocumentSummary(DocumentMeta):
    sections: int


class SectionOut(BaseModel):
    id: str
    number: str | None
    title: str
    path: list[str]
    span: tuple[int, int]
    page: int | None = None


class DocumentDetail(DocumentMeta):
    text: str
    sections: list[SectionOut]
    pages: list[tuple[int, int, str | None]] = []  # [offset in text, page, printed label] where each page starts


class Health(BaseModel):
    status: str
    documents: int
    chunks: int
    model: str


# ---- precedent (searchapi/meeting/precedent.py) ----------------------------------------------------------
class PrecedentRequest(RequestModel):
    query: str
    k: int = Field(20, ge=1, le=100)
    filters: Filters | None = None
    sort: Literal["newest", "oldest"] = "newest"

    _check = field_validator("query")(clean_query)


class DiffOp(BaseModel):
    op: Literal["equal", "insert", "delete"]
    text: str


class PrecedentOccurrence(BaseModel):
    document: DocumentRef
    citation: str
    text: str
    span: tuple[int, int]
    page: int | None = None
    page_label: str | None = None
    chunk_id: str
    score: float
    diff: list[DiffOp] | None = None  # against the previous use in time; None for the first use


class PrecedentGroup(BaseModel):
    wording: str
    papers: int
    first_used: str | None
    last_used: str | None
    occurrences: list[PrecedentOccurrence]


class PrecedentResponse(BaseModel):
    query: str
    groups: list[PrecedentGroup]
    took_ms: float


# ---- saved searches (searchapi/saved.py) -----------------------------------------------------------
class SavedMatchOut(BaseModel):
    found: str  # when the indexing run that added the passage finished (ISO 8601, UTC)
    result: Result


class SavedSearchOut(BaseModel):
    name: str
    query: str
    filters: dict | None = None
    created: str
    matches: list[SavedMatchOut]
