"""Statuspage `/history.json?page=N`: codes with month/year context, HTML time fragments and
ranges placed in UTC, hostile input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapers import registry, statuspage_history
from scrapers.errors import ParseError
from scrapers.statuspage_history import parse_stamp, read_page
from tests.conftest import recorded

FIX = Path(__file__).parent / "fixtures" / "backfill"
URL = "https://www.githubstatus.com/history.json?page=1"


doc = recorded(URL, datetime(2026, 1, 1, tzinfo=UTC))


def test_page_lists_codes_with_month_context() -> None:
    page = read_page(doc((FIX / "history_page1.json").read_bytes()))
    assert page.months == ((2011, 7), (2011, 6), (2011, 5))
    assert page.warnings == ()
    assert [e.code for e in page.entries][:3] == ["01sqkcp7z62r", "0rqrz4ky6jfq", "1hfqmgsh4tdn"]
    assert len(page.entries) == 14
    first = page.entries[0]
    assert (first.name, first.impact, first.year, first.month) == (
        "Incident on 2011-07-28 03:06:00 UTC", "minor", 2011, 7)
    assert first.stamp == "Jul 28, 03:06 - 03:06 UTC"
    assert first.start == first.end == datetime(2011, 7, 28, 3, 6, tzinfo=UTC)
    assert first.message.startswith("<ul><li><strong>2011-07-28 03:06:00</strong>")


def test_parse_yields_no_incidents() -> None:
    parsed = statuspage_history.parse(doc((FIX / "history_page2.json").read_bytes()))
    assert parsed.format == "statuspage_history" and parsed.incidents == ()


def test_empty_page_has_months_but_no_entries() -> None:
    page = read_page(doc((FIX / "history_page3.json").read_bytes()))
    assert page.months == ((2011, 1), (2010, 12), (2010, 11)) and page.entries == ()


@pytest.mark.parametrize("stamp, year, month, start, end", [
    ("Aug 10, 00:17 - 01:30 UTC", 2023, 8,
     datetime(2023, 8, 10, 0, 17, tzinfo=UTC), datetime(2023, 8, 10, 1, 30, tzinfo=UTC)),
    # a range past midnight with no second date
    ("Aug 10, 23:50 - 00:20 UTC", 2023, 8,
     datetime(2023, 8, 10, 23, 50, tzinfo=UTC), datetime(2023, 8, 11, 0, 20, tzinfo=UTC)),
    # across months and years: the year is only on the month group
    ("Dec 31, 23:10 - Jan 1, 01:05 PST", 2019, 12,
     datetime(2020, 1, 1, 7, 10, tzinfo=UTC), datetime(2020, 1, 1, 9, 5, tzinfo=UTC)),
    # a display zone with summer time
    ("Jul 4, 09:00 - 10:15 PDT", 2022, 7,
     datetime(2022, 7, 4, 16, 0, tzinfo=UTC), datetime(2022, 7, 4, 17, 15, tzinfo=UTC)),
    ("Mar 3, 14:00 UTC", 2021, 3, datetime(2021, 3, 3, 14, 0, tzinfo=UTC), None),
    # listed under January but stamped December: the previous year
    ("Dec 31, 22:00 - Jan 1, 02:00 UTC", 2021, 1,
     datetime(2020, 12, 31, 22, 0, tzinfo=UTC), datetime(2021, 1, 1, 2, 0, tzinfo=UTC)),
    ("Aug 10, 00:17 - 01:30 XYZT", 2023, 8, None, None),  # unknown zone: not guessed
    ("Feb 30, 10:00 UTC", 2023, 2, None, None),
    ("sometime", 2023, 2, None, None),
])
def test_stamps(stamp: str, year: int, month: int, start: datetime | None,
                end: datetime | None) -> None:
    assert parse_stamp(stamp, year, month) == (start, end)


def test_html_fragment_is_read() -> None:
    body = json.dumps({"months": [{"name": "November", "year": 2023, "incidents": [{
        "code": "abc123", "name": "x", "message": "m", "impact": "major",
        "timestamp": "Nov <var data-var='date'>30</var>, <var data-var='time'>23:10</var> - "
                     "Dec <var data-var='date'>1</var>, <var data-var='time'>01:05</var> EST",
    }]}]}).encode()
    (entry,) = read_page(doc(body)).entries
    assert entry.stamp == "Nov 30, 23:10 - Dec 1, 01:05 EST"
    assert (entry.start, entry.end) == (datetime(2023, 12, 1, 4, 10, tzinfo=UTC),
                                        datetime(2023, 12, 1, 6, 5, tzinfo=UTC))


def test_bad_entries_cost_one_warning_each() -> None:
    body = json.dumps({"months": [
        {"name": "Smarch", "year": 2023, "incidents": [{"code": "a1"}]},
        {"name": "May", "year": 2023, "incidents": [{"code": "../etc"}, "x", {"code": "ok1"}]},
    ]}).encode()
    page = read_page(doc(body))
    assert [e.code for e in page.entries] == ["ok1"]
    assert len(page.warnings) == 3 and all(w.startswith(URL) for w in page.warnings)


def test_detected_ahead_of_statuspage() -> None:
    body = (FIX / "history_page1.json").read_bytes()
    assert registry.detect(body, "page1") is statuspage_history
    assert registry.detect(b'{"months": []}', "empty") is statuspage_history


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b'{"incidents": []}', "no months list"),
    (b'{"months": {}}', "no months list"),
    (b"<html>rate limited</html>", "expected JSON, got HTML/XML"),
])
def test_bad_pages_raise_one_line(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        read_page(doc(body))
    assert reason in str(caught.value) and "\n" not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        statuspage_history.parse(doc(body))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.integers(1990, 2200), st.integers(1, 12))
def test_any_stamp_text_is_read_or_refused(stamp: str, year: int, month: int) -> None:
    start, end = parse_stamp(stamp, year, month)
    assert start is not None or end is None
    if start is not None and end is not None:
        assert end >= start
