"""Typed extractors: does a text state a sum, a count, a percentage, a date, a duration, a time of day, a name, a reason?

Sums come from price-parser, dates from the indexer's date reader (plus month-year, bare and
financial years); the rest from the few shapes English writes them in. Each says only 'is there one'.
"""

from __future__ import annotations

import re
from functools import lru_cache

from price_parser import Price

from indexer.dates import MONTHS, find_dates

from searchapi.retrieval.lexical import stem
from searchapi.retrieval.query import STOPWORDS


_CARDINALS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth")
_NUMBER_WORD = rf"(?:{'|'.join(_CARDINALS)}|fifteen|twenty|thirty|forty|fifty|sixty|hundred|dozen)"
_FRACTION = r"(?:half|halves|thirds?|quarters?|fifths?|tenths?)"
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_PERCENT = re.compile(rf"\d\s?%|\bper ?cent\b|\bpercentage points?\b|\b{_FRACTION}\b", re.I)
_SCALE = re.compile(r"\d(?:\.\d+)?\s?(?:m|bn|k|million|billion)\b", re.I)
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
# A number that counts: whole (not '86' of '86.6%'), no date's day ('30 September'), no fraction's numerator.
_NUMBER = re.compile(rf"(?<![\w/.£$€])\d(?:[\d,]*\d)?(?:\.\d+)?(?![\w/%]|[.,]\d|\s?%)(?!\s+{_FRACTION}\b)(?!\s+{_MONTH})"
                     rf"|\b{_NUMBER_WORD}\b(?![\s-]+{_FRACTION}\b)", re.I)
_PARAGRAPH_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)+\s+(?=[A-Z])")  # '1.2 The ...' numbers a paragraph
_LOOSE_DATE = re.compile(rf"\b{_MONTH}\s+(?:19|20)\d\d\b|\b(?:19|20)\d\d(?:\s*[/-]\s*\d\d(?:\d\d)?)?\b"
                         rf"|\b(?:spring|summer|autumn|winter)\b|\b(?:by|from|until|in|since|on) {_MONTH}\b", re.I)
_DURATION = re.compile(rf"\b(?:\d+(?:\.\d+)?|an?|{_NUMBER_WORD})[\s-]+(?:working\s+)?(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b", re.I)
# A time of day: '9:11 p.m.', '7.30pm', '8am', '15:45', 'noon' (a decimal like '3.45' needs 'am' or 'pm' after it).
_CLOCK = re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d\b(?:\s*[ap]\.?m\b\.?)?|\b(?:1[0-2]|0?[1-9])(?:[.:][0-5]\d)?\s*[ap]\.?m\b\.?"
                    r"|\b(?:noon|midday|midnight)\b", re.I)
_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Sir|Dame|Lord|Lady|Cllr|Councillor|Professor|Prof|ACC|DCC|Supt|Superintendent"
                    r"|Inspector|Sergeant|Constable|Commissioner)\.?\s+[A-Z][a-z]+")
# Two capitalised words after a lower-case word or a comma ('overseen by Mark Gilmartin', ', Wendy Phillips,'),
# not the name of a body ('Kent Police', 'Medway Council').
_BODY = r"(?:Police|Council|Board|Panel|Unit|Team|Service|Office|Plan|Strategy|Partnership|Fund|Court|Government|Association)"
_NAME_PAIR = re.compile(rf"(?:^|[a-z]{{2,}}|[,;:(])\s+([A-Z][a-z]+)\s+(?:[A-Z]\.\s+)?(?!{_BODY}\b)([A-Z][a-z]{{2,}})\b(?!\s+{_BODY})")
_NOT_AFTER = {"the", "of", "and", "for", "to", "in", "on", "a", "an"}
_REASON = re.compile(r"\b(?:because|due to|owing to|in order to|so that|as a result|to ensure|aims? to|the reason|"
                     r"following|given that|since the)\b", re.I)


# A capitalised word before another that names no body ('Margaret Olsen presented', 'President Maria
# Delgado-Ruiz'; not 'Kent Police'): a person when the first is a given name. Overlapping, so a title may lead.
_GIVEN_PAIR = re.compile(rf"\b([A-Z][a-z]+)(?=\s+(?:[A-Z]\.\s+)?(?!{_BODY}\b)[A-Z][A-Za-z'’-]+\b(?!\s+{_BODY}))")
GIVEN_NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "es_MX", "es_ES", "fr_FR", "de_DE", "it_IT")


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """Faker's given names of GIVEN_NAME_LOCALES (MIT), read once: the names English-language reports use."""
    from importlib import import_module

    names = set()
    for locale in GIVEN_NAME_LOCALES:
        listed = import_module(f"faker.providers.person.{locale}").Provider.first_names
        names.update(listed.keys() if isinstance(listed, dict) else listed)
    return frozenset(names)


