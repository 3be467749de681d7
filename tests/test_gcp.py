"""Google Cloud / Google Workspace incidents.json: exact records from a real slice, the
reconstructed Workspace sample, hostile payloads, and (marked `corpus`) the 157 recorded
incidents imported end to end into a temporary SQLite database."""

from __future__ import annotations

import contextlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.config import PACKAGED_SOURCES, load_sources
from kb.model import Phase
from kb.pipeline import Line, ingest
from kb.serialize import incident_to_dict
from kb.store import Store
from scrapers import gcp, registry
from scrapers.archive import Archive
from scrapers.errors import ParseError
from tests.conftest import invoke_kb, recorded

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "gcp"
CORPUS = ROOT.parent / "shared" / "corpus"
FETCHED = datetime(2022, 7, 3, tzinfo=UTC)
LIVE = "https://status.cloud.google.com/incidents.json"


doc = recorded(LIVE, FETCHED)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def slice_records():  # type: ignore[no-untyped-def]
    parsed = gcp.parse(doc((FIX / "incidents_slice.json").read_bytes()))
    return parsed, {r.native_id: r for r in parsed.incidents}


def test_slice_gives_exact_records() -> None:
    parsed, records = slice_records()
    assert parsed.format == "gcp_json" and parsed.warnings == ()
    assert (parsed.page.name, parsed.page.url) == ("Google Cloud", "https://status.cloud.google.com")
    assert parsed.as_of == t("2022-07-01T19:25:45+00:00")  # newest `modified`
    assert sorted(records) == ["E18Caoo5X1m6dTa1PVr1", "TaA75H7XA1DQyM2ReK2f",
                               "fc7GCA6kAgnBihezUAkx"]
    bq = records["TaA75H7XA1DQyM2ReK2f"]
    assert (bq.title, bq.channel, bq.kind) == (
        "[Google BigQuery] Lower throughput from the Read API", "gcp_json", "incident")
    assert bq.url == "https://status.cloud.google.com/incidents/TaA75H7XA1DQyM2ReK2f"
    assert bq.page_url == "https://status.cloud.google.com"
    assert (bq.status, bq.impact) == ("AVAILABLE", "SERVICE_INFORMATION")
    assert (bq.created_at, bq.started_at, bq.resolved_at, bq.updated_at) == (
        t("2022-07-01T14:05:02+00:00"), t("2022-07-01T13:37:44+00:00"),
        t("2022-07-01T19:25:45+00:00"), t("2022-07-01T19:25:45+00:00"))
    assert bq.updates_complete is True
    # one product, then the 29 locations, each once, in the order given
    assert bq.components[0].name == "Google BigQuery"
    assert bq.components[0].code == "9CcrhHUcFevXPSVaSxkf"
    assert len(bq.components) == 30
    assert (bq.components[1].name, bq.components[1].code) == (
        "Taiwan (asia-east1)", "location:asia-east1")
    assert bq.components[-1].code == "location:us-west4"
    assert [(u.at, u.label, u.body_format) for u in bq.updates] == [
        (t("2022-07-01T19:25:45+00:00"), "AVAILABLE", "markdown"),
        (t("2022-07-01T17:48:07+00:00"), "SERVICE_INFORMATION", "markdown"),
        (t("2022-07-01T16:46:20+00:00"), "SERVICE_INFORMATION", "markdown"),
        (t("2022-07-01T14:54:19+00:00"), "SERVICE_INFORMATION", "markdown"),
        (t("2022-07-01T14:04:53+00:00"), "SERVICE_INFORMATION", "markdown"),
    ]
    assert bq.updates[0].body == (
        "The issue with Google BigQuery has been resolved for all affected users as of Friday, "
        "2022-07-01 12:23 US/Pacific.\nWe thank you for your patience while we worked on "
        "resolving the issue.")
    assert bq.updates[1].body.startswith(
        "Summary: [Google BigQuery] Lower throughput from the Read API\n"
        "Description: Mitigation work is currently underway by our engineering team.\n")


