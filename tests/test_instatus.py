"""Instatus public JSON (/summary.json, /v3/summary.json, /v3/components.json): exact records,
upper-case vocabulary, JavaScript date strings, hostile input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.model import Phase, Severity
from kb.normalize.vocabulary import phase_for_label, severity_for
from kb.pipeline import Line, ingest
from kb.store import Store
from scrapers import instatus, registry
from scrapers.archive import Archive
from scrapers.errors import ParseError
from scrapers.records import ComponentRecord, RawDoc
from tests.conftest import recorded

FIX = Path(__file__).parent / "fixtures" / "instatus"
NOW = datetime(2022, 6, 11, 19, tzinfo=UTC)


doc = recorded("https://instat.us/summary.json", NOW)


def fixture(name: str, url: str = "https://instat.us/summary.json") -> RawDoc:
    return doc((FIX / name).read_bytes(), url)


def test_summary_with_issues_exact_records() -> None:
    parsed = instatus.parse(fixture("summary_hasissues.json"))
    assert parsed.format == "instatus" and parsed.warnings == ()
    assert parsed.page is not None
    assert (parsed.page.name, parsed.page.url) == ("Instatus", "https://instat.us")
    incident, maintenance = parsed.incidents
    # the documented sample carries no id; the item's link does
    assert incident.native_id == "cl4a8n3070721qtmzvts760c4"
    assert incident.title == "We're facing an issue with our API"
    assert incident.channel == "instatus_json" and incident.kind == "incident"
    assert (incident.status, incident.impact) == ("INVESTIGATING", "MAJOROUTAGE")  # raw
    assert incident.started_at == datetime(2022, 6, 11, 18, 55, 50, tzinfo=UTC)
    assert incident.url == "https://testing-widget.instatus.com/incident/cl4a8n3070721qtmzvts760c4"
    assert incident.updates == () and not incident.updates_complete
    assert maintenance.native_id == "cl4a8nlv50918qtmzdlw60ivu"
    assert (maintenance.kind, maintenance.status) == ("maintenance", "NOTSTARTEDYET")
    assert maintenance.scheduled_for == datetime(2022, 6, 11, 18, 55, 54, tzinfo=UTC)
    assert maintenance.scheduled_until == maintenance.scheduled_for + timedelta(minutes=60)


def test_healthy_summary_and_v3_components() -> None:
    up = instatus.parse(fixture("summary_up.json", "https://status.wistia.com/v3/summary.json"))
    assert up.incidents == () and up.page is not None and up.page.name == "Wistia"
    components = instatus.parse(
        fixture("components_v3.json", "https://status.wistia.com/v3/components.json"))
    assert components.components == (
        ComponentRecord("Group Record", "cm86c68hh003drlefrrklqlw1", "OPERATIONAL"),)
    assert components.incidents == ()


def test_components_embedding_incidents_with_updates() -> None:
    parsed = instatus.parse(fixture("components_with_incidents.json", "file:///components.json"))
    assert [c.name for c in parsed.components] == ["App", "Website"]
    rocket, test_incident = parsed.incidents
    assert rocket.native_id == "ckf01m59ueaqb0a32wrljz1yd" and rocket.status == "RESOLVED"
    assert [(u.at, u.label, u.body, u.body_format) for u in rocket.updates] == [
        (datetime(2020, 9, 12, 19, 5, 17, 398000, tzinfo=UTC), "INVESTIGATING",
         "<p>We are currently investigating this incident.</p>", "html"),
        (datetime(2020, 9, 12, 19, 9, 4, 498000, tzinfo=UTC), "RESOLVED",
         "<p>We just resolved the issue!</p>", "html"),
    ]
    assert rocket.components == (ComponentRecord("Website", "ckf01fvnxywz50a35nh1qzssm",
                                                 "OPERATIONAL"),)
    assert rocket.updates_complete and test_incident.status == "INVESTIGATING"


@pytest.mark.parametrize("text, expected", [
    ("Sat Jun 11 2022 18:55:50 GMT+0000 (Coordinated Universal Time)",
     datetime(2022, 6, 11, 18, 55, 50, tzinfo=UTC)),
    ("Tue Mar 05 2024 09:15:00 GMT-0800 (Pacific Standard Time)",
     datetime(2024, 3, 5, 17, 15, tzinfo=UTC)),
    ("Wed Jul 10 2024 02:00:00 GMT+0530", datetime(2024, 7, 9, 20, 30, tzinfo=UTC)),
    ("2020-09-12T19:05:17.398Z", datetime(2020, 9, 12, 19, 5, 17, 398000, tzinfo=UTC)),
    ("Sat Jun 31 2022 18:55:50 GMT+0000", None),
    ("yesterday", None),
])
def test_javascript_and_iso_dates(text: str, expected: datetime | None) -> None:
    assert instatus.js_time(text) == expected


def test_vocabulary_maps_upper_case_words() -> None:
    assert phase_for_label("INVESTIGATING") is Phase.INVESTIGATING
    assert phase_for_label("NOTSTARTEDYET") is Phase.SCHEDULED
    assert phase_for_label("INPROGRESS") is Phase.IN_PROGRESS
    assert phase_for_label("COMPLETED") is Phase.COMPLETED
    assert severity_for("MAJOROUTAGE", []) is Severity.CRITICAL
    assert severity_for("PARTIALOUTAGE", []) is Severity.MAJOR
    assert severity_for("DEGRADEDPERFORMANCE", []) is Severity.MINOR
    assert severity_for(None, ["MINOROUTAGE"]) is Severity.MINOR


def test_normalized_open_incident(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), [])
    assert ingest(line, [FIX / "summary_hasissues.json"], provider="instatus").failures == []
    incident = store.get("instatus/cl4a8n3070721qtmzvts760c4")
    assert incident.severity is Severity.CRITICAL and incident.status == "INVESTIGATING"
    assert incident.lifecycle.first_post_at == datetime(2022, 6, 11, 18, 55, 50, tzinfo=UTC)
    assert not incident.updates_complete


def test_detected_and_not_confused_with_statuspage() -> None:
    for name in ("summary_hasissues.json", "summary_up.json", "components_v3.json",
                 "components_with_incidents.json"):
        assert registry.detect((FIX / name).read_bytes(), name) is instatus
    statuspage_components = json.dumps({
        "page": {"id": "p", "name": "GitHub", "url": "https://www.githubstatus.com"},
        "components": [{"id": "c", "name": "Git Operations", "status": "operational"}],
    }).encode()
    assert not instatus.sniff(statuspage_components)


def test_one_bad_item_costs_one_warning() -> None:
    data = json.loads((FIX / "summary_hasissues.json").read_text())
    data["activeIncidents"].append({"name": "no id, no link"})
    parsed = instatus.parse(doc(json.dumps(data).encode()))
    assert len(parsed.incidents) == 2
    (warning,) = parsed.warnings
    assert warning.startswith("https://instat.us/summary.json: activeIncidents[1]")


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b'{"page": 3}', "not an Instatus payload"),
    (b"42", "not an Instatus payload"),
    (b"<!doctype html><p>Cloudflare</p>", "expected JSON, got HTML/XML"),
])
def test_bad_payloads_raise_one_line(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        instatus.parse(doc(body))
    assert reason in str(caught.value) and "\n" not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        instatus.parse(doc(body))


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "name", "status", "impact", "url", "started",
                                       "start", "duration", "updatedAt", "updates", "message",
                                       "messageHtml", "incidents", "components", "resolved"]),
                      children, max_size=5),
    max_leaves=30,
))
def test_mutated_shapes_never_crash(value: object) -> None:
    for wrapper in ({"page": {"name": "x"}, "activeIncidents": [value],
                     "activeMaintenances": [value]}, [value], {"components": [value]}):
        with contextlib.suppress(ParseError):
            instatus.parse(doc(json.dumps(wrapper).encode()))