def has_person(text: str) -> bool:
    words_before = (text[: m.start(1)].split()[-1:] for m in _NAME_PAIR.finditer(text))
    if _TITLE.search(text) or any(not w or w[0].lower() not in _NOT_AFTER for w in words_before):
        return True
    return any(m.group(1) in given_names() for m in _GIVEN_PAIR.finditer(text))


def has_money(text: str) -> bool:
    """A number with a currency beside it ('£500', 'GBP 1,200'; not 'Br' inside 'Brock'), or a sum in millions."""
    words = text.split()
    for i in (i for i, w in enumerate(words) if any(ch.isdigit() for ch in w)):
        window = " ".join(words[max(0, i - 1): i + 2])
        price = Price.fromstring(window)
        if price.amount is not None and price.currency and re.search(rf"(?<![^\W\d_]){re.escape(price.currency)}(?![^\W\d_])", window):
            return True
    return bool(_SCALE.search(text))


_STATES = {
    "money": has_money,
    "count": lambda text: any(not _YEAR.match(m.group()) for m in _NUMBER.finditer(_PARAGRAPH_NUMBER.sub("", text))),
    "percent": _PERCENT.search,
    "date": lambda text: find_dates(text) or _LOOSE_DATE.search(text),
    "duration": _DURATION.search,
    "time": _CLOCK.search,
    "person": has_person,
    "reason": _REASON.search,
}


@lru_cache(maxsize=50_000)
def states(text: str) -> frozenset[str]:
    """The answer types this text states."""
    return frozenset(kind for kind, says in _STATES.items() if says(text))


# A wh-word that asks, wherever it stands: first ('when did'), after a preposition ('by when', 'since when'), or,
# for 'when' and 'why', before an auxiliary verb ('According to the plan, when did it ...'). Not a subordinate
# one ('in May 2010 when the Government came into office') nor a relative 'who' ('the officer who was ...').
_AUXILIARY = r"(?:did|do|does|was|were|is|are|will|would|has|have|had|can|could|should|must|may|might)"


def _asking(wh: str, before_verb: bool = True) -> str:
    asks = rf"(?:^\W*(?:and\s+)?|\b(?:by|since|until|till|from|for)\s+){wh}\b"
    return asks + (rf"|\b{wh}\s+{_AUXILIARY}\b" if before_verb else "")


# What the question's form asks for; the first that applies.
_ASKS = {
    "percent": re.compile(r"%|\bpercentage\b|\bproportion\b|\bper ?cent\b|\bwhat share\b", re.I),
    "count": re.compile(r"\bhow many\b|\bnumber of\b", re.I),
    "money": re.compile(r"\bhow much\b.*\b(?:cost|spen[dt]|pa(?:y|id)|sav|worth|invest|fund|budget|give|gave|contribut|grant|award|allocat)"
                       r"|\b(?:cost|price|budget|spend|deficit|savings|funding|£)\b", re.I),
    # 'what time did the meeting adjourn', 'what hours is the hub open'; not 'what time span' or 'timescale'.
    "time": re.compile(r"\b(?:what|which) (?:time|hour)s?\b(?!\s+(?:span|period|frame|scale|limit|line))|\bopening hours\b", re.I),
    "duration": re.compile(r"\bhow long\b|\bduration\b|\b(?:response|waiting|answer(?:ing)?) times?\b|\btimescales?\b", re.I),
    "date": re.compile(_asking("when") + r"|\b(?:what|which) (?:(?:is|was) the )?(?:date|year|month)\b|\bdeadline\b|\bwhen\W*$", re.I),
    "person": re.compile(_asking("who", before_verb=False) + r"|\bwhom\b|\bname of\b|\bwhich (?:officer|person|member|councillor)\b", re.I),
    "reason": re.compile(_asking("why") + r"|\bwhat for\b|\b(?:reason|purpose)\b", re.I),
    "amount": re.compile(r"\bhow much\b|\bhow big\b|\brate\b|\bincrease\b|\bfigures?\b|\btotal\b|\bsize\b|\bamount\b|\bnumbers\b", re.I),
}


def asked_type(question: str) -> str | None:
    """What kind of fact the question's form asks for ('how many ...' -> 'count'), if it says."""
    return next((kind for kind, asks in _ASKS.items() if asks.search(question)), None)


