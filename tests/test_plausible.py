"""Units of the hostile-record defences: time bounds (scrapers/plausible.py), clipping
(scrapers/clip.py) and the streamed JSON reader (scrapers/jsondoc.stream_top)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from scrapers import clip, plausible, statuspage
from scrapers.errors import ParseError
from scrapers.jsondoc import load_json, stream_top
from scrapers.records import IncidentRecord, ParsedDoc, RawDoc, UpdateRecord

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def record(native_id: str = "r1", **times: datetime | None) -> IncidentRecord:
    updates = times.pop("updates", ())
    return IncidentRecord(native_id=native_id, title="t", channel="x", updates=updates,
                          **times)  # type: ignore[arg-type]


def update(at: datetime) -> UpdateRecord:
    return UpdateRecord(at=at, label="investigating", body="b")


@pytest.mark.parametrize(("value", "scheduled", "ok"), [
    (datetime(1989, 12, 31, 23, 59, tzinfo=UTC), False, False),
    (datetime(1990, 1, 1, tzinfo=UTC), False, True),
    (NOW + timedelta(hours=23), False, True),
    (NOW + timedelta(days=2), False, False),
    (NOW + timedelta(days=300), True, True),
    (NOW + timedelta(days=400), True, False),
])
def test_bounds(value: datetime, scheduled: bool, ok: bool) -> None:
    assert plausible.plausible(value, now=NOW, scheduled=scheduled) is ok


def test_an_implausible_update_is_dropped_and_the_record_kept() -> None:
    good = datetime(2025, 1, 1, tzinfo=UTC)
    parsed = ParsedDoc(format="x", incidents=(record(
        created_at=good, updates=(update(datetime(1, 1, 1, tzinfo=UTC)), update(good))),))
    screened = plausible.screen(parsed, "src", now=NOW)
    (kept,) = screened.incidents
    assert [u.at for u in kept.updates] == [good] and not kept.updates_complete
    assert screened.warnings == ("src: record r1: ignored implausible time(s): "
                                 "update at 0001-01-01T00:00:00Z",)


def test_a_record_with_no_time_is_refused_and_a_clean_payload_is_untouched() -> None:
    clean = ParsedDoc(format="x", incidents=(record(created_at=NOW),))
    assert plausible.screen(clean, "src", now=NOW) is clean
    parsed = ParsedDoc(format="x", incidents=(record("a"), record("b", created_at=NOW)))
    screened = plausible.screen(parsed, "src", now=NOW)
    assert [r.native_id for r in screened.incidents] == ["b"]
    assert screened.warnings == ("src: record a: refused: no date at all, so it cannot be "
                                 "placed",)


def test_an_update_long_before_creation_is_kept_with_a_warning() -> None:
    created = datetime(2025, 6, 1, tzinfo=UTC)
    parsed = ParsedDoc(format="x", incidents=(record(
        created_at=created, updates=(update(created - timedelta(days=3)),)),))
    screened = plausible.screen(parsed, "src", now=NOW)
    assert len(screened.incidents[0].updates) == 1
    assert "1 update(s) dated before the incident was created" in screened.warnings[0]


def test_warnings_are_capped_with_a_count_line_first() -> None:
    parsed = ParsedDoc(format="x", incidents=tuple(record(f"j{n}") for n in range(1000)))
    screened = plausible.screen(parsed, "src", now=NOW)
    assert screened.incidents == ()
    assert len(screened.warnings) == plausible.WARNINGS_PER_PAYLOAD + 1
    assert screened.warnings[0] == ("src: 1,000 records with problems (by reason: no time "
                                    "1,000); the first 20 follow")


def test_signal_and_payload_dates_outside_the_bounds_are_dropped() -> None:
    from scrapers.records import SignalRecord

    parsed = ParsedDoc(format="x", as_of=datetime(9999, 1, 1, tzinfo=UTC), signals=(
        SignalRecord(source="hackernews", native_id="1", title="t",
                     created_at=datetime(1, 1, 1, tzinfo=UTC)),))
    screened = plausible.screen(parsed, "src", now=NOW)
    assert screened.as_of is None and screened.signals[0].created_at is None
    assert len(screened.warnings) == 2


def test_clip_keeps_short_text_and_marks_long_text() -> None:
    assert clip.clip_text("short") == "short"
    long = "x" * (clip.MAX_BODY_CHARS + 10)
    clipped = clip.clip_text(long)
    assert clipped.startswith("x" * clip.MAX_BODY_CHARS)
    assert clipped.endswith(f"[clipped at 65,536 characters of {len(long):,}; the full text "
                            "is in the raw archive]")
    assert len(clip.clip_title("t" * 20_000)) == clip.MAX_TITLE_CHARS
    assert clip.clip_title("t" * 10_000) == "t" * 10_000


def _payload(count: int) -> dict:
    incidents = [{"id": f"i{n}", "name": f"Incident \ud800 {n}",
                  "created_at": "2025-01-01T00:00:00Z",
                  "incident_updates": [{"id": f"u{n}", "status": "resolved", "body": "ok",
                                        "created_at": "2025-01-01T01:00:00Z"}]}
                 for n in range(count)]
    incidents.append({"id": "junk", "name": "no time"})
    # the page after the incidents: a streamed read must still give every record its URL
    return {"incidents": incidents, "page": {"id": "p", "name": "P",
                                             "url": "https://status.p.test"}}


def test_streamed_and_whole_statuspage_reads_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps(_payload(50)).encode()
    doc = RawDoc(body=body, url="https://status.p.test/api/v2/incidents.json",
                 fetched_at=NOW)
    whole = statuspage.parse(doc)
    monkeypatch.setattr(statuspage, "STREAM_BYTES", 10)
    streamed = statuspage.parse(doc)
    assert len(whole.incidents) == 50 and "junk" not in {i.native_id for i in whole.incidents}
    assert whole.incidents[0].url == "https://status.p.test/incidents/i0"
    assert whole.incidents[0].title == "Incident \ufffd 0"
    assert streamed.incidents[0].title == "Incident ? 0"  # yajl's replacement for a surrogate
    strip = [(i.native_id, i.url, i.created_at, i.updates) for i in whole.incidents]
    assert strip == [(i.native_id, i.url, i.created_at, i.updates) for i in streamed.incidents]
    assert whole.warnings == streamed.warnings


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"incidents": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nested too deeply"),
    (b'{"incidents": [NaN]}', "malformed JSON"),
    (b'{"incidents": [1, 2', "malformed JSON"),
    (b"<html>", "expected JSON, got HTML"),
])
def test_streamed_reads_fail_like_whole_reads(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        list(stream_top(body, "src", frozenset({"incidents"})))
    with pytest.raises(ParseError, match=reason):
        load_json(body, "src")


def test_lone_surrogates_become_replacement_characters_everywhere() -> None:
    value = load_json(b'{"a\\ud800": ["x\\udc00y", {"k": "\\ud83d\\ude00"}]}', "src")
    assert value == {"a\ufffd": ["x\ufffdy", {"k": "\U0001f600"}]}  # a valid pair stays
