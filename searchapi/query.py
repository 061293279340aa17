"""Understanding what a user typed: terms, quoted phrases, acronyms, section and item references."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

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


def spells_out(acronym: str, text: str) -> bool:
    """Whether the text has consecutive words with exactly the acronym's initials ('QA': 'quality assurance')."""
    return acronym.upper() in _initials(" ".join(re.findall(r"[A-Za-z]+", text)))


def mine_acronyms(texts) -> dict[str, str]:
    """'Policing Education Qualifications Framework (PEQF)' -> {'PEQF': 'Policing Education ...'}."""
    found: dict[str, str] = {}
    for text in texts:
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
                found.setdefault(acronym, (exact or loose)[0])
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


def respell(text: str, known: Callable[[str], bool], correct: Callable[[str], str | None] = lambda w: None) -> str:
    """Spell words the way the reports do, when the typed form is unknown to the index:
    'relaunching' -> 're-launching', 'SFOs' -> 'SFO', 'Sept' -> 'September', and a slip
    ('summonsed' -> 'summoned') when `correct` knows one. Quoted phrases stay as typed."""

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
    return "".join(part if i % 2 else _TOKEN.sub(fix, part) for i, part in enumerate(parts))


_PERIODIC = [  # 'each day' as the reports often write it: 'daily'
    (re.compile(rf"\b(?:each|every|per|a) {unit}\b", re.I), adverb)
    for unit, adverb in [("day", "daily"), ("week", "weekly"), ("month", "monthly"), ("year", "annually")]
]
_BOILERPLATE_WORDS = re.compile(r"apolog|declaration|interest|agenda|webcast|substitute|membership|election", re.I)


def parse_query(text: str, acronyms: dict[str, str] | None = None) -> ParsedQuery:
    acronyms = acronyms or {}
    parsed = ParsedQuery(text=text, terms=tokens(text))
    parsed.phrases = [m.group(1) for m in _PHRASE.finditer(text)]
    parsed.section_refs = SECTION_REF.findall(text)
    parsed.item_refs = [r.upper() for r in ITEM_REF.findall(text)]
    parsed.item_refs += MINUTE_REF.findall(text)
    parsed.decision_refs = [a or b for a, b in DECISION_REF.findall(text)]
    parsed.boilerplate_wanted = bool(_BOILERPLATE_WORDS.search(text))
    lowered = text.lower()
    for pattern, other_form in _PERIODIC:
        if pattern.search(text):
            parsed.expansions.append(other_form)
    for acronym, long_form in acronyms.items():
        if re.search(rf"\b{re.escape(acronym)}\b", text):
            parsed.expansions.append(long_form)
        elif long_form.lower() in lowered:
            parsed.expansions.append(acronym)
    return parsed


# Answer shapes: a sum of money, a number, a date (month names capitalised, so 'may' the verb is not one).
_MONEY = re.compile(r"£\s?\d|\d\s?(?:m|k|bn)\b|\bmillion\b|\bpounds\b", re.I)
_NUMBER = re.compile(r"\d|%|\b(?:half|third|quarter|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
                     r"|twenty|thirty|forty|fifty|hundred|dozen)\b", re.I)
# A count: a number standing alone ('1,706', '18 SFO', 'twelve'), not a year, a percentage or part of 'M25'/'7F'.
_COUNT = re.compile(r"(?<![\w/.,£])(?!(?:19|20)\d\d\b)\d[\d,]*(?![\w/%]|\.\d)|\b(?:two|three|four|five|six|seven|eight|nine|ten"
                    r"|eleven|twelve|twenty|thirty|forty|fifty|hundred|dozen)\b", re.I)
_PROPORTION = re.compile(r"\d\s?%|\bper ?cent\b|\bone in \w+\b|\b(?:half|third|thirds|quarter|quarters)\b"
                         r"|\d\s*(?:per|in every|out of)\b", re.I)
_DURATION = re.compile(r"\b(?:\d+(?:[.,]\d+)?½?|½|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty"
                       r"|forty|fifty|sixty)[\s-]*(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b"
                       r"|\bas soon as\b", re.I)
_DATE = re.compile(r"\b(?:19|20)\d\d\b|\b(?:January|February|March|April|May|June|July|August|September|October"
                   r"|November|December)\b"
                   r"|(?i:\b(?:spring|summer|autumn|winter)\b"
                   r"|\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)[\s-]+(?:working\s+)?"
                   r"(?:weeks?|months?|years?|days?)\b(?!\s+(?:a|per|each|every)\s+(?:day|week|month|year)))")