# 'What is the ...', 'which was the ...': first, after a comma ('According to the plan, what is ...') or a preposition.
# The determiner marks its complement as the asked noun phrase: 'what is the value', not 'what is seen as' nor
# 'what are directors paid' (where 'what' is the object).
_COPULAR_WH = re.compile(r"(?:^\W*|[,;:]\s*|\b(?:in|on|at|for|by|under|to|from|with|and|of)\s+)(?:what|which)\s+(?:is|was|are|were)\s+(?:the|an?)\s+", re.I)
# A preposition left at the end asks what the thing is for or about, not its value ('what was the payment for?').
_STRANDED = re.compile(r"\b(?:for|about|to|from|with|of|on|in|at|by|into|like)\W*$", re.I)
_RELATIVE = re.compile(r"\b(?:that|which|who|whom)\b", re.I)  # 'the offences that it focuses on': the clause's own
_FOCUS_WORD = re.compile(r"[A-Za-z][\w'’-]*|\d\S*")


def asked_focus(question: str) -> str | None:
    """The noun a copular wh-question asks the value of, its phrase's last word before a function word:
    'value' of 'What is the value of the PEQF contract?', 'vote' of 'What was the final Senate vote on
    ...'. The evidence must speak of it (or state the kind of fact it names), not only of the subject.
    Names (capitalised) and numbers ('the 3-year sales average', 'the four Es') are modifiers, not the focus."""
    found = _COPULAR_WH.search(question)
    if not found:
        return None
    rest = question[found.end():]
    if _STRANDED.search(rest) and not _RELATIVE.search(rest):
        return None
    nouns = []
    for word in _FOCUS_WORD.findall(rest):
        lower = word.lower()
        if lower in ("and", "or"):  # 'the repeat victim and repeat incident rates': one phrase
            continue
        if lower in STOPWORDS:
            break
        if not word[0].isdigit() and not word[0].isupper() and lower not in _CARDINALS:
            nouns.append(lower)
    return nouns[-1] if nouns else None


# A small whole number written as a label beside a word ('Tranche 3', 'the 26th meeting', 'item 5'): not a
# year, a sum, a share, a decimal, a thousands group or part of an identifier.
_LABEL_NUMBER = re.compile(r"(?<![\w£$€.,/:–-])(\d{1,3})(st|nd|rd|th)?(?![\w%/:–-]|[.,]\d)", re.I)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z'’]+)\s+$")
_WORD_AFTER = re.compile(r"\s+([A-Za-z][A-Za-z'’]+)")
_LIST_JOIN = re.compile(r"\s*(?:,|&|\band\b|\bor\b|\bto\b)\s*$", re.I)  # '2, 3 and 4', '5th to 6th'


def labels(text: str) -> list[tuple[str, str, int, int, int]]:
    """(stem, side, number, start, end) for each label number and a word beside it: ('tranch', 'after',
    3, ...) for 'Tranche 3', ('meet', 'before', 26, ...) for '26th meeting'. A list shares its word:
    'Tranches 2 and 3' labels both, as does 'the 5th and 6th meetings'; 'the', 'of' say nothing."""
    numbers = list(_LABEL_NUMBER.finditer(text))
    # Runs of numbers joined as a list: each member takes the word before the first and after the last.
    runs, run = [], []
    for m in numbers:
        if run and _LIST_JOIN.fullmatch(text[run[-1].end(): m.start()]):
            run.append(m)
        else:
            run = [m]
            runs.append(run)
    out = []
    for run in runs:
        words = (("after", _WORD_BEFORE.search(text[max(0, run[0].start() - 40): run[0].start()])),
                 ("before", _WORD_AFTER.match(text, run[-1].end())))
        for side, found in words:
            if found and found.group(1).lower() not in STOPWORDS:
                out += [(stem(found.group(1)), side, int(m.group(1)), m.start(), m.end()) for m in run]
    return out


@lru_cache(maxsize=4096)
def numbered(text: str) -> frozenset[tuple[str, str, int]]:
    """The (word stem, side, label number) of `labels`, as a set."""
    return frozenset(label[:3] for label in labels(text))


_SPELLED = re.compile(rf"\b({'|'.join(_CARDINALS + _ORDINALS)})\b", re.I)
_HYPHENED = re.compile(r"\b(\d{1,3})-(?=[A-Za-z])")  # '24-month', '10-year'


def ordinal_suffix(n: int) -> str:
    """'st', 'nd', 'rd' or 'th': 1st, 22nd, 13th."""
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _spelled(m: re.Match) -> str:
    word = m.group(1).lower()
    if word in _CARDINALS:
        return str(_CARDINALS.index(word) + 1)
    n = _ORDINALS.index(word) + 1
    return f"{n}{ordinal_suffix(n)}"


