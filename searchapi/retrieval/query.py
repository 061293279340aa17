"""Understanding what a user typed: terms, quoted phrases, acronyms, section and item references."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from indexer.dates import MONTHS

STOPWORDS = set(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not now
    of off on once only or other our ours out over own same she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours tell say said says much many
    give show find know get got did does anything something please any also ever""".split()
)
_SMALL = {"and", "of", "for", "the", "&", "to", "in", "on", "with"}
_ACRONYM_DEF = re.compile(
    r"((?:[A-Z][\w'’-]*|and|of|for|the|&|to|in|on|with)(?:\s+(?:[A-Z][\w'’-]*|and|of|for|the|&|to|in|on|with)){1,9})"
    r"\s*\(([A-Z][A-Za-z0-9&]{1,9})\)"
)
SECTION_REF = re.compile(r"\b(?:section|paragraph|para|§)\s*(\d{1,3}(?:\.\d{1,3})*)\b", re.IGNORECASE)
ITEM_REF = re.compile(r"\bitem\s+([A-Z]?\d{1,3}[a-z]?)\b", re.IGNORECASE)
MINUTE_REF = re.compile(r"\bminute\s+(\d{2,4})\b", re.IGNORECASE)
DECISION_REF = re.compile(r"\b(?:decision\s+(?:no\.?\s*)?(\d{1,3})|(OPCC\.D\.\d+\.\d+))\b", re.IGNORECASE)
_PHRASE = re.compile(r"[\"“]([^\"”]{2,200})[\"”]")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’]*")


def _initials(long_form: str) -> str:
    words = [w for w in re.split(r"[\s-]+", long_form) if w and w.lower() not in _SMALL]
    return "".join(w[0].upper() for w in words)


def _initials_match(long_form: str, acronym: str) -> bool:
    initials = _initials(long_form)
    letters = re.sub(r"[^A-Z]", "", acronym.upper())
    if not letters or initials[:1] != letters[:1]:
        return False
    it = iter(initials)
    return all(ch in it for ch in letters) or initials.endswith(letters)


def acronym_definitions(text: str) -> list[tuple[str, str]]:
    """The acronyms one text defines, in order: 'Policing Education Qualifications Framework (PEQF)'
    -> [('PEQF', 'Policing Education Qualifications Framework')]. Stored per passage at index time."""
    found: list[tuple[str, str]] = []
    for m in _ACRONYM_DEF.finditer(text):
        long_form, acronym = m.group(1).strip().rstrip("'’"), m.group(2)
        words = long_form.split()
        # Trim leading words until the initials line up with the acronym; exact initials win.
        candidates = [
            " ".join(words[i:]) for i in range(len(words))
            if words[i].lower() not in _SMALL and len(words) - i <= len(acronym) + 3
        ]
        exact = [c for c in candidates if _initials(c) == re.sub(r"[^A-Z]", "", acronym.upper())]
        loose = [c for c in candidates if _initials_match(c, acronym)]
        if exact or loose:
            found.append((acronym, (exact or loose)[0]))
    return found


def mine_acronyms(texts) -> dict[str, str]:
    """'Policing Education Qualifications Framework (PEQF)' -> {'PEQF': 'Policing Education ...'}:
    the first definition of each acronym wins."""
    found: dict[str, str] = {}
    for text in texts:
        for acronym, long_form in acronym_definitions(text):
            found.setdefault(acronym, long_form)
    return found


@dataclass
class ParsedQuery:
    text: str
    terms: list[str]
    phrases: list[str] = field(default_factory=list)
    expansions: list[str] = field(default_factory=list)
    section_refs: list[str] = field(default_factory=list)
    item_refs: list[str] = field(default_factory=list)
    decision_refs: list[str] = field(default_factory=list)
    boilerplate_wanted: bool = False

    @property
    def dense_text(self) -> str:
        """What the embedder sees: the query plus acronym expansions."""
        return self.text if not self.expansions else f"{self.text} ({'; '.join(self.expansions)})"

    def fts_query(self) -> str | None:
        """An FTS5 OR-query over terms, expansions and phrases (BM25 does the weighting)."""
        words = list(dict.fromkeys(self.terms + [w for e in self.expansions for w in tokens(e)]))
        parts = [f'"{w}"' for w in words]
        parts += ['"' + " ".join(_TOKEN.findall(p.lower())) + '"' for p in self.phrases if _TOKEN.findall(p)]
        return " OR ".join(parts) if parts else None


