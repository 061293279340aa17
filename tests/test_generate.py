"""Generative mode against a stand-in OpenAI-compatible server on loopback: streaming, citation
checks, and fallbacks. The real model path is tests/test_llm_real.py (opt-in)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from indexer.settings import Settings
from searchapi.answers.generate import GenerativeAnswerer
from tests.conftest import ServerThread
from tests.llm_standin import StandIn

QUESTION = "When did the Head of Strategic Procurement start?"


@pytest.fixture(scope="module")
def standin():
    fake = StandIn()
    with ServerThread(fake.app) as srv:
        fake.url = srv.url
        yield fake


@pytest.fixture()
def generative(answerer, standin):
    standin.behaviour = "good"
    return GenerativeAnswerer(answerer, Settings(llm_url=standin.url + "/v1", llm_model="stand-in", llm_timeout=2.0))


def check_citations(answer, engine):
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    by_n = {c.n: c for c in answer.citations}
    assert markers <= set(by_n)
    for c in answer.citations:
        assert c.quote in engine.snapshot.chunk_by_id[c.chunk_id].text


def test_good_answer_streams_and_is_verified(generative, standin, engine):
    events = list(generative.stream(QUESTION))
    kinds = [k for k, _ in events]
    assert kinds[0] == "passages" and kinds[-1] == "answer" and kinds.count("token") > 3
    final = events[-1][1]
    from searchapi.schemas import Answer

    answer = Answer(**final)
    assert answer.mode == "llm" and answer.answerable and answer.notice is None
    check_citations(answer, engine)
    prompt = standin.requests[-1]["messages"][-1]["content"]
    assert "[1] " in prompt and "Question: " + QUESTION in prompt


def test_unsupported_sentence_is_dropped_with_notice(generative, standin, engine):
    standin.behaviour = "bad-citation"
    answer = generative.ask(QUESTION)
    assert "green cheese" not in answer.answer
    assert answer.notice and "removed" in answer.notice
    check_citations(answer, engine)


def test_out_of_range_citation_falls_back_to_local(generative, standin, engine):
    standin.behaviour = "out-of-range"
    answer = generative.ask(QUESTION)
    assert answer.mode == "local" and "not supported" in answer.notice
    check_citations(answer, engine)


@pytest.mark.parametrize("behaviour, words", [("slow", "in time"), ("error", "HTTP 500")])
def test_timeout_and_error_fall_back_to_local(generative, standin, engine, behaviour, words):
    standin.behaviour = behaviour
    answer = generative.ask(QUESTION)
    assert answer.mode == "local" and answer.answerable and words in answer.notice
    assert "20th March 2017" in answer.answer
    check_citations(answer, engine)


def test_model_not_asked_without_evidence(generative, standin):
    standin.requests.clear()
    answer = generative.ask("How much has the drone unit cost so far?")
    assert not answer.answerable and not standin.requests


def test_not_found_reply_abstains(generative, standin):
    standin.behaviour = "not-found"
    answer = generative.ask(QUESTION)
    assert not answer.answerable and answer.mode == "llm"


def test_api_streams_llm_tokens(sample_index, engine, standin):
    from searchapi.service.app import create_app

    standin.behaviour = "good"
    settings = Settings(llm_url=standin.url, llm_timeout=5.0)
    with ServerThread(create_app(sample_index, settings, engine=engine)) as srv:
        events, current = [], None
        with httpx.stream("POST", srv.url + "/api/ask", json={"question": QUESTION},
                          headers={"Accept": "text/event-stream"}, timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith("event: "):
                    current = line[7:]
                elif line.startswith("data: "):
                    events.append((current, json.loads(line[6:])))
        final = events[-1][1]
        assert events[-1][0] == "answer" and final["mode"] == "llm"
        streamed = "".join(d["text"] for k, d in events if k == "token")
        assert "[1]" in streamed
        plain = httpx.post(srv.url + "/api/ask", json={"question": QUESTION, "mode": "local"}, timeout=60).json()
        assert plain["mode"] == "local"


def test_uncited_but_supported_sentence_is_repaired(generative, standin, engine):
    standin.behaviour = "uncited"
    answer = generative.ask(QUESTION)
    assert answer.mode == "llm" and answer.answerable and "[1]" in answer.answer
    assert answer.notice and "given the citation" in answer.notice
    check_citations(answer, engine)
