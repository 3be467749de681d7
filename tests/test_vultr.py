"""Vultr's own alert format (status.vultr.com/alerts.json), on recorded snapshots
(tests/fixtures/vultr/ORIGIN.md) and on the whole recorded archive in ../shared/corpus."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from scrapers import registry, vultr
from scrapers.files import read_recorded
from scrapers.records import RawDoc
from tests.conftest import invoke_kb as kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "vultr"
BEFORE, AFTER = FIX / "20250624T192429Z_alerts.json", FIX / "20250625T095028Z_alerts.json"
EMERGENCY = "7237e293-bf6b-4da1-890f-e75cc27ae269"
OUTAGE = "a8f8e53a"  # prefix
MAINTENANCE = "b0e7f7a1"  # prefix


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parsed(path: Path):  # type: ignore[no-untyped-def]
    doc = read_recorded(path)
    assert registry.detect(doc.body, doc.url) is vultr
    return vultr.parse(doc)


def by_prefix(doc, prefix: str):  # type: ignore[no-untyped-def]
    return next(r for r in doc.incidents if r.native_id.startswith(prefix))


def test_parses_a_recorded_snapshot() -> None:
    doc = parsed(AFTER)
    assert doc.format == "vultr" and doc.warnings == ()
    assert doc.page is not None and doc.page.url == "https://status.vultr.com"
    assert doc.as_of is None  # no time of its own; the fetch time orders snapshots
    assert len(doc.incidents) == 3
    emergency = by_prefix(doc, EMERGENCY)
    assert emergency.channel == "vultr_json"
    assert emergency.title == "Atlanta Emergency Maintenance - 2025-06-25"
    assert emergency.kind == "incident"  # unplanned: only "Scheduled Maintenance" is planned
    assert emergency.status == "resolved"
    assert emergency.created_at == utc("2025-06-24T19:20:00")
    assert emergency.updated_at == utc("2025-06-25T09:07:00")
    assert emergency.resolved_at is None  # when it turned resolved is not published
    assert [c.name for c in emergency.components] == ["atl"]
    # entries are listed newest first: the timeline is oldest first, CRLF made newlines
    assert [u.at for u in emergency.updates] == [utc("2025-06-24T19:20:00"),
                                                 utc("2025-06-25T09:07:00")]
    assert {u.label for u in emergency.updates} == {"note"}  # no status of their own
    assert "\r" not in emergency.updates[0].body
    assert emergency.updates[0].body.startswith("Event Type: Network Emergency\n\nWe are")
    outage = by_prefix(doc, OUTAGE)
    assert outage.updated_at is None  # "" is no time
    maintenance = by_prefix(doc, MAINTENANCE)
    assert maintenance.kind == "maintenance"
    assert (maintenance.scheduled_for, maintenance.scheduled_until) == (
        utc("2025-06-24T18:35:00"), utc("2025-06-24T22:35:00"))
    assert [r.status for r in parsed(BEFORE).incidents] == ["ongoing"] * 3


def test_sniff_claims_only_vultr_alerts() -> None:
    assert vultr.sniff(BEFORE.read_bytes())
    assert not vultr.sniff(b'{"page": {}, "incidents": []}')
    assert not vultr.sniff(b"<rss></rss>")
    statuspage = ROOT / "tests" / "fixtures" / "statuspage_summary" / "cloudflare"
    assert all(not vultr.sniff(p.read_bytes()) for p in statuspage.glob("*.json"))
    assert registry.PLATFORMS["vultr"].urls("https://status.vultr.com") == [
        "https://status.vultr.com/alerts.json"]


def test_bad_alerts_are_skipped_with_a_reason() -> None:
    body = json.dumps({"service_alerts": [
        "junk", {"subject": "no id"}, {"id": "a/b", "subject": "bad id"},
        {"id": "x1", "subject": "ok", "start_date": "2025-01-01T00:00:00+00:00",
         "status": "ongoing", "entries": [{"updated_at": "soon", "message": "m"}]},
        {"id": "x2", "subject": "", "start_date": "", "status": "ongoing", "entries": []},
    ]}).encode()
    doc = vultr.parse(RawDoc(body=body, url="https://status.vultr.com/alerts.json",
                             fetched_at=utc("2025-01-02T00:00:00")))
    assert [r.native_id for r in doc.incidents] == ["x2"]
    assert doc.incidents[0].title == "(untitled)"
    assert doc.warnings == (
        "https://status.vultr.com/alerts.json: alert #0: not an object",
        "https://status.vultr.com/alerts.json: alert #1: missing or invalid id",
        "https://status.vultr.com/alerts.json: alert a/b: missing or invalid id",
        "https://status.vultr.com/alerts.json: alert x1: all 1 entries unreadable",
    )
    for bad in (b'{"service_alerts": {}}', b"[]", b"{"):
        with pytest.raises(Exception, match=r"alerts\.json"):
            vultr.parse(RawDoc(body=bad, url="https://status.vultr.com/alerts.json",
                               fetched_at=utc("2025-01-02T00:00:00")))




def export(home: Path) -> dict[str, dict]:
    result = kb(home, "export", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return {json.loads(line)["native_id"]: json.loads(line) for line in result.stdout.splitlines()}


def test_a_file_name_stamp_is_the_fetch_time() -> None:
    assert read_recorded(AFTER).fetched_at == utc("2025-06-25T09:50:28")


def test_ingest_through_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = kb(home, "ingest", str(BEFORE), str(AFTER))
    assert result.returncode == 0, result.stderr
    rows = export(home)
    assert len(rows) == 3 and all(r["provider"] == "vultr" for r in rows.values())
    emergency = rows[EMERGENCY]
    assert emergency["status"] == "resolved"  # the newer snapshot wins
    assert len(emergency["updates"]) == 2
    # phases come from the normalizer's inference, flagged as such, never a stated label
    assert all(u["phase_inferred"] for u in emergency["updates"])
    assert emergency["lifecycle"]["resolved_at"] is None or emergency["updates"][-1][
        "phase"] == "resolved"
    shown = kb(home, "show", f"vultr/{EMERGENCY}")
    assert shown.returncode == 0 and "(inferred)" in shown.stdout


def expected_alerts(folder: Path) -> dict[str, dict]:
    """Each alert's latest state, read straight from the files (oldest file first)."""
    latest: dict[str, dict] = {}
    for path in sorted(folder.glob("*_alerts.json")):
        for alert in json.loads(path.read_bytes())["service_alerts"]:
            latest[alert["id"]] = alert
    return latest


