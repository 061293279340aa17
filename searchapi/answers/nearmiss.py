"""Near-miss unanswerable questions mined from the corpus, to teach the abstention what they look like.

A labelled answerable question is turned into copies the reports almost surely cannot answer: its
subject replaced by a name only other papers use ('the budget of the Violence Reduction Unit' ->
'the budget of the Community Safety Partnership'), the subject's most distinctive capitalised word
replaced by another the reports write in the same places ('Op Brock' -> 'Op Blythe', 'in Medway' ->
'in Swale'), its year by one no paper mentions, or a number labelling one of its words by one no
paper writes beside that word ('Tranche 2' -> 'Tranche 3'). A name swap is kept only when the corpus
never puts the new name beside the question's rarest other word (one passage), so the copy asks for a
fact the reports do not state. The copies keep their source's
paper, so cross-validation grouped by paper never sees them on the wrong side of a fold.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from searchapi.answers.extract import labels, numbered, ordinal_suffix
from searchapi.answers.plan import YEAR
from searchapi.retrieval.lexical import stem, stems
from searchapi.retrieval.query import STOPWORDS, tokens

# A capitalised name inside running text: after a lower-case word or a comma, so a sentence's first
# word is not taken for a name; one to three words, each capitalised.
_NAME = re.compile(r"(?<=[a-z,] )((?:[A-Z][a-z]{2,}|[A-Z]{2,})(?: (?:of |and |for )?(?:[A-Z][a-z]{2,}|[A-Z]{2,})){0,2})\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


@dataclass
class Corpus:
    """What the generator reads of the index: each paper file's passages and the names it uses."""

    passages: dict[str, list[set[str]]]  # file -> stem sets of its passages
    names: dict[str, list[str]]  # file -> capitalised names found only in that file
    years: set[int]  # every year any paper writes
    slots: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # capitalised word -> {(word before, ""), ("", word after)}
    similarity: Callable[[str, list[str]], list[float]] | None = None  # word vectors' cosine, when known
    numbered: frozenset = frozenset()  # every (word, side, label number) any paper writes (extract.numbered)

    @classmethod
    def of(cls, engine) -> "Corpus":
        passages: dict[str, list[set[str]]] = {}
        texts: dict[str, list[str]] = {}
        for chunk in engine.snapshot.chunks.values():
            file = engine.documents[chunk.document_id].source_path
            passages.setdefault(file, []).append(set(stems(f"{chunk.heading} {chunk.text}")))
            texts.setdefault(file, []).append(chunk.text)
        corpus = cls.from_texts(texts, passages)
        # A heading can number a word too ('Tranche 3'): no near-miss may ask for what one states.
        corpus.numbered |= frozenset().union(*(numbered(c.heading) for c in engine.snapshot.chunks.values()))

        def similarity(word: str, others: list[str]) -> list[float]:
            return list(engine.encode_words([o.lower() for o in others]) @ engine.encode_words([word.lower()])[0])

        corpus.similarity = similarity
        return corpus

    @classmethod
    def from_texts(cls, texts: dict[str, list[str]], passages: dict[str, list[set[str]]] | None = None) -> "Corpus":
        passages = passages or {f: [set(stems(t)) for t in ts] for f, ts in texts.items()}
        found = {f: {m.group(1) for t in ts for m in _NAME.finditer(t)} for f, ts in texts.items()}
        lowered = {f: " ".join(ts).lower() for f, ts in texts.items()}
        names = {f: sorted(n for n in found[f] if all(n.lower() not in lowered[o] for o in texts if o != f)) for f in texts}
        years = {int(m.group(1)) for ts in texts.values() for t in ts for m in YEAR.finditer(t)}
        slots: dict[str, set[tuple[str, str]]] = {}
        for t in (t for ts in texts.values() for t in ts):
            words = _WORD.findall(t)
            for before, word, after in zip(words, words[1:], words[2:] + [""]):
                # A capitalised word inside a sentence (not its first word), beside the words it is written between.
                if word[0].isupper() and not word.isupper() and len(word) > 2 and before.lower() not in ("", "."):
                    slots.setdefault(word, set()).update({(before.lower(), ""), ("", after.lower())})
        numbers = frozenset().union(*(numbered(t) for ts in texts.values() for t in ts))
        return cls(passages, names, years, slots, numbered=numbers)

    @cached_property
    def slot_members(self) -> Counter:
        """How many capitalised words are written in each place."""
        return Counter(place for places in self.slots.values() for place in places)

    def co_occur(self, a: set[str], b: set[str]) -> bool:
        """Whether any one passage holds all of `a` and all of `b`."""
        return any(a <= p and b <= p for ps in self.passages.values() for p in ps)


def _pick(key: str, options: list[str]) -> list[str]:
    """The options in a fixed order drawn from the key (reproducible, no global random state)."""
    return sorted(options, key=lambda o: hashlib.md5(f"{key}|{o}".encode()).hexdigest())


def subject_span(question: str, subject: list[str]) -> tuple[int, int] | None:
    """Where the subject's words lie in the question (first to last), or None."""
    spots = [m.span() for w in subject for m in [re.search(rf"\b{re.escape(w)}\b", question, re.I)] if m]
    if len(spots) != len(subject):
        return None
    return min(s for s, _ in spots), max(e for _, e in spots)


