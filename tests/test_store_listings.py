"""The site's listing queries (kb.store.listings): what they read from the incidents table's
columns is what the full incidents say, on recorded payloads of every shape the listings
care about (tests/fixtures/site: Statuspage incidents and maintenances, a hostile page;
statuspage_summary: open incidents with a snapshot end bound; feeds: incidents without
phases), on SQLite and, when KB_TEST_POSTGRES_URL is set, on PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from kb.model import SEVERITY_UNKNOWN
from kb.render import figures
from kb.render.figures import is_open
from kb.store import Store
from kb.store.listings import (
    Listed,
    active_since,
    component_counts,
    incidents_by_keys,
    listed,
)
from tests.conftest import ingested_store, reset_postgres

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = [ROOT / "tests" / "fixtures" / "site",
            ROOT / "tests" / "fixtures" / "statuspage_summary" / "cloudflare",
            ROOT / "tests" / "fixtures" / "feeds"]
PG = os.environ.get("KB_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return ingested_store(tmp_path / "sqlite", PAYLOADS)
    if not PG:
        pytest.skip("KB_TEST_POSTGRES_URL not set")
    reset_postgres(PG)
    from kb.config import PACKAGED_SOURCES, load_sources
    from kb.pipeline import Line, ingest
    from scrapers.archive import Archive

    store, _ = Store.open(PG, write=True)
    # the hostile page too: its NUL is dropped before the store (kb.normalize.nul)
    report = ingest(Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES)),
                    PAYLOADS)
    assert not report.failures, report.failures
    return store


def test_listed_rows_are_what_the_full_incidents_say(store: Store) -> None:
    full = {i.key: i for i in store.incidents()}
    rows = listed(store)
    assert [r.key for r in rows] == sorted(full)  # key order, every incident once
    assert {r.key: r for r in rows} == {k: Listed.of(i) for k, i in full.items()}
    for row in rows:  # what the listings read, attribute by attribute
        incident = full[row.key]
        assert row.first_posted == incident.first_posted
        assert row.time_to_resolve == incident.time_to_resolve
        assert row.stated_severity == incident.stated_severity
        assert is_open(row) == is_open(incident)  # type: ignore[arg-type]
        assert figures.year_of(row) == figures.year_of(incident)  # type: ignore[arg-type]
    # The fixtures reach every case the columns alone cannot tell.
    assert any(is_open(r) for r in rows)  # type: ignore[arg-type]
    assert any(r.lifecycle.end_not_after for r in rows)  # dropped out of the snapshots
    assert any(r.stated_severity == SEVERITY_UNKNOWN for r in rows)


def test_component_counts_are_the_sites_own_counts(store: Store) -> None:
    by_provider = defaultdict(list)
    for incident in store.incidents():
        by_provider[incident.provider].append(incident)
    expected = {p: found for p, items in by_provider.items()
                if (found := figures.components(items))}
    assert expected, "the fixtures name no component"
    assert component_counts(store) == expected


def test_incidents_by_keys_reads_those_and_skips_unknown_keys(store: Store) -> None:
    keys = sorted(i.key for i in store.incidents())[::3]
    found = sorted(incidents_by_keys(store, [*keys, "nobody/none", keys[0]]),
                   key=lambda i: i.key)
    assert found == [store.get(k) for k in keys]
    assert list(incidents_by_keys(store, [])) == []


def test_a_stored_change_is_listed_at_once(tmp_path: Path) -> None:
    """No cache between the store and the listings: a changed title is read as changed."""
    from dataclasses import replace

    from kb.pipeline import content_hash
    from kb.store.repo import IncidentWrite

    folder = tmp_path / "kb"
    ingested_store(folder, PAYLOADS[:1])
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    store, _ = Store.open(f"sqlite:///{copy / 'kb.db'}", write=True)
    first = next(store.incidents())
    edited = replace(first, title="Renamed")
    store.write_batch([IncidentWrite(edited, content_hash(edited), current=())], [])
    assert {r.key: r.title for r in listed(store)}[first.key] == "Renamed"


def _times(incident) -> list:  # type: ignore[no-untyped-def]
    life, window = incident.lifecycle, incident.impact_window
    return [u.at for u in incident.updates] + [
        t for t in (life.first_post_at, life.resolved_at,
                    *((window.start, window.end) if window else ())) if t]


def test_active_since_is_every_incident_with_a_time_since(store: Store) -> None:
    full = list(store.incidents())
    stamps = sorted({t for i in full for t in _times(i)})
    providers = sorted({i.provider for i in full})
    for since in (stamps[0], stamps[len(stamps) // 2], stamps[-1]):
        expected = {i.key for i in full if any(t >= since for t in _times(i))}
        assert active_since(store, since) == expected
        assert expected  # every threshold is some incident's own time
        some = providers[:2]
        assert active_since(store, since, some) == {
            k for k in expected if k.split("/", 1)[0] in some}


def test_the_feed_candidates_hold_the_feeds_newest(store: Store,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.render import feeds
    from kb.render.site import _feed_candidates

    full = list(store.incidents())
    for entries in (1, 3, 10, len(full) + 1):
        monkeypatch.setattr(feeds, "ENTRIES", entries)
        newest = sorted(full, key=lambda i: (feeds.last_activity(i), i.key),
                        reverse=True)[:entries]
        candidates = set(_feed_candidates(store, listed(store)))
        assert {i.key for i in newest} <= candidates
        if entries < len(full) // 2:
            assert len(candidates) < len(full)  # a bound, not everything
