"""From one file's text to its papers: clean -> split into papers -> metadata -> sections."""

from __future__ import annotations

import hashlib

from .clean import clean_text
from .metadata import describe
from .models import Document
from .sections import parse_sections
from .split import split_papers


def document_id(source_path: str, position: int) -> str:
    """Stable while the file's path and its papers' order are unchanged."""
    return hashlib.sha1(f"{source_path}#{position}".encode()).hexdigest()[:12]


def build_documents(source_path: str, raw_text: str) -> list[Document]:
    papers = split_papers(clean_text(raw_text))
    documents: list[Document] = []
    pack_date = pack_body = None
    for position, (_, text) in enumerate(papers):
        info = describe(text, fallback_date=pack_date, fallback_body=pack_body)
        if position == 0:
            pack_date, pack_body = info.date, info.body
        doc_id = document_id(source_path, position)
        documents.append(
            Document(
                id=doc_id,
                title=info.title,
                text=text,
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
                sections=parse_sections(text, doc_id),
            )
        )
    return documents
