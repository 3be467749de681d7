"""The learned reranker of `kb similar`: its features, the shipped weights, and how the
Searcher applies it (the first `depth` fused candidates reordered by its probability)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kb.embed.document import build_document
from kb.embed.rerank import FEATURES, Reranker, default_reranker, pair_features, side
from kb.embed.search import Searcher
from kb.embed.stage import embed_missing
from kb.store import Store
from tests.test_search import FAKE, INCIDENTS
from tests.test_search_support import T0, incident, open_store, write


def make_side(inc, causes=None):  # type: ignore[no-untyped-def]
    return side(inc, build_document(inc), causes)


def features(a, b, **kw):  # type: ignore[no-untyped-def]
    args = {"rrf": 0.1, "cosine": 0.5, "keyword": 2.0, "best_keyword": 4.0,
            "semantic_rank": 2, "keyword_rank": 4} | kw
    return dict(zip(FEATURES, pair_features(a, b, **args), strict=True))


def test_pair_features() -> None:
    a = incident("github/a", "Webhook deliveries delayed", "Deliveries are late.",
                 components=["Webhooks", "API Requests"])
    b = incident("github/b", "Webhook deliveries delayed", "Webhooks queue backed up.",
                 components=["Webhooks"], at=T0 + timedelta(days=10))
    bare = incident("anthropic/c", "Incident with Codespaces", components=["Codespaces"])
    f = features(make_side(a, {"dependency", "unknown"}), make_side(b, {"dependency"}))
    assert f["components"] == pytest.approx(0.5)  # {webhooks} of {webhooks, api requests}
    assert f["causes"] == 1.0 and f["causes_known"] == 1.0  # "unknown" is not a cause
    assert f["same_provider"] == 1.0 and f["same_title"] == 1.0
    assert f["log_days"] == pytest.approx(2.3979, abs=1e-3)  # log(1 + 10)
    assert f["keyword"] == 0.5 and f["semantic_rr"] == 0.5 and f["keyword_rr"] == 0.25
    assert f["source_title_only"] == 0.0 and f["candidate_title_only"] == 0.0
    g = features(make_side(a), make_side(bare), cosine=None, keyword=None, keyword_rank=None)
    assert g["causes_known"] == 0.0 and g["causes"] == 0.0  # untagged: unknown, not "none"
    assert g["candidate_title_only"] == 1.0 and g["both_title_only"] == 0.0
    assert g["same_provider"] == 0.0 and g["components"] == 0.0
    assert g["cosine"] == 0.0 and g["keyword"] == 0.0 and g["keyword_rr"] == 0.0
    # A date-only title is no title: two of them are not "the same title".
    d1 = incident("github/d1", "Incident on 2013-01-01 10:00 UTC", "Site slow.")
    d2 = incident("github/d2", "Incident on 2013-01-01 10:00 UTC", "Git slow.")
    assert features(make_side(d1), make_side(d2))["same_title"] == 0.0


def test_shipped_weights_load_and_score() -> None:
    model = default_reranker()
    assert model is not None and model.names == FEATURES and 1 <= model.depth <= 50
    assert len(model.weights) == len(model.mean) == len(model.scale) == len(FEATURES)
    row = list(model.mean)
    assert 0.0 < model.score(row) < 1.0
    # More of what the model weighs positively scores higher: the fused score (rrf).
    assert model.weights[FEATURES.index("rrf")] > 0
    higher = list(row)
    higher[FEATURES.index("rrf")] += model.scale[FEATURES.index("rrf")]
    assert model.score(higher) > model.score(row)


def test_weights_for_other_features_are_refused() -> None:
    with pytest.raises(ValueError, match="train_similar"):
        Reranker.from_mapping({"features": ["rrf"], "rerank_depth": 15, "mean": [0],
                               "scale": [1], "weights": [1], "bias": 0})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = open_store(tmp_path)
    write(store, *INCIDENTS)
    embed_missing(store, tmp_path, spec=FAKE)
    return store


def test_similar_reranks_the_fused_head(store: Store, tmp_path: Path) -> None:
    model = default_reranker()
    assert model is not None
    plain = Searcher(store, tmp_path, spec=FAKE, rerank_similar=False).similar("github/wh1", k=5)
    ranked = Searcher(store, tmp_path, spec=FAKE).similar("github/wh1", k=5)
    assert ranked.mode == plain.mode == "hybrid"
    # The same candidates (fewer than the depth), itself and its duplicate left out in both.
    assert {h.key for h in ranked.hits} == {h.key for h in plain.hits}
    assert "github/wh1" not in {h.key for h in ranked.hits}
    assert "github/wh1b" not in {h.key for h in ranked.hits}
    assert any("duplicate" in note for note in ranked.notes)
    # Scores are the model's probabilities, in descending order, and reproduce from the
    # features the Searcher exposes for training.
    scores = [h.score for h in ranked.hits]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    table = dict(Searcher(store, tmp_path, spec=FAKE).similar_features("github/wh1"))
    assert set(table) == {h.key for h in plain.hits}
    for hit in ranked.hits:
        assert hit.score == pytest.approx(model.score(table[hit.key]))
    # The semantic and keyword modes are not reranked.
    semantic = Searcher(store, tmp_path, spec=FAKE).similar("github/wh1", mode="semantic")
    assert all(h.score == pytest.approx(h.semantic) for h in semantic.hits)
