"""incident.io's own JSON API (/proxy/<host>, /proxy/<host>/incidents): exact records, the
vocabulary mapping, the component-impact window, and hostile input."""

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
from scrapers import incidentio, registry
from scrapers.archive import Archive
from scrapers.errors import ParseError
from scrapers.records import ComponentChange, ComponentImpact, ComponentRecord, RawDoc
from tests.conftest import recorded

FIX = Path(__file__).parent / "fixtures" / "incidentio"
NOW = datetime(2026, 9, 15, tzinfo=UTC)
HISTORY_URL = "https://status.openai.com/proxy/status.openai.com/incidents"
CONVERSATIONS = ("01JMDK9XYNM9S346Q3D25VT4F5", "01JMDK9XYNV37E3S3E28JT97KB")
CODEX_DESKTOP = "01JMDK9XYN6CQ643DZVMXXQKFB"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


doc = recorded(HISTORY_URL, NOW)


def fixture(name: str, url: str = HISTORY_URL) -> RawDoc:
    return doc((FIX / name).read_bytes(), url)


def test_history_payload_exact_records() -> None:
    parsed = incidentio.parse(fixture("openai_incidents.json"))
    assert parsed.format == "incidentio" and parsed.warnings == ()
    assert parsed.page is not None and parsed.page.url == "https://status.openai.com"
    europe, codex = parsed.incidents
    assert europe.native_id == "01M2DV6788RRSDZ5K98S5HN0A8"
    assert europe.title == "Elevated errors for ChatGPT users in Europe"
    assert europe.channel == "incidentio_api" and europe.kind == "incident"
    assert europe.url == "https://status.openai.com/incidents/01M2DV6788RRSDZ5K98S5HN0A8"
    assert europe.status == "resolved" and europe.created_at == t("2026-09-13T16:56:41Z")
    assert [(u.at, u.label, u.native_id) for u in europe.updates] == [
        (t("2026-09-13T17:47:55Z"), "resolved", "01M2DY409BKXDGNXFC57MZKMR8"),
        (t("2026-09-13T17:00:20Z"), "monitoring", "01M2DVCW5J1GV6Z1559KP0DC9S"),
        (t("2026-09-13T16:56:41Z"), "investigating", "01M2DV6788NYDM7308YY5HRFMV"),
    ]
    assert europe.updates[2].body == (
        "We have identified that users are experiencing elevated errors for the impacted "
        "services.\n\nWe are working on implementing a mitigation."
    )
    # the history payload names components by id only
    assert europe.updates[0].components == tuple(
        ComponentChange(code, code, None, "operational") for code in CONVERSATIONS
    )
    assert europe.components == tuple(
        ComponentRecord(code, code, "degraded_performance") for code in CONVERSATIONS
    )
    assert europe.impacts == tuple(
        ComponentImpact(code, t("2026-09-13T16:56:41Z"), t("2026-09-13T17:47:55Z"), code,
                        "degraded_performance")
        for code in CONVERSATIONS
    )
    assert europe.updates_complete
    assert [u.label for u in codex.updates] == [
        "resolved", "monitoring", "resolved", "identified", "identified", "investigating"]
    assert codex.impacts == (ComponentImpact(
        CODEX_DESKTOP, t("2026-09-13T09:26:00Z"), t("2026-09-13T09:53:42Z"), CODEX_DESKTOP,
        "degraded_performance"),)


def test_summary_names_components_and_reads_rich_text() -> None:
    parsed = incidentio.parse(fixture(
        "openai_summary.json", "https://status.openai.com/proxy/status.openai.com"))
    assert parsed.page is not None
    assert (parsed.page.name, parsed.page.url) == ("OpenAI", "https://status.openai.com")
    assert [(c.name, c.status) for c in parsed.components] == [
        ("Conversations", "degraded_performance"), ("Conversations", "degraded_performance"),
        ("Codex in ChatGPT Desktop", "operational"), ("Login", "operational"),
        ("Responses", "operational"), ("Codex Web", "operational"),
    ]
    (ongoing,) = parsed.incidents
    assert ongoing.status == "monitoring"
    assert [u.label for u in ongoing.updates] == ["monitoring", "investigating"]
    # the rich-text form of a message gives the same text as message_string
    assert ongoing.updates[1].body == (
        "We have identified that users are experiencing elevated errors for the impacted "
        "services.\n\nWe are working on implementing a mitigation."
    )
    assert [(i.name, i.code, i.end) for i in ongoing.impacts] == [
        ("Conversations", CONVERSATIONS[0], None), ("Conversations", CONVERSATIONS[1], None)]


