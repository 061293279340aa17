"""The `reportsearch` command run as a user runs it: a subprocess, real index, real output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(*args, index=None, input=None, timeout=180):
    env = {**os.environ}
    if index is not None:
        env["REPORTSEARCH_INDEX"] = str(index)
    return subprocess.run([sys.executable, "-m", "searchapi.cli", *map(str, args)], env=env, input=input,
                          capture_output=True, text=True, timeout=timeout)


def test_index_summary_and_done_when_search(sample_index, tmp_path):
    from tests.conftest import CORPUS

    out = run("index", CORPUS, "--index-dir", sample_index)
    assert out.returncode == 0, out.stderr
    assert "Documents: 14" in out.stdout and "5 unchanged" in out.stdout and "Traceback" not in out.stderr

    out = run("search", "expenditure over £500 published on the website", "--json", index=sample_index)
    assert out.returncode == 0, out.stderr
    response = json.loads(out.stdout)
    top = response["results"][0]
    assert "publishes all expenditure over £500 via the website" in top["text"]
    assert top["document"]["title"] == "Update on expenditure to support the Police and Crime Plan"
    assert top["document"]["date"] == "2017-07-20"
    assert top["section"]["number"] == "2"
    assert top["citation"].startswith("Update on expenditure to support the Police and Crime Plan (20 Jul 2017), section 2")
    assert set(response) == {"query", "results", "took_ms"}


def test_human_search_output(sample_index):
    out = run("search", "Head of Strategic Procurement", "-k", "3", index=sample_index)
    assert out.returncode == 0
    assert out.stdout.startswith("1. ") and "Collaboration (27 Sep 2017)" in out.stdout


def test_search_batch_keeps_order_and_reports_bad_lines(sample_index, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "query": "Salus funding"}\nnot json\n{"id": 7}\n{"id": "b", "query": "PEQF"}\n')
    out = run("search", "--batch", batch, "-k", "2", index=sample_index)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    assert [l.get("id") for l in lines] == ["a", None, 7, "b"]
    assert len(lines[0]["results"]) == 2 and "error" in lines[1] and "query" in lines[2]["error"]


def test_ask_json_and_batch(sample_index, tmp_path):
    out = run("ask", "When did the Head of Strategic Procurement start?", "--json", index=sample_index)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["answerable"] and "20th March 2017" in answer["answer"]
    batch = tmp_path / "a.jsonl"
    batch.write_text('{"id": 1, "question": "What is PEQF?"}\n{"id": 2, "question": ""}\n')
    out = run("ask", "--batch", batch, index=sample_index)
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    assert lines[0]["id"] == 1 and lines[0]["citations"] and lines[1] == {"id": 2, "error": 'line 2: missing or empty "question"'}


def test_ask_human_output_agrees_with_json(sample_index):
    """The human form shows the JSON answer: its text with [n] marks and each source's verbatim quote,
    or the plain abstention with the closest passages."""
    seen = set()
    for question in ("Who was appointed Head of Strategic Procurement, and when did he start?",
                     "What is the budget of the moon base?"):
        answer = json.loads(run("ask", question, "--json", index=sample_index).stdout)
        out = run("ask", question, index=sample_index)
        assert out.returncode == 0, out.stderr
        seen.add(answer["answerable"])
        if answer["answerable"]:  # the human form wraps lines: compared with whitespace collapsed
            shown = " ".join(out.stdout.split())
            assert shown.startswith(" ".join(answer["answer"].split())) and "Sources:" in shown
            assert all(f"[{c['n']}]" in shown and " ".join(c["quote"].split()) in shown for c in answer["citations"])
        else:
            assert "don't say" in out.stdout and "Sources:" not in out.stdout
    assert seen == {True, False}


@pytest.mark.parametrize(
    "args, message",
    [
        (("search", ""), "the query must not be empty"),
        (("search", "x" * 2001), "at most 2000 characters"),
        (("search", "--batch", "/nonexistent/file.jsonl"), "cannot read batch file"),
        (("search", "x", "-k", "0"), "between 1 and 100"),
        (("search", "x", "-k", "101"), "between 1 and 100"),
    ],
)
def test_bad_input_one_line_error(sample_index, args, message):
    out = run(*args, index=sample_index)
    assert out.returncode != 0 and message in out.stderr and "Traceback" not in out.stderr


def test_missing_index_and_nothing_indexable(tmp_path):
    out = run("search", "anything", "--index-dir", tmp_path / "none")
    assert out.returncode == 1 and "no index" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "empty.txt").write_text("")
    out = run("index", tmp_path / "empty.txt", "--index-dir", tmp_path / "idx")
    assert out.returncode == 1 and "nothing could be indexed" in out.stderr and "empty file" in out.stdout
    out = run("index", tmp_path / "nope", "--index-dir", tmp_path / "idx2")
    assert out.returncode == 1 and "path does not exist" in out.stdout


def test_eval_errors_are_one_line(tmp_path, sample_index):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    out = run("eval", bad, index=sample_index)
    assert out.returncode == 1 and "not in the devset format" in out.stderr and "Traceback" not in out.stderr
    out = run("eval", bad, "--index-dir", tmp_path / "none")
    assert out.returncode == 1 and "no index" in out.stderr
