"""Dates as reports write them: '4th December 2019', '20th July, 2017', '01/03/2017'.

'2016/17' is a financial year, never a date, and is not matched.
"""

from __future__ import annotations

import re
from datetime import date

MONTHS = {
    name: i
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
         ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
         ("october", "oct"), ("november", "nov"), ("december", "dec")],
        start=1,
    )
    for name in names
}
MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))  # a regex alternation, longest first ('Sept')
_MONTH = rf"(?P<month>{MONTH_NAMES})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH},?\s+(?P<year>(?:19|20)\d\d)(?!\d)", re.IGNORECASE)
MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE)
NUMERIC = re.compile(r"\b(?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>(?:19|20)\d\d)\b")


def _build(day: str, month: str, year: str) -> date | None:
    m = int(month) if month.isdigit() else MONTHS.get(month.lower().rstrip("."))
    try:
        return date(int(year), m, int(day)) if m else None
    except ValueError:
        return None


def find_dates(text: str) -> list[tuple[int, date]]:
    """All dates in the text with their offsets, in reading order."""
    found: dict[int, date] = {}
    for pattern in (DAY_MONTH_YEAR, MONTH_DAY_YEAR, NUMERIC):
        for m in pattern.finditer(text):
            d = _build(m.group("day"), m.group("month"), m.group("year"))
            if d and not any(abs(m.start() - s) < 4 for s in found):
                found[m.start()] = d
    return sorted(found.items())


def format_date(iso: str | None) -> str:
    """'2017-07-20' -> '20 Jul 2017', as citations print it."""
    if not iso:
        return "undated"
    d = date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%b %Y')}"
