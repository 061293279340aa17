"""Optional generative answers through any OpenAI-compatible chat endpoint (llama.cpp, Ollama,
vLLM, a hosted API), with every citation checked against its passage afterwards.

Retrieval confidence gates the model: when the local answerer finds no evidence, the model is not
asked at all, so it cannot answer from general knowledge. Sentences whose [n] does not support them
are dropped and the answer says so; timeouts and errors fall back to the extractive answer.
"""

from __future__ import annotations

import json
import re
import time
from typing import Iterator

import httpx
import numpy as np

from indexer.settings import Settings

from searchapi.answers.answerer import Answerer
from searchapi.answers.features import Candidate
from searchapi.retrieval.lexical import concepts
from searchapi.retrieval.query import STOPWORDS
from searchapi.schemas import Answer, Citation, Filters, Result, Turn

SYSTEM_PROMPT = (
    "You answer questions about formal reports (police and crime panel papers, board minutes). "
    "Use ONLY the numbered passages. After every sentence put the number of the passage it comes from, "
    "like [1]. Keep the answer to 1-4 short sentences. If the passages do not answer the question, "
    "reply exactly: NOT FOUND"
)
MAX_PASSAGES = 5
PASSAGE_CHARS = 900
SUPPORT_THRESHOLD = 0.55
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][A-Za-z'’-]+")
_MARKER = re.compile(r"\[(\d{1,2})\]")
# A sentence ends at . ! or ? plus any [n] markers after it, before a capital or the end.
_CLAIM_END = re.compile(r"[.!?](?:\s*\[\d{1,2}\])*(?=\s+[A-Z\"'“(£]|\s*$)")


def claims(text: str) -> list[str]:
    """Generated text split into sentences, each keeping the citation markers that follow it."""
    out, start = [], 0
    for m in _CLAIM_END.finditer(text):
        out.append(text[start : m.end()].strip())
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return [c for c in out if c]


def grounded(claim: str, evidence: str) -> bool:
    """Every number and capitalised name in the claim occurs in the evidence."""
    low = evidence.lower()
    numbers = _NUMBER.findall(claim)
    names = [n for n in _NAME.findall(claim) if n.lower() not in STOPWORDS]
    return all(n in evidence for n in numbers) and all(n.lower() in low for n in names)


class LLMUnavailable(Exception):
    pass


class GenerativeAnswerer:
    def __init__(self, local: Answerer, settings: Settings):
        self.local = local
        self.settings = settings

    # ---- the model call --------------------------------------------------------------------------
    def messages(self, question: str, passages: list[Result], history: list[Turn]) -> list[dict]:
        numbered = "\n\n".join(
            f"[{i}] {p.citation}\n{p.text[:PASSAGE_CHARS]}" for i, p in enumerate(passages[:MAX_PASSAGES], 1)
        )
        msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
        for turn in history[-4:]:
            msgs.append({"role": turn.role, "content": turn.content[:1000]})
        msgs.append({"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"})
        return msgs

    def tokens_from_model(self, messages: list[dict]) -> Iterator[str]:
        headers = {"Authorization": f"Bearer {self.settings.llm_api_key}"} if self.settings.llm_api_key else {}
        body = {"model": self.settings.llm_model or "local", "messages": messages, "stream": True,
                "temperature": 0.1, "max_tokens": 256}
        url = self.settings.llm_url.rstrip("/")
        if not url.endswith("/chat/completions"):
            url += "/chat/completions" if url.endswith("/v1") else "/v1/chat/completions"
        timeout = httpx.Timeout(self.settings.llm_timeout, connect=min(5.0, self.settings.llm_timeout))
        try:
            with httpx.stream("POST", url, json=body, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    raise LLMUnavailable(f"the language model answered HTTP {response.status_code}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        delta = json.loads(data)["choices"][0].get("delta", {}).get("content") or ""
                    except (json.JSONDecodeError, KeyError, IndexError):
                        continue
                    if delta:
                        yield delta
        except httpx.TimeoutException:
            raise LLMUnavailable("the language model did not answer in time") from None
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"the language model could not be reached ({type(exc).__name__})") from None

    # ---- checking what it said ------------------------------------------------------------------
    def verify(self, question: str, generated: str, passages: list[Result]) -> tuple[list[str], list[Citation], int, int]:
        """Keep sentences whose [n] supports them; each kept marker becomes a verbatim quote.

        A sentence the model left uncited is kept only if one of the passages supports it, and
        then cites that passage ('repaired'). Returns (sentences, citations, dropped, repaired).
        """
        text = generated.strip()
        kept, citations, dropped, repaired = [], [], 0, 0
        shown = passages[:MAX_PASSAGES]
        # Each passage's sentences once, however many claims cite it.
        per_passage = [self.local.sentences([p]) for p in shown]
        for sentence in claims(text):
            numbers = [int(n) for n in _MARKER.findall(sentence)]
            claim = _MARKER.sub("", sentence).strip()
            if not claim or len(claim.split()) < 3:
                continue
            if any(not 1 <= n <= len(shown) for n in numbers):
                dropped += 1
                continue
            claim_vec = self.local.engine.embedder.encode([claim])[0]
            if numbers:
                quotes = [self.best_quote(claim, claim_vec, per_passage[n - 1]) for n in dict.fromkeys(numbers)]
            else:
                quotes = [self.best_quote(claim, claim_vec, [c for group in per_passage for c in group])]
                repaired += quotes[0] is not None
            if any(q is None for q in quotes):
                dropped += 1
                continue
            markers = []
            for cand in quotes:
                citations.append(self.local.engine.citation(len(citations) + 1, cand.chunk, cand.start, cand.end))
                markers.append(f"[{len(citations)}]")
            kept.append(f"{claim.rstrip()} {' '.join(markers)}")
        return kept, citations, dropped, repaired

    def best_quote(self, claim: str, claim_vec: np.ndarray, sentences: list[Candidate]) -> Candidate | None:
        """The sentence that best supports the claim, if any supports it well enough.

        Support needs more than similarity: every number and every name the claim states must be
        in the quoted sentence's chunk, so '1 July 2017' cannot hide behind a passage about 2016.
        """
        candidates = [c for c in sentences if grounded(claim, c.chunk.text)]
        if not candidates:
            return None
        vecs = np.vstack([c.vector for c in candidates])
        terms = concepts(claim, self.local.engine.acronyms)
        scores = 0.6 * (vecs @ claim_vec) + 0.4 * np.array([self.local.engine.terms.coverage(terms, c.text) for c in candidates])
        best = int(np.argmax(scores))
        return candidates[best] if scores[best] >= SUPPORT_THRESHOLD else None

    # ---- the flow --------------------------------------------------------------------------------
    def stream(self, question: str, k: int = 8, filters: Filters | None = None,
               history: list[Turn] | None = None) -> Iterator[tuple[str, object]]:
        history = history or []
        plan = self.local.engine.plan(question, history)
        passages = self.local.engine.search(plan, k=k, filters=filters).results
        yield "passages", [p.model_dump() for p in passages]
        local = self.local.respond(plan, passages, filters)[0]
        if not local.answerable:
            local.mode = "llm"
            yield "answer", local.model_dump()
            return
        generated = []
        try:
            for piece in self.tokens_from_model(self.messages(question, passages, history)):
                generated.append(piece)
                yield "token", {"text": piece}
        except LLMUnavailable as exc:
            local.notice = f"{exc}; showing the extractive answer instead."
            yield "answer", local.model_dump()
            return
        raw = "".join(generated).strip()
        if raw.upper().startswith("NOT FOUND"):
            abstain = self.local.abstain(question, passages)
            abstain.mode = "llm"
            yield "answer", abstain.model_dump()
            return
        kept, citations, dropped, repaired = self.verify(question, raw, passages)
        if not kept:
            local.notice = "The language model's answer was not supported by its cited passages; showing the extractive answer instead."
            yield "answer", local.model_dump()
            return
        notes = []
        if dropped:
            notes.append(f"{dropped} sentence(s) of the generated answer were removed because their citations did not support them.")
        if repaired:
            notes.append(f"{repaired} uncited sentence(s) were given the citation of the passage that supports them.")
        notice = " ".join(notes) or None
        answer = Answer(question=question, answer=" ".join(kept), answerable=True, citations=citations,
                        passages=passages, took_ms=0.0, mode="llm", notice=notice)
        yield "answer", answer.model_dump()

    def ask(self, question: str, k: int = 8, filters: Filters | None = None, history: list[Turn] | None = None) -> Answer:
        started = time.perf_counter()
        final = None
        for kind, payload in self.stream(question, k, filters, history):
            if kind == "answer":
                final = Answer(**payload)
        final.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return final
