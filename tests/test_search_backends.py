"""Keyword search and the cause filter behave the same on SQLite (FTS5) and PostgreSQL
(tsvector, migration s02).

Every test here runs on SQLite; the `postgres` variants run where KB_TEST_POSTGRES_URL names
a server (`.ci/run` starts a throwaway one) and skip cleanly elsewhere. Each PostgreSQL test
gets a database of its own, created and dropped around it, so nothing here touches the
database tests/test_postgres.py resets.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kb.embed.index import query_terms
from kb.embed.search import MAX_QUERY_CHARS, Searcher
from kb.embed.stage import embed_missing
from kb.errors import ConfigError
from kb.pipeline import content_hash
from kb.store import Store, keyword
from kb.store.analysis import CauseRecord, write_causes
from kb.store.vectors import SearchFilters, cause_coverage, filter_keys, symptom_only
from tests.test_search import FAKE, INCIDENTS
from tests.test_search_support import T0, incident, write

PG_URL = os.environ.get("KB_TEST_POSTGRES_URL")
WEBHOOKS = {"github/wh1", "github/wh1b", "github/wh2"}


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    if not PG_URL:
        pytest.skip("KB_TEST_POSTGRES_URL not set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(PG_URL)
    name = f"kb_search_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'kb.db'}"


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    store, _ = Store.open(url, write=True)
    write(store, *INCIDENTS)
    yield store
    store.close()


def found(store: Store, text: str, limit: int = 10, **filters: object) -> list[str]:
    hits = keyword.keyword_search(store, query_terms(text), limit,
                                  SearchFilters(**filters) if filters else None)  # type: ignore[arg-type]
    return [key for key, _score in hits]


# -- the index ----------------------------------------------------------------------------


def test_keyword_index_exists_on_both(store: Store) -> None:
    assert keyword.keyword_available(store)


def test_ranking_is_bm25_shaped(store: Store) -> None:
    # Title + body beat body alone; the same text scores the same; OR-ed terms still find
    # an incident that has only one of them.
    ranked = keyword.keyword_search(store, ["webhook", "delayed"], 10)
    assert [k for k, _ in ranked] == ["github/wh1", "github/wh1b", "github/wh2"]
    assert ranked[0][1] == pytest.approx(ranked[1][1]) and ranked[1][1] > ranked[2][1] > 0
    # idf: "attack" is in one incident, "opus" in two, so the one with the rarer word leads.
    assert found(store, "opus attack") == ["github/ddos", "anthropic/op2", "anthropic/op1"]
    # Stemming on both (porter on SQLite, Snowball english on PostgreSQL): "delays" finds
    # "delayed" and "delay".
    assert set(found(store, "delays")) == WEBHOOKS
    assert found(store, "paused") == ["github/pages"]


def test_filters_apply_before_the_limit(store: Store) -> None:
    # The best webhook matches overall are GitHub's: filtered first, the limit still fills.
    assert found(store, "errors webhook", limit=2, provider="anthropic") == [
        "anthropic/op2", "anthropic/op1"]
    assert found(store, "webhook", limit=1, since=T0 + timedelta(days=30)) == ["github/wh2"]
    assert found(store, "delays", component="WEBHOOKS") == [
        "github/wh1", "github/wh1b", "github/wh2"]
    assert found(store, "builds", kind="maintenance") == ["github/pages"]
    assert found(store, "webhook", provider="nobody") == []


def test_keyword_index_follows_inserts_updates_and_deletes(store: Store) -> None:
    assert found(store, "maintenance") == ["github/pages"]
    write(store, incident("github/pages", "Pages builds paused",
                          "GitHub Pages builds resumed after the storage failover.",
                          components=["GitHub Pages"], at=T0 + timedelta(days=5)))
    assert found(store, "maintenance") == []
    assert found(store, "failover") == ["github/pages"]
    write(store, incident("github/new", "Elevated maintenance errors", "Maintenance overran."))
    assert found(store, "maintenance") == ["github/new"]
    store.clear_derived()
    assert found(store, "webhook") == [] and found(store, "maintenance") == []


def test_a_bare_string_is_refused_not_searched_letter_by_letter(store: Store) -> None:
    with pytest.raises(TypeError, match="list of terms"):
        keyword.keyword_search(store, "webhook", 10)


# -- hostile queries ------------------------------------------------------------------------

HOSTILE = [
    "a & !b", "'", ":*", "\\", "!!! ??? ... ()", "webho:*", "webhook:* | !attack",
    "'); DROP TABLE incidents; --", 'webhook" OR NEAR(', "title:webhook", "x" * MAX_QUERY_CHARS,
    "<-> & | ! ( ) : * \" ' \\",
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_user_text_is_never_query_syntax(store: Store, query: str) -> None:
    """Every hostile query runs without error, and what it finds is exactly what its words
    find: no operator (NOT, prefix, phrase, column filter) changes the meaning."""
    words = set(query_terms(query))
    got = set(found(store, query))
    by_word = set()
    for word in words:
        by_word |= set(found(store, word))
    assert got == by_word
    # The same strings handed straight to the store as terms: still plain text.
    assert isinstance(keyword.keyword_search(store, [query], 10), list)


def test_hostile_queries_by_meaning(store: Store) -> None:
    assert found(store, "a & !b") == []  # no NOT: nothing searchable is left
    assert found(store, "webho:*") == []  # no prefix search
    assert set(found(store, "webhook & !attack")) == WEBHOOKS | {"github/ddos"}  # OR, no NOT
    assert set(found(store, 'webhook" OR NEAR(')) == WEBHOOKS
    assert keyword.keyword_search(store, ["webhook') OR ('1'='1"], 10) == []
    assert keyword.keyword_search(store, ["x" * 20_000, "'", "\\", ":*"], 10) == []
    assert set(found(store, "webhook " * 2_500)) == WEBHOOKS  # 20,000 characters


def test_searcher_takes_hostile_queries(store: Store, tmp_path: Path) -> None:
    searcher = Searcher(store, tmp_path, spec=FAKE)
    for query in HOSTILE:
        result = searcher.search(query, mode="keyword")
        assert result.mode == "keyword"
    with pytest.raises(ConfigError, match="the limit is 20,000"):
        searcher.search("x" * (MAX_QUERY_CHARS + 1), mode="keyword")


# -- hybrid runs both rankings --------------------------------------------------------------


def test_hybrid_uses_both_rankings(store: Store, tmp_path: Path) -> None:
    embed_missing(store, tmp_path, spec=FAKE)
    searcher = Searcher(store, tmp_path, spec=FAKE)
    result = searcher.search("webhook deliveries delayed", k=3)
    assert result.mode == "hybrid" and result.notes == []
    assert all(hit.keyword is not None and hit.semantic is not None for hit in result.hits)
    assert {hit.key for hit in result.hits} == WEBHOOKS
    similar = searcher.similar("anthropic/op1", k=1)
    assert similar.mode == "hybrid" and [h.key for h in similar.hits] == ["anthropic/op2"]
    assert similar.hits[0].keyword is not None


# -- cause tags -----------------------------------------------------------------------------


def tag(store: Store, tags: dict[str, list[str]], stated_as: str = "cause") -> None:
    """Store cause tags made for the incidents' present content."""
    by_key = {i.key: i for i in INCIDENTS}
    write_causes(store, {
        key: (content_hash(by_key[key]), "test",
              [CauseRecord(name, "rule", "evidence", "test.rule", stated_as) for name in names])
        for key, names in tags.items()
    })