def test_every_field_matches_the_source_json() -> None:
    raw = {i["id"]: i for i in json.loads((FIX / "incidents_slice.json").read_bytes())}
    _, records = slice_records()
    for native_id, record in records.items():
        source = raw[native_id]
        assert record.title == source["external_desc"]
        assert record.impact == source["status_impact"]
        assert record.status == source["most_recent_update"]["status"]
        assert [(u.at, u.label, u.body) for u in record.updates] == [
            (t(u["when"]), u["status"], u["text"]) for u in source["updates"]]
        products = [p["title"] for p in source["affected_products"]]
        assert [c.name for c in record.components[: len(products)]] == products


def test_workspace_reconstructed_sample() -> None:
    body = (FIX / "workspace_incidents_reconstructed.json").read_bytes()
    assert registry.detect(body, "w") is gcp
    # a recorded file carries no URL: the products say which dashboard it is
    parsed = gcp.parse(doc(body, "file:///tmp/incidents.json"))
    assert (parsed.page.name, parsed.page.url) == (
        "Google Workspace", "https://www.google.com/appsstatus/dashboard")
    (record,) = parsed.incidents
    assert record.url == ("https://www.google.com/appsstatus/dashboard/incidents/"
                          "1Eo5iv7UhxrYvbnH5b7e")
    assert [c.name for c in record.components] == ["Admin console"]
    assert (record.status, record.impact) == ("AVAILABLE", "SERVICE_DISRUPTION")
    # and fetched from the live URL it is named by the URL
    live = gcp.parse(doc(body, "https://www.google.com/appsstatus/dashboard/incidents.json"))
    assert live.page.url == "https://www.google.com/appsstatus/dashboard"


def test_file_import_of_cloud_data_names_google_cloud() -> None:
    parsed = gcp.parse(doc((FIX / "incidents_slice.json").read_bytes(), "file:///x/in.json"))
    assert parsed.page.url == "https://status.cloud.google.com"


def test_detected_before_statuspage_and_not_confused_with_it() -> None:
    body = (FIX / "incidents_slice.json").read_bytes()
    assert registry.detect(body, "x") is gcp
    statuspage_json = b'{"page": {"id": "x"}, "incidents": [{"id": "a", "incident_updates": []}]}'
    assert not gcp.sniff(statuspage_json)


def test_severity_that_disagrees_is_reported() -> None:
    data = json.loads((FIX / "incidents_slice.json").read_bytes())
    data[0]["severity"] = "high"
    parsed = gcp.parse(doc(json.dumps(data).encode()))
    assert len(parsed.incidents) == 3
    assert parsed.warnings == (
        f"{LIVE}: incident TaA75H7XA1DQyM2ReK2f: severity 'high' disagrees with status_impact "
        "'SERVICE_INFORMATION'",)


def test_bad_incidents_cost_one_incident_each() -> None:
    data = json.loads((FIX / "incidents_slice.json").read_bytes())
    data[1]["id"] = "a/b"
    data[2]["updates"] = [{"text": "no time"}]
    data[2].pop("most_recent_update")
    data.append("not an object")
    parsed = gcp.parse(doc(json.dumps(data).encode()))
    assert [r.native_id for r in parsed.incidents] == ["TaA75H7XA1DQyM2ReK2f"]
    assert len(parsed.warnings) == 3
    assert all(w.startswith(LIVE + ": ") and "\n" not in w for w in parsed.warnings)
    assert "missing or invalid id" in parsed.warnings[0]
    assert "all 1 updates unreadable" in parsed.warnings[1]


