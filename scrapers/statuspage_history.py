"""Atlassian Statuspage's `/history.json?page=N`: the index of a page's whole incident history.

Shape: {"months": [{"name": "August", "year": 2023, "incidents": [{"code", "name", "message",
"impact", "timestamp"}]}, ...]}, newest month first, about three months a page, months with no
incidents included. Only the month group carries the year; `timestamp` is an HTML fragment in
the page's display zone, a single time or a range that may cross into the next day or month
(`<var>` tags shortened here):

    Aug <var data-var='date'>10</var>, <var data-var='time'>00:17</var> - <var …>01:30</var> UTC
    Nov <var …>30</var>, <var …>23:10</var> - Dec <var …>1</var>, <var …>01:05</var> PST

This module reads a page into its incident codes with their month/year context (`read_page`),
which is what `kb backfill` walks. It yields no IncidentRecords: an index entry's message is
only the latest update, with no status and a minute-precision stamp, and the full record is one
request away (`/api/v2/incidents/<code>.json`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import list_field, load_json, text_field
from scrapers.records import ParsedDoc, RawDoc
from scrapers.zones import local_to_utc, zone_for

NAME = "statuspage_history"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

_MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december")), 1) for name in names}
_TAG = re.compile(r"<[^>]{0,200}>")
_STAMP = re.compile(
    r"^(?P<m1>[A-Za-z]{3,9})\.?\s+(?P<d1>\d{1,2}),?\s+(?P<t1>\d{1,2}:\d{2})"
    r"(?:\s*-\s*(?:(?P<m2>[A-Za-z]{3,9})\.?\s+(?P<d2>\d{1,2}),?\s+)?(?P<t2>\d{1,2}:\d{2}))?"
    r"\s*(?P<zone>[A-Za-z][A-Za-z/_+-]*)?$"
)
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One incident as the history index lists it."""

    code: str
    name: str
    year: int  # of the month group it is listed under
    month: int
    impact: str | None = None
    message: str = ""  # the latest update's body, as listed (may hold HTML)
    stamp: str = ""  # the timestamp text without tags, as shown ("Aug 10, 00:17 - 01:30 UTC")
    start: datetime | None = None  # UTC, minute precision; None when the stamp cannot be placed
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One history.json page: its month groups (newest first) and the entries under them."""

    months: tuple[tuple[int, int], ...]  # (year, month)
    entries: tuple[HistoryEntry, ...]
    warnings: tuple[str, ...] = ()


def sniff(body: bytes) -> bool:
    """A JSON object whose history index is grouped by month."""
    head = head_text(body).lstrip()
    return head.startswith("{") and '"months"' in head and (
        '"year"' in head or '"incidents"' in head or '"months":[]' in head.replace(" ", ""))


def parse(doc: RawDoc) -> ParsedDoc:
    """Validate the page; it yields no incidents (see the module docstring)."""
    page = read_page(doc)
    return ParsedDoc(format=NAME, warnings=page.warnings)


def read_page(doc: RawDoc) -> HistoryPage:
    """The month groups and entries of one page; ParseError (one line) if it is not one."""
    data = load_json(doc.body, doc.url)
    if not isinstance(data, dict) or not isinstance(data.get("months"), list):
        raise ParseError(doc.url, "no months list (not a Statuspage history.json page)")
    months: list[tuple[int, int]] = []
    entries: list[HistoryEntry] = []
    warnings: list[str] = []
    for index, group in enumerate(data["months"]):
        where = f"{doc.url}: month #{index}"
        year_month = _year_month(group)
        if year_month is None:
            warnings.append(f"{where}: no readable name/year; its incidents are skipped")
            continue
        months.append(year_month)
        for position, raw in enumerate(list_field(group, "incidents")):
            entry = _entry(raw, *year_month)
            if entry is None:
                warnings.append(f"{where}: incident #{position} has no valid code")
            else:
                entries.append(entry)
    return HistoryPage(tuple(months), tuple(entries), tuple(warnings))


def _year_month(group: Any) -> tuple[int, int] | None:
    if not isinstance(group, dict):
        return None
    name = (text_field(group, "name") or "").strip().split()
    month = _MONTHS.get(name[0].lower().rstrip(".")) if name else None
    year_text = text_field(group, "year") or (name[1] if len(name) > 1 else "")
    if month is None or not year_text.isdigit() or not 1990 <= int(year_text) <= 2200:
        return None
    return int(year_text), month


def _entry(raw: Any, year: int, month: int) -> HistoryEntry | None:
    if not isinstance(raw, dict):
        return None
    code = (text_field(raw, "code") or "").strip()
    if not _CODE.match(code):
        return None
    stamp = " ".join(html.unescape(_TAG.sub("", text_field(raw, "timestamp") or "")).split())
    start, end = parse_stamp(stamp, year, month)
    return HistoryEntry(
        code=code, name=(text_field(raw, "name") or "").strip(), year=year, month=month,
        impact=text_field(raw, "impact"), message=text_field(raw, "message") or "",
        stamp=stamp, start=start, end=end,
    )


def parse_stamp(stamp: str, year: int, month: int) -> tuple[datetime | None, datetime | None]:
    """(start, end) in UTC of a tag-free timestamp listed under `month` of `year`.

    The year comes from the month group; a stamp in January listed under December (or the
    reverse) belongs to the neighbouring year. A range's end is after its start: a later
    month rolls the year, a time before the start on the same day rolls a day. Unknown zones
    give (None, None): guessing one would misplace the incident by hours.
    """
    found = _STAMP.match(stamp.strip())
    if found is None:
        return None, None
    zone = zone_for(found["zone"] or "")
    m1 = _MONTHS.get(found["m1"].lower())
    if zone is None or m1 is None:
        return None, None
    start_year = year + (1 if m1 == 1 and month == 12 else -1 if m1 == 12 and month == 1 else 0)
    try:
        start_wall = datetime(start_year, m1, int(found["d1"]), *_clock(found["t1"]))
    except ValueError:
        return None, None
    start = local_to_utc(start_wall, zone)
    if not found["t2"]:
        return start, None
    m2 = _MONTHS.get(found["m2"].lower()) if found["m2"] else m1
    if m2 is None:
        return start, None
    end_year = start_year + (1 if m2 < m1 else 0)
    day = int(found["d2"]) if found["d2"] else start_wall.day
    try:
        end_wall = datetime(end_year, m2, day, *_clock(found["t2"]))
    except ValueError:
        return start, None
    if end_wall < start_wall and not found["d2"]:
        end_wall += timedelta(days=1)  # "23:50 - 00:20": past midnight
    if end_wall < start_wall:
        return start, None
    return start, local_to_utc(end_wall, zone)


def _clock(text: str) -> tuple[int, int]:
    hours, minutes = text.split(":")
    return int(hours), int(minutes)