def test_cause_filter_matches_stated_causes_not_symptoms(store: Store) -> None:
    tag(store, {"github/wh1": ["auth"]}, stated_as="symptom")  # "unable to log in"
    tag(store, {"github/wh2": ["auth"]})  # "caused by an expired certificate on the IdP"
    assert filter_keys(store, SearchFilters(cause="auth")) == {"github/wh2"}
    assert symptom_only(store, "auth") == 1
    assert symptom_only(store, "dns") == 0


def test_cause_filter_in_every_mode(store: Store, tmp_path: Path) -> None:
    tag(store, {"anthropic/op1": ["capacity"], "anthropic/op2": ["capacity", "dependency"],
                "github/ddos": ["security"], "github/wh1": ["dependency"]})
    embed_missing(store, tmp_path, spec=FAKE)
    searcher = Searcher(store, tmp_path, spec=FAKE)
    capacity = SearchFilters(cause="capacity")
    for mode in ("keyword", "semantic", "hybrid"):
        hits = searcher.search("errors webhook attack", mode=mode, filters=capacity).hits
        assert {h.key for h in hits} == {"anthropic/op1", "anthropic/op2"}, mode
    assert filter_keys(store, SearchFilters(cause="dependency")) == {"anthropic/op2",
                                                                     "github/wh1"}
    assert filter_keys(store, SearchFilters(cause="dependency", provider="github")) == {
        "github/wh1"}
    assert filter_keys(store, SearchFilters(cause="dns")) == set()
    alike = searcher.similar("github/wh2", filters=SearchFilters(cause="security"))
    assert [h.key for h in alike.hits] == ["github/ddos"]
    assert cause_coverage(store) == (4, len(INCIDENTS))


