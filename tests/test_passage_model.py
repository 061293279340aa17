"""The passage model (searchapi/retrieval/passage_model.py): its features on small synthetic texts, the
order it gives, the fit behind it, and the stored model's own cross-validated record."""

import numpy as np

from indexer.models import Document
from indexer.settings import get_settings
from indexer.store import ChunkRecord

from searchapi.answers.plan import plan_query
from searchapi.learning import fit_ranker
from searchapi.retrieval.lexical import CorpusStats
from searchapi.retrieval.passage_model import PASSAGE_FEATURES, describe, load_passage_model, reorder

TEXTS = ["The annual budget for policing was £313.3m in 2016.", "Officers attended the Medway briefing."]
TERMS = CorpusStats.from_texts(TEXTS)


def plan(question: str):
    return plan_query(question, {}, lambda t: t, TERMS.idf, get_settings())


def features(question: str, text: str, heading: str = "", title: str = "Budget report", day: str = "2016-03-01",
             sims=(0.2, 0.6), typed=(1.0, 0.0)) -> dict:
    chunk = ChunkRecord(1, "c1", "d1", "s1", 0, len(text), text, heading, 0)
    doc = Document(id="d1", title=title, text=text, source_path="x.txt", date=day, doc_type="report")
    row = describe(plan(question), 0.5, chunk, doc, np.array(sims), np.array(typed), TERMS.coverage, 0.25)
    assert len(row) == len(PASSAGE_FEATURES)
    return dict(zip(PASSAGE_FEATURES, row))


def test_features_read_the_sentences_the_type_and_the_paper():
    f = features("How much was the policing budget in 2016?", TEXTS[0], heading="Budget")
    assert f["sentence"] == 0.6 and f["typed_sentence"] == 0.6  # 0.2 + 0.25 for the typed one is still below
    assert f["states_type"] == 1.0 and f["coverage"] == 1.0 and f["heading_coverage"] > 0
    assert f["year_dated"] == 1.0 and f["year_absent"] == 0.0 and f["paper_described"] > 0

    g = features("How much was the policing budget in 2019?", TEXTS[0], sims=(0.5, 0.3))
    assert g["typed_sentence"] == 0.75 and g["year_dated"] == 0.0 and g["year_absent"] == 1.0
    # The year written in the passage counts as said, even in a paper of another year.
    assert features("the budget in 2016", TEXTS[0], day="2019-01-01")["year_absent"] == 0.0
    assert features("Medway briefing", TEXTS[1], sims=(), typed=())["sentence"] == 0.0  # no sentence vectors


def test_reorder_sorts_the_head_and_keeps_the_tail_below_it():
    head, tail = [(1, 0.9), (2, 0.8), (3, 0.7)], [(4, 0.65), (5, 0.1)]
    out = reorder(head, np.array([0.2, 0.9, 0.5]), tail)
    assert [i for i, _ in out] == [2, 3, 1, 4, 5]
    assert [s for _, s in out] == [0.9, 0.5, 0.2, 0.2, 0.1]


def test_the_fit_ranks_positives_first_and_reads_as_probabilities():
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(60):  # the passage holding the answer is the one best by the first feature, usually
        x = rng.normal(size=(10, 3))
        y = np.zeros(10, dtype=bool)
        y[np.argmax(x[:, 0] + 0.3 * rng.normal(size=10))] = True
        rows.append((x, y))
    mean, scale, coef, intercept = fit_ranker(rows, 1.0)
    assert coef[0] > abs(coef[1]) and coef[0] > abs(coef[2])
    top = [y[np.argmax((x - mean) / scale @ coef)] for x, y in rows]
    assert np.mean(top) > 0.7
    p = 1 / (1 + np.exp(-(np.vstack([x for x, _ in rows]) - mean) / scale @ coef - intercept))
    labels = np.concatenate([y for _, y in rows])
    assert p[labels].mean() > 0.4 > p[~labels].mean()  # one in ten is positive: calibrated, not just ordered


def test_the_stored_model_beats_the_fused_order_out_of_fold():
    model = load_passage_model()
    assert set(model.features) <= set(PASSAGE_FEATURES) and len(model.coef) == len(model.features)
    cv, fused = model.report["cross_validated"]["all"], model.report["fused order, no rerank"]["all"]
    assert cv["questions"] == fused["questions"] >= 500
    assert cv["hit@1"] > fused["hit@1"] and cv["hit@5"] >= fused["hit@5"] - 0.01


def test_search_scores_are_the_models_probabilities(engine):
    plan = engine.plan("How much was the policing budget?")
    ordered, _ = engine.fused(plan, 10, None)
    head = ordered[: engine.settings.rerank_depth]
    x = engine.passage_features(plan, head)
    assert x.shape == (len(head), len(PASSAGE_FEATURES))
    reranked = engine.rerank(plan, ordered)
    assert [r for r, _ in reranked[: len(head)]] == [head[i][0] for i in np.argsort(-engine.passage_model.scores(x), kind="stable")]
    assert all(0 < s < 1 for _, s in reranked[: len(head)])


def test_training_scores_the_order_the_product_shows(sample_index, devset, tmp_path):
    """scripts/train_rank.py measures hit@k on the engine's own settled order: with the stored model's
    scores its rank of the gold equals the rank in a real search, so the figures it stores are the product's."""
    import json
    import sys
    from pathlib import Path

    from searchapi.evaluate import contains_gold
    from searchapi.retrieval.engine import SearchEngine

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import train_rank
    questions = [q for q in devset if q.get("answerable", True) and q.get("gold")][:12]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in questions))
    asked = train_rank.collect(sample_index, [path], "kent")
    assert len(asked) == len(questions) and all(a.group.startswith("kent:") for a in asked)
    engine, model = SearchEngine(sample_index), load_passage_model()
    for a, q in zip(asked, questions):
        assert a.x.shape == (len(a.y), len(PASSAGE_FEATURES)) and a.y.dtype == bool
        shown = [r.text for r in engine.search(q["question"], k=train_rank.K).results]
        expected = next((i for i, t in enumerate(shown, 1) if contains_gold(t, q["gold"])), None)
        assert a.rank(model.scores(a.x)) == expected, q["question"]
    assert any(a.y.any() for a in asked)
