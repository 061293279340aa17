"""Which papers are restricted (exempt items): the markings councils and panels print on them.

A marking is a header line of a paper that *is* a protective marking ("NOT FOR PUBLICATION",
"CONFIDENTIAL", "Part 2 (exempt)", "EXEMPT"), optionally followed by its reason, or a header line
citing the statutory exemption ("… exempt information … Schedule 12A …"), or a ticked
"Confidential ☒" box. Prose that merely uses the word ("commercially confidential", "EXEMPT ITEMS"
as an agenda heading, an unticked box) is not a marking. Overrides (`index --access`, a
`.reportsearch-access` file in a folder) win over detection in both directions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .models import Document

PUBLIC, RESTRICTED = "public", "restricted"
SIDECAR = ".reportsearch-access"
HEADER_LINES = 40  # markings sit in a paper's title block or running head

_MARK = r"(?:strictly\s+)?confidential|not\s+for\s+publication|exempt|restricted|part\s+(?:2|ii|b)(?:\s*\(\s*(?:exempt|confidential|private)\s*\))?"
# The line is the marking, alone or followed by its reason after a separator.
_MARKING_LINE = re.compile(rf"^(?P<mark>{_MARK})\s*(?:$|[:\-–—]\s*\S|\(|by\s+virtue)", re.IGNORECASE)
_STATUTE = re.compile(r"exempt\s+information.{0,200}?schedule\s+12\s*a|schedule\s+12\s*a.{0,200}?exempt", re.IGNORECASE | re.DOTALL)
_BOX_WORD = re.compile(r"confidential|exempt|not\s+for\s+publication", re.IGNORECASE)
_BOX_AFTER = re.compile(r"\W{0,6}?([☐☒☑✓✔])")
_BOX_BEFORE = re.compile(r"([☐☒☑✓✔])\W{0,6}$")
_TICKS = "☒☑✓✔"
_DECORATION = re.compile(r"^[\s*_#>|\[\]]+|[\s*_#|\[\]]+$")


@dataclass(frozen=True)
class Marking:
    reason: str
    span: tuple[int, int]


def find_marking(text: str) -> Marking | None:
    """The first protective marking in the paper's header lines, with its span in `text`."""
    pos = 0
    for number, line in enumerate(text.split("\n")):
        if number >= HEADER_LINES:
            break
        start = pos
        pos += len(line) + 1
        bare = _DECORATION.sub("", line)
        if not bare:
            continue
        offset = start + line.find(bare)
        m = _MARKING_LINE.match(bare)
        if m and len(bare) <= 300:
            return Marking(f"marked “{' '.join(m.group('mark').split())}”", (offset, offset + m.end("mark")))
        for m in _BOX_WORD.finditer(bare):
            if _ticked(bare, m):
                return Marking(f"“{' '.join(m.group().split())}” box ticked", (offset + m.start(), offset + m.end()))
        m = _STATUTE.search(bare)
        if m:
            return Marking("exempt information under Schedule 12A to the Local Government Act 1972",
                           (offset + m.start(), offset + m.end()))
    return None


def folder_override(path: Path, roots: list[Path]) -> str | None:
    """A `.reportsearch-access` file ("restricted" or "public") in the file's folder or one above it, up to its root."""
    root = next((r for r in roots if path.is_relative_to(r)), path.parent)
    folder = path.parent
    while True:
        sidecar = folder / SIDECAR
        if sidecar.is_file() and not sidecar.is_symlink():
            try:
                word = sidecar.read_text(encoding="utf-8", errors="replace").split()
            except OSError:
                word = []
            if word and word[0].lower() in (PUBLIC, RESTRICTED):
                return word[0].lower()
        if folder == root or folder.parent == folder:
            return None
        folder = folder.parent


def _ticked(line: str, word: re.Match) -> bool:
    """A form's box for this word is ticked: the box right after the label ("Confidential ☒"), or,
    where no box follows, the one right before it ("☒ Confidential")."""
    after = _BOX_AFTER.match(line, word.end())
    if after:
        return after.group(1) in _TICKS
    before = _BOX_BEFORE.search(line[: word.start()])
    return bool(before) and before.group(1) in _TICKS


def apply_access(documents: list[Document], override: str | None, source: str = "") -> None:
    """Set each paper's access: the override for the whole file, else its own marking."""
    for doc in documents:
        if override:
            doc.access = override
            doc.access_reason = f"set {override} {source}".strip()
            continue
        marking = find_marking(doc.text)
        if marking is None and doc.confidential:
            marking = Marking("marked confidential in its header", (0, 0))
        if marking:
            doc.access = RESTRICTED
            doc.access_reason = f"{marking.reason} (characters {marking.span[0]}–{marking.span[1]})"
        else:
            doc.access, doc.access_reason = PUBLIC, None
