"""Slack status API v2.0.0 (/current, /history): exact records, vocabulary, hostile input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.model import Kind, Severity
from kb.normalize.vocabulary import severity_for
from kb.pipeline import Line, ingest
from kb.store import Store
from scrapers import registry, slack
from scrapers.archive import Archive
from scrapers.errors import ParseError
from scrapers.records import ComponentRecord, RawDoc
from tests.conftest import recorded

FIX = Path(__file__).parent / "fixtures" / "slack"
CURRENT = "https://slack-status.com/api/v2.0.0/current"
HISTORY = "https://slack-status.com/api/v2.0.0/history"
NOW = datetime(2026, 9, 12, 20, tzinfo=UTC)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


doc = recorded(HISTORY, NOW)


def fixture(name: str, url: str = HISTORY) -> RawDoc:
    return doc((FIX / name).read_bytes(), url)


FORWARDING_NOTE = (
    "Technical Summary:\nOn September 7th at 2:35pm PT, we received reports that emails were "
    "failing to deliver to Slack forwarding addresses. We identified that this was the result "
    "of an expired certificate used to verify requests sent from our email provider. At 4:55pm "
    "PT, we deployed an update that corrected this and fixed the problem. Unfortunately any "
    "email sent to a forwarding address during this time is not retrievable and will need to "
    "be re-sent."
)


def test_current_with_an_active_incident_exact_record() -> None:
    parsed = slack.parse(fixture("current_active.json", CURRENT))
    assert parsed.format == "slack" and parsed.warnings == ()
    assert parsed.as_of == t("2019-04-09T07:35:46-07:00")
    assert parsed.page is not None
    assert (parsed.page.name, parsed.page.url) == ("Slack", "https://slack-status.com")
    (issue,) = parsed.incidents
    assert issue.native_id == "546"
    assert issue.title == "Slack’s forwarding email feature is failing for some customers"
    assert issue.channel == "slack_api" and issue.kind == "incident"
    assert (issue.status, issue.impact) == ("active", "incident")  # raw values kept
    assert issue.url == "https://slack-status.com/2018-09/7dea1cd14cd0f657"
    assert issue.created_at == t("2018-09-07T14:35:00-07:00") == datetime(
        2018, 9, 7, 21, 35, tzinfo=UTC)
    assert issue.updated_at == t("2018-09-07T18:34:15-07:00")
    assert issue.components == (ComponentRecord("Apps/Integrations/APIs"),)
    (note,) = issue.updates
    assert (note.at, note.label, note.body_format) == (
        t("2018-09-07T18:34:15-07:00"), "note", "text")
    assert note.body == FORWARDING_NOTE  # \r\n made \n, otherwise as published
    assert issue.updates_complete


def test_current_when_all_is_well_has_no_incidents() -> None:
    parsed = slack.parse(fixture("current_ok.json", CURRENT))
    assert parsed.incidents == () and parsed.as_of == t("2026-09-12T13:00:00-07:00")


def test_history_list_exact_records() -> None:
    parsed = slack.parse(fixture("history.json"))
    custom, forwarding = parsed.incidents
    assert custom.native_id == "1545"  # numeric ids become text
    assert (custom.title, custom.status, custom.impact) == (
        "Custom status not expiring", "resolved", "incident")
    assert custom.url is None and custom.page_url == "https://slack-status.com"
    assert [(u.at, u.label) for u in custom.updates] == [
        (datetime(2026, 4, 21, 15, 47, 38, tzinfo=UTC), "note"),
        (datetime(2026, 4, 21, 13, 46, 30, tzinfo=UTC), "note"),
    ]
    assert custom.updates[1].body.startswith("We're aware of an issue affecting Slack.")
    assert custom.components == (ComponentRecord("Messaging"),)
    assert forwarding.native_id == "546" and forwarding.updates[0].body == FORWARDING_NOTE


def test_normalized_slack_incident(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), [])
    report = ingest(line, [FIX / "history.json"], provider="slack")
    assert report.failures == [] and report.sources["slack"].new == 2
    custom = store.get("slack/1545")
    assert custom.status == "resolved" and custom.kind is Kind.INCIDENT
    assert custom.severity is Severity.MINOR  # type incident
    assert [u.label for u in custom.updates] == ["note", "note"]
    assert custom.updates[0].phase_inferred  # Slack states no phase: never claimed as stated
    assert custom.lifecycle.first_post_at == datetime(2026, 4, 21, 13, 46, 30, tzinfo=UTC)


def test_type_is_graded_and_maintenance_is_a_kind() -> None:
    assert severity_for("outage", []) is Severity.MAJOR
    assert severity_for("incident", []) is Severity.MINOR
    assert severity_for("notice", []) is Severity.NONE
    items = [
        {"id": 1, "title": "Outage", "type": "outage", "status": "resolved",
         "date_created": "2021-01-04T07:00:00-08:00", "notes": []},
        {"id": 2, "title": "Planned", "type": "maintenance", "status": "scheduled",
         "date_created": "2021-02-01T10:00:00-08:00", "notes": []},
    ]
    outage, planned = slack.parse(doc(json.dumps(items).encode())).incidents
    assert (outage.kind, outage.impact) == ("incident", "outage")
    assert (planned.kind, planned.status) == ("maintenance", "scheduled")


def test_detected_ahead_of_statuspage() -> None:
    for name in ("current_active.json", "current_ok.json", "history.json"):
        assert registry.detect((FIX / name).read_bytes(), name) is slack


def test_one_bad_issue_costs_one_warning() -> None:
    items = json.loads((FIX / "history.json").read_text())
    items.append({"id": "a/b", "title": "x", "notes": []})
    items.append({"id": 9, "title": "y", "notes": [{"body": "no date"}]})
    parsed = slack.parse(doc(json.dumps(items).encode()))
    assert [i.native_id for i in parsed.incidents] == ["1545", "546"]
    assert len(parsed.warnings) == 2 and all(HISTORY in w for w in parsed.warnings)


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b'{"status": "ok"}', "no active_incidents"),
    (b"<html><body>Service Unavailable</body></html>", "expected JSON, got HTML/XML"),
    (b'"ok"', "expected a JSON object or list"),
])
def test_bad_payloads_raise_one_line(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        slack.parse(doc(body))
    assert reason in str(caught.value) and "\n" not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        slack.parse(doc(body))


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "title", "type", "status", "url", "services",
                                       "notes", "date_created", "date_updated", "body"]),
                      children, max_size=5),
    max_leaves=30,
))
def test_mutated_shapes_never_crash(value: object) -> None:
    for wrapper in ([value], {"active_incidents": [value], "date_updated": value}):
        with contextlib.suppress(ParseError):
            slack.parse(doc(json.dumps(wrapper).encode()))


def test_scrape_of_the_slack_platform(httpserver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`kb scrape` with platform "slack" fetches /current and /history from a local server."""
    from kb.config import SourceConfig
    from kb.pipeline import scrape
    from scrapers.fetch import Fetcher, FetchSettings
    from scrapers.registry import PLATFORMS

    httpserver.expect_request("/api/v2.0.0/current").respond_with_data(
        (FIX / "current_active.json").read_bytes(), content_type="application/json")
    httpserver.expect_request("/api/v2.0.0/history").respond_with_data(
        (FIX / "history.json").read_bytes(), content_type="application/json")
    base = httpserver.url_for("").rstrip("/")
    assert PLATFORMS["slack"].urls(base) == [f"{base}/api/v2.0.0/current",
                                             f"{base}/api/v2.0.0/history"]
    src = SourceConfig("slack", "Slack", base, platform="slack")
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), [src])
    with Fetcher(FetchSettings(politeness_delay=0.0, retries=0)) as fetcher:
        report = scrape(line, fetcher, [src])
    assert report.failures == [] and report.sources["slack"].docs == 2
    assert {i.native_id for i in store.incidents(provider="slack")} == {"546", "1545"}
