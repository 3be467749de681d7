"""Keyword search on a real PostgreSQL server (migration s02) against SQLite's FTS5 on the
same real incidents, and an s01 PostgreSQL database upgraded in place.

Runs where KB_TEST_POSTGRES_URL names a server (`.ci/run` starts a throwaway one); skips
cleanly elsewhere. Each test creates and drops a database of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic import command

from kb.config import PACKAGED_SOURCES, load_sources
from kb.embed.index import query_terms
from kb.embed.search import Searcher
from kb.embed.stage import embed_missing
from kb.pipeline import Line, ingest
from kb.store import Store, keyword
from kb.store.db import _config, head_revisions, make_engine
from scrapers.archive import Archive
from tests.test_search import FAKE
from tests.test_search_backends import pg_url  # noqa: F401 (the fixture)
from tests.test_search_support import incident, write

pytestmark = pytest.mark.skipif(not os.environ.get("KB_TEST_POSTGRES_URL"),
                                reason="KB_TEST_POSTGRES_URL not set")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "search" / "github"  # 12 real GitHub incidents
SOURCES = load_sources(PACKAGED_SOURCES)
# Queries whose top three are not tied. ("git operations degraded" is no such query: "git"
# is in most of these incidents, so its idf is at the floor and every score is ~0 on both.)
QUERIES = ["webhook deliveries delayed", "ssh connection errors", "DDoS attack",
           "pages builds failing", "file server maintenance"]


def filled(url: str, raw: Path) -> Store:
    store, _ = Store.open(url, write=True)
    report = ingest(Line(store, Archive(raw), SOURCES), [FIXTURES])
    assert report.failures == []
    return store


def scored(store: Store, query: str) -> list[tuple[str, float]]:
    return keyword.keyword_search(store, query_terms(query), 5)


def ranking(store: Store, query: str) -> list[str]:
    return [key for key, _ in scored(store, query)]


def test_same_top_results_as_sqlite(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    """The first hit and the top three agree. Lower ranks may differ: the stemmers differ
    (porter vs Snowball english), PostgreSQL drops English stop words from documents (FTS5
    counts every token into a document's length) and keeps at most 256 positions a word, so
    near-equal BM25 scores can swap; the top three of these queries are not near-equal.
    The scores themselves are the same formula on both, so they agree within 10 %."""
    lite = filled(f"sqlite:///{tmp_path / 'kb.db'}", tmp_path / "raw-lite")
    pg = filled(pg_url, tmp_path / "raw-pg")
    for query in QUERIES:
        expected, got = ranking(lite, query), ranking(pg, query)
        assert got, query
        assert got[0] == expected[0], query
        assert set(got[:3]) == set(expected[:3]), query
        fts5 = dict(scored(lite, query))
        for key, score in scored(pg, query)[:3]:
            assert score == pytest.approx(fts5[key], rel=0.1), (query, key)
    lite.close()
    pg.close()


def test_keyword_search_on_postgres_through_the_cli(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    import json
    import subprocess
    import sys

    home = tmp_path / "home"
    env = dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(PACKAGED_SOURCES),
               KB_EMBED_MODEL="fake-hash", KB_DATABASE_URL=pg_url)
    env.pop("KB_CONFIG", None)

    def kb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True,
                              text=True, env=env, timeout=300)

    assert kb("ingest", str(FIXTURES)).returncode == 0
    result = kb("search", "DDoS attack", "--mode", "keyword", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "keyword" and data["notes"] == []
    assert {r["key"] for r in data["results"]} == {
        "github/4trmvxgwj8f8", "github/yfxnyxkl7cv6", "github/pqbcmnhrvbhb"}
    assert kb("embed").returncode == 0
    hybrid = json.loads(kb("search", "DDoS attack", "-k", "3", "--json").stdout)
    assert hybrid["mode"] == "hybrid" and hybrid["notes"] == []  # no fallback to semantic


def test_an_s01_postgres_database_is_upgraded_in_place(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    # Data written by today's line (which writes columns later revisions added), then the
    # schema taken back to what the first search release left (s01), rows kept.
    current = Store.open(pg_url, write=True)[0]
    ingest(Line(current, Archive(tmp_path / "raw"), SOURCES), [FIXTURES])
    current.close()
    engine = make_engine(pg_url)
    with engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "s01")
    old = Store(engine)
    assert not keyword.keyword_available(old)  # s01 made no keyword index on PostgreSQL
    old.close()

    store, note = Store.open(pg_url, write=True)
    assert note is not None and note.startswith("upgraded database schema ")
    before_upgrade, _, after_upgrade = note.partition(" → ")
    # s02 is applied; the heads name p02, which merges it with the postmortems branch, or
    # i01 (the keyword index refreshed per batch), which follows p02
    assert "s01" in before_upgrade and any(r in after_upgrade for r in ("s02", "p02", "i01"))
    assert keyword.keyword_available(store)
    # What was stored before the upgrade is searchable, ranked as on a fresh database.
    fresh = filled(f"sqlite:///{tmp_path / 'kb.db'}", tmp_path / "raw-lite")
    for query in QUERIES:
        assert ranking(store, query)[:1] == ranking(fresh, query)[:1], query
    with store.engine.connect() as conn:
        from sqlalchemy import text

        assert conn.execute(text("SELECT docs FROM incident_search_totals")).scalar_one() == 12
        versions = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
    assert versions == set(head_revisions())
    embed_missing(store, tmp_path, spec=FAKE)
    result = Searcher(store, tmp_path, spec=FAKE).search("ssh connection errors")
    assert result.mode == "hybrid" and result.notes == []
    assert Store.open(pg_url, write=True)[1] is None  # nothing left to do
    store.close()
    fresh.close()


def test_s02_downgrades_cleanly(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    from sqlalchemy import inspect, text

    store = filled(pg_url, tmp_path / "raw")
    with store.engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "s01")
    assert not keyword.keyword_available(store)
    assert "incident_search_totals" not in inspect(store.engine).get_table_names()
    with store.engine.connect() as conn:
        assert conn.execute(text(
            "SELECT count(*) FROM pg_proc WHERE proname IN ('kb_search_document', "
            "'kb_search_tokens', 'kb_incident_search_sync', 'kb_incident_search_clear')"
        )).scalar_one() == 0
        assert conn.execute(text(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'incidents_search%'"
        )).scalar_one() == 0
    # Incidents still write and change without the triggers or their functions.
    write(store, incident("github/new", "Webhook deliveries delayed", "Delayed."))
    write(store, incident("github/new", "Webhook deliveries delayed", "Resolved."))
    assert store.get("github/new").updates[0].text == "Resolved."
    store.close()