def test_tags_of_changed_content_do_not_count(store: Store) -> None:
    tag(store, {"github/ddos": ["security"], "github/pages": ["database-storage"]})
    assert cause_coverage(store) == (2, len(INCIDENTS))
    write(store, incident("github/ddos", "Major service outage", "The attack is over.",
                          at=T0 - timedelta(days=3000)))
    # The tag described the old text: until the analysis stage re-tags, it does not count.
    assert filter_keys(store, SearchFilters(cause="security")) == set()
    assert found(store, "attack", cause="security") == []
    assert found(store, "storage maintenance", cause="database-storage") == ["github/pages"]
    assert cause_coverage(store) == (1, len(INCIDENTS))


# -- PostgreSQL only ------------------------------------------------------------------------


def test_postgres_document_survives_unreadable_text(pg_url: str) -> None:
    """The index function never fails an incident's write: unreadable JSON or a \\u0000
    escape (jsonb refuses it) index the title alone; a body past the tsvector limit is cut."""
    from sqlalchemy import text

    store, _ = Store.open(pg_url, write=True)
    with store.engine.connect() as conn:
        for doc, expected in (
            ("not json", "'outag':2A 'yak':1A"),
            ('{"updates": [{"text": "a\\u0000b zebra"}]}', "'outag':2A 'yak':1A"),
            ("[]", "'outag':2A 'yak':1A"),
            ('{"updates": "x", "components": [1, null, {"name": 5}]}',
             "'5':3B 'outag':2A 'yak':1A"),  # odd shapes: what can be read is read
        ):
            vector = conn.execute(text("SELECT kb_search_document('Yak outage', :doc)::text"),
                                  {"doc": doc}).scalar_one()
            assert vector == expected, doc
    huge = " ".join(f"w{i:06d}x" for i in range(250_000))  # 2.25 MB of distinct words
    write(store, incident("github/huge", "Zebra incident", huge))
    assert found(store, "zebra") == ["github/huge"]
    assert found(store, "w000001x") == ["github/huge"]  # the body's start is indexed
    store.close()


def test_postgres_totals_follow_the_incidents(pg_url: str) -> None:
    from sqlalchemy import text

    store, _ = Store.open(pg_url, write=True)
    write(store, *INCIDENTS)
    write(store, incident("github/wh2", "Incident with Webhooks", "Fixed."))  # shorter now
    with store.engine.connect() as conn:
        docs, tokens = conn.execute(text("SELECT docs, tokens FROM incident_search_totals")).one()
        count, total = conn.execute(text(
            "SELECT count(*), sum(kb_search_tokens(document)) FROM incident_search")).one()
    assert (docs, tokens) == (count, total) and docs == len(INCIDENTS)
    store.clear_derived()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT docs, tokens FROM incident_search_totals")).one() == (
            0, 0)
    store.close()
