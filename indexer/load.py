"""Finding and reading report files; every refusal carries a reason for the index summary."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown"}
SKIPPED_DIRS = {".git", ".reportsearch", "__pycache__", "node_modules", ".venv"}


class SkipFile(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


@dataclass
class SourceFile:
    path: Path
    sha256: str
    text: str


def discover(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]], list[Path]]:
    """Expand folders recursively. Returns (files, [(path, reason)] skipped, folder roots)."""
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    roots: list[Path] = []
    for raw in paths:
        path = raw.expanduser()
        if not path.exists():
            skipped.append((str(raw), "path does not exist"))
            continue
        path = path.resolve()
        if path.is_dir():
            roots.append(path)
            for child in sorted(path.rglob("*")):
                if any(part in SKIPPED_DIRS for part in child.relative_to(path).parts):
                    continue
                if child.is_file():
                    if child.suffix.lower() in SUPPORTED_SUFFIXES:
                        files.append(child)
                    # Hidden files and JSON (question sets, metadata) sit beside reports without being reports.
                    elif not child.name.startswith(".") and child.suffix.lower() not in {".jsonl", ".json"}:
                        skipped.append((str(child), f"unsupported file type '{child.suffix or 'none'}'"))
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
        else:
            skipped.append((str(path), f"unsupported file type '{path.suffix or 'none'}'"))
    return list(dict.fromkeys(files)), skipped, roots


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else cp1252, else latin-1; binary content is refused."""
    if not data.strip():
        raise SkipFile("empty file")
    if b"\x00" in data[:8192]:
        raise SkipFile("binary file (contains NUL bytes)")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(8, len(text[:20000]) // 100):
        raise SkipFile("binary or undecodable content")
    return text


def read_source(path: Path, max_bytes: int) -> SourceFile:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkipFile(f"file too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB limit)")
        data = path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"cannot read file: {exc.strerror or exc}") from exc
    return SourceFile(path=path, sha256=file_hash(data), text=decode(data))