def test_a_partly_unreadable_update_list_is_marked_incomplete() -> None:
    data = json.loads((FIX / "incidents_slice.json").read_bytes())[:1]
    data[0]["updates"].append({"text": "no time at all", "status": "SERVICE_OUTAGE"})
    (record,) = gcp.parse(doc(json.dumps(data).encode())).incidents
    assert len(record.updates) == 5 and record.updates_complete is False


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b"{\"incidents\": 3}", "no Google dashboard incidents"),
    (b"[1, 2, 3]", "no Google dashboard incidents"),
    (b"\"text\"", "expected a JSON list of incidents"),
    (b"<html><body>Service Unavailable</body></html>", "expected JSON, got HTML"),
    (b"[{\"external_desc\": \"x\"", "malformed JSON"),
])
def test_hostile_payloads_are_one_line_parse_errors(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        gcp.parse(doc(body))
    assert reason in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(LIVE)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        gcp.parse(doc(body))


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "external_desc", "status_impact", "severity",
                                       "updates", "when", "text", "status", "begin", "end",
                                       "affected_products", "title", "most_recent_update",
                                       "previously_affected_locations", "uri"]),
                      children, max_size=6),
    max_leaves=40,
))
def test_arbitrary_dashboard_shaped_json_raises_only_parse_error(value: object) -> None:
    with contextlib.suppress(ParseError):
        gcp.parse(doc(json.dumps(value).encode()))


# ------------------------------------------------------------------------ recorded corpus


@pytest.fixture(scope="module")
def gcp_corpus() -> Path:
    path = CORPUS / "gcp_incidents_json" / "google-cloud" / "incidents.json"
    if not path.is_file():
        pytest.skip("../shared/corpus is absent")
    return path


@pytest.mark.corpus
def test_corpus_file_parses_completely(gcp_corpus: Path) -> None:
    source = json.loads(gcp_corpus.read_bytes())
    parsed = gcp.parse(doc(gcp_corpus.read_bytes(), gcp_corpus.as_uri()))
    assert parsed.warnings == ()
    assert len(parsed.incidents) == len(source) == 157
    assert sum(len(r.updates) for r in parsed.incidents) == 770
    assert all(r.updates_complete for r in parsed.incidents)


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus_imports_into_sqlite_with_inferred_phases(gcp_corpus: Path,
                                                          tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES))
    report = ingest(line, [gcp_corpus.parent])
    assert report.failures == []
    assert report.sources["google-cloud"].new == 157
    incidents = list(store.incidents())
    assert len(incidents) == 157 and {i.provider for i in incidents} == {"google-cloud"}
    updates = [u for i in incidents for u in i.updates]
    assert len(updates) == 770
    assert all(u.phase_inferred for u in updates)  # Google never states a phase
    phases = {u.phase for u in updates}
    assert {Phase.INVESTIGATING, Phase.IDENTIFIED, Phase.RESOLVED, Phase.POSTMORTEM} <= phases
    bq = incident_to_dict(store.get("google-cloud/TaA75H7XA1DQyM2ReK2f"))
    assert [(u["phase"], u["phase_inferred"]) for u in bq["updates"]] == [
        ("investigating", True), ("identified", True), ("identified", True),
        ("identified", True), ("resolved", True)]
    assert bq["severity"] == "minor" and bq["impact"] == "SERVICE_INFORMATION"
    assert bq["lifecycle"]["resolved_at"] == "2022-07-01T19:25:45Z"
    # a second import changes nothing
    again = ingest(Line(store, Archive(tmp_path / "raw"),
                        load_sources(PACKAGED_SOURCES)), [gcp_corpus.parent])
    assert again.total("new") == 0 and again.total("updated") == 0


def test_kb_show_json_marks_inferred_phases(tmp_path: Path) -> None:
    def kb(*args: str) -> subprocess.CompletedProcess[str]:
        return invoke_kb(tmp_path, *args)

    assert kb("ingest", str(FIX / "incidents_slice.json")).returncode == 0
    shown = kb("show", "google-cloud/TaA75H7XA1DQyM2ReK2f", "--json")
    assert shown.returncode == 0, shown.stderr
    updates = json.loads(shown.stdout)["updates"]
    assert [(u["label"], u["phase"], u["phase_inferred"]) for u in updates] == [
        ("SERVICE_INFORMATION", "investigating", True),
        ("SERVICE_INFORMATION", "identified", True),
        ("SERVICE_INFORMATION", "identified", True),
        ("SERVICE_INFORMATION", "identified", True),
        ("AVAILABLE", "resolved", True),
    ]
