"""Reading the KB in batches (kb.store.stream) and the commands that now stream over it
(issue 19, "memory of every command"): each streamed path gives the same result as the path
that held every incident, shown on real incidents with batches small enough to split them."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb.analysis import dataset
from kb.analysis.audit import audit as run_audit
from kb.analysis.causes import counts
from kb.analysis.stage import RULES_ID, cause_summary, causes_for
from kb.commands.common import print_json, print_json_list
from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.signals.config import load_signal_config
from kb.signals.stage import link_all, named_providers, relink
from kb.signals.stories import build_signals
from kb.store import Store, stream
from kb.store.analysis import payload_spans, stored_causes
from kb.store.signals import links, load_items
from scrapers.archive import Archive
from tests.conftest import reset_postgres

ROOT = Path(__file__).resolve().parents[1]
ANALYSIS = ROOT / "tests" / "fixtures" / "analysis"
SIGNALS = ROOT / "tests" / "fixtures" / "signals"
# verbatim payloads (ORIGIN.md in each folder): GitHub, OpenAI and Claude incidents, and an
# Anthropic slice with the Hacker News search pages that name its incidents
PAYLOADS = [ANALYSIS / "github", ANALYSIS / "openai_slice.json", ANALYSIS / "claude_slice.atom",
            SIGNALS / "anthropic_incidents_slice.json", SIGNALS / "algolia_search_page0.json",
            SIGNALS / "algolia_search_page1.json"]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _fill(store: Store, raw: Path) -> None:
    report = ingest(Line(store, Archive(raw), load_sources(PACKAGED_SOURCES)), PAYLOADS)
    assert not report.failures


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("stream")
    opened, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    _fill(opened, home / "raw")
    yield opened
    opened.close()


def _check_batches(store: Store) -> None:
    everything = list(store.incidents())
    assert len(everything) > 10 and len({i.provider for i in everything}) >= 3
    for size in (1, 3, 7, len(everything), 10_000):
        batches = list(stream.incident_batches(store, batch=size))
        assert all(0 < len(b) <= size for b in batches)
        assert [i for b in batches for i in b] == everything  # same incidents, same order
    assert list(stream.iter_incidents(store, batch=4)) == everything
    one = sorted({i.provider for i in everything})[:2]
    assert list(stream.iter_incidents(store, providers=one, batch=3)) == [
        i for i in everything if i.provider in one]
    assert list(stream.iter_incidents(store, kind="maintenance", batch=2)) == [
        i for i in everything if i.kind.value == "maintenance"]
    assert list(stream.incident_batches(store, providers=[])) == []
    assert list(stream.incident_batches(store, providers=["no-such"])) == []
    with pytest.raises(ValueError):
        list(stream.incident_batches(store, batch=0))


def test_batches_are_the_store_incidents_in_key_order(store: Store) -> None:
    _check_batches(store)


@pytest.mark.skipif(not os.environ.get("KB_TEST_POSTGRES_URL"),
                    reason="KB_TEST_POSTGRES_URL not set")
def test_batches_on_postgresql(tmp_path: Path) -> None:
    """The keyset query on a real PostgreSQL (scratch database only): the same order as
    `Store.incidents()` there, whatever the batch size."""
    url = os.environ["KB_TEST_POSTGRES_URL"]
    reset_postgres(url)
    opened, _ = Store.open(url, write=True)
    try:
        _fill(opened, tmp_path / "raw")
        _check_batches(opened)
    finally:
        opened.close()


def test_dataset_without_timelines_has_the_same_figures(store: Store,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    held = dataset.load(store)
    monkeypatch.setattr(dataset, "incident_batches",
                        functools.partial(stream.incident_batches, batch=3))
    streamed = dataset.load(store, keep_incidents=False)
    assert held.incidents == list(store.incidents()) and streamed.incidents == []
    assert streamed.figures == held.figures and streamed.figures
    assert streamed.causes == held.causes and streamed.causes
    assert streamed.coverages == held.coverages
    assert dataset.load(store, keep_incidents=True).incidents == held.incidents  # batched too
    one = sorted(held.figures)[0]
    assert dataset.load(store, [one], keep_incidents=False).figures == {
        one: held.figures[one]}


def test_cause_summary_counts_as_the_whole_list_did(store: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`kb causes`: the counts `kb causes` computed from every incident at once (the code
    before streaming, restated here) against the batched tallies."""
    incidents = [i for i in store.incidents() if i.kind.value == "incident"]
    stored = stored_causes(store, rules=RULES_ID)
    tags = causes_for(store, incidents)
    slugs = sorted({i.provider for i in incidents})
    expected = (len(incidents), sum(1 for i in incidents if i.key not in stored),
                {s: counts([tags[i.key] for i in incidents if i.provider == s], role="cause")
                 for s in slugs},
                {s: counts([tags[i.key] for i in incidents if i.provider == s], role="symptom")
                 for s in slugs})
    monkeypatch.setattr(stream, "incident_batches",
                        functools.partial(stream.incident_batches, batch=2))
    got = cause_summary(store)
    assert (got.incidents, got.computed_now, got.by_provider, got.symptoms) == expected
    assert any(got.by_provider.values())  # real tags were counted, not only zeros
    assert list(got.by_provider) == slugs  # the same order: sorted slugs
    for tally in got.by_provider.values():  # most common first, as counts() orders them
        assert list(tally.items()) == sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    mine = cause_summary(store, slugs[0])
    assert list(mine.by_provider) == [slugs[0]]
    assert mine.by_provider[slugs[0]] == expected[2][slugs[0]]


