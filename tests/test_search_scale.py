"""Search indexes of large KBs: the BM25 impact index (kb.embed.impact) gives FTS5's own
keyword ranking, the HNSW graph (kb.embed.ann) the exact cosines of its candidates, and
neither is used once the store has changed under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb.embed import ann, impact
from kb.embed.index import MatrixIndex, load_index, query_terms
from kb.embed.search import Searcher
from kb.embed.stage import embed_missing
from kb.store import Store, keyword
from tests.test_search import FAKE, INCIDENTS
from tests.test_search_support import incident, open_store, write

WORDS = ("errors", "error", "delayed", "delays", "webhook", "deliveries", "database",
         "failover", "login", "latency", "outage", "certificate", "expired", "dns")
QUERIES = ["webhook deliveries delayed", "errors error ERRORS", "us-east-1 outage",
           "database failover in us-east-1", "ERR_SSL_PROTOCOL errors", "zzz unknown",
           "Login latency", "expired certificate dns", "café outage"]


def _store(tmp_path: Path) -> Store:
    """A KB whose term statistics vary: repeated words, title and component matches,
    several-token identifiers, and exact duplicates (ties)."""
    store = open_store(tmp_path)
    rng = np.random.default_rng(3)
    made = []
    for i in range(60):
        title = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4))))
        body = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 30))))
        if i % 7 == 0:
            body += " in us-east-1 and ERR_SSL_PROTOCOL"
        if i % 11 == 0:
            body += " café"
        made.append(incident(f"p/i{i:02d}", title, body,
                             components=["Database"] if i % 5 == 0 else ()))
    made += [incident(f"p/dup{i}", "Webhook deliveries delayed", "Webhook errors.")
             for i in range(4)]
    write(store, *made)
    return store


def _fts5(store: Store, query: str, limit: int) -> list[tuple[str, float]]:
    return keyword.keyword_search(store, query_terms(query), limit)


@pytest.mark.parametrize("query", QUERIES)
def test_impact_index_gives_fts5_scores_bitwise(tmp_path: Path, query: str) -> None:
    store = _store(tmp_path)
    index = impact.build(store)
    assert index is not None
    every = index.search(store, query_terms(query), 1000)
    expected = _fts5(store, query, 1000)
    # Every match, each with FTS5's bm25 to the last bit; order by score, ties by rowid.
    assert sorted(every) == sorted(expected)
    assert [s for _, s in every] == sorted((s for _, s in expected), reverse=True)
    # A cut at 5: the same scores; the same keys above the last score (FTS5 leaves the order
    # of equal scores unpromised, so which tied incident fills the last places may differ).
    top = index.search(store, query_terms(query), 5)
    cut = _fts5(store, query, 5)
    assert [s for _, s in top] == [s for _, s in cut]
    if cut:
        assert {k for k, s in top if s != cut[-1][1]} == {k for k, s in cut if s != cut[-1][1]}
    store.close()


def test_a_write_makes_the_impact_index_stale(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setattr(impact, "MIN_DOCUMENTS", 10)
    assert impact.refresh(store, cache) == "keyword impact index rebuilt"
    assert impact.refresh(store, cache) == "keyword impact index current"
    searcher = Searcher(store, tmp_path, spec=FAKE)
    first = searcher.search("kubernetes errors", mode="keyword", explain=False)
    assert searcher._impact is not None  # answered by the impact index
    assert "p/new" not in {h.key for h in first.hits}
    write(store, incident("p/new", "Kubernetes errors", "Kubernetes errors everywhere."))
    assert impact.load(store, cache) is None  # the FTS5 index changed under it
    second = searcher.search("kubernetes errors", mode="keyword", explain=False)
    assert searcher._impact is None  # FTS5 answered
    assert second.hits[0].key == "p/new"
    assert [(h.key, h.score) for h in second.hits] == _fts5(store, "kubernetes errors", 10)
    # One change of 65 is within 5 %: kept (unused) until more change, or rebuilt on demand.
    assert impact.refresh(store, cache).startswith("keyword impact index kept unused")
    assert searcher.search("kubernetes errors", mode="keyword", explain=False) == second
    assert searcher._impact is None
    assert impact.refresh(store, cache, rebuild=True) == "keyword impact index rebuilt"
    third = searcher.search("kubernetes errors", mode="keyword", explain=False)
    assert searcher._impact is not None
    assert [h.score for h in third.hits] == [h.score for h in second.hits]
    store.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign arrays", "bad json"])
def test_a_damaged_impact_index_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             damage: str) -> None:
    store = _store(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setattr(impact, "MIN_DOCUMENTS", 10)
    impact.refresh(store, cache)
    [data] = cache.glob("bm25-*.npz")
    if damage == "garbage":
        data.write_bytes(b"not an npz")
    elif damage == "truncated":
        data.write_bytes(data.read_bytes()[:500])
    elif damage == "foreign arrays":
        np.savez(data.open("wb"), vocab=np.array(["a"]), starts=np.array([0, 5]),
                 rows=np.array([1, 2, 3, 4, 99]), tf=np.ones(5), keys=np.array(["", "x"]))
    else:
        next(cache.glob("bm25-*.json")).write_text("{")
    assert impact.load(store, cache) is None
    searcher = Searcher(store, tmp_path, spec=FAKE)
    found = searcher.search("database errors", mode="keyword", explain=False)
    assert [(h.key, h.score) for h in found.hits] == _fts5(store, "database errors", 10)
    store.close()


def test_filtered_keyword_search_is_fts5s(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.store.vectors import SearchFilters

    store = _store(tmp_path)
    monkeypatch.setattr(impact, "MIN_DOCUMENTS", 10)
    impact.refresh(store, tmp_path / "cache")
    searcher = Searcher(store, tmp_path, spec=FAKE)
    filters = SearchFilters(component="Database")
    found = searcher.search("database errors", mode="keyword", filters=filters,
                            explain=False)
    assert [(h.key, h.score) for h in found.hits] == keyword.keyword_search(
        store, query_terms("database errors"), 10, filters)
    store.close()


def _clustered(rows: int, dim: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((rows // 20, dim)).astype(np.float32)
    matrix = centres[rng.integers(0, len(centres), rows)] + 0.3 * rng.standard_normal(
        (rows, dim)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_graph_candidates_are_scored_exactly(tmp_path: Path) -> None:
    matrix = _clustered(3000, 32)
    keys = [f"k/{i:05d}" for i in range(len(matrix))]
    exact = MatrixIndex(keys, matrix)
    approximate = MatrixIndex(keys, matrix)
    approximate.graph = ann.build(matrix, threads=1)
    queries = _clustered(40, 32, seed=9)
    recall = []
    for query in queries:
        want = exact.search(query, 10)
        got = approximate.search(query, 10)
        # Every score is the row's exact cosine, best first.
        assert all(score == pytest.approx(float(matrix[int(key[2:])] @ query), abs=1e-6)
                   for key, score in got)
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        recall.append(len({k for k, _ in got} & {k for k, _ in want}) / 10)
    assert np.mean(recall) >= 0.98
    # A filtered search is exact whatever the graph says.
    allowed = set(keys[::3])
    assert approximate.search(queries[0], 10, allowed) == exact.search(queries[0], 10, allowed)


def test_a_graph_is_used_only_for_the_vectors_it_was_built_from(tmp_path: Path) -> None:
    matrix = _clustered(500, 16)
    keys = [f"k/{i}" for i in range(len(matrix))]
    stem = tmp_path / "vectors-x"
    ann.save(ann.build(matrix, threads=1), stem, "sig-1", keys, matrix)
    assert ann.load(stem, "sig-1", keys) is not None
    assert ann.load(stem, "sig-2", keys) is None  # a vector written since
    assert ann.load(stem, "sig-1", keys[::-1]) is None  # rows mean other incidents
    assert ann.load(stem, "sig-1", keys[:-1]) is None
    stem.with_suffix(".hnsw").write_bytes(b"not a graph")
    assert ann.load(stem, "sig-1", keys) is None  # unreadable: exact search


def test_kb_embed_builds_the_graph_and_search_uses_it(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "MIN_VECTORS", 3)
    monkeypatch.setattr(impact, "MIN_DOCUMENTS", 3)
    store = open_store(tmp_path)
    write(store, *INCIDENTS)
    report = embed_missing(store, tmp_path, spec=FAKE)
    assert "vector graph rebuilt" in report.indexes
    assert "keyword impact index rebuilt" in report.indexes
    again = embed_missing(store, tmp_path, spec=FAKE)
    assert again.indexes == ["vector graph current", "keyword impact index current"]
    searcher = Searcher(store, tmp_path, spec=FAKE)
    index = searcher._vectors()
    assert isinstance(index, MatrixIndex) and index.graph is not None
    exact = load_index(store, FAKE.model_id, None)  # no cache: no graph
    assert exact.graph is None
    vectors = [exact.vector(key) for key in exact.keys[:4]]  # stored vectors as queries
    for vector in vectors:
        assert index.search(vector, 5) == exact.search(vector, 5)  # a small KB: all found
    for query in ("webhook deliveries delayed", "database failover", "login errors"):
        hybrid = searcher.search(query, explain=False)
        assert hybrid.hits
    store.close()


# -- a graph built at an older state keeps serving (a delta) ----------------------------------


def _delta_index(stem: Path, keys: list[str], matrix: np.ndarray,
                 signature: str) -> MatrixIndex:
    """What `kb embed` does for vectors changed since the graph: plan and save the delta,
    then what search loads."""
    plan = ann.plan_delta(stem, keys, matrix)
    assert plan is not None
    ann.save_delta(stem, signature, keys, *plan)
    index = MatrixIndex(keys, matrix)
    index.graph = ann.load(stem, signature, keys, matrix)
    assert index.graph is not None and index.graph.to_row is not None
    return index


def test_an_older_graph_serves_changed_vectors_through_a_delta(tmp_path: Path) -> None:
    matrix = _clustered(3000, 32)
    keys = [f"k/{i:05d}" for i in range(len(matrix))]
    stem = tmp_path / "vectors-x"
    ann.save(ann.build(matrix, threads=1), stem, "sig-1", keys, matrix)
    queries = _clustered(40, 32, seed=9)
    # Since: incident 5 got a new vector (pointing at the first query), 7 was removed, and
    # a new incident holds the second query's direction.
    old_5 = matrix[5].copy()
    now = matrix.copy()
    now[5] = queries[0]
    now_keys = keys[:7] + keys[8:] + ["k/new"]
    now = np.vstack([now[:7], now[8:], queries[1][None, :]])
    index = _delta_index(stem, now_keys, now, "sig-2")
    assert index.graph is not None
    assert index.graph.masked == 2 and index.graph.fresh is not None
    assert sorted(now_keys[r] for r in index.graph.fresh) == ["k/00005", "k/new"]
    exact = MatrixIndex(now_keys, now)
    # The changed incident's new vector is found; its old one is never returned.
    assert index.search(queries[0], 1)[0][0] == "k/00005"
    assert index.search(queries[1], 1)[0][0] == "k/new"
    near_old = index.search(old_5, 10)
    assert near_old == exact.search(old_5, 10)
    assert "k/00005" not in {k for k, _ in near_old}  # its old vector is masked
    recall = []
    for query in [*queries, old_5, matrix[7]]:
        got, want = index.search(query, 10), exact.search(query, 10)
        assert "k/00007" not in {k for k, _ in got}  # removed
        row = {key: r for r, key in enumerate(now_keys)}
        # Every score is the current vector's exact cosine.
        assert all(score == pytest.approx(float(now[row[key]] @ query), abs=1e-6)
                   for key, score in got)
        recall.append(len({k for k, _ in got} & {k for k, _ in want}) / 10)
    assert np.mean(recall) >= 0.98


def test_masked_neighbours_make_the_graph_ask_for_more(tmp_path: Path) -> None:
    matrix = _clustered(3000, 32)
    keys = [f"k/{i:05d}" for i in range(len(matrix))]
    stem = tmp_path / "vectors-x"
    ann.save(ann.build(matrix, threads=1), stem, "sig-1", keys, matrix)
    query = matrix[0]
    # The 150 rows nearest the query all changed (moved far away): more than the 100
    # candidates the graph is asked for at first.
    nearest = np.argsort(-(matrix @ query))[:150]
    now = matrix.copy()
    now[nearest] = -now[nearest]
    index = _delta_index(stem, keys, now, "sig-2")
    exact = MatrixIndex(keys, now)
    got = index.search(query, 10)
    assert not {k for k, _ in got} & {keys[r] for r in nearest[:149]}
    assert len({k for k, _ in got} & {k for k, _ in exact.search(query, 10)}) >= 9


def test_a_delta_is_used_only_for_its_vectors_and_its_graph(tmp_path: Path) -> None:
    matrix = _clustered(500, 16)
    keys = [f"k/{i}" for i in range(len(matrix))]
    stem = tmp_path / "vectors-x"
    ann.save(ann.build(matrix, threads=1), stem, "sig-1", keys, matrix)
    now = matrix.copy()
    now[3] = matrix[4]
    _delta_index(stem, keys, now, "sig-2")
    assert ann.load(stem, "sig-3", keys, now) is None  # vectors written since the delta
    assert ann.load(stem, "sig-2", keys[::-1], now) is None
    assert ann.load(stem, "sig-2", keys, None) is None  # no matrix for its fresh rows
    damaged = stem.with_suffix(".hnsw.delta.npz")
    good = damaged.read_bytes()
    damaged.write_bytes(good[:40])
    assert ann.load(stem, "sig-2", keys, now) is None
    damaged.write_bytes(good)
    assert ann.load(stem, "sig-2", keys, now) is not None
    # A graph built since drops the delta made for the older one.
    ann.save(ann.build(now, threads=1), stem, "sig-2", keys, now)
    assert not stem.with_suffix(".hnsw.delta.json").exists()
    assert ann.load(stem, "sig-2", keys, now).to_row is None  # type: ignore[union-attr]


def test_kb_embed_keeps_the_indexes_after_a_few_changes(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann, "MIN_VECTORS", 3)
    monkeypatch.setattr(impact, "MIN_DOCUMENTS", 3)
    store = open_store(tmp_path)
    write(store, *INCIDENTS)
    assert embed_missing(store, tmp_path, spec=FAKE).indexes == [
        "vector graph rebuilt", "keyword impact index rebuilt"]
    changed = incident("github/wh2", "Kubernetes node pool upgrade stuck",
                       "Kubernetes node pool upgrades are stuck.", components=["Actions"])
    write(store, changed)
    # One change of the KB's few incidents is more than 5 %: allowed 40 % here.
    monkeypatch.setattr(ann, "MAX_DELTA_SHARE", 0.4)
    monkeypatch.setattr(impact, "MAX_STALE_SHARE", 0.4)
    report = embed_missing(store, tmp_path, spec=FAKE)
    graph_note, keyword_note = report.indexes
    assert graph_note.startswith("vector graph kept, 1 new or changed vector(s) scored "
                                 "exactly, 1 old masked")
    assert keyword_note.startswith("keyword impact index kept unused: 1 incident(s) changed")
    searcher = Searcher(store, tmp_path, spec=FAKE)
    index = searcher._vectors()
    assert isinstance(index, MatrixIndex) and index.graph is not None
    assert index.graph.to_row is not None  # served by the older graph and its delta
    exact = load_index(store, FAKE.model_id, None)
    wanted = exact.vector("github/wh2")
    assert wanted is not None
    assert index.search(wanted, len(exact)) == exact.search(wanted, len(exact))
    found = searcher.search("kubernetes node pool upgrade stuck", mode="semantic",
                            explain=False)
    assert found.hits[0].key == "github/wh2"
    keyword_hits = searcher.search("kubernetes node pool", mode="keyword", explain=False)
    assert searcher._impact is None  # the stale impact index is not used: FTS5 answers
    assert [(h.key, h.score) for h in keyword_hits.hits] == _fts5(
        store, "kubernetes node pool", 10)
    # Nothing to do: both kept as they are, nothing rebuilt.
    again = embed_missing(store, tmp_path, spec=FAKE)
    assert again.indexes[0].startswith("vector graph current, 1 new or changed")
    assert again.indexes[1].startswith("keyword impact index kept unused: 1 incident(s)")
    # --reindex rebuilds both; past the share, a change rebuilds them too.
    assert embed_missing(store, tmp_path, spec=FAKE, reindex=True).indexes == [
        "vector graph rebuilt", "keyword impact index rebuilt"]
    monkeypatch.setattr(ann, "MAX_DELTA_SHARE", 0.05)
    monkeypatch.setattr(impact, "MAX_STALE_SHARE", 0.05)
    write(store, incident("github/wh2", "Webhook deliveries delayed again", "Delays."))
    assert embed_missing(store, tmp_path, spec=FAKE).indexes == [
        "vector graph rebuilt", "keyword impact index rebuilt"]
    store.close()


def test_cli_embed_reindex(tmp_path: Path) -> None:
    """`kb embed --reindex` through the real CLI: the flag reaches the indexes' step (a
    small KB has none to rebuild: it says so) and a second run does nothing."""
    import json

    from tests.test_search import ROOT, kb

    home = tmp_path / "home"
    assert kb(home, "ingest", str(ROOT / "tests" / "fixtures" / "search" / "github")
              ).returncode == 0
    done = kb(home, "embed", "--reindex", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["embedded"] == 12
    assert report["indexes"] == ["small KB: exact vector search", "small KB: FTS5 alone"]
    again = json.loads(kb(home, "embed", "--json").stdout)
    assert again["embedded"] == 0 and again["indexes"] == report["indexes"]
