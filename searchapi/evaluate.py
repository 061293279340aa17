"""`reportsearch eval`: retrieval and answer quality on a question set, with simple baselines.

Baselines, measured in the same run: BM25 alone, dense alone (both over the product's chunks), and
naive 1,000-character windows of the raw files with the same hybrid fusion. A retrieved passage is
a hit when it contains a gold quote (whitespace- and case-insensitive).
"""

from __future__ import annotations

import json
import re
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Callable

from indexer.embed import clear_query_cache

from searchapi.answers.answerer import Answerer, decide
from searchapi.answers.followup import rewrite_followup
from searchapi.answers.fit import collect, cross_validate, holds_evidence, plan_of, turns_of
from searchapi.retrieval.engine import SearchEngine
from searchapi.retrieval.fuse import rrf
from searchapi.retrieval.query import parse_query

NAIVE_CHARS = 1000


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def contains_gold(text: str, golds: list[str]) -> bool:
    norm = normalise(text)
    for gold in golds:
        g = normalise(gold)
        if g in norm:
            return True
        # A long quote cut at a passage edge still counts when most of it is there.
        if len(g) > 80:
            match = SequenceMatcher(None, norm, g, autojunk=False).find_longest_match(0, len(norm), 0, len(g))
            if match.size >= 0.7 * len(g):
                return True
    return False


def load_questions(path: Path, split: str) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if split == "all" or not any("split" in r for r in rows):
        return rows
    return [r for r in rows if r.get("split") == split]


@dataclass
class RetrievalScore:
    name: str
    ranks: list[int | None] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def hit(self, k: int) -> float:
        return sum(1 for r in self.ranks if r is not None and r <= k) / max(1, len(self.ranks))

    @property
    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None and r <= 10) / max(1, len(self.ranks))

    def pct(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    def row(self) -> dict:
        return {
            "system": self.name, "hit@1": self.hit(1), "hit@3": self.hit(3), "hit@5": self.hit(5),
            "hit@10": self.hit(10), "mrr@10": self.mrr,
            "mean_passage_chars": statistics.mean(self.lengths) if self.lengths else 0.0,
            "p50_ms": self.pct(0.5), "p95_ms": self.pct(0.95),
        }


def score_system(name: str, questions: list[dict], search: Callable[[dict], list[str]]) -> RetrievalScore:
    clear_query_cache()  # every system pays for its own query embeddings
    score = RetrievalScore(name)
    for q in questions:
        started = time.perf_counter()
        texts = search(q)
        score.latencies.append((time.perf_counter() - started) * 1000)
        score.lengths.extend(len(t) for t in texts)
        score.ranks.append(next((i for i, t in enumerate(texts, 1) if contains_gold(t, q["gold"])), None))
    return score


class NaiveBaseline:
    """Fixed 1,000-character windows of the raw files, no cleaning or sections, same fusion."""

    def __init__(self, corpus: Path, engine: SearchEngine):
        self.embedder = engine.embedder
        self.rrf_k = engine.settings.rrf_k
        self.texts: list[str] = []
        plain = {".txt", ".md"}
        raws = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(corpus.rglob("*"))
                if p.suffix.lower() in plain and p.is_file()]
        # PDF, DOCX and HTML have no raw text to cut: their extracted text, whole papers, stands in.
        raws += [engine.document_text(doc_id) for doc_id, doc in sorted(engine.documents.items())
                 if Path(doc.source_path).suffix.lower() not in plain]
        for raw in raws:
            self.texts += [raw[i : i + NAIVE_CHARS] for i in range(0, len(raw), NAIVE_CHARS)]
        import faiss

        self.index = faiss.IndexFlatIP(engine.embedder.dim)
        # Each window is embedded as the model sees it (its first 256 word pieces).
        self.index.add(self.embedder.model.encode(self.texts, batch_size=32, normalize_embeddings=True).astype("float32"))
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61')")
        self.db.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", [(i, t) for i, t in enumerate(self.texts)])

    def search(self, query: str, k: int) -> list[str]:
        parsed = parse_query(query)
        vec = self.embedder.encode_query(query)
        scores, ids = self.index.search(vec, 50)
        dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        keyword = []
        if parsed.fts_query():
            keyword = [(r, 0.0) for (r,) in self.db.execute(
                "SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 50", (parsed.fts_query(),))]
        fused = rrf([(dense, 1.0), (keyword, 1.0)], self.rrf_k)
        return [self.texts[i] for i, _ in sorted(fused.items(), key=lambda kv: kv[1], reverse=True)[:k]]