def test_audit_over_batches_reports_what_the_whole_list_did(store: Store) -> None:
    held = dataset.load(store, with_causes=False)
    whole = run_audit(store, held, payload_spans(store), now=NOW).to_dict()
    streamed = dataset.load(store, with_causes=False, keep_incidents=False)
    batched = run_audit(store, streamed, payload_spans(store), now=NOW,
                        batches=stream.incident_batches(store, batch=2)).to_dict()
    assert batched == whole
    assert whole["checked"]["negative-duration"] == len(held.incidents) > 10


def test_clusters_over_streamed_incidents_are_the_same(store: Store) -> None:
    from kb.analysis.clusters import cluster_report

    held = dataset.load(store)
    streamed = dataset.load(store, keep_incidents=False)

    def report(incidents):  # type: ignore[no-untyped-def]
        found = cluster_report(incidents, held.by_key, held.causes, vendors=held.vendors,
                               aliases=held.aliases)
        return found.clusters, found.coincidences, found.members

    whole = report(held.incidents)
    assert whole[2]  # real incidents became members
    assert report(stream.iter_incidents(store, batch=3)) == whole
    assert streamed.by_key == held.by_key and streamed.causes == held.causes


def test_link_reads_only_named_providers_and_links_the_same(store: Store) -> None:
    config = load_signal_config(PACKAGED_SOURCES, load_sources(PACKAGED_SOURCES))
    signals = build_signals(load_items(store), config)
    everything = list(store.incidents())
    named = named_providers(signals, config)
    held = {i.provider for i in everything}
    assert signals and named & held and named & held < held  # fewer providers read
    expected = link_all(signals, everything, config)
    assert expected[0]  # the fixtures' threads do link
    assert link_all(signals, [i for i in everything if i.provider in named], config) == expected
    relink(store, config, force=True)
    assert sorted((k.signal_id, k.incident_key) for k in links(store)) == sorted(
        (k.signal_id, k.incident_key) for k in expected[0])


@pytest.mark.parametrize("items", [
    [],
    [{"key": "a/1", "title": "plain"}],
    [{"key": "a/1", "title": "line\nbreak \u202e bidi \x1b[31m esc", "n": None},
     {"key": "b/2", "title": "ünïcode \u2028 sep", "list": [1, {"x": []}], "d": {}},
     {"key": "c/3", "title": "\"quotes\" and \\ backslash", "updates": 0}],
])
def test_json_list_prints_the_bytes_print_json_prints(items: list[dict[str, object]],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    print_json(items)
    whole = capsys.readouterr().out
    assert print_json_list(iter(items)) == len(items)
    streamed = capsys.readouterr().out
    assert streamed == whole
    assert json.loads(streamed) == items
