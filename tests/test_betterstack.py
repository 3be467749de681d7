"""Better Stack `/index.json` (JSON:API): exact records, aggregate_state kept as the status,
update labels from the states they set, hostile input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.model import Kind, Phase, Severity
from kb.pipeline import Line, ingest
from kb.store import Store
from scrapers import betterstack, registry
from scrapers.archive import Archive
from scrapers.errors import ParseError
from scrapers.records import ComponentChange, ComponentRecord
from tests.conftest import recorded

FIX = Path(__file__).parent / "fixtures" / "betterstack"
URL = "https://status.betterstack.com/index.json"
NOW = datetime(2026, 9, 5, tzinfo=UTC)


doc = recorded(URL, NOW)


def sample() -> dict:
    return json.loads((FIX / "index.json").read_text())


def test_index_exact_record() -> None:
    parsed = betterstack.parse(doc((FIX / "index.json").read_bytes()))
    assert parsed.format == "betterstack" and parsed.warnings == ()
    assert parsed.page is not None
    assert (parsed.page.name, parsed.page.url, parsed.page.page_id, parsed.page.time_zone) == (
        "Better Stack", "https://status.betterstack.com", "133002", "UTC")
    assert parsed.components == (ComponentRecord("Better Stack", "4018902", "operational"),)
    (report,) = parsed.incidents
    assert report.native_id == "1050825"
    assert report.title == "Delayed data processing in the Europe region"
    assert (report.channel, report.kind) == ("betterstack_json", "incident")
    # aggregate_state, not ends_at (null on this resolved report), says it is over
    assert report.status == "resolved" and report.resolved_at is None
    assert report.started_at == datetime(2026, 9, 4, 13, 50, tzinfo=UTC)
    # the affected resource is not in the (trimmed) sample: its id stands in for its name
    assert report.components == (ComponentRecord("4188758", "4188758", "resolved"),)
    (update,) = report.updates
    assert (update.at, update.label, update.native_id) == (
        datetime(2026, 9, 4, 19, 53, tzinfo=UTC), "degraded", "5709883")
    assert update.body.startswith("Processing of new data in the Europe region")
    assert update.components == (ComponentChange("4188758", "4188758", None, "degraded"),)
    assert report.updates_complete


def test_update_labels_from_the_states_they_set() -> None:
    data = sample()
    data["included"].append({"type": "status_update", "id": "5709999", "attributes": {
        "message": "The issue is resolved.", "published_at": "2026-09-04T21:00:00.000Z",
        "status_report_id": "1050825",
        "affected_resources": [{"status_page_resource_id": "4188758", "status": "resolved"}]}})
    data["included"].append({"type": "status_update", "id": "5709998", "attributes": {
        "message": "Note.", "published_at": "2026-09-04T20:00:00.000Z",
        "status_report_id": "1050825", "affected_resources": []}})
    (report,) = betterstack.parse(doc(json.dumps(data).encode())).incidents
    assert [(u.native_id, u.label) for u in report.updates] == [
        ("5709883", "degraded"), ("5709998", "update"), ("5709999", "resolved")]


def test_normalized_report(tmp_path: Path) -> None:
    data = sample()
    data["included"].append({"type": "status_update", "id": "5709999", "attributes": {
        "message": "Data processing in the Europe region has fully recovered.",
        "published_at": "2026-09-04T21:00:00.000Z", "status_report_id": "1050825",
        "affected_resources": [{"status_page_resource_id": "4188758", "status": "resolved"}]}})
    path = tmp_path / "index.json"
    path.write_text(json.dumps(data))
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), [])
    assert ingest(line, [path], provider="betterstack").failures == []
    incident = store.get("betterstack/1050825")
    assert incident.kind is Kind.INCIDENT and incident.status == "resolved"
    assert incident.severity is Severity.MINOR  # a resource was set "degraded"
    assert incident.updates[-1].phase is Phase.RESOLVED
    assert incident.lifecycle.resolved_at == datetime(2026, 9, 4, 21, tzinfo=UTC)


def test_maintenance_report_is_a_maintenance() -> None:
    data = sample()
    attrs = data["included"][2]["attributes"]
    attrs.update(report_type="maintenance", aggregate_state="maintenance",
                 ends_at="2026-09-04T15:50:00.000Z")
    (report,) = betterstack.parse(doc(json.dumps(data).encode())).incidents
    assert report.kind == "maintenance" and report.impact == "maintenance"
    assert report.scheduled_for == datetime(2026, 9, 4, 13, 50, tzinfo=UTC)
    assert report.scheduled_until == datetime(2026, 9, 4, 15, 50, tzinfo=UTC)


def test_missing_update_marks_the_list_incomplete() -> None:
    data = sample()
    del data["included"][3]  # the report still links update 5709883
    (report,) = betterstack.parse(doc(json.dumps(data).encode())).incidents
    assert report.updates == () and not report.updates_complete


def test_detected() -> None:
    assert registry.detect((FIX / "index.json").read_bytes(), "index.json") is betterstack


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b'{"data": {"type": "monitor"}}', "not a Better Stack status page"),
    (b'{"data": []}', "not a Better Stack status page"),
    (b"<html><script>x()</script>", "expected JSON, got HTML/XML"),
])
def test_bad_payloads_raise_one_line(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        betterstack.parse(doc(body))
    assert reason in str(caught.value) and "\n" not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        betterstack.parse(doc(body))


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "type", "attributes", "relationships", "data",
                                       "title", "message", "published_at", "starts_at",
                                       "status_updates", "affected_resources",
                                       "status_page_resource_id", "status", "report_type"]),
                      children, max_size=5),
    max_leaves=30,
))
def test_mutated_shapes_never_crash(value: object) -> None:
    body = json.dumps({"data": {"id": "1", "type": "status_page", "attributes": {}},
                       "included": [value, {"type": "status_report", "id": "7",
                                            "attributes": value, "relationships": value}]})
    with contextlib.suppress(ParseError):
        betterstack.parse(doc(body.encode()))


def test_report_ids_follow_the_shared_id_rule() -> None:
    """scrapers.jsondoc.native_id: a blank, slashed or overlong report id is skipped with the
    same wording as every other JSON parser; the readable report stays."""
    data = sample()
    report = next(i for i in data["included"] if i["type"] == "status_report")
    for bad in (" ", "a/b", "9" * 65):
        data["included"].append(dict(report, id=bad))
    parsed = betterstack.parse(doc(json.dumps(data).encode()))
    assert [r.native_id for r in parsed.incidents] == [report["id"]]
    assert sorted(parsed.warnings) == sorted(
        f"{URL}: status report {bad}: missing or invalid id" for bad in (" ", "a/b", "9" * 65))
