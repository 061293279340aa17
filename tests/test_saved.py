"""Saved searches: kept in the index folder, new matches listed after a re-index that adds papers,
served as JSON and as an Atom feed that respects access (a public caller never sees a restricted paper)."""

from __future__ import annotations

import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.conftest import ServerThread
from tests.test_cli import run

ATOM = "{http://www.w3.org/2005/Atom}"
QUERY = "collaboration with Essex Police on firearms training"

# Two papers written for the test (a later board report, one of them marked exempt), added to a copy
# of the sample index after the search was saved.
PUBLIC_PAPER = """## Report to the Commissioner's Performance and Delivery Board

Date: 14 March 2023

Title: Collaboration Update 2023

From: Chief Constable

### ESSEX

1. **Joint Firearms Training.** Kent Police and Essex Police opened a shared firearms training range in
January 2023, so that armed officers of both forces now train together under one Chief Firearms Instructor.
The collaboration with Essex Police saves an estimated £410,000 a year in range hire and instructor costs.

2. **Shared Support Services.** The collaboration with Essex Police on payroll and procurement continues;
a review of the shared Support Service Directorate will report to the Board in September 2023.
"""

RESTRICTED_PAPER = """NOT FOR PUBLICATION

## Report to the Commissioner's Performance and Delivery Board

Date: 15 March 2023

Title: Firearms Range Lease Negotiation

From: Chief Constable

1. **Lease terms.** The collaboration with Essex Police on firearms training depends on the lease of the
Boxley range; the landlord has asked for £95,000 a year, which officers recommend the Board should reject.
"""


def new_papers(base) -> Path:
    """A folder with the two papers, as a later run finds them."""
    papers = base / "new-papers"
    papers.mkdir()
    (papers / "2023-03-14_collaboration-update.txt").write_text(PUBLIC_PAPER, encoding="utf-8")
    (papers / "2023-03-15_range-lease.txt").write_text(RESTRICTED_PAPER, encoding="utf-8")
    return papers


@pytest.fixture(scope="session")
def reindexed(sample_index, tmp_path_factory):
    """A copy of the sample index with a saved search, re-indexed after two new papers were added.
    Returns (index folder, stdout of the re-index)."""
    base = tmp_path_factory.mktemp("saved")
    index = base / "index"
    shutil.copytree(sample_index, index)
    out = run("saved", "add", "essex", QUERY, "--index-dir", index)
    assert out.returncode == 0, out.stderr
    papers = new_papers(base)
    out = run("index", papers, "--index-dir", index, "-q")
    assert out.returncode == 0, out.stderr
    return index, out.stdout


def test_saved_search_lists_new_matches_after_reindex(reindexed):
    index, summary = reindexed
    assert "Saved search essex:" in summary
    new_lines = [line for line in summary.splitlines() if line.strip().startswith("new:")]
    assert any("Collaboration Update 2023" in line for line in new_lines), summary
    assert all("2023" in line for line in new_lines), new_lines  # only passages of the added papers
    listed = run("saved", "list", "--index-dir", index)
    assert listed.returncode == 0 and "essex" in listed.stdout and QUERY in listed.stdout


def test_saved_search_names_are_checked(reindexed, tmp_path):
    index, _ = reindexed
    out = run("saved", "add", "essex", "anything", "--index-dir", index)
    assert out.returncode != 0 and "already exists" in out.stderr and "Traceback" not in out.stderr
    out = run("saved", "add", "no spaces please", "anything", "--index-dir", index)
    assert out.returncode != 0 and "name" in out.stderr
    out = run("saved", "add", "x", "anything", "--index-dir", tmp_path / "none")
    assert out.returncode != 0 and "no index" in out.stderr
    out = run("saved", "remove", "never-saved", "--index-dir", index)
    assert out.returncode != 0 and "never-saved" in out.stderr


def _feed_titles(client, name="essex", headers=None) -> list[str]:
    res = client.get(f"/api/saved/{name}/feed", headers=headers or {})
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(res.content)
    assert root.tag == f"{ATOM}feed" and root.find(f"{ATOM}id").text == "urn:reportsearch:saved:essex"
    return [e.find(f"{ATOM}title").text for e in root.findall(f"{ATOM}entry")]


def test_feed_and_listing_respect_access(reindexed):
    from searchapi.service.app import create_app
    from searchapi.service.keys import KeyStore

    index, _ = reindexed
    member = KeyStore(index).add("member-for-test", "member")
    with ServerThread(create_app(index)) as srv, httpx.Client(base_url=srv.url, timeout=60) as client:
        public = _feed_titles(client)
        assert any("Collaboration Update 2023" in t for t in public), public
        assert not any("Range Lease" in t for t in public), public
        full = _feed_titles(client, headers={"Authorization": f"Bearer {member}"})
        assert any("Range Lease" in t for t in full), full
        listing = client.get("/api/saved").json()
        essex = next(s for s in listing if s["name"] == "essex")
        assert essex["query"] == QUERY and essex["matches"]
        assert all(m["result"]["document"]["date"] >= "2023-01-01" for m in essex["matches"])
        assert not any("Range Lease" in m["result"]["citation"] for m in essex["matches"])
        assert client.get("/api/saved/nothing-saved/feed").status_code == 404

        # Precedent reads through the same per-caller view.
        body = {"query": "lease of the Boxley firearms range"}
        seen = client.post("/api/precedent", json=body).json()
        assert not any("Range Lease" in o["citation"] for g in seen["groups"] for o in g["occurrences"])
        seen = client.post("/api/precedent", json=body, headers={"Authorization": f"Bearer {member}"}).json()
        assert any("Range Lease" in o["citation"] for g in seen["groups"] for o in g["occurrences"])


def test_sharded_reindex_records_one_machines_matches(sample_index, tmp_path):
    """After `index --ray` (each shard's task, indexer.distributed.index_shard, run here without Ray) the
    saved searches at the sharded index's root record the new matches one machine's re-index of the
    same files records: same passages, same scores."""
    from indexer.distributed import assign_shards, index_shard, read_manifest
    from indexer.load import discover
    from indexer.pipeline import index_paths
    from searchapi.meeting.saved import SavedSearches, chunk_ids, record_new_matches
    from searchapi.schemas import Filters
    from tests.conftest import CORPUS
    from tests.test_sharded_ranking import split

    papers = new_papers(tmp_path)
    one, sharded = tmp_path / "one", tmp_path / "sharded"
    shutil.copytree(sample_index, one)
    sharded.mkdir()
    split(sample_index, sharded)

    def on_shards():
        files = assign_shards(discover([CORPUS, papers]).files, 2, read_manifest(sharded)["files"])
        for shard in range(2):
            index_shard(shard, [f for f, s in files.items() if s == shard], [str(CORPUS), str(papers)], str(sharded))

    recorded = []
    for index, reindex in [(one, lambda: index_paths([CORPUS, papers], one, progress=False)), (sharded, on_shards)]:
        store = SavedSearches(index)
        store.add("essex", QUERY)
        store.add("essex-2023", "collaboration with Essex", Filters(date_from="2023-01-01"))
        before = chunk_ids(index)
        reindex()
        found = record_new_matches(index, before)
        recorded.append(({name: [(r.chunk_id, r.score) for r in results] for name, results in found.items()},
                         [[(m.chunk_id, m.score) for m in s.matches] for s in store.load()]))
    assert recorded[0][0]["essex"] and recorded[0][0]["essex-2023"]
    assert recorded[1] == recorded[0]