def tokens(text: str) -> list[str]:
    words = (t.lower().replace("’", "'") for t in _TOKEN.findall(text))
    return [w for w in words if w not in STOPWORDS and not w.endswith("n't")]


_ABBREVIATIONS = {  # as typed -> as the reports write it (used only when the typed form is unknown to the index)
    "jan": "January", "feb": "February", "apr": "April", "jun": "June", "jul": "July", "aug": "August",
    "sep": "September", "sept": "September", "oct": "October", "nov": "November", "dec": "December",
    "para": "paragraph", "paras": "paragraphs",
}
_PREFIX = re.compile(r"^(re|de|pre|co|non|sub|multi|inter|cross|over|under)([a-z]{4,})$", re.I)
_ACRONYM_PLURAL = re.compile(r"^([A-Z][A-Z0-9]+)s$")
_SPACED_CODE = re.compile(r"\b([A-Za-z]{1,4})[ -](\d{1,4})\b")  # 'AB 361', 'Q-3': a code the reports may write as one word


def respell(text: str, known: Callable[[str], bool], correct: Callable[[str], str | None] = lambda w: None) -> str:
    """Spell words the way the reports do, when the typed form is unknown to the index:
    'relaunching' -> 're-launching', 'SFOs' -> 'SFO', 'Sept' -> 'September', and a slip ('summonsed' ->
    'summoned') when `correct` knows one; a code typed in two parts the reports write as one ('AB 361' ->
    'AB361'; never a year, a month or a common word before a number). Quoted phrases stay as typed."""

    def join(m: re.Match) -> str:
        letters, digits = m.groups()
        ordinary = letters.lower() in STOPWORDS or letters.lower() in MONTHS or re.fullmatch(r"(?:19|20)\d\d", digits)
        return letters + digits if not ordinary and known(letters + digits) else m.group()

    def fix(m: re.Match) -> str:
        word = m.group()
        if known(word):
            return word
        if word.lower() in _ABBREVIATIONS:
            return _ABBREVIATIONS[word.lower()]
        plural = _ACRONYM_PLURAL.match(word)
        if plural and known(plural.group(1)):
            return plural.group(1)
        prefixed = _PREFIX.match(word)
        if prefixed and known(f"{prefixed.group(1)}-{prefixed.group(2)}"):
            return f"{prefixed.group(1)}-{prefixed.group(2)}"
        return correct(word) or word

    parts = re.split(r"([\"“][^\"”]*[\"”])", text)  # odd parts are quoted phrases
    return "".join(part if i % 2 else _TOKEN.sub(fix, _SPACED_CODE.sub(join, part)) for i, part in enumerate(parts))


def parse_query(text: str, acronyms: dict[str, str] | None = None) -> ParsedQuery:
    acronyms = acronyms or {}
    parsed = ParsedQuery(text=text, terms=tokens(text))
    parsed.phrases = [m.group(1) for m in _PHRASE.finditer(text)]
    parsed.section_refs = SECTION_REF.findall(text)
    parsed.item_refs = [r.upper() for r in ITEM_REF.findall(text)]
    parsed.item_refs += MINUTE_REF.findall(text)
    parsed.decision_refs = [a or b for a, b in DECISION_REF.findall(text)]
    lowered = text.lower()
    for acronym, long_form in acronyms.items():
        if re.search(rf"\b{re.escape(acronym)}\b", text):
            parsed.expansions.append(long_form)
        elif long_form.lower() in lowered:
            parsed.expansions.append(acronym)
    return parsed
