"""Reading a paper's own header: title, date(s), body, type, author, reference, confidentiality.

Formal papers announce themselves in a handful of recognisable header styles (memo fields, a
'Report to the ... Board' block, 'MINUTES of a meeting of ...', 'Record of Decision', 'Meeting
Notes'). Each rule below reads one style; unknown styles fall back to the first line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dates import find_dates

HEADER_LINES = 14
_FIELD = re.compile(
    r"^(from|to|by|subject|title|date|date & time|originator|reference)\s*:\s*(.+)$", re.IGNORECASE
)
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"}
_KEEP_CAPS = {"PCC", "OPCC", "HMIC", "PEEL", "ICT", "EU", "KCC", "CSE", "NHS", "CCTV", "UK", "ASB", "VAWG"}
BODY_NAMES = [
    ("police and crime panel", "Kent and Medway Police and Crime Panel"),
    ("performance and delivery board", "Performance and Delivery Board"),
    ("performance delivery board", "Performance and Delivery Board"),
    ("governance board", "Governance Board"),
]


@dataclass
class PaperInfo:
    title: str
    doc_type: str = "report"
    dates: list[str] = field(default_factory=list)
    date: str | None = None
    body: str | None = None
    author: str | None = None
    contact: str | None = None
    reference: str | None = None
    confidential: bool = False


def title_case(text: str) -> str:
    """'COLLABORATION AND PARTNERSHIP WORKING' -> 'Collaboration and Partnership Working'."""
    if text.upper() != text:
        return text
    words = []
    for i, word in enumerate(text.split()):
        core = word.strip(":,.()'")
        if core in _KEEP_CAPS or (core.isalpha() and not re.search(r"[AEIOUY]", core)):
            words.append(word)
        elif i and word.lower() in _SMALL_WORDS:
            words.append(word.lower())
        else:
            words.append(word.capitalize())
    return " ".join(words)


def canonical_body(text: str | None) -> str | None:
    if not text:
        return None
    low = text.lower()
    for needle, name in BODY_NAMES:
        if needle in low:
            return name
    return re.split(r"\s+[–-]\s+", text.strip())[0].strip() or None


def _header(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()][:HEADER_LINES]


def _fields(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        m = _FIELD.match(line)
        if m and m.group(1).lower() not in out:
            out[m.group(1).lower()] = m.group(2).strip()
    return out


def _iso_dates(text: str) -> list[str]:
    return list(dict.fromkeys(d.isoformat() for _, d in find_dates(text)))


def _type_from_title(title: str) -> str:
    low = title.lower()
    if "annual report" in low:
        return "annual report"
    if "hmic" in low or "inspection" in low:
        return "inspection report"
    if "work programme" in low:
        return "work programme"
    if "policy" in low:
        return "policy"
    return "report"


def describe(text: str, fallback_date: str | None = None, fallback_body: str | None = None) -> PaperInfo:
    """Metadata for one paper from its opening lines; fallbacks come from the pack's agenda."""
    lines = _header(text)
    head = "\n".join(lines)
    fields = _fields(lines)
    first = lines[0] if lines else ""
    info = PaperInfo(title=title_case(first)[:160] or "Untitled")
    confidential = re.search(r"(confidential|exempt)\s*☒", head, re.IGNORECASE)
    info.confidential = bool(confidential)

    minutes = re.search(r"MINUTES of a meeting of (?:the )?(.+?) held\b.*?\bon\b(.+?\d{4})", head, re.DOTALL)
    if first.upper() == "AGENDA":
        body = next((l for l in lines[1:4] if re.search(r"PANEL|BOARD|COMMITTEE|COUNCIL", l)), None)
        info.body = canonical_body(body)
        info.title = f"Agenda: {title_case(body)}" if body else "Agenda"
        info.doc_type = "agenda"
        info.dates = _iso_dates(head)[:1]
    elif minutes:
        info.body = canonical_body(minutes.group(1))
        info.title = f"Minutes of the {info.body}"
        info.doc_type = "minutes"
        info.dates = _iso_dates(minutes.group(2))
    elif first.lower() == "meeting notes" and "title" in fields:
        info.body = canonical_body(fields["title"])
        info.title = f"{fields['title']} meeting notes"
        info.doc_type = "minutes"
        info.dates = _iso_dates(fields.get("date & time", head))[:1]
    elif first.lower() == "record of decision":
        info.title = f"Record of Decision: {fields.get('title', 'untitled')}"
        info.doc_type = "decision"
        info.reference = fields.get("reference")
        info.author = fields.get("originator")
        info.dates = _iso_dates(text)[:1]
    elif "subject" in fields or "title" in fields:
        info.title = fields.get("subject") or fields["title"]
        info.doc_type = _type_from_title(info.title)
        info.author = fields.get("from") or fields.get("by")
        report_to = re.search(r"^(?:##\s*)?Report to the (.+)$", head, re.MULTILINE)
        info.body = canonical_body(fields.get("to") or (report_to.group(1) if report_to else None))
        info.dates = _iso_dates(fields.get("date", "")) or _iso_dates(fields.get("to", "")) or _iso_dates(head)[:1]
    elif re.match(r"chief constable'?s report", first, re.IGNORECASE):
        caps = next((l for l in lines[1:] if l.isupper() and len(l.split()) >= 2), None)
        body = next((l for l in lines[1:] if re.search(r"board|panel|committee", l, re.IGNORECASE)), None)
        info.title = title_case(caps) if caps else info.title
        info.body = canonical_body(body)
        info.author = "Chief Constable"
        before_body = head.split("\n1.")[0]
        info.dates = _iso_dates(before_body)
    else:
        info.doc_type = _type_from_title(first)
        info.dates = _iso_dates(first) or _iso_dates(head)[:1]

    contact = re.search(r"^Contact:\s*(.+)$", text, re.MULTILINE)
    info.contact = contact.group(1).strip() if contact else None
    info.body = info.body or fallback_body
    # A report 'Updated for' a later meeting is indexed under the later date; both are kept.
    info.date = max(info.dates) if info.dates else fallback_date
    return info
