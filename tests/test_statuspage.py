"""Statuspage API v2 JSON parser on recorded real payloads and on hostile input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapers import registry, statuspage
from scrapers.errors import ParseError
from scrapers.records import ComponentChange, RawDoc
from tests.conftest import recorded

FIX = Path(__file__).parent / "fixtures" / "statuspage"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


doc = recorded("https://example.test/api/v2/incidents.json", NOW)


def fixture(name: str) -> RawDoc:
    return doc((FIX / name).read_bytes(), url=f"file:///{name}")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_single_incident_file_exact_record() -> None:
    parsed = statuspage.parse(fixture("github_zzm4nczlpjyy.json"))
    assert parsed.format == "statuspage"
    assert parsed.page is not None and parsed.page.url == "https://www.githubstatus.com"
    assert parsed.page.time_zone == "Etc/UTC"
    assert parsed.as_of == t("2022-08-10T08:09:51.596Z")
    (incident,) = parsed.incidents
    assert incident.native_id == "zzm4nczlpjyy"
    assert incident.title == "Incident on 2019-03-25 09:53 UTC"
    assert incident.kind == "incident"
    assert incident.channel == "statuspage_json"
    assert incident.url == "https://www.githubstatus.com/incidents/zzm4nczlpjyy"
    assert incident.impact == "none"
    assert incident.shortlink == "http://stspg.io/138dda948"
    assert incident.created_at == t("2019-03-25T09:53:38.872Z")
    assert incident.started_at == t("2019-03-25T09:53:38.863Z")
    assert incident.resolved_at == t("2019-03-25T10:50:25.327Z")
    assert incident.monitoring_at is None
    assert [(u.label, u.at, u.native_id) for u in incident.updates] == [
        ("resolved", t("2019-03-25T10:50:25.327Z"), "p3wd06gcn60p"),
        ("investigating", t("2019-03-25T10:32:10.271Z"), "mdk8bn7j504r"),
        ("investigating", t("2019-03-25T09:53:38.922Z"), "d5hyrq75qzx9"),
    ]
    assert incident.updates[2].body == "We are investigating reports of elevated error rates."
    assert incident.updates[2].components == (
        ComponentChange(
            "Visit www.githubstatus.com for more information", "0l2p9nhqnxpd",
            "operational", "operational",
        ),
    )
    assert incident.updates_complete


def test_archiver_wrapper_names_provider_and_time() -> None:
    parsed = statuspage.parse(fixture("anthropic_slice.json"))
    assert parsed.provider_hint == "anthropic"
    assert parsed.as_of == t("2026-09-15T12:22:10Z")
    assert parsed.page is not None and parsed.page.url == "https://status.claude.com"
    by_id = {i.native_id: i for i in parsed.incidents}
    odd = by_id["1019wwb67615"]
    # kept as the vendor gave them, even though resolved_at < started_at
    assert odd.resolved_at == t("2026-07-25T18:13:01.000Z")
    assert odd.started_at == t("2026-07-25T18:14:56.438Z")
    assert [c.name for c in by_id["6304r9jjhj34"].components] == [
        "claude.ai", "Claude API (api.anthropic.com)", "Claude Code", "Claude Cowork",
    ]


def test_incidentio_compatible_api_without_optional_fields() -> None:
    parsed = statuspage.parse(fixture("openai_slice.json"))
    by_id = {i.native_id: i for i in parsed.incidents}
    backdated = by_id["01M2H3J1D6Y7RHAP49GRWGJAY0"]
    assert backdated.shortlink is None and backdated.started_at is None
    assert backdated.components == ()
    first = min(backdated.updates, key=lambda u: u.at)
    assert first.at == t("2026-09-14T20:30:00Z")  # display_at, as the page shows it
    assert first.created_at == t("2026-09-14T23:20:41Z")  # kept when it differs


def test_scheduled_maintenances_are_maintenance() -> None:
    parsed = statuspage.parse(fixture("anthropic_maintenances.json"))
    assert {i.kind for i in parsed.incidents} == {"maintenance"}
    assert parsed.incidents[0].native_id == "x017628t2rl5"
    labels = [u.label for u in parsed.incidents[0].updates]
    assert labels == ["completed", "verifying", "in_progress", "scheduled"]
    assert parsed.incidents[0].scheduled_for is not None


def test_non_utc_offsets_become_utc() -> None:
    parsed = statuspage.parse(fixture("discord_incidents.json"))
    (incident,) = parsed.incidents
    assert incident.created_at == t("2022-02-15T21:14:17.744Z")  # 13:14:17.744-08:00
    assert all(u.at.utcoffset().total_seconds() == 0 for u in incident.updates)


def test_components_and_summary_shapes() -> None:
    body = json.dumps({
        "page": {"id": "p", "name": "X", "url": "https://status.x.test"},
        "components": [{"id": "c1", "name": "API", "status": "operational"}, {"bad": 1}],
    }).encode()
    parsed = statuspage.parse(doc(body))
    assert parsed.incidents == ()
    assert [(c.name, c.code, c.status) for c in parsed.components] == [
        ("API", "c1", "operational")
    ]


def test_utf16_body_with_bom_parses() -> None:
    body = (FIX / "github_zzm4nczlpjyy.json").read_text("utf-8").encode("utf-16")
    assert registry.detect(body, "x") is statuspage
    assert statuspage.parse(doc(body)).incidents[0].native_id == "zzm4nczlpjyy"


def test_bad_entries_are_skipped_with_a_warning_line() -> None:
    body = json.dumps({"incidents": [
        {"id": "ok1", "name": "fine", "incident_updates": [
            {"status": "investigating", "body": "x", "created_at": "2024-01-01T00:00:00Z"}]},
        {"name": "no id"},
        "not an object",
        {"id": "bad/../id", "name": "path trick"},
        {"id": "ok2", "name": 42, "incident_updates": None, "unknown_field": {"x": 1},
         "created_at": "2024-01-02T00:00:00Z"},
        {"id": "timeless", "name": "no time at all", "incident_updates": None},
    ]}).encode()
    parsed = statuspage.parse(doc(body))
    assert [i.native_id for i in parsed.incidents] == ["ok1", "ok2"]
    assert parsed.incidents[1].title == "42"
    assert len(parsed.warnings) == 4
    assert "record timeless: refused: no date at all" in parsed.warnings[-1]
    assert all(w.startswith("https://example.test/") and "\n" not in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"<html><body>503 Service Unavailable</body></html>", "expected JSON, got HTML"),
        (b'{"incidents": [{"id": "a", "name": "trunc', "malformed JSON"),
        (b'{"incidents": [NaN]}', "malformed JSON"),
        (b'{"hello": "world"}', "none of the Statuspage keys"),
        (b"42", "expected a JSON object or list"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ],
)
def test_hostile_payloads_give_one_line_errors(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        statuspage.parse(doc(body))
    message = str(caught.value)
    assert message.startswith("https://example.test/api/v2/incidents.json: ")
    assert reason in message
    assert "\n" not in message


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        statuspage.parse(doc(body))


@settings(max_examples=100, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "name", "incidents", "incident_updates",
                                       "status", "created_at", "display_at", "components",
                                       "affected_components", "page", "url"]),
                      children, max_size=5),
    max_leaves=30,
))
def test_mutated_shapes_never_crash(value: object) -> None:
    body = json.dumps({"incidents": [value]}).encode()
    try:
        parsed = statuspage.parse(doc(body))
    except ParseError:
        return
    for incident in parsed.incidents:
        assert incident.native_id and "/" not in incident.native_id
        for update in incident.updates:
            assert update.at.tzinfo is not None