def test_maintenance_uses_its_impacts_as_the_window() -> None:
    parsed = incidentio.parse(fixture(
        "pleo_incidents.json", "https://status.pleo.io/proxy/status.pleo.io/incidents"))
    incident, maintenance = parsed.incidents
    assert (incident.native_id, incident.kind, incident.status) == (
        "01KG77ZCW3ZCZBXCRP47BT0KFG", "incident", "resolved")
    assert incident.impacts[0].start == t("2026-01-30T10:42:56.002Z")
    assert incident.impacts[0].end == t("2026-01-30T12:38:56.689Z")
    assert maintenance.kind == "maintenance" and maintenance.status == "maintenance_complete"
    assert maintenance.updates[0].label == "maintenance_scheduled"
    assert maintenance.scheduled_for == t("2026-01-25T00:00:00Z")
    assert maintenance.scheduled_until == t("2026-01-25T02:00:00Z")
    assert maintenance.impacts == ()  # a maintenance window is no impact window


def _line(tmp_path: Path) -> Line:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    return Line(store, Archive(tmp_path / "raw"), [])


def test_normalized_window_comes_from_component_impacts(tmp_path: Path) -> None:
    line = _line(tmp_path)
    summary = FIX / "openai_summary.json"
    history = FIX / "openai_incidents.json"
    report = ingest(line, [summary, history], provider="openai")
    assert report.failures == []
    europe = line.store.get("openai/01M2DV6788RRSDZ5K98S5HN0A8")
    window = europe.impact_window
    assert window is not None
    assert (window.start, window.end) == (t("2026-09-13T16:56:41Z"), t("2026-09-13T17:47:55Z"))
    # the later history payload is the current record: ids, not names, and the closed window
    assert window.evidence == (
        f"component impacts: {CONVERSATIONS[0]} degraded performance 2026-09-13 16:56–17:47 "
        f"UTC; {CONVERSATIONS[1]} degraded performance 2026-09-13 16:56–17:47 UTC"
    )
    assert [u.phase for u in europe.updates] == [
        Phase.INVESTIGATING, Phase.MONITORING, Phase.RESOLVED]
    assert europe.severity is Severity.MINOR  # degraded_performance components


def test_summary_window_names_components_and_stays_open(tmp_path: Path) -> None:
    line = _line(tmp_path)
    ingest(line, [FIX / "openai_summary.json"], provider="openai")
    window = line.store.get("openai/01M2DV6788RRSDZ5K98S5HN0A8").impact_window
    assert window is not None and window.end is None
    assert window.evidence == ("component impacts: Conversations degraded performance since "
                               "2026-09-13 16:56 UTC; Conversations degraded performance since "
                               "2026-09-13 16:56 UTC")


def test_native_and_compatible_copies_merge(tmp_path: Path) -> None:
    line = _line(tmp_path)
    compat = Path(__file__).parent / "fixtures" / "statuspage" / "openai_slice.json"
    ingest(line, [compat, FIX / "openai_incidents.json"], provider="openai")
    codex = line.store.get("openai/01M2D1CZG0862JB4JHVW56QF89")
    assert len(codex.updates) == 6  # matched, not doubled
    assert all(set(u.channels) == {"incidentio_api", "statuspage_json"} for u in codex.updates)
    assert codex.impact_window is not None
    assert codex.impact_window.evidence.startswith("component impacts: ")


