"""Signal tables: the g01 migration, idempotent upserts that merge, and a relink that only
works when an input changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.signals.config import load_signal_config
from kb.signals.stage import relink
from kb.store import Store
from kb.store.db import head_revisions
from kb.store.signals import (
    ItemWrite,
    items_fingerprint,
    links,
    load_items,
    note_item,
    signals,
    store_items,
)
from scrapers.archive import Archive
from scrapers.records import SignalRecord

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "signals"
AT = datetime(2026, 8, 16, 21, 52, 59, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened, note = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    assert note and "g01" in note
    yield opened
    opened.close()


def write(record: SignalRecord, sha: str = "a" * 64) -> ItemWrite:
    return ItemWrite(record, sha, "file:///p.json", AT)


def test_schema_has_the_signals_branch(store: Store) -> None:
    assert "g01" in head_revisions()
    tables = set(inspect(store.engine).get_table_names())
    assert {"signal_items", "signals", "signal_links", "signal_unofficial",
            "signal_state"} <= tables


def test_upserts_count_and_merge(store: Store) -> None:
    thread = SignalRecord("hackernews", "49324078", "Claude Seems Down", created_at=AT,
                          points=12, comments=40, top_comments=("same here",))
    first = store_items(store, [write(thread)])
    assert (first.new, first.updated, first.unchanged) == (1, 0, 0)
    again = store_items(store, [write(thread)])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    # A later search hit knows more points but not the comments: nothing is lost.
    later = replace(thread, points=50, comments=38, top_comments=())
    result = store_items(store, [write(later, "b" * 64)])
    assert result.updated == 1
    (held,) = load_items(store)
    assert held.record.points == 50 and held.record.comments == 40
    assert held.record.top_comments == ("same here",) and held.sha256 == "b" * 64


def test_notes_change_the_fingerprint_once(store: Store) -> None:
    record = SignalRecord("news", "n1", "ChatGPT outage", url="https://example.com/a")
    store_items(store, [write(record)])
    before = items_fingerprint(store)
    assert note_item(store, "news", "n1", note="paywalled: feed summary only")
    assert items_fingerprint(store) != before
    assert not note_item(store, "news", "n1", note="paywalled: feed summary only")
    assert not note_item(store, "news", "unknown", note="x")


def test_relink_works_only_when_inputs_change(store: Store, tmp_path: Path) -> None:
    sources = load_sources(PACKAGED_SOURCES)
    config = load_signal_config(PACKAGED_SOURCES, sources)
    line = Line(store, Archive(tmp_path / "raw"), sources)
    ingest(line, [FIX / "anthropic_incidents_slice.json", FIX / "algolia_search_page0.json",
                  FIX / "algolia_search_page1.json"])
    first = relink(store, config)
    assert not first.skipped and first.links >= 3
    assert relink(store, config).skipped  # nothing changed
    stored = {(link.signal_id, link.incident_key) for link in links(store)}
    assert ("hackernews:49324078", "anthropic/qt14v73myyy5") in stored
    # A new item (the next search page) makes the stage work again, and adds its links.
    assert "hackernews:46158275" not in {s.id for s in signals(store)}
    ingest(line, [FIX / "algolia_search_page2.json"])
    second = relink(store, config)
    assert not second.skipped and second.signals > first.signals
    assert "hackernews:46158275" in {s.id for s in signals(store)}
