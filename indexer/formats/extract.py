"""Dispatch by file type to the extractor; every failure becomes a SkipFile with a reason."""

from __future__ import annotations

from pathlib import Path

from ..load import SkipFile
from . import Extracted


def extract(path: Path, data: bytes) -> Extracted:
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            from .pdf import extract_pdf

            return extract_pdf(path, data)
        if suffix == ".docx":
            from .docx import extract_docx

            return extract_docx(data)
        if suffix in {".html", ".htm"}:
            from .html import extract_html

            return extract_html(data)
    except SkipFile:
        raise
    except MemoryError as exc:
        raise SkipFile(f"{suffix[1:].upper()} too large to read in memory") from exc
    except Exception as exc:  # a malformed file must never stop the run: say why and move on
        raise SkipFile(f"unreadable {suffix[1:].upper()} ({type(exc).__name__}: {exc})"[:300]) from exc
    raise SkipFile(f"unsupported file type '{suffix or 'none'}'")
