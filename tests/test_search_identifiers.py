"""Exact rare identifiers win in hybrid search (regions, error codes, product and component
names), on SQLite (FTS5) and PostgreSQL (tsvector) alike.

The incidents mirror the case of issue 14: a KB full of one-line "Major service outage"
incidents and a few that name a region. With the fake bag-of-words encoder the semantic
ranking prefers the one-liners for "us-east-1 outage" (they share "outage"), as MiniLM does
on the real corpus; the region's incidents must still come first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kb.embed.search import Searcher, identifier_terms
from kb.embed.stage import embed_missing
from kb.store import Store, keyword
from tests.test_search import FAKE
from tests.test_search_backends import pg_url  # noqa: F401 (the fixture)
from tests.test_search_support import T0, incident, write

ONE_LINERS = [
    incident(f"github/out{n}", "Major service outage", "Major service outage.",
             at=T0 - timedelta(days=3650 + 7 * n))
    for n in range(12)
]
REGION = [
    incident("aws/ec2-1", "Increased API Error Rates",
             "We are investigating increased API error rates in the US-EAST-1 Region.",
             "Customers may see throttling when calling RunInstances and DescribeInstances.",
             components=["Amazon EC2 (N. Virginia)"], at=T0 + timedelta(days=40)),
    incident("aws/s3-1", "Increased Error Rates",
             "Requests to S3 in us-east-1 are failing with elevated error rates.",
             "PUT and GET requests to buckets see latency; replication is delayed.",
             "Lambda functions reading objects time out; CloudFront origins return errors.",
             "Engineers rolled back a metadata subsystem deployment and requests recovered.",
             components=["Amazon S3 (N. Virginia)"], at=T0 + timedelta(days=400)),
    incident("aws/ec2-2", "Increased Launch Failures",
             "Instance launches are failing in the US-WEST-2 Region.",
             components=["Amazon EC2 (Oregon)"], at=T0 + timedelta(days=80)),
    incident("gcp/sql-1", "Cloud SQL instances unavailable",
             "Cloud SQL instances in europe-west1 were unreachable; HTTP 502 from the API.",
             components=["Cloud SQL"], at=T0 + timedelta(days=90)),
    incident("gcp/gce-1", "Compute Engine outage",
             "Compute Engine VMs in europe-west1 lost network connectivity. Outage over.",
             components=["Google Compute Engine"], at=T0 + timedelta(days=95)),
]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (str(request.getfixturevalue("pg_url")) if request.param == "postgres"
           else f"sqlite:///{tmp_path / 'kb.db'}")
    store, _ = Store.open(url, write=True)
    write(store, *ONE_LINERS, *REGION)
    embed_missing(store, tmp_path, spec=FAKE)
    yield store
    store.close()


def keys(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [hit.key for hit in result.hits]


def test_identifier_shapes() -> None:
    assert identifier_terms("us-east-1 outage") == ["us-east-1"]
    assert identifier_terms("HTTP 502 errors in europe-west1") == ["502", "europe-west1"]
    assert identifier_terms("ERR_SSL_PROTOCOL_ERROR from api.example.com") == [
        "err_ssl_protocol_error", "api.example.com"]
    # A year says when, not what; plain words and "ssl/tls" (alternatives) are no identifier.
    assert identifier_terms("the 2013 outage of ssl/tls") == []
    names = {"cloud sql", "sql", "api", "all"}
    # The longest known name wins ("cloud sql", not also "sql"); stop words never count.
    assert identifier_terms("Cloud SQL failover for all", names) == ["cloud sql"]


def test_without_the_tier_one_liners_win(store: Store, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The premise: plain fusion buries a region incident under one-liners (the semantic
    ranking puts the short texts sharing "outage" above aws/ec2-1)."""
    searcher = Searcher(store, tmp_path, spec=FAKE)
    monkeypatch.setattr(searcher, "identifiers", lambda text: {})
    top = keys(searcher.search("us-east-1 outage", k=3))
    assert "aws/ec2-1" not in top and top[1].startswith("github/")


def test_region_incidents_come_first_in_hybrid(store: Store, tmp_path: Path) -> None:
    searcher = Searcher(store, tmp_path, spec=FAKE)
    result = searcher.search("us-east-1 outage", k=5)
    assert result.mode == "hybrid"
    assert set(keys(result)[:2]) == {"aws/ec2-1", "aws/s3-1"}
    assert keys(result)[2].startswith("github/")  # the rest follows the fused ranking
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True) and scores[1] > 1 > scores[2]
    # Keyword mode found them already; semantic mode stays purely semantic.
    assert set(keys(searcher.search("us-east-1 outage", mode="keyword", k=2))) == {
        "aws/ec2-1", "aws/s3-1"}


def test_more_identifiers_rank_higher(store: Store, tmp_path: Path) -> None:
    searcher = Searcher(store, tmp_path, spec=FAKE)
    assert keys(searcher.search("502 in europe-west1", k=3))[:2] == ["gcp/sql-1", "gcp/gce-1"]
    assert searcher.identifiers("502 in europe-west1") == {
        "502": {"gcp/sql-1"}, "europe-west1": {"gcp/sql-1", "gcp/gce-1"}}


def test_component_names_count_as_identifiers(store: Store, tmp_path: Path) -> None:
    searcher = Searcher(store, tmp_path, spec=FAKE)
    assert "cloud sql" in keyword.component_names(store)
    assert keys(searcher.search("Cloud SQL outage", k=1)) == ["gcp/sql-1"]


def test_common_identifiers_and_absent_ones_change_nothing(store: Store, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    searcher = Searcher(store, tmp_path, spec=FAKE)
    # Held by no incident: the fused ranking as it was.
    assert searcher.identifiers("ap-south-2 outage") == {}
    # Held by more than the rare share: not an identifier of anything in particular.
    monkeypatch.setattr("kb.embed.search.RARE_FLOOR", 1)
    monkeypatch.setattr("kb.embed.search.RARE_SHARE", 0.0)
    fresh = Searcher(store, tmp_path, spec=FAKE)  # the limit is read once per Searcher
    assert fresh.identifiers("europe-west1") == {}
    assert fresh.identifiers("502") == {"502": {"gcp/sql-1"}}


def test_filters_apply_to_the_exact_tier(store: Store, tmp_path: Path) -> None:
    from kb.store.vectors import SearchFilters

    searcher = Searcher(store, tmp_path, spec=FAKE)
    result = searcher.search("us-east-1 outage", k=3, filters=SearchFilters(provider="github"))
    assert all(key.startswith("github/") for key in keys(result))
    assert all(hit.score < 1 for hit in result.hits)
