"""Property-based tests across every registered parser and the normalizer.

Parsers: arbitrary bytes and mutated real payloads (every recorded fixture, flipped, cut,
spliced) never raise anything but the documented ParseError. Normalizer: arbitrary records
give timelines that satisfy the invariants (UTC times, canonical phases, updates ordered,
identity stable, the same result whatever the order of the inputs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.model import Phase, SourcedRecord, SourceRef
from kb.normalize import normalize_incident
from scrapers import registry
from scrapers.errors import ParseError
from scrapers.records import ComponentChange, IncidentRecord, RawDoc, UpdateRecord

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = sorted(
    p for p in FIXTURES.rglob("*")
    if p.is_file() and p.suffix in {".json", ".atom", ".rss", ".xml", ".html"}
    and p.stat().st_size < 300_000
)
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def parse_any(body: bytes) -> None:
    doc = RawDoc(body=body, url="https://fuzz.test/payload", fetched_at=NOW)
    try:
        module = registry.detect(body, doc.url)
    except ParseError:
        return
    try:
        parsed = module.parse(doc)
    except ParseError as exc:
        assert "\n" not in str(exc)
        return
    for record in parsed.incidents:
        for update in record.updates:
            assert update.at.utcoffset() == timedelta(0)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(body: bytes) -> None:
    parse_any(body)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = SAMPLES[draw(st.integers(0, len(SAMPLES) - 1))].read_bytes()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "splice", "dup"]))
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        if kind == "flip":
            body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1:]
        elif kind == "cut":
            body = body[:at]
        elif kind == "splice":
            body = body[:at] + draw(st.sampled_from(
                [b"<", b"\"", b"{", b"]]>", b"&amp;", b"\x00", b"\xff\xfe", b"null", b"NaN",
                 b"<!ENTITY x SYSTEM 'file:///etc/passwd'>", b"9" * 400])) + body[at:]
        else:
            end = draw(st.integers(at, min(len(body), at + 500)))
            body = body[:end] + body[at:end] + body[end:]
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_real_payloads(body: bytes) -> None:
    parse_any(body)


def test_every_fixture_is_recognised_or_knowingly_foreign() -> None:
    assert len(SAMPLES) >= 10
    for path in SAMPLES:
        parse_any(path.read_bytes())


stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1),
                      timezones=st.just(UTC))
labels = st.sampled_from(["investigating", "Identified", "fixing", "monitoring", "Resolved",
                          "Update", "postmortem", "Scheduled", "In progress", "verifying",
                          "completed", "weird label", ""])
updates = st.builds(
    UpdateRecord, at=stamps, label=labels, body=st.text(max_size=80),
    body_format=st.sampled_from(["text", "html", "markdown"]),
    components=st.lists(st.builds(ComponentChange, name=st.sampled_from(["API", "Web"]),
                                  new_status=st.sampled_from(["operational", "major_outage"])),
                        max_size=2).map(tuple),
)
records = st.builds(
    IncidentRecord, native_id=st.just("abc123"), title=st.text(max_size=30),
    channel=st.sampled_from(["statuspage_json", "statuspage_feed", "incidentio_feed"]),
    kind=st.sampled_from(["incident", "maintenance"]), status=st.none() | labels,
    impact=st.sampled_from([None, "none", "minor", "major", "critical", "bogus"]),
    created_at=st.none() | stamps, updates=st.lists(updates, max_size=6).map(tuple),
    updates_complete=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(records, stamps), min_size=1, max_size=4))
def test_normalized_timelines_keep_their_invariants(items: list) -> None:  # type: ignore[type-arg]
    sourced = [
        SourcedRecord(record, SourceRef(f"https://x.test/{n}", fetched, f"{n:064d}",
                                        record.channel), fetched)
        for n, (record, fetched) in enumerate(items)
    ]
    incident = normalize_incident("fuzz", sourced)
    assert incident.key == "fuzz/abc123"
    times = [u.at for u in incident.updates]
    assert times == sorted(times)
    assert all(t.utcoffset() == timedelta(0) for t in times)
    assert all(isinstance(u.phase, Phase) for u in incident.updates)
    life = incident.lifecycle
    for value in (life.first_post_at, life.identified_at, life.monitoring_at, life.resolved_at):
        assert value is None or value.utcoffset() == timedelta(0)
    if incident.updates and incident.updates_complete:
        assert life.first_post_at == times[0]
    assert normalize_incident("fuzz", sourced[::-1]) == incident
