"""A sharded index searched through the router ranks exactly as one machine: same passages, same
order, same scores (searchapi/distributed/global_rank.py), in process, without Ray.

Each shard folder starts as a copy of the sample index from which the store removes the other
shard's files (as a re-index removes vanished files), so nothing is embedded again.
"""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import CORPUS, DEVSET, HOLDOUT


def split(index_dir: Path, out: Path) -> Path:
    """`index_dir` (an index of CORPUS) as a 2-shard index in `out`, files placed as `index --ray` places them."""
    from indexer.distributed import MANIFEST, assign_shards, shard_dir
    from indexer.load import discover
    from indexer.store import IndexStore

    files = assign_shards(discover([CORPUS]).files, 2, {})
    (out / MANIFEST).write_text(json.dumps({"shards": 2, "files": files}), encoding="utf-8")
    for shard in range(2):
        shutil.copytree(index_dir, shard_dir(out, shard))
        store = IndexStore(shard_dir(out, shard))
        others = [f for f in store.file_hashes() if files.get(f) != shard]
        assert others and len(others) < len(files)
        store.apply([], others, meta={})
        store.close()
    return out


@pytest.fixture(scope="module")
def sharded_index(sample_index, tmp_path_factory) -> Path:
    return split(sample_index, tmp_path_factory.mktemp("sharded"))


@pytest.fixture(scope="module")
def router(sharded_index):
    from searchapi.distributed.shards import LocalShards

    return LocalShards(sharded_index)


@pytest.fixture(scope="module")
def one_machine(sample_index):
    from searchapi.retrieval.engine import SearchEngine

    return SearchEngine(sample_index, audience="public")


def questions(path: Path, n: int) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()][:n]


def ranked(results) -> list[tuple[str, float, tuple[int, int]]]:
    return [(r.chunk_id, r.score, tuple(r.span)) for r in results]


def test_shards_split_the_index(router, one_machine):
    sizes = [len(s.engine.snapshot.chunks) for s in router.shards]
    assert len(sizes) == 2 and min(sizes) > 0 and sum(sizes) == len(one_machine.snapshot.chunks)


def merged_by_score(lists: list[list], k: int) -> list[str]:
    """What a router without global statistics gives: each shard's own results merged by score."""
    tagged = sorted((-r.score, shard, r.rank, r.chunk_id) for shard, results in enumerate(lists) for r in results)
    return [chunk_id for *_, chunk_id in tagged[:k]]


def test_sharded_search_ranks_exactly_as_one_machine(router, one_machine):
    qs = questions(DEVSET, 60) + questions(HOLDOUT, 20)
    own_statistics_differ = 0
    for q in qs:
        want = one_machine.search(q, k=10).results
        assert ranked(router.search(q, k=10).results) == ranked(want), q
        # what the shards' own rankings merged by score give (the old router): not the same
        merged = merged_by_score([s.engine.search(q, k=10).results for s in router.shards], 10)
        own_statistics_differ += merged != [r.chunk_id for r in want]
    assert own_statistics_differ > len(qs) // 2


def test_references_filters_and_sorting_rank_as_one_machine(router, one_machine):
    from searchapi.schemas import Filters

    docs = sorted(one_machine.documents.values(), key=lambda d: d.id)
    in_shard = [next(iter(s.engine.documents)) for s in router.shards]
    cases = [
        ("section 3 of the collaboration report", None),
        ("paragraph 14 police officers vetting", None),
        ("item 5 minutes of the panel", None),
        ("decisions on the precept", Filters(doc_types=[docs[0].doc_type])),
        ("budget and savings", Filters(date_from="2017-01-01", date_to="2017-12-31")),
        ("police and crime plan priorities", Filters(document_ids=in_shard)),
        ("police and crime plan priorities", Filters(document_ids=in_shard[:1])),
    ]
    for q, flt in cases:
        want = one_machine.search(q, k=10, filters=flt).results
        assert want, q
        assert ranked(router.search(q, k=10, filters=flt).results) == ranked(want), (q, flt)
    want = one_machine.search("firearms licensing", k=10, sort="newest").results
    assert ranked(router.search("firearms licensing", k=10, sort="newest").results) == ranked(want)


def answer_key(answer) -> tuple:
    return (answer.answerable, answer.answer, answer.notice, answer.confidence,
            [(c.n, c.chunk_id, c.quote, tuple(c.span), c.citation) for c in answer.citations],
            [p.chunk_id for p in answer.passages])


def test_sharded_answers_are_one_machines(router, one_machine):
    from searchapi.answers.answerer import Answerer
    from searchapi.schemas import Filters

    answerer = Answerer(one_machine)
    cases = [(q, None) for q in questions(DEVSET, 30)] + [
        ("How much did the PCC pay Salus?", None),
        ("what does section 3 of the collaboration report say", None),
        ("how many officers", Filters(date_from="2017-01-01", date_to="2017-12-31")),
        ("precept", Filters(date_from="1990-01-01", date_to="1990-12-31")),  # no paper: nothing searched
    ]
    answered = 0
    for q, flt in cases:
        want = answerer.ask(q, filters=flt)
        assert answer_key(router.ask(q, filters=flt)) == answer_key(want), q
        answered += want.answerable
    assert 0 < answered < len(cases)


RESTRICTED = CORPUS / "2019-12-04_collaboration-and-partnership-working.txt"


@pytest.fixture(scope="module")
def with_restricted(sample_index, tmp_path_factory) -> tuple[Path, Path]:
    """The sample index with one paper marked restricted (re-indexed from the stored vectors), and it split."""
    from indexer.pipeline import index_paths

    one = tmp_path_factory.mktemp("restricted") / "index"
    shutil.copytree(sample_index, one)
    report = index_paths([RESTRICTED], one, progress=False, access="restricted")
    assert report.indexed and not report.embedded
    return one, split(one, tmp_path_factory.mktemp("restricted-sharded"))


def test_members_and_public_each_get_one_machines_view(with_restricted):
    from searchapi.answers.answerer import Answerer
    from searchapi.distributed.shards import LocalShards
    from searchapi.retrieval.engine import SearchEngine

    one, sharded = with_restricted
    qs = ["collaboration with Essex", "what does the joint firearms licensing unit do",
          "Police and Crime Panel meeting"] + questions(DEVSET, 12)
    seen_restricted = 0
    restricted = {d.id for d in SearchEngine(one, audience="all").documents.values() if d.access == "restricted"}
    assert restricted
    for audience in ("all", "public"):
        engine, router = SearchEngine(one, audience=audience), LocalShards(sharded, audience)
        answerer = Answerer(engine)
        for q in qs:
            results = router.search(q, k=10).results
            assert ranked(results) == ranked(engine.search(q, k=10).results), (audience, q)
            answer = router.ask(q)
            assert answer_key(answer) == answer_key(answerer.ask(q)), (audience, q)
            hits = {r.document.id for r in results} | {c.document.id for c in answer.citations}
            if audience == "public":
                assert not hits & restricted, q
            else:
                seen_restricted += bool(hits & restricted)
    assert seen_restricted > 0, "members find the restricted paper"