@pytest.mark.slow
def test_corpus_vultr_alerts(corpus: Path, tmp_path: Path) -> None:
    folder = corpus / "vultr_alerts" / "vultr"
    home = tmp_path / "home"
    result = kb(home, "ingest", str(folder))
    assert result.returncode == 0, result.stderr
    rows = export(home)
    latest = expected_alerts(folder)
    assert len(latest) >= 111  # the 111 selected alerts, and others the files also hold
    assert set(rows) == set(latest)
    for ident, alert in latest.items():
        row = rows[ident]
        assert row["provider"] == "vultr"
        assert row["title"] == " ".join(alert["subject"].split()), ident
        assert row["status"] == alert["status"], ident
        assert len(row["updates"]) == len(alert["entries"]), ident
        maintenance = "scheduled maintenance" in alert["subject"].lower()
        assert row["kind"] == ("maintenance" if maintenance else "incident"), ident
    statuses = [r["status"] for r in rows.values()]
    assert statuses.count("resolved") + statuses.count("ongoing") == len(rows)
    # no update is said to have a stated phase: Vultr's entries carry none
    assert all(u["phase_inferred"] for r in rows.values() for u in r["updates"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30)
    | st.sampled_from(["2025-06-24T19:20:00+00:00", "", "0001-01-01T00:00:00Z",
                       "Start Time: 2025-13-45 99:99:00 UTC", "Scheduled Maintenance"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=12,
)
alerts = st.fixed_dictionaries({}, optional={
    key: json_values for key in ("id", "region", "subject", "start_date", "updated_at",
                                 "status", "entries")})


@settings(max_examples=200, deadline=None)
@given(st.lists(alerts | json_values, max_size=4))
def test_any_alert_list_parses_or_warns(items: list) -> None:  # type: ignore[type-arg]
    body = json.dumps({"service_alerts": items}).encode()
    doc = vultr.parse(RawDoc(body=body, url="https://status.vultr.com/alerts.json",
                             fetched_at=utc("2025-01-02T00:00:00")))
    assert len(doc.incidents) + len(doc.warnings) == len(items)
    assert all("\n" not in w for w in doc.warnings)
    for record in doc.incidents:
        assert all(u.at.utcoffset() == timedelta(0) for u in record.updates)


def test_scrape_a_vultr_page_on_127_0_0_1(httpserver: HTTPServer, tmp_path: Path) -> None:
    """`kb scrape` of a source with platform "vultr" fetches /alerts.json and stores it."""
    from kb.config import SourceConfig
    from kb.pipeline import Line, scrape
    from kb.store import Store
    from scrapers.archive import Archive
    from scrapers.fetch import Fetcher, FetchSettings

    httpserver.expect_request("/vultr/alerts.json").respond_with_data(
        AFTER.read_bytes(), content_type="application/json")
    source = SourceConfig("vultr", "Vultr", httpserver.url_for("/vultr").rstrip("/"),
                          platform="vultr")
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    with Fetcher(FetchSettings(politeness_delay=0.0, retries=0)) as client:
        report = scrape(Line(store, Archive(tmp_path / "raw"), [source]), client, [source])
    entry = report.source("vultr")
    assert entry.failed == [] and entry.new == 3
    keys = {i.key for i in store.incidents()}
    assert f"vultr/{EMERGENCY}" in keys
    store.close()


# -- the end between two fetches (kb.normalize.snapshots.bound_status_end) --------------------


def _ingest_batches(folder: Path, batches: list[list[Path]]) -> dict[str, dict]:
    from kb.config import PACKAGED_SOURCES, load_sources
    from kb.pipeline import Line, ingest
    from kb.serialize import incident_to_dict
    from scrapers.archive import Archive
    from tests.conftest import sqlite_store

    store = sqlite_store(folder)
    for batch in batches:
        report = ingest(Line(store, Archive(folder / "raw"), load_sources(PACKAGED_SOURCES)),
                        batch)
        assert not report.failures, report.failures
    found = {i.key: incident_to_dict(i) for i in store.incidents()}
    store.close()
    return found


def test_an_alert_that_turns_resolved_ends_between_the_two_fetches(tmp_path: Path) -> None:
    """The network outage is "ongoing" in BEFORE and "resolved" in AFTER, with no resolved
    time: its end lies between the two fetches, in any order of ingest, once or twice. A
    third, later fetch that still says resolved (AFTER's bytes plus a newline) changes
    nothing: the "ongoing" fetch the merge no longer holds is carried by the stored bound."""
    later = tmp_path / "20250626T120000Z_alerts.json"
    later.write_bytes(AFTER.read_bytes() + b"\n")
    orders = {
        "forward": [[BEFORE], [AFTER], [later]],
        "backward": [[later], [AFTER], [BEFORE]],
        "middle first": [[AFTER], [later], [BEFORE]],
        "one batch": [[later, BEFORE, AFTER]],
        "twice": [[BEFORE], [later], [AFTER], [BEFORE, AFTER, later]],
    }
    results = {name: _ingest_batches(tmp_path / name.replace(" ", "-"), batches)
               for name, batches in orders.items()}
    first = results["forward"]
    for name, found in results.items():
        assert found == first, name
    outage = next(v for k, v in first.items() if k.startswith(f"vultr/{OUTAGE}"))
    assert outage["status"] == "resolved" and outage["lifecycle"]["resolved_at"] is None
    assert outage["lifecycle"]["end_not_before"] == "2025-06-24T19:24:29Z"  # BEFORE's fetch
    assert outage["lifecycle"]["end_not_after"] == "2025-06-25T09:50:28Z"  # AFTER's, not later
    # still ongoing in the newest fetch: no bound (open, as far as the fetches show)
    only_before = _ingest_batches(tmp_path / "before", [[BEFORE]])
    assert only_before and not any(v["lifecycle"].get("end_not_before")
                                   for v in only_before.values() if v["status"] == "ongoing")
    # first fetched already resolved: it ended between its last update and that first fetch
    only_after = _ingest_batches(tmp_path / "after", [[AFTER, later]])
    seen = next(v for k, v in only_after.items() if k.startswith(f"vultr/{OUTAGE}"))
    assert seen["lifecycle"]["end_not_before"] == seen["updates"][-1]["at"]
    assert seen["lifecycle"]["end_not_after"] == "2025-06-25T09:50:28Z"


def test_a_bounded_vultr_end_is_counted_as_bounded_not_open(tmp_path: Path) -> None:
    from kb.analysis.metrics import incident_figures
    from kb.normalize.snapshots import describe_end
    from kb.serialize import incident_from_dict

    found = _ingest_batches(tmp_path / "kb", [[BEFORE, AFTER]])
    outage = incident_from_dict(next(v for k, v in found.items()
                                     if k.startswith(f"vultr/{OUTAGE}")))
    figures = incident_figures(outage, seen=utc("2025-07-01T00:00:00"))
    assert figures.open is False
    # the time between the two fetches is unknown, not down and not "until the newest payload"
    assert figures.unknown_end == utc("2025-06-25T09:50:28")
    assert figures.unknown_start == utc("2025-06-24T19:24:29")  # known down until then
    text = describe_end(outage, lambda t: t.strftime("%Y-%m-%d %H:%M"))
    assert text == ("ended between 2025-06-24 19:24 and 2025-06-25 09:50 (last known ongoing, "
                    "and the first fetch of the alert list that showed it resolved)")
