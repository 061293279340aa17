"""Follow-up questions: 'and the year before?' is searched as a rewrite of the previous turn."""

from __future__ import annotations

import re

from searchapi.retrieval.query import tokens
from searchapi.schemas import Turn

_ELLIPTIC = re.compile(
    r"^(?:and|also|what about|how about|and what about|same for|what of)\b|\b(?:it|its|they|them|their|that|this|those|these|he|she|his|her)\b"
    r"|\b(?:the )?(?:year|month|meeting) (?:before|after)\b|\bprevious (?:year|meeting)\b",
    re.IGNORECASE,
)
_FY = re.compile(r"\b(20\d\d)/(\d\d)\b")
_YEAR = re.compile(r"\b(20\d\d)\b")


def _shift_years(text: str, delta: int) -> str:
    """'2016/17' -> '2015/16' and '2017' -> '2016' for 'the year before' (delta=-1)."""
    text = _FY.sub(lambda m: f"{int(m.group(1)) + delta}/{(int(m.group(2)) + delta) % 100:02d}", text)
    return _YEAR.sub(lambda m: str(int(m.group(1)) + delta), text) if not _FY.search(text) else text


def previous_question(question: str, history: list[Turn]) -> str | None:
    """The user's last question, when this one reads as its follow-up (short, elliptic or with a pronoun)."""
    previous = next((t.content for t in reversed(history) if t.role == "user"), None)
    return previous if previous and (len(tokens(question)) <= 4 or _ELLIPTIC.search(question)) else None


def rewrite_followup(question: str, history: list[Turn]) -> str:
    previous = previous_question(question, history)
    if not previous:
        return question
    if re.search(r"\b(?:year|month) before\b|\bprevious year\b|\blast year\b", question, re.I):
        previous = _shift_years(previous, -1)
    elif re.search(r"\b(?:year|month) after\b|\bnext year\b|\bfollowing year\b", question, re.I):
        previous = _shift_years(previous, +1)
    return f"{previous} {question}"
