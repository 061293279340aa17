"""Optional generative answers through any OpenAI-compatible chat endpoint (llama.cpp, Ollama, vLLM,
a hosted API), asked only when the extractive answer found evidence, so it cannot answer from general
knowledge. Sentences their [n] does not support are dropped, and the answer says so; timeouts and
errors fall back to the extractive answer.
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
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][A-Za-z'’-]+")
_MARKER = re.compile(r"\[(\d{1,2})\]")
# A sentence ends at . ! or ? plus any [n] markers after it, before a capital or the end.
_CLAIM_END = re.compile(r"[.!?](?:\s*\[\d{1,2}\])*(?=\s+[A-Z\"'“(£]|\s*$)")


def claims(text: str) -> list[str]:
    """Generated text split into sentences, each keeping the citation markers that follow it."""
    ends = [m.end() for m in _CLAIM_END.finditer(text)]
    return [claim for a, b in zip([0] + ends, ends + [len(text)]) if (claim := text[a:b].strip())]


def grounded(claim: str, evidence: str) -> bool:
    """Every number and capitalised name in the claim occurs in the evidence."""
    low, names = evidence.lower(), [n.lower() for n in _NAME.findall(claim)]
    return all(n in evidence for n in _NUMBER.findall(claim)) and all(n in low for n in names if n not in STOPWORDS)


class LLMUnavailable(Exception):
    pass


class GenerativeAnswerer:
    def __init__(self, local: Answerer, settings: Settings):
        self.local = local
        self.settings = settings

    def messages(self, question: str, passages: list[Result], history: list[Turn]) -> list[dict]:
        shown, chars = passages[: self.settings.llm_passages], self.settings.llm_passage_chars
        numbered = "\n\n".join(f"[{i}] {p.citation}\n{p.text[:chars]}" for i, p in enumerate(shown, 1))
        return ([{"role": "system", "content": SYSTEM_PROMPT}]
                + [{"role": turn.role, "content": turn.content[:1000]} for turn in history[-4:]]
                + [{"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"}])

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
                        delta = json.loads(data)["choices"][0].get("delta", {}).get("content")
                    except (json.JSONDecodeError, KeyError, IndexError):
                        continue
                    if delta:
                        yield delta
        except httpx.TimeoutException:
            raise LLMUnavailable("the language model did not answer in time") from None
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"the language model could not be reached ({type(exc).__name__})") from None

    def verify(self, generated: str, passages: list[Result]) -> tuple[list[str], list[Citation], int, int]:
        """Keep sentences whose [n] supports them, each marker a verbatim quote; an uncited sentence is
        kept only if a passage supports it, and cites it. Returns (sentences, citations, dropped, repaired)."""
        kept, citations, dropped, repaired = [], [], 0, 0
        shown = passages[: self.settings.llm_passages]
        per_passage = [self.local.sentences([p]) for p in shown]  # once, however many claims cite one
        for sentence in claims(generated):
            numbers = [int(n) for n in _MARKER.findall(sentence)]
            claim = _MARKER.sub("", sentence).strip()
            if len(claim.split()) < 3:
                continue
            if any(not 1 <= n <= len(shown) for n in numbers):
                dropped += 1
                continue
            claim_vec = self.local.engine.embedder.encode([claim])[0]
            pools = [per_passage[n - 1] for n in dict.fromkeys(numbers)] or [[c for group in per_passage for c in group]]
            quotes = [self.best_quote(claim, claim_vec, pool) for pool in pools]
            repaired += not numbers and quotes[0] is not None
            if None in quotes:
                dropped += 1
                continue
            markers = []
            for cand in quotes:
                citations.append(self.local.engine.citation(len(citations) + 1, cand.chunk, cand.start, cand.end))
                markers.append(f"[{len(citations)}]")
            kept.append(f"{claim} {' '.join(markers)}")
        return kept, citations, dropped, repaired

    def best_quote(self, claim: str, claim_vec: np.ndarray, sentences: list[Candidate]) -> Candidate | None:
        """The sentence that best supports the claim, if any does well enough. Every number and name the
        claim states must be in its chunk: '1 July 2017' cannot hide behind a passage about 2016."""
        candidates = [c for c in sentences if grounded(claim, c.chunk.text)]
        if not candidates:
            return None
        vecs = np.vstack([c.vector for c in candidates])
        terms = concepts(claim, self.local.engine.acronyms)
        share = self.settings.llm_support_dense_share
        coverage = np.array([self.local.engine.terms.coverage(terms, c.text) for c in candidates])
        scores = share * (vecs @ claim_vec) + (1 - share) * coverage
        best = int(np.argmax(scores))
        return candidates[best] if scores[best] >= self.settings.llm_support_threshold else None

    def stream(self, question: str, k: int = 8, filters: Filters | None = None,
               history: list[Turn] | None = None) -> Iterator[tuple[str, object]]:
        history = history or []
        plan = self.local.engine.plan(question, history)
        passages = self.local.engine.search(plan, k=k, filters=filters).results
        yield "passages", [p.model_dump() for p in passages]
        answer = self.local.respond(plan, passages, filters)[0]
        if not answer.answerable:  # no evidence: the model is not asked
            answer.mode = "llm"
        else:
            generated = []
            try:
                for piece in self.tokens_from_model(self.messages(question, passages, history)):
                    generated.append(piece)
                    yield "token", {"text": piece}
            except LLMUnavailable as exc:
                answer.notice = f"{exc}; showing the extractive answer instead."
            else:
                answer = self.checked(question, "".join(generated).strip(), passages, answer)
        yield "answer", answer.model_dump()

    def checked(self, question: str, generated: str, passages: list[Result], local: Answer) -> Answer:
        """The generated answer less its unsupported sentences; the extractive one when none is left."""
        if generated.upper().startswith("NOT FOUND"):
            answer = self.local.abstain(question, passages)
            answer.mode = "llm"
            return answer
        kept, citations, dropped, repaired = self.verify(generated, passages)
        if not kept:
            local.notice = "The language model's answer was not supported by its cited passages; showing the extractive answer instead."
            return local
        notes = []
        if dropped:
            notes.append(f"{dropped} sentence(s) of the generated answer were removed because their citations did not support them.")
        if repaired:
            notes.append(f"{repaired} uncited sentence(s) were given the citation of the passage that supports them.")
        return Answer(question=question, answer=" ".join(kept), answerable=True, citations=citations, passages=passages,
                      took_ms=0.0, mode="llm", notice=" ".join(notes) or None)

    def ask(self, question: str, k: int = 8, filters: Filters | None = None, history: list[Turn] | None = None) -> Answer:
        started = time.perf_counter()
        final = Answer(**[payload for kind, payload in self.stream(question, k, filters, history) if kind == "answer"][-1])
        final.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return final
