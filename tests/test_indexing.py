"""Incremental re-indexing, crash safety and bad input, on generated files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from indexer.pipeline import index_paths
from indexer.store import IndexReader, IndexStore

REPORT = """Report to the Commissioner's Governance Board

Date: {date}

Title: {title}

From: Chief Constable

1. Background. {body}

2. Next steps. The board will receive a further update at its next meeting in the autumn.
"""


def write(path: Path, title: str, body: str, date: str = "1 March 2017") -> Path:
    path.write_text(REPORT.format(title=title, body=body, date=date), encoding="utf-8")
    return path


def doc_titles(index_dir: Path) -> set[str]:
    return {r[0] for r in IndexStore(index_dir).conn.execute("SELECT title FROM documents")}


def test_incremental_edit_add_delete(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    write(docs / "a.txt", "Drone unit", "The drone unit cost £120,000 in its first year of operation.")
    write(docs / "b.md", "Cycle patrols", "Cycle patrols were introduced in Canterbury city centre.")
    index = tmp_path / "idx"
    first = index_paths([docs], index, progress=False)
    assert sorted(Path(p).name for p in first.indexed) == ["a.txt", "b.md"]
    ids_before = {r[0]: r[1] for r in IndexStore(index).conn.execute("SELECT title, id FROM documents")}

    again = index_paths([docs], index, progress=False)
    assert again.indexed == [] and len(again.unchanged) == 2 and again.embedded == 0

    write(docs / "a.txt", "Drone unit", "The drone unit cost £150,000 after the second aircraft was bought.")
    write(docs / "c.txt", "Rural crime", "The rural task force seized 40 vehicles used for fly-tipping.")
    (docs / "b.md").unlink()
    third = index_paths([docs], index, progress=False)
    assert sorted(Path(p).name for p in third.indexed) == ["a.txt", "c.txt"]
    assert [Path(p).name for p in third.removed] == ["b.md"]
    assert doc_titles(index) == {"Drone unit", "Rural crime"}
    store = IndexStore(index)
    texts = " ".join(r[0] for r in store.conn.execute("SELECT text FROM chunks"))
    assert "£150,000" in texts and "£120,000" not in texts, "stale chunks of the edited file remain"
    assert store.conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0] == store.counts()["chunks"]
    # Identity: the edited file keeps its document id (same path, same paper order).
    ids_after = {r[0]: r[1] for r in store.conn.execute("SELECT title, id FROM documents")}
    assert ids_after["Drone unit"] == ids_before["Drone unit"]
    # FAISS holds exactly the live chunks.
    assert IndexReader(tmp_path / "idx").load_vectors().ntotal == store.counts()["chunks"]


def test_other_chunk_settings_rechunk_unchanged_files(tmp_path, monkeypatch):
    """An index made with other chunk settings or an older pipeline is rebuilt, reusing embeddings."""
    from indexer.settings import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    body = " ".join(f"Sentence {i} reports that patrol number {i} covered the coast road." for i in range(40))
    write(docs / "a.txt", "Coastal patrols", body)
    index = tmp_path / "idx"
    index_paths([docs], index, settings=Settings(chunk_max_tokens=180), progress=False)
    count = IndexStore(index).counts()["chunks"]
    same = index_paths([docs], index, settings=Settings(chunk_max_tokens=180), progress=False)
    assert same.indexed == [] and same.embedded == 0
    smaller = index_paths([docs], index, settings=Settings(chunk_max_tokens=60), progress=False)
    assert [Path(p).name for p in smaller.indexed] == ["a.txt"]
    assert IndexStore(index).counts()["chunks"] > count
    write(docs / "b.txt", "Rural patrols", body.replace("coast road", "farm lanes"))
    index_paths([docs], index, settings=Settings(chunk_max_tokens=60), progress=False)
    monkeypatch.setattr("indexer.pipeline.PIPELINE_VERSION", 999)
    newer = index_paths([docs / "b.txt"], index, settings=Settings(chunk_max_tokens=60), progress=False)
    assert sorted(Path(p).name for p in newer.indexed) == ["a.txt", "b.txt"], "a file outside the run is rebuilt too"
    assert newer.embedded == 0, "unchanged chunk texts reuse their stored embeddings"


def test_unchanged_reindex_keeps_chunk_ids(sample_index, tmp_path):
    from tests.conftest import CORPUS

    before = {r[0] for r in IndexStore(sample_index).conn.execute("SELECT id FROM chunks")}
    started = time.perf_counter()
    report = index_paths([CORPUS], sample_index, progress=False)
    assert time.perf_counter() - started < 2.0 and report.indexed == []
    assert {r[0] for r in IndexStore(sample_index).conn.execute("SELECT id FROM chunks")} == before


def test_bad_inputs_are_skipped_with_reasons(tmp_path):
    docs = tmp_path / "bad"
    docs.mkdir()
    write(docs / "good.txt", "Good paper", "This paper is perfectly readable and should be indexed.")
    (docs / "empty.txt").write_text("")
    (docs / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    (docs / "latin.txt").write_bytes(REPORT.format(title="Caf\xe9 policing", body="Visits to caf\xe9s rose.", date="2 May 2018").encode("cp1252"))
    (docs / "slides.pdfx").write_bytes(b"whatever")
    big = docs / "huge.txt"
    with open(big, "wb") as handle:
        handle.write(b"A" * (50 * 1024 * 1024))
    report = index_paths([docs, tmp_path / "missing-folder"], tmp_path / "idx", progress=False)
    reasons = {Path(p).name: why for p, why in report.skipped}
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["binary.txt"]
    assert "unsupported file type" in reasons["slides.pdfx"]
    assert "too large" in reasons["huge.txt"]
    assert reasons["missing-folder"] == "path does not exist"
    assert sorted(Path(p).name for p in report.indexed) == ["good.txt", "latin.txt"]
    assert "Café policing" in doc_titles(tmp_path / "idx")


def test_folder_notes_are_not_reports_unless_named(tmp_path):
    """A catalogue beside the papers summarises each one: walked, it is left out with a reason; named (even
    beside its folder), it is indexed, and kept when the folder is indexed again."""
    docs = tmp_path / "papers"
    docs.mkdir()
    write(docs / "board.txt", "Board minutes", "The board approved the fleet budget of £2.4m for 2019/20.")
    write(docs / "MANIFEST.md", "Catalogue", "board.txt: board minutes approving the fleet budget of £2.4m.")
    first = index_paths([docs], tmp_path / "idx", progress=False)
    assert [Path(p).name for p in first.indexed] == ["board.txt"]
    assert "not a report" in dict((Path(p).name, why) for p, why in first.skipped)["MANIFEST.md"]
    named = index_paths([docs, docs / "MANIFEST.md"], tmp_path / "idx", progress=False)
    assert [Path(p).name for p in named.indexed] == ["MANIFEST.md"] and not named.skipped
    again = index_paths([docs], tmp_path / "idx", progress=False)
    assert not again.removed and "Catalogue" in doc_titles(tmp_path / "idx")


def test_folder_of_thousands_of_files(tmp_path):
    docs = tmp_path / "many"
    for i in range(2000):
        sub = docs / f"d{i // 200}"
        sub.mkdir(parents=True, exist_ok=True)
        write(sub / f"paper-{i}.txt", "Standard return", "Quarterly return submitted on time.")
    started = time.perf_counter()
    report = index_paths([docs], tmp_path / "idx", progress=False)
    assert len(report.indexed) == 2000 and report.totals["documents"] == 2000
    assert report.embedded <= 4, "identical passages are embedded once"
    assert time.perf_counter() - started < 120


def test_kill_during_indexing_leaves_previous_index_searchable(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    write(docs / "base.txt", "Drone unit", "The drone unit cost £120,000 in its first year of operation.")
    index = tmp_path / "idx"
    index_paths([docs], index, progress=False)
    # A large batch of new, distinct files keeps the next run busy embedding for a while.
    for i in range(600):
        write(docs / f"new-{i}.txt", f"Paper {i}", " ".join(f"Finding {i}-{j} concerns neighbourhood {j * i} policing." for j in range(40)))
    env = {**os.environ, "REPORTSEARCH_INDEX": str(index)}
    proc = subprocess.Popen([sys.executable, "-m", "searchapi.cli", "index", str(docs)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        err = ""
        # Wait until it is embedding (progress on stderr), then kill -9.
        while time.time() < deadline and "Embedding" not in err:
            line = proc.stderr.readline() if proc.poll() is None else ""
            err += line
            if proc.poll() is not None:
                break
        assert proc.poll() is None, "indexing finished before it could be interrupted"
        time.sleep(2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert doc_titles(index) == {"Drone unit"}
    out = subprocess.run([sys.executable, "-m", "searchapi.cli", "search", "drone unit cost", "--json", "-k", "1"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "£120,000" in out.stdout