def answer_metrics(answerer: Answerer, questions: list[dict]) -> dict:
    """Answers as the product gives them. Strict: a quoted sentence itself holds the gold evidence.
    Lenient (the old figure): the cited passage holds it, even when the quoted sentence does not."""
    chunks = answerer.engine.snapshot.chunk_by_id
    rows, valid, total_markers, latencies = [], 0, 0, []
    for q in questions:
        started = time.perf_counter()
        plan = plan_of(answerer.engine, q)
        passages = answerer.engine.search(plan).results
        a, decision = answerer.respond(plan, passages)
        latencies.append((time.perf_counter() - started) * 1000)
        markers = [int(n) for n in re.findall(r"\[(\d+)\]", a.answer)]
        by_n = {c.n: c for c in a.citations}
        total_markers += len(markers)
        valid += sum(1 for n in markers if n in by_n and by_n[n].quote in chunks[by_n[n].chunk_id].text)
        gold, answerable = q.get("gold") or [], bool(q.get("answerable", True))
        holds = answerable and any(holds_evidence(c.text, gold) for c in decision.chosen)
        rows.append({"id": q.get("id"), "answerable": answerable, "answered": a.answerable, "confidence": decision.confidence,
                     "holds": holds, "strict": answerable and a.answerable and any(holds_evidence(c.quote, gold) for c in a.citations),
                     "lenient": answerable and a.answerable and any(
                         contains_gold(chunks[c.chunk_id].text, gold) or contains_gold(c.quote, gold)
                         or any(normalise(c.quote) in normalise(g) for g in gold) for c in a.citations)})
    out = summarise(rows)
    out.update({"citation_validity": valid / max(1, total_markers),
                "ask_p50_ms": statistics.median(latencies) if latencies else 0.0,
                "ask_p95_ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))] if latencies else 0.0})
    return out


def summarise(rows: list[dict]) -> dict:
    """Answer rate, strict (and lenient) correctness, abstention, and the reliability curve."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    out = {
        "answerable_questions": len(answerable),
        "answer_rate": sum(r["answered"] for r in answerable) / max(1, len(answerable)),
        "strict_correct_rate": sum(r["strict"] for r in answerable) / max(1, len(answerable)),
        "correct_if_all_answered": sum(r["holds"] for r in answerable) / max(1, len(answerable)),
        "unanswerable_questions": len(unanswerable),
        "abstention_rate": sum(not r["answered"] for r in unanswerable) / max(1, len(unanswerable)),
        "reliability": reliability(rows),
    }
    if all("lenient" in r for r in answerable):
        out["correct_cited_rate"] = sum(r["lenient"] for r in answerable) / max(1, len(answerable))
    return out


def reliability(rows: list[dict], steps: int = 10) -> list[dict]:
    """Precision of the answered questions (strictly correct; an answered unanswerable question is
    wrong) against coverage, as the abstention threshold falls from the most confident answer down:
    each question counted as the answer it would give were the threshold at its confidence."""
    ordered = sorted(rows, key=lambda r: r["confidence"], reverse=True)
    curve = []
    for step in range(1, steps + 1):
        n = max(1, round(step * len(ordered) / steps))
        head = ordered[:n]
        curve.append({"coverage": n / max(1, len(ordered)), "threshold": head[-1]["confidence"],
                      "precision": sum(r["holds"] for r in head) / n})
    return curve


def print_answers(title: str, answers: dict) -> None:
    print(f"\n{title}")
    print(f"  answered (answerable questions):      {answers['answer_rate']:.3f} of {answers['answerable_questions']}")
    print(f"  strictly correct (quote holds gold):  {answers['strict_correct_rate']:.3f}")
    if "correct_cited_rate" in answers:
        print(f"  lenient (cited passage holds gold):   {answers['correct_cited_rate']:.3f}")
    print(f"  abstained (unanswerable questions):   {answers['abstention_rate']:.3f} of {answers['unanswerable_questions']}")
    if "citation_validity" in answers:
        print(f"  citation validity ([n] -> verbatim):  {answers['citation_validity']:.3f}")
        print(f"  ask latency p50 / p95 (in process):    {answers['ask_p50_ms']:.0f} / {answers['ask_p95_ms']:.0f} ms")
    print("  reliability (coverage: precision @ confidence): " + "  ".join(
        f"{p['coverage']:.0%}: {p['precision']:.2f} @{p['threshold']:.2f}" for p in answers["reliability"]))


def cross_validated(answerer: Answerer, questions: list[dict]) -> dict:
    """The learned evidence model measured honestly: nested CV grouped by paper, every question
    decided by a model fitted, tuned and calibrated without its paper."""
    samples = collect(answerer, questions)
    if len({s.group for s in samples}) < 2:
        raise ValueError("cross-validation needs questions on at least two papers")
    return summarise(cross_validate(samples, answerer.settings, decide))


def print_table(rows: list[dict]) -> None:
    print(f"{'system':<34}{'hit@1':>7}{'hit@3':>7}{'hit@5':>7}{'hit@10':>8}{'MRR@10':>8}{'chars':>7}{'p50 ms':>8}{'p95 ms':>8}")
    for r in rows:
        print(f"{r['system']:<34}{r['hit@1']:>7.3f}{r['hit@3']:>7.3f}{r['hit@5']:>7.3f}{r['hit@10']:>8.3f}"
              f"{r['mrr@10']:>8.3f}{r['mean_passage_chars']:>7.0f}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}")


def run_eval(qa_file: Path, index_dir: Path, split: str = "test", k: int = 10, baselines: bool = True,
             json_out: bool = False, corpus: Path | None = None, cv: bool = False) -> int:
    engine = SearchEngine(index_dir)
    engine.warm()
    engine.sentences.warm(list(engine.snapshot.chunks.values()))  # as the service does at start-up
    questions = load_questions(qa_file, split)
    retrieval_qs = [q for q in questions if q.get("answerable", True) and q.get("gold")]
    if not questions:
        print(f"no questions in split {split!r} of {qa_file}", file=sys.stderr)
        return 1
    print(f"Question set: {qa_file} (split: {split}; {len(retrieval_qs)} answerable, "
          f"{len(questions) - len(retrieval_qs)} unanswerable)\n")

    def texts(response):
        return [r.text for r in response.results]

    # Every system reads a follow-up as the plan does: after the turns before it.
    rows = [score_system("ReportSearch (hybrid + rerank)", retrieval_qs, lambda q: texts(engine.search(plan_of(engine, q), k=k))).row()]
    if baselines:
        rows.append(score_system("BM25 only", retrieval_qs, lambda q: texts(engine.search(plan_of(engine, q), k=k, use_dense=False))).row())
        rows.append(score_system("Dense only", retrieval_qs, lambda q: texts(engine.search(plan_of(engine, q), k=k, use_keyword=False))).row())
        naive = NaiveBaseline(corpus or qa_file.parent, engine)
        rows.append(score_system(f"Naive {NAIVE_CHARS}-char chunks, hybrid", retrieval_qs, lambda q: naive.search(rewrite_followup(q["question"], turns_of(q)), k)).row())
    print("Retrieval")
    print_table(rows)
    clear_query_cache()
    answerer = Answerer(engine)
    answers = answer_metrics(answerer, questions)
    print_answers(f"Answers (stored model {answerer.model.version}; in-sample for the questions it was fitted on: "
                  f"{', '.join(answerer.model.report.get('sets', []))})", answers)
    report = {"split": split, "retrieval": rows, "answers": answers}
    if cv:
        report["answers_cv"] = cross_validated(answerer, questions)
        print_answers("Answers, nested cross-validation grouped by paper (the honest figure for labelled sets)", report["answers_cv"])
    if json_out:
        print(json.dumps(report, indent=2))
    return 0
