"""Finding and reading report files; every refusal carries a reason for the index summary."""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm"}
SKIPPED_DIRS = {".git", ".reportsearch", "__pycache__", "node_modules", ".venv"}
# A folder's own notes in plain text (its catalogue, licence, change log) describe the reports rather than
# being one: a catalogue's one-line summary of each paper would be quoted instead of the paper. Named, they
# are indexed (and kept). Not 'notice' or 'changes', nor a PDF or DOCX: a council's 'Notice.pdf' is a paper.
FOLDER_NOTES = {"readme", "manifest", "licence", "license", "changelog", "contributing", "copying", "authors"}
NOTES_SUFFIXES = {".txt", ".md", ".markdown"}


# Longest first: a UTF-32 LE mark begins with the UTF-16 LE one.
BOMS = [(codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]


class SkipFile(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


@dataclass
class SourceFile:
    path: Path
    sha256: str
    text: str
    # PDF/DOCX/HTML: pages, stated headings and pack papers (indexer/formats.Extracted); None for text.
    extracted: object | None = None
    notes: list[str] = field(default_factory=list)  # for the index summary: OCR, missing text layers
    data: bytes | None = None  # a paged or structured file's bytes, until `extract()` reads them

    def extract(self):
        """Read a PDF/DOCX/HTML file's text (raises SkipFile); deferred until the file is known to
        have changed, as OCR is slow. Returns the Extracted, or None for plain text."""
        if self.data is not None:
            from .formats.extract import extract

            self.extracted = extract(self.path, self.data)
            self.text, self.notes, self.data = self.extracted.text, self.extracted.notes, None
        return self.extracted


def display_path(path: Path | str) -> str:
    """A path as text that can always be printed and stored (undecodable bytes shown as escapes)."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)  # what source paths are relative to
    folders: list[Path] = field(default_factory=list)  # folders named: files vanished from them are removed
    root_of: dict[Path, Path] = field(default_factory=dict)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _consider(path: Path, root: Path, found: Discovery, named: bool = False) -> None:
    """One directory entry (or a path the user `named`): a report to read, a folder to walk, or a
    reason it is left out."""
    shown = display_path(path)
    try:
        info = path.lstat()
    except OSError as exc:
        found.skipped.append((shown, f"cannot read: {exc.strerror or exc}"))
        return
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)
        inside = any(Path(target).is_relative_to(r) for r in found.roots)
        where = "inside the indexed folders, indexed at its own path" if inside else "outside the indexed folders"
        found.skipped.append((shown, f"symbolic link not followed (points {where})"))
        return
    if stat.S_ISDIR(info.st_mode):
        if path.name in SKIPPED_DIRS:
            return
        try:
            children = sorted(path.iterdir())
        except OSError as exc:
            found.skipped.append((shown, f"cannot read folder: {exc.strerror or exc}"))
            return
        for child in children:
            _consider(child, root, found)
        return
    if not stat.S_ISREG(info.st_mode):
        found.skipped.append((shown, f"{_kind(info.st_mode)}, not a file"))
        return
    if not named and path.stem.lower() in FOLDER_NOTES and path.suffix.lower() in NOTES_SUFFIXES:
        found.skipped.append((shown, "the folder's own notes, not a report (name the file to index it)"))
    elif path.suffix.lower() in SUPPORTED_SUFFIXES:
        found.files.append(path)
        found.root_of.setdefault(path, root)
    # Hidden files and JSON (question sets, metadata) sit beside reports without being reports.
    elif not path.name.startswith(".") and path.suffix.lower() not in {".jsonl", ".json"}:
        found.skipped.append((shown, f"unsupported file type '{display_path(path.suffix) or 'none'}'"))


def discover(paths: list[Path]) -> Discovery:
    """Expand folders recursively without following symbolic links; every file left out has a reason."""
    found = Discovery()
    named: list[tuple[Path, Path]] = []
    for raw in paths:
        path = raw.expanduser()
        if not path.exists():
            found.skipped.append((display_path(raw), "path does not exist"))
            continue
        path = path.resolve()  # a path the user names is followed; links found inside it are not
        root = path if path.is_dir() else path.parent
        found.roots.append(root)
        if path.is_dir():
            found.folders.append(path)
        named.append((path, root))
    for path, root in named:
        _consider(path, root, found, named=True)
    found.files = list(dict.fromkeys(found.files))
    listed = {display_path(f) for f in found.files}  # a note named beside its folder is indexed, not skipped
    found.skipped = [(path, why) for path, why in found.skipped if path not in listed]
    return found


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else cp1252, else latin-1; binary content is refused."""
    if not data.strip():
        raise SkipFile("empty file")
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return _check_controls(data[len(bom):].decode(encoding))
            except UnicodeDecodeError:
                raise SkipFile(f"invalid {encoding.upper()} text") from None
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
    return _check_controls(text)


def _check_controls(text: str) -> str:
    controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(8, len(text[:20000]) // 100):
        raise SkipFile("binary or undecodable content")
    return text


DOCUMENT_SUFFIXES = {".pdf", ".docx", ".html", ".htm"}  # read by indexer/formats, bounded by pages, not bytes


def read_source(path: Path, max_bytes: int, max_document_bytes: int | None = None) -> SourceFile:
    """The file's bytes and text; `max_bytes` bounds plain text, `max_document_bytes` PDF/DOCX/HTML
    (an agenda pack of scanned pages is large, and its work is bounded by the page limit instead)."""
    document = path.suffix.lower() in DOCUMENT_SUFFIXES
    if document and max_document_bytes is not None:
        max_bytes = max_document_bytes
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkipFile(f"file too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB limit)")
        data = path.read_bytes()
    except OSError as exc:
        raise SkipFile(f"cannot read file: {exc.strerror or exc}") from exc
    if document:
        if not data.strip():
            raise SkipFile("empty file")
        return SourceFile(path=path, sha256=file_hash(data), text="", data=data)
    return SourceFile(path=path, sha256=file_hash(data), text=decode(data))
