"""Search with the deterministic fake encoder: exact rankings, filters, duplicates, the FTS5
index kept by triggers, and every bad input answered with a clear message."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from kb.embed.encoder import FakeEncoder, resolve_model
from kb.embed.index import MatrixIndex, query_terms, reciprocal_rank_fusion
from kb.embed.search import MAX_QUERY_CHARS, NoVectors, Searcher
from kb.embed.stage import embed_missing
from kb.errors import ConfigError, NotFound
from kb.model import Kind, Severity
from kb.store import Store, keyword
from kb.store.vectors import SearchFilters
from tests.conftest import invoke_kb
from tests.test_search_support import T0, incident, open_store, write

ROOT = Path(__file__).resolve().parents[1]
FAKE = resolve_model({"KB_EMBED_MODEL": "fake-hash"})

INCIDENTS = [
    incident("github/wh1", "Webhook deliveries delayed",
             "Webhook deliveries are delayed by up to ten minutes.", components=["Webhooks"]),
    # The same outage posted a second time, 20 minutes later: a duplicate of wh1.
    incident("github/wh1b", "Webhook deliveries delayed",
             "Webhook deliveries are delayed by up to ten minutes.", components=["Webhooks"],
             at=T0 + timedelta(minutes=20)),
    incident("github/wh2", "Incident with Webhooks",
             "We are investigating delays in webhook delivery.", components=["Webhooks"],
             at=T0 + timedelta(days=60)),
    incident("github/ddos", "Major service outage",
             "We are mitigating a large DDoS attack against github.com.",
             components=["Git Operations"], at=T0 - timedelta(days=3000),
             severity=Severity.CRITICAL),
    incident("github/pages", "Pages builds paused",
             "GitHub Pages builds are paused for unscheduled maintenance.",
             components=["GitHub Pages"], at=T0 + timedelta(days=5), kind=Kind.MAINTENANCE),
    incident("anthropic/op1", "Elevated errors on Claude Opus 5",
             "We are investigating elevated errors on requests to Claude Opus 5.",
             at=T0 + timedelta(days=900)),
    incident("anthropic/op2", "Elevated errors for Opus 5",
             "Opus 5 requests are failing with elevated error rates.",
             at=T0 + timedelta(days=905)),
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = open_store(tmp_path)
    write(store, *INCIDENTS)
    embed_missing(store, tmp_path, spec=FAKE)
    return store


@pytest.fixture
def searcher(store: Store, tmp_path: Path) -> Searcher:
    return Searcher(store, tmp_path, spec=FAKE)


def keys(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [hit.key for hit in result.hits]


# -- rankings -----------------------------------------------------------------------------------


def test_keyword_ranking_is_bm25_over_the_fts_index(searcher: Searcher) -> None:
    result = searcher.search("webhook delayed", mode="keyword")
    assert keys(result) == ["github/wh1", "github/wh1b", "github/wh2"]
    assert result.hits[0].keyword == pytest.approx(result.hits[1].keyword)  # same text
    assert result.hits[0].why == "Webhook deliveries are delayed by up to ten minutes."


def test_semantic_ranking_is_cosine_to_the_query(searcher: Searcher) -> None:
    result = searcher.search("Opus 5 errors", mode="semantic", k=3)
    encoder = FakeEncoder()
    query = encoder.encode(["Opus 5 errors"])[0]
    expected = []
    for item in INCIDENTS:
        from kb.embed.document import build_document
        from kb.embed.encoder import encode_documents

        vector = encode_documents(encoder, [build_document(item)])[0]
        expected.append((-float(vector @ query), item.key))
    assert keys(result) == [key for _score, key in sorted(expected)[:3]]
    assert keys(result)[:2] == ["anthropic/op2", "anthropic/op1"]
    assert result.hits[0].score == pytest.approx(-sorted(expected)[0][0], abs=1e-6)


def test_hybrid_is_reciprocal_rank_fusion(searcher: Searcher) -> None:
    semantic = keys(searcher.search("webhook delivery delays", mode="semantic", k=100))
    keyword = keys(searcher.search("webhook delivery delays", mode="keyword", k=100))
    hybrid = searcher.search("webhook delivery delays", k=3)
    fused = reciprocal_rank_fusion([semantic, keyword], k=20, weights=(2.0, 1.0))[:3]
    assert [(h.key, round(h.score, 9)) for h in hybrid.hits] == [
        (key, round(score, 9)) for key, score in fused]
    assert hybrid.mode == "hybrid" and hybrid.notes == []


def test_filters(searcher: Searcher) -> None:
    only = SearchFilters(provider="anthropic")
    assert set(keys(searcher.search("errors webhook", filters=only))) == {
        "anthropic/op1", "anthropic/op2"}
    since = SearchFilters(since=T0 + timedelta(days=30))
    assert set(keys(searcher.search("webhook", mode="semantic", filters=since))) == {
        "github/wh2", "anthropic/op1", "anthropic/op2"}
    component = SearchFilters(component="webhooks")  # any case
    assert set(keys(searcher.search("delays", filters=component))) == {
        "github/wh1", "github/wh1b", "github/wh2"}
    assert keys(searcher.search("attack", filters=SearchFilters(severity="critical"))) == [
        "github/ddos"]
    assert keys(searcher.search("builds", filters=SearchFilters(kind="maintenance"))) == [
        "github/pages"]
    assert searcher.search("webhook", filters=SearchFilters(provider="nobody")).hits == []


def test_similar_leaves_out_itself_and_its_duplicates(searcher: Searcher) -> None:
    result = searcher.similar("github/wh1", k=3)
    assert keys(result)[0] == "github/wh2"
    assert "github/wh1" not in keys(result) and "github/wh1b" not in keys(result)
    assert result.notes == ["left out 1 duplicate(s) of github/wh1"]
    assert keys(searcher.similar("anthropic/op1", k=1)) == ["anthropic/op2"]
    with pytest.raises(NotFound):
        searcher.similar("github/nope")


def test_similar_of_an_incident_not_embedded_yet(store: Store, searcher: Searcher) -> None:
    write(store, incident("github/wh3", "Webhook deliveries delayed again",
                          "Webhook deliveries are delayed.", at=T0 + timedelta(days=400)))
    result = searcher.similar("github/wh3", k=2, mode="semantic")
    assert keys(result) == ["github/wh1", "github/wh1b"]
    assert "1 incident(s) are not embedded yet: semantic ranking does not see them (run " \
        "`kb embed`)" in result.notes


def test_a_changed_incident_is_noted(store: Store, tmp_path: Path) -> None:
    write(store, incident("github/ddos", "Major service outage", "The attack is over.",
                          at=T0 - timedelta(days=3000)))
    notes = Searcher(store, tmp_path, spec=FAKE).search("attack").notes
    assert notes == ["some incidents changed since the last `kb embed`: semantic ranking "
                     "sees their older text"]
    embed_missing(store, tmp_path, spec=FAKE)
    assert Searcher(store, tmp_path, spec=FAKE).search("attack").notes == []


def test_the_matrix_cache_follows_kb_embed(store: Store, tmp_path: Path) -> None:
    first = Searcher(store, tmp_path, spec=FAKE)
    assert keys(first.search("opus", mode="semantic", k=1)) == ["anthropic/op2"]
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert [name.rsplit(".", 1)[-1] for name in cached] == ["json", "npy", "npy"]
    again = Searcher(store, tmp_path, spec=FAKE)  # served from the cached copy
    assert keys(again.search("opus", mode="semantic", k=1)) == ["anthropic/op2"]
    write(store, incident("anthropic/op3", "Opus Opus Opus", "Opus errors, Opus failing.",
                          at=T0 + timedelta(days=950)))
    embed_missing(store, tmp_path, spec=FAKE)
    fresh = Searcher(store, tmp_path, spec=FAKE)
    assert keys(fresh.search("opus", mode="semantic", k=1)) == ["anthropic/op3"]


# -- the keyword index is kept by triggers --------------------------------------------------


def test_fts_index_follows_inserts_updates_and_deletes(store: Store) -> None:
    assert keyword.keyword_search(store, ["maintenance"], 10) == [
        ("github/pages", pytest.approx(keyword.keyword_search(store, ["maintenance"], 1)[0][1]))]
    changed = incident("github/pages", "Pages builds paused",
                       "GitHub Pages builds resumed after the storage failover.",
                       components=["GitHub Pages"], at=T0 + timedelta(days=5))
    write(store, changed)  # UPDATE in place + child rows rewritten
    assert keyword.keyword_search(store, ["maintenance"], 10) == []
    assert [k for k, _ in keyword.keyword_search(store, ["failover"], 10)] == ["github/pages"]
    store.clear_derived()
    assert keyword.keyword_search(store, ["webhook"], 10) == []


def test_user_text_never_reaches_fts5_as_syntax(searcher: Searcher) -> None:
    assert keyword.fts5_match(query_terms('title:foo" OR NEAR(bar, AND us-east-1 *')) == (
        '"title" OR "foo" OR "near" OR "bar" OR "us east 1"')
    assert keyword.fts5_match(query_terms("!!! ??? ...")) is None
    result = searcher.search('webhook" OR NEAR(', mode="keyword")
    assert set(keys(result)) == {"github/wh1", "github/wh1b", "github/wh2"}


# -- bad input ------------------------------------------------------------------------------


def test_bad_queries_get_clear_messages(searcher: Searcher) -> None:
    with pytest.raises(ConfigError, match="the query is empty"):
        searcher.search("   ")
    with pytest.raises(ConfigError, match="the limit is 20,000"):
        searcher.search("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(ConfigError, match="--mode must be one of"):
        searcher.search("webhook", mode="fuzzy")
    with pytest.raises(ConfigError, match="-k must be between"):
        searcher.search("webhook", k=0)
    punctuation = searcher.search("?!?", mode="hybrid")
    assert punctuation.hits == []
    assert "the query has no words the model can read" in punctuation.notes
    assert "the query has no searchable words for keyword search" in punctuation.notes
    foreign = searcher.search("ウェブフックの配信が遅延しています")
    assert any("trained on English" in note for note in foreign.notes)


def test_an_incident_with_no_text(store: Store, tmp_path: Path) -> None:
    write(store, incident("github/blank", "", "This incident has been resolved."))
    assert embed_missing(store, tmp_path, spec=FAKE).empty == ["github/blank"]
    assert embed_missing(store, tmp_path, spec=FAKE).empty == []  # handled once, not again
    searcher = Searcher(store, tmp_path, spec=FAKE)
    with pytest.raises(ConfigError, match="github/blank has no text to compare"):
        searcher.similar("github/blank")
    result = searcher.search("incident resolved", mode="semantic", k=50)
    assert "github/blank" not in keys(result) and result.notes == []


def test_a_long_query_is_pooled_not_truncated(searcher: Searcher) -> None:
    pasted = "Webhook deliveries are delayed. " * 400  # 12,800 characters, many chunks
    assert keys(searcher.search(pasted, mode="semantic", k=1)) in (["github/wh1"],
                                                                   ["github/wh1b"])


def test_vectors_of_another_model_are_refused(store: Store, tmp_path: Path) -> None:
    class Other(FakeEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.model_id = "other@fake"

    other = Searcher(store, tmp_path, encoder=Other())
    with pytest.raises(ConfigError, match=r"made by fake-hash@fake \(7\), not by the "
                                          r"configured other@fake: run `kb embed`"):
        other.search("webhook")
    with pytest.raises(ConfigError, match="made by fake-hash@fake"):
        other.search("webhook", mode="hybrid")  # never silently keyword-only


def test_no_vectors_yet(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    write(store, *INCIDENTS)
    searcher = Searcher(store, tmp_path, spec=FAKE)
    with pytest.raises(NoVectors, match="run `kb embed`"):
        searcher.search("webhook", mode="semantic")
    result = searcher.search("webhook")
    assert result.mode == "keyword" and keys(result)[0].startswith("github/wh")
    assert result.notes == ["no incident is embedded yet (run `kb embed`): keyword ranking only"]


# -- pieces ---------------------------------------------------------------------------------


def test_matrix_index_top_k() -> None:
    matrix = np.array([[1, 0], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)
    index = MatrixIndex(["a", "b", "c", "d"], matrix)
    query = np.array([1, 0], dtype=np.float32)
    assert [k for k, _ in index.search(query, 2)] == ["a", "b"]
    assert [k for k, _ in index.search(query, 10)] == ["a", "b", "c", "d"]
    assert [k for k, _ in index.search(query, 1, allowed={"c", "d", "zz"})] == ["c"]
    assert index.search(query, 3, allowed=set()) == []
    blobs = [row.astype("<f4").tobytes() for row in matrix]
    rebuilt = MatrixIndex.from_blobs(["a", "b", "c", "d"], blobs, 2)
    assert np.array_equal(rebuilt.matrix, matrix)


def test_reciprocal_rank_fusion() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)
    assert fused == [("a", 1 / 61 + 1 / 62), ("c", 1 / 63 + 1 / 61), ("b", 1 / 62)]
    assert reciprocal_rank_fusion([["y"], ["x"]], k=60) == [("x", 1 / 61), ("y", 1 / 61)]
    weighted = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=20, weights=(2.0, 1.0))
    assert weighted == [("a", 2 / 21 + 1 / 22), ("b", 2 / 22 + 1 / 21)]


# -- the commands, as users run them ----------------------------------------------------------


def kb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke_kb(home, *args, KB_EMBED_MODEL="fake-hash", KB_EMBED_BACKEND=None)


def test_cli_embed_search_similar(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fixtures = ROOT / "tests" / "fixtures" / "search" / "github"
    assert kb(home, "ingest", str(fixtures)).returncode == 0
    first = kb(home, "embed", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["embedded"] == 12  # (re-runs: tests/test_embed.py)

    found = kb(home, "search", "webhook deliveries delayed", "-k", "3", "--json")
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    assert data["mode"] == "hybrid"
    assert {r["key"] for r in data["results"]} == {
        "github/qb2vmff9bnf5", "github/586kghnpn6kg", "github/xr1c03fj95tv"}
    assert set(data["results"][0]) >= {"score", "title", "provider", "first_post_at",
                                       "duration", "why"}

    # Bag-of-words hashing is no semantic model: only the nearest one is asserted here
    # (tests/test_search_model.py holds the real model to the whole group).
    alike = json.loads(kb(home, "similar", "github/4trmvxgwj8f8", "-k", "3", "--json").stdout)
    assert alike["results"][0]["key"] == "github/pqbcmnhrvbhb"  # the other DDoS
    assert "github/4trmvxgwj8f8" not in {r["key"] for r in alike["results"]}

    table = kb(home, "search", "ssh connection errors", "--mode", "keyword", "-k", "2")
    assert table.returncode == 0 and "why it matched" in table.stdout

    empty = kb(home, "search", "  ")
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1
    assert "the query is empty" in empty.stderr
    missing = kb(home, "similar", "github/nope")
    assert missing.returncode == 3 and "no incident 'github/nope'" in missing.stderr


def test_update_runs_the_embed_stage(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = kb(home, "update", "--from", str(ROOT / "tests" / "fixtures" / "search" / "github"))
    assert result.returncode == 0, result.stderr
    assert "embed: embedded 12 incident(s) with fake-hash@fake" in result.stderr
    again = kb(home, "update", "--from", str(ROOT / "tests" / "fixtures" / "search" / "github"))
    # no note: nothing was encoded (the piped progress line "kb: embed: 12/12" counts the
    # incidents checked, and is not a note)
    assert "embed: embedded" not in again.stderr