@lru_cache(maxsize=50_000)
def numbered_as_read(text: str) -> frozenset[tuple[str, str, int]]:
    """`numbered` of the text with small numbers spelled out read as digits and a number hyphened to its
    unit read apart: 'the third amendment' as 'the 3rd amendment', 'a 24-month extension' as 'a 24 month
    extension', 'within four hours' as 'within 4 hours'."""
    return numbered(_HYPHENED.sub(r"\1 ", _SPELLED.sub(_spelled, text)))


def number_clash(asked: frozenset[tuple[str, str, int]], text: str) -> bool:
    """Whether the text numbers a word of the question otherwise and never as asked ('Tranche 2' for
    'Tranche 3', '24th meeting' for '26th meeting', 'second amendment' for 'third amendment'), each
    labelled word on its own; `asked` is `numbered_as_read` of the question."""
    written = numbered_as_read(text)
    return any((word, side, value) not in written and any(w == word and s == side for w, s, _ in written)
               for word, side, value in asked)


_NAME_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")


def _beside(words: list[str], i: int) -> list[tuple[str, str]]:
    """(side, neighbour) of the i-th word: the word before ('after' it), the word after ('before' it)."""
    return [(side, words[j]) for j, side in ((i - 1, "after"), (i + 1, "before")) if 0 <= j < len(words)]


def name_slots(question: str, subject: list[str]) -> frozenset[tuple[str, str, str]]:
    """(name stem, side, neighbour stem) for each capitalised subject word of the question beside a word
    that is not a stopword: ('essex', 'before', 'polic') for 'Essex Police', ('malawi', 'after', 'cost')
    for 'CoST Malawi'. The question's first word is no name."""
    words, named = _NAME_WORD.findall(question), {stem(w) for w in subject}
    return frozenset((stem(word), side, stem(other)) for i, word in enumerate(words)
                     if i > 0 and word[0].isupper() and stem(word) in named
                     for side, other in _beside(words, i)
                     if other.lower() not in STOPWORDS and len(other) > 2 and stem(other) != stem(word))


@lru_cache(maxsize=50_000)
def written_slots(text: str) -> frozenset[tuple[str, str, str]]:
    """(stem, side, neighbour stem) for each capitalised word of the text and each word beside it; not a
    title ('Mr', 'Ms', 'Dr': 'Ms. Gentry' writes no other name than 'Jude Gentry')."""
    words = _NAME_WORD.findall(text)
    return frozenset((stem(word), side, stem(other)) for i, word in enumerate(words)
                     if word[0].isupper() and (len(word) > 3 or word.isupper()) and word.lower() not in STOPWORDS
                     for side, other in _beside(words, i))


def name_clash(asked: frozenset[tuple[str, str, str]], text: str, said) -> bool:
    """Whether the text writes another capitalised word where the question writes one of its names, and
    never that name (`said(name stem)`, acronyms' long forms too): 'Kent Police' for 'Essex Police',
    'CoST Ethiopia' for 'CoST Malawi', 'Republican Senators' for 'Democratic senators'."""
    written = written_slots(text) if asked else frozenset()
    return any(not said(name) and any(s == side and n == beside and w != name for w, s, n in written)
               for name, side, beside in asked)


def matches(kind: str | None, text: str, given: frozenset[str] = frozenset()) -> bool:
    """Whether the text states the asked kind (an 'amount' is a sum, a count or a percentage) beyond the
    words the question itself `given` (stems): '737' of '737 MAX' is no count of aircraft, 'May 2014'
    of 'the May 2014 meeting' no date it was held on, 'Public Data' of 'the Public Data Group' nobody."""
    if not kind:
        return False
    found = states(_without(text, given) if given else text)
    return kind in found or (kind == "amount" and bool(found & {"money", "count", "percent"}))


_WORDS = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


@lru_cache(maxsize=4096)
def _without(text: str, given: frozenset[str]) -> str:
    """The text with each run of words the question gives blanked out, unless the run is only numbers
    and months: the '2019' of 'approved on 3 March 2019' stays part of its date when the question asks
    'when in 2019', while '737 MAX' and 'the Public Data Group' go."""
    words = list(_WORDS.finditer(text))
    out, last, i = [], 0, 0
    while i < len(words):
        j = i
        while j < len(words) and stem(words[j].group()) in given:
            j += 1
        if j > i and not all(w.group().isdigit() or w.group().lower() in MONTHS for w in words[i:j]):
            out.append(text[last: words[i].start()] + "·")
            last = words[j - 1].end()
        i = max(j, i + 1)
    return "".join(out) + text[last:]