def test_fixing_maps_to_identified_and_stays_raw(tmp_path: Path) -> None:
    """incident.io's own word for "a fix is underway"; a small hand-made payload."""
    body = json.dumps({"incidents": [{
        "id": "01kg77zcw3zczbxcrp47bt0kfg", "name": "x", "status": "fixing",
        "published_at": "2026-01-30T10:00:00Z", "type": "incident",
        "updates": [
            {"id": "u2", "published_at": "2026-01-30T10:20:00Z", "to_status": "fixing",
             "message_string": "A fix is being rolled out."},
            {"id": "u1", "published_at": "2026-01-30T10:00:00Z", "to_status": "investigating",
             "message_string": "Looking into it."},
        ]}]}).encode()
    (record,) = incidentio.parse(doc(body)).incidents
    assert record.native_id == "01KG77ZCW3ZCZBXCRP47BT0KFG"  # ULIDs are upper-cased
    assert record.updates[0].label == "fixing"
    path = tmp_path / "fixing.json"
    path.write_bytes(body)
    line = _line(tmp_path)
    ingest(line, [path], provider="pleo")
    stored = line.store.get("pleo/01KG77ZCW3ZCZBXCRP47BT0KFG")
    assert [(u.label, u.phase) for u in stored.updates] == [
        ("investigating", Phase.INVESTIGATING), ("fixing", Phase.IDENTIFIED)]
    assert stored.lifecycle.identified_at == t("2026-01-30T10:20:00Z")
    assert stored.kind is Kind.INCIDENT


def test_detected_before_statuspage_and_not_confused_with_it() -> None:
    for name in ("openai_incidents.json", "openai_summary.json", "pleo_incidents.json"):
        assert registry.detect((FIX / name).read_bytes(), name) is incidentio
    compat = (Path(__file__).parent / "fixtures" / "statuspage" / "openai_slice.json").read_bytes()
    assert not incidentio.sniff(compat)


def test_one_bad_incident_costs_one_warning() -> None:
    data = json.loads((FIX / "openai_incidents.json").read_text())
    data["incidents"].insert(0, {"id": "a/b", "name": "bad"})
    data["incidents"].insert(0, "not an object")
    parsed = incidentio.parse(doc(json.dumps(data).encode()))
    assert len(parsed.incidents) == 2
    assert len(parsed.warnings) == 2
    assert all(w.startswith(HISTORY_URL) for w in parsed.warnings)


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b"<html><script>alert(1)</script></html>", "expected JSON, got HTML/XML"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"nothing": 1}', "none of the incident.io keys"),
])
def test_bad_payloads_raise_one_line(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        incidentio.parse(doc(body))
    assert reason in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(HISTORY_URL)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        incidentio.parse(doc(body))


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "name", "status", "type", "published_at", "updates",
                                       "to_status", "message_string", "message", "text_node",
                                       "component_impacts", "start_at", "end_at", "component_id",
                                       "affected_components", "component_statuses"]),
                      children, max_size=5),
    max_leaves=30,
))
def test_mutated_shapes_never_crash(value: object) -> None:
    for wrapper in ({"incidents": [value]}, {"summary": {"ongoing_incidents": [value]}}):
        with contextlib.suppress(ParseError):
            incidentio.parse(doc(json.dumps(wrapper).encode()))


def test_native_platform_paths_name_the_host() -> None:
    urls = registry.PLATFORMS["incidentio_native"].urls("https://status.elevenlabs.io")
    assert urls == ["https://status.elevenlabs.io/proxy/status.elevenlabs.io",
                    "https://status.elevenlabs.io/proxy/status.elevenlabs.io/incidents",
                    "https://status.elevenlabs.io/history.atom"]


def test_ids_and_updates_go_through_the_shared_jsondoc_rules() -> None:
    """scrapers.jsondoc.native_id and parse_each, as statuspage and slack use them: a blank id
    is one warning, a padded ULID is trimmed and upper-cased, and an incident whose updates
    are all unreadable is skipped with the shared wording."""
    data = json.loads((FIX / "openai_incidents.json").read_text())
    good = data["incidents"][0]
    padded = dict(good, id=f"  {good['id'].lower()}  ")
    blank = dict(good, id="   ")
    unreadable = dict(good, id="01HZZZZZZZZZZZZZZZZZZZZZZZ", updates=[{"to_status": "x"}, 7])
    data["incidents"] = [padded, blank, unreadable]
    parsed = incidentio.parse(doc(json.dumps(data).encode()))
    assert [r.native_id for r in parsed.incidents] == [good["id"].upper()]
    assert parsed.warnings == (
        f"{HISTORY_URL}: incident #1: missing or invalid id",
        f"{HISTORY_URL}: incident 01HZZZZZZZZZZZZZZZZZZZZZZZ: all 2 updates unreadable",
    )