def swap_subject(question: str, subject: list[str], file: str, idf, corpus: Corpus, key: str) -> str | None:
    """The question with its subject replaced by a name only another paper uses, when the corpus never
    states that name together with the question's rarest other word."""
    span = subject_span(question, subject)
    # Only a subject named in one place ('the Violence Reduction Unit'), and a word, not a figure.
    if span is None or len(tokens(question[span[0]: span[1]])) > len(subject) + 2 or any(w.isdigit() for w in subject):
        return None
    subject_stems = {stem(w) for w in subject}
    rest = [w for w in tokens(question[: span[0]] + " " + question[span[1]:]) if stem(w) not in subject_stems and len(w) > 2]
    anchor = {stem(max(rest, key=lambda w: idf(stem(w))))} if rest else set()
    donors = [n for f, names in corpus.names.items() if f != file for n in names]
    for name in _pick(key, donors)[:20]:
        name_stems = set(stems(name))
        if name_stems and not name_stems & subject_stems and not corpus.co_occur(name_stems, anchor):
            return question[: span[0]] + name + question[span[1]:]
    return None


def siblings(word: str, corpus: Corpus) -> list[str]:
    """Capitalised words of the same kind as `word`: written in the same places (after the same word,
    or before it: 'Op Brock' ~ 'Op Blythe'; a place shared with few words counts for more than 'the _'),
    and, when the corpus has word vectors, close in meaning ('Medway' ~ 'Swale'); best first."""
    members = corpus.slot_members
    mine = corpus.slots.get(word, set())
    score = {other: sum(1 / members[p] for p in mine & places) for other, places in corpus.slots.items()
             if _bare(other) != _bare(word) and other.lower() not in STOPWORDS and mine & places}
    if corpus.similarity is not None and score:
        names = sorted(score)
        for name, sim in zip(names, corpus.similarity(word, names)):
            score[name] *= max(0.0, float(sim))
    return sorted((o for o, v in score.items() if v > 0), key=lambda o: (-score[o], o))


def _bare(word: str) -> str:
    return re.sub(r"['’]", "", word).lower()


def swap_modifier(question: str, subject: list[str], idf, corpus: Corpus, key: str) -> str | None:
    """The question with its subject's most distinctive capitalised word replaced by a sibling the
    corpus never states beside the question's rarest other word ('speed cameras in Medway' ->
    'speed cameras in Swale')."""
    written = [m for m in _WORD.finditer(question) if m.group().lower() in subject and m.group()[0].isupper()
               and m.group() in corpus.slots]
    if not written:
        return None
    target = max(written, key=lambda m: idf(stem(m.group())))
    rest = [w for w in tokens(question) if stem(w) != stem(target.group()) and len(w) > 2]
    anchor = {stem(max(rest, key=lambda w: idf(stem(w))))} if rest else set()
    for name in _pick(key, siblings(target.group(), corpus)[:5]):
        if stem(name) not in {stem(w) for w in tokens(question)} and not corpus.co_occur({stem(name)}, anchor):
            return question[: target.start()] + name + question[target.end():]
    return None


def unwritten_year(year: int, corpus: Corpus, financial: bool = False) -> int | None:
    """The year nearest to `year` that no paper writes (for a financial year, nor the year after)."""
    return next((y for d in range(1, 40) for y in (year - d, year + d)
                 if y not in corpus.years and not (financial and y + 1 in corpus.years)), None)


def swap_year(question: str, corpus: Corpus, append: bool = False) -> str | None:
    """The question with each year it names moved to the nearest year no paper writes (a financial
    year keeps its spelling: '2016/17' -> '2011/12'); with `append`, a question naming no year is
    asked about the unwritten year nearest the middle of the years the papers write."""
    found = list(YEAR.finditer(question))
    if not found:
        middle = sorted(corpus.years)[len(corpus.years) // 2] if corpus.years else None
        year = unwritten_year(middle, corpus) if append and middle else None
        return f"{question.rstrip(' ?.')} in {year}" if year else None
    out, last = [], 0
    for m in found:
        new = unwritten_year(int(m.group(1)), corpus, financial=bool(m.group(3)))
        if new is None:
            return None
        text = str(new)
        if m.group(3):
            text += m.group(2) + (str(new + 1) if len(m.group(3)) == 4 else f"{(new + 1) % 100:02d}")
        out.append(question[last: m.start()] + text)
        last = m.end()
    return "".join(out) + question[last:]


def swap_number(question: str, corpus: Corpus) -> str | None:
    """The question with a number labelling one of its words moved to the nearest no paper writes
    beside that word ('Tranche 2' -> 'Tranche 3', 'the 24th meeting' -> 'the 23rd meeting')."""
    for word, side, value, start, end in sorted(labels(question)):
        new = next((v for d in range(1, 10) for v in (value + d, value - d)
                    if v > 0 and (word, side, v) not in corpus.numbered), None)
        if new is not None:
            suffix = ordinal_suffix(new) if not question[start:end].isdigit() else ""
            return question[:start] + f"{new}{suffix}" + question[end:]
    return None


def near_misses(questions: list[dict], plans: list, idf, corpus: Corpus, append_years: bool = True) -> list[dict]:
    """Unanswerable copies of the answerable questions (at most one of each kind of swap: subject,
    modifier, year, labelling number), labelled with their source's paper and id."""
    out = []
    for q, plan in zip(questions, plans):
        if not q.get("answerable", True) or not q.get("file"):
            continue
        key = q.get("id", q["question"])
        for kind, text in (("subject", swap_subject(q["question"], plan.subject, q["file"], idf, corpus, key)),
                           ("modifier", swap_modifier(q["question"], plan.subject, idf, corpus, key)),
                           ("year", swap_year(q["question"], corpus, append_years)),
                           ("number", swap_number(q["question"], corpus))):
            if text and text != q["question"]:
                out.append({"id": f"{key}~{kind}", "question": text, "answerable": False, "gold": [],
                            "file": q["file"], "kind": f"near-miss-{kind}", "synthetic": True})
    return out
