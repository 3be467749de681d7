"""`kb similar`'s reranker end to end: the feature values the Searcher computes for real
pairs of a small store (fake hashing embedder, so every cosine is reproducible), and the
command line ranking by the weights shipped in kb.embed.similar_weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kb.embed import similar_weights
from kb.embed.document import build_document
from kb.embed.encoder import FakeEncoder, encode_documents
from kb.embed.index import RRF_K, SEMANTIC_WEIGHT
from kb.embed.rerank import FEATURES, default_reranker
from kb.embed.search import Searcher
from kb.embed.stage import embed_missing
from kb.store import Store
from tests.conftest import invoke_kb
from tests.test_search import FAKE, INCIDENTS
from tests.test_search_support import open_store, write

ROOT = Path(__file__).resolve().parents[1]
BY_KEY = {i.key: i for i in INCIDENTS}


@pytest.fixture
def searcher(tmp_path: Path) -> Searcher:
    store = open_store(tmp_path)
    write(store, *INCIDENTS)
    embed_missing(store, tmp_path, spec=FAKE)
    return Searcher(store, tmp_path, spec=FAKE)


def fake_cosine(a: str, b: str) -> float:
    """The cosine of two fixture documents under the fake embedder, computed here."""
    va, vb = encode_documents(FakeEncoder(), [build_document(BY_KEY[a]),
                                              build_document(BY_KEY[b])])
    return float(va @ vb)


def test_feature_values_of_a_real_pair(searcher: Searcher) -> None:
    table = dict(searcher.similar_features("github/wh1"))
    # Itself and its duplicate (the same outage posted 20 minutes later) are no candidates.
    assert "github/wh1" not in table and "github/wh1b" not in table
    f = dict(zip(FEATURES, table["github/wh2"], strict=True))
    # "Webhook deliveries delayed" vs "Incident with Webhooks", 60 days later, same provider,
    # both {"Webhooks"}; no cause tags stored (never analysed): unknown, so 0 and not known.
    assert f["cosine"] == pytest.approx(fake_cosine("github/wh1", "github/wh2"), abs=1e-6)
    assert f["components"] == 1.0
    assert f["same_provider"] == 1.0
    assert f["log_days"] == pytest.approx(math.log(61))
    assert f["causes"] == 0.0 and f["causes_known"] == 0.0
    assert f["same_title"] == 0.0
    assert f["source_title_only"] == f["candidate_title_only"] == f["both_title_only"] == 0.0
    # Its body: "We are investigating delays in webhook delivery." (7 words).
    assert f["candidate_words"] == pytest.approx(math.log(8))
    # The fused score is RRF of the two ranks the row reports (semantic weight 2, k = 20).
    ranks = (1 / f["semantic_rr"], 1 / f["keyword_rr"])
    assert f["rrf"] == pytest.approx(SEMANTIC_WEIGHT / (RRF_K + ranks[0])
                                     + 1 / (RRF_K + ranks[1]))
    # BM25 is scaled by the best keyword match, which is the left-out duplicate (the same
    # text): every listed candidate scores under 1, the ones the keyword ranking missed 0.
    keyword = [dict(zip(FEATURES, row, strict=True))["keyword"] for row in table.values()]
    assert 0.0 < max(keyword) < 1.0 and min(keyword) == 0.0
    # A pair of another provider, no components on either side, seven years apart.
    g = dict(zip(FEATURES, table["anthropic/op1"], strict=True))
    assert g["same_provider"] == 0.0 and g["components"] == 0.0
    assert g["log_days"] == pytest.approx(math.log1p(900))
    assert g["cosine"] == pytest.approx(fake_cosine("github/wh1", "anthropic/op1"), abs=1e-6)


def cli(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return invoke_kb(home, *args, KB_EMBED_MODEL="fake-hash", KB_EMBED_BACKEND=None)


def test_kb_similar_ranks_by_the_shipped_weights(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    assert cli(home, "ingest", str(ROOT / "tests" / "fixtures" / "search" / "github")
               ).returncode == 0
    assert cli(home, "embed").returncode == 0
    query = "github/4trmvxgwj8f8"
    shipped = json.loads(cli(home, "similar", query, "-k", "8", "--json").stdout)["results"]
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}")
    try:
        features = dict(Searcher(store, home, spec=FAKE).similar_features(query))
    finally:
        store.close()
    model = default_reranker()
    assert model is not None
    # Every score printed is the shipped model's probability for that pair, best first.
    for row in shipped:
        assert row["score"] == pytest.approx(model.score(features[row["key"]]), abs=1e-6)
    assert [r["score"] for r in shipped] == sorted((r["score"] for r in shipped), reverse=True)

    # Other weights in kb.embed.similar_weights change what the command prints: a model that
    # only rewards a short candidate text ranks the candidates by their words, fewest first.
    words = FEATURES.index("candidate_words")
    inverted = dict(similar_weights.MODEL)
    inverted["weights"] = [(-5.0 if i == words else 0.0) for i in range(len(FEATURES))]
    monkeypatch.setattr(similar_weights, "MODEL", inverted)
    other = json.loads(cli(home, "similar", query, "-k", "8", "--json").stdout)["results"]
    order = [features[r["key"]][words] for r in other]
    assert order == sorted(order)
    assert [r["key"] for r in other] != [r["key"] for r in shipped]