QUESTION_CUES = {  # (what the question asks for, what an answering sentence contains)
    "amount": (re.compile(r"\bhow (?:much|many)\b|\bcost|\bspen[dt]|\bbudget|\bnumber of\b|\bamount|\btotal|\bfund|\bpaid\b|\bpay\b|\bpercentage|\bhow big", re.I),
               re.compile(r"£|\d")),
    "date": (re.compile(r"\bwhen\b|\bwhat date\b|\bwhich (?:year|month|day)\b|\bwhat year\b|\bdeadline\b|\bhow long\b", re.I),
             _DATE),
    "who": (re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (?:officer|person|organisation|body|company|force|charity)\b|\bname of\b", re.I),
            re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Cllr|Councillor|Chief|Commissioner|Officer|Head|Director|Chairman|Inspector|Constable|PCC)\b|[A-Z][a-z]+ [A-Z][a-z]+")),
    "why": (re.compile(r"\bwhy\b|\breason|\bpurpose\b|\baim\b|\bwhat for\b", re.I),
            re.compile(r"\bbecause\b|\bdue to\b|\bin order to\b|\bso that\b|\baims?\b|\bto ensure\b|\bas a result\b|\bpurpose\b|\breason|\btherefore\b|\bfollowing\b|\bto (?:help|support|improve|reduce|provide|enable)\b", re.I)),
}


def question_cues(question: str) -> list[str]:
    """'how much' asks for an amount, 'when' for a date, 'who' for a person or role, 'why' for a reason."""
    return [name for name, (ask, _) in QUESTION_CUES.items() if ask.search(question)]


def cue_match(cues: list[str], sentence: str) -> float:
    """Share of the question's cues that the sentence satisfies."""
    return sum(1 for name in cues if QUESTION_CUES[name][1].search(sentence)) / len(cues) if cues else 0.0


# What an answer must state, by what the question asks for. Stricter than the ranking cues above:
# an answer to 'how much did X cost' that names no sum of money is not an answer.
EXPECTED_ANSWER = [  # (kind, the question's form, what an answer must contain)
    ("sum of money", re.compile(r"\bhow much\b.*\b(?:cost|spen[dt]|pa(?:y|id)|sav(?:e|ed|ing)|worth|charg|invest|put|g[ai]ve|contribut"
                                r"|allocat|releas|award|grant|fund)"
                                r"|\b(?:what|total)\b.*\b(?:cost|price|spend|budget|deficit|savings)\b|\bcost of\b|\bhow much money\b", re.I),
     _MONEY),
    ("number", re.compile(r"\bhow many\b|\bnumber of\b", re.I), _COUNT),  # a count: not a year or a percentage
    ("number", re.compile(r"\bhow much\b", re.I), _NUMBER),
    # 'what's the precept increase for 2018/19' is a sum, a count or a percentage, not '2018/19' itself.
    ("size of the change", re.compile(r"^\W*what(?:'s|\s+is|\s+was|\s+will\s+be)\s+the\b.*\b(?:increase|rise|decrease|reduction|cut|uplift)\b", re.I),
     re.compile(f"{_MONEY.pattern}|{_PROPORTION.pattern}|{_COUNT.pattern}", re.I)),
    ("proportion", re.compile(r"%|\bpercentage\b|\bproportion\b|\brate\b", re.I), _PROPORTION),
    ("date", re.compile(r"^\W*(?:and\s+)?(?:when|what date|which year|what year)\b|\bwhen\W*$", re.I), _DATE),
    ("date", re.compile(r"\bhow long\b|\blength\b|\bduration\b|\bstart(?:ed)?(?:\W*$| and\b)", re.I), _DATE),  # or a term ('three-year')
    ("length of time", re.compile(r"\b(?:response|answer(?:ing)?|waiting|turnaround|processing|handling|attendance)\s+times?\b"
                                  r"|\btimescales?\b|\btime\s?limits?\b", re.I), _DURATION),
]


def expected_answer(question: str) -> tuple[str, re.Pattern] | None:
    """What an answer to this question must contain (a sum, a count, a proportion, a date, a length of
    time), if the question's form says; the first kind that applies."""
    return next(((kind, states) for kind, asks, states in EXPECTED_ANSWER if asks.search(question)), None)


def missing_answer_kind(question: str, answer: str) -> str | None:
    """The kind of fact the question asks for that the answer does not state ('sum of money'), if any."""
    for kind, asks, states in EXPECTED_ANSWER:
        if asks.search(question) and not states.search(answer):
            return kind
    return None
