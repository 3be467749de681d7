"""AWS Health Dashboard JSON: the legacy `data.json` archive and the current `currentevents`.

Legacy `status.aws.amazon.com/data.json` (recorded: ../shared/corpus/aws_health_json):

    {"archive": [{"service_name": "Amazon Elastic Compute Cloud (N. Virginia)",
                  "summary": "[RESOLVED] Increased API Error Rates", "date": "1638895771",
                  "status": "2", "details": "", "service": "ec2-us-east-1",
                  "description": "<div><span class=\\"yellowfg\\"> 8:49 AM PST</span>&nbsp;We are
                                  experiencing ...</div><div>...</div>"}, ...],
     "current": [...same shape...]}

`date` is the first post (epoch seconds); each post carries only a 12-hour local time and a
zone abbreviation, plus "Aug 7, " once the event runs into a later local day. Rows are
grouped into events by `scrapers.aws_events`.

Current `health.aws.amazon.com/public/currentevents`: a JSON list encoded as UTF-16 with a
BOM, one entry per open event, already grouped by AWS (`impacted_services`), with an
`event_log` of {summary, message, status, timestamp}. No recorded real payload was found; the
fixture is reconstructed from the shape that clients of the endpoint document (see
tests/fixtures/aws/ORIGIN.md), so this half is less proven than the legacy half.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from scrapers.aws_events import (
    LEGACY_PAGE,
    RESOLVED_MARK,
    Row,
    clean_summary,
    epoch_time,
    event_record,
    group_rows,
)
from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import list_field, load_json, parse_each, text_field
from scrapers.records import (
    ComponentRecord,
    IncidentRecord,
    PageInfo,
    ParsedDoc,
    RawDoc,
    UpdateRecord,
)
from scrapers.urls import page_origin
from scrapers.zones import local_to_utc, zone_for

NAME = "aws_json"
VERSION = 1
CHANNEL = "aws_json"
PRIORITY = 0  # AWS's complete JSON history
CURRENT_PAGE = "https://health.aws.amazon.com"

# One post: <div><span class="yellowfg">Aug 7,  2:53 AM PDT</span>&nbsp;text</div>
_POST = re.compile(
    r"<span\b[^>]*class=[\"']?yellowfg[\"']?[^>]*>(?P<stamp>.*?)</span\s*>(?P<body>.*?)"
    r"(?=<div\b|<span\b[^>]*yellowfg|\Z)",
    re.S | re.I,
)
_STAMP = re.compile(
    r"^(?:(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2}),?\s+)?"
    r"(?P<h>\d{1,2}):(?P<m>\d{2})\s*(?P<ampm>[AaPp]\.?[Mm]\.?)\s*(?P<zone>[A-Za-z][A-Za-z/_]*)?$"
)
_LEADING_SPACE = re.compile(r"^(?:\s|&nbsp;|&#160;|\xa0)+", re.I)
_TRAILING_DIV = re.compile(r"(?:\s*</div\s*>)+\s*$", re.I)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Posts run oldest first; a clock that goes back by more than this means the next local day.
_ROLLOVER_SLACK = timedelta(minutes=10)


def sniff(body: bytes) -> bool:
    """Legacy data.json ({"archive", "current"}) or a currentevents list (any encoding)."""
    head = head_text(body, 8192).lstrip()
    if not head.startswith(("{", "[")):
        return False
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) and "".join(head.split()) == "[]":
        return True  # a quiet day: an empty list, in the UTF-16 only this endpoint uses
    if '"archive"' in head and ('"current"' in head or '"service_name"' in head):
        return True
    return '"service_name"' in head and ('"event_log"' in head or '"impacted_services"' in head
                                          or '"region_name"' in head)


def parse(doc: RawDoc) -> ParsedDoc:
    """Events from either shape; an unreadable row or entry is skipped with a warning."""
    data = load_json(doc.body, doc.url)
    page = page_origin(doc.url)
    if isinstance(data, dict) and ("archive" in data or "current" in data):
        return _legacy(doc, data, page or LEGACY_PAGE)
    if isinstance(data, list):
        return _current(doc, data, page or CURRENT_PAGE)
    raise ParseError(doc.url, "expected AWS data.json {archive, current} or a currentevents list")


# ------------------------------------------------------------------------ legacy data.json


def _legacy(doc: RawDoc, data: dict[str, Any], page: str) -> ParsedDoc:
    warnings: list[str] = []
    rows: list[Row] = []
    items = [*list_field(data, "archive"), *list_field(data, "current")]
    for index, raw in enumerate(items):
        where = f"row #{index}"
        if isinstance(raw, dict):
            where = f"row {text_field(raw, 'service') or '?'}_{text_field(raw, 'date') or '?'}"
        try:
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            rows.append(_legacy_row(raw))
        except ValueError as error:
            warnings.append(f"{doc.url}: {where}: {error}")
    records = [
        event_record(group, channel=CHANNEL, page_url=page, complete=True)
        for group in group_rows(rows)
    ]
    return ParsedDoc(format=NAME, incidents=tuple(records), page=PageInfo(name="AWS", url=page),
                     warnings=tuple(warnings))


def _legacy_row(raw: dict[str, Any]) -> Row:
    service = (text_field(raw, "service") or "").strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,80}", service):
        raise ValueError("missing or invalid service key")
    first = epoch_time(text_field(raw, "date"))
    if first is None:
        raise ValueError("missing or invalid epoch date")
    summary = (text_field(raw, "summary") or "").strip()
    row = Row(service=service, service_name=(text_field(raw, "service_name") or service).strip(),
              summary=summary, first_post=first, status=text_field(raw, "status"))
    row.posts = _posts(text_field(raw, "description") or "", first)
    if not row.posts:
        raise ValueError("no dated posts in its description")
    return row


def _posts(description: str, first: datetime) -> list[UpdateRecord]:
    """The posts of one row, dated from its epoch; clock roll-over past midnight handled."""
    posts: list[UpdateRecord] = []
    previous: datetime | None = None  # local wall time of the previous post
    for found in _POST.finditer(description):
        stamp = " ".join(html.unescape(found.group("stamp")).split())
        match = _STAMP.match(stamp)
        if match is None:
            raise ValueError(f"unreadable post time {stamp[:40]!r}")
        zone = zone_for(match.group("zone") or "")
        if zone is None:
            raise ValueError(f"unknown time zone in {stamp[:40]!r}")
        hour, minute = int(match.group("h")), int(match.group("m"))
        if not 1 <= hour <= 12 or minute > 59:
            raise ValueError(f"bad 12-hour clock {stamp[:40]!r}")
        hour = hour % 12 + (12 if match.group("ampm")[0].lower() == "p" else 0)
        base = (previous or first.astimezone(zone).replace(tzinfo=None)).date()
        if match.group("mon"):
            abbreviation = match.group("mon")[:3].lower()
            if abbreviation not in _MONTHS:
                raise ValueError(f"unknown month in {stamp[:40]!r}")
            month = _MONTHS.index(abbreviation) + 1
            year = base.year + (1 if month < base.month - 6 else 0)  # Dec → Jan
            try:
                wall = datetime(year, month, int(match.group("day")), hour, minute)
            except ValueError as error:
                raise ValueError(f"impossible date {stamp[:40]!r}") from error
        else:
            wall = datetime(base.year, base.month, base.day, hour, minute)
            if previous is not None and wall < previous - _ROLLOVER_SLACK:
                wall += timedelta(days=1)
        previous = wall
        body = _TRAILING_DIV.sub("", _LEADING_SPACE.sub("", found.group("body"))).strip()
        posts.append(UpdateRecord(at=local_to_utc(wall, zone), label="", body=body,
                                  body_format="html", at_precision="minute"))
    return posts


# ------------------------------------------------------------------------- currentevents


def _current(doc: RawDoc, data: list[Any], page: str) -> ParsedDoc:
    warnings: list[str] = []
    records: list[IncidentRecord] = []
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            warnings.append(f"{doc.url}: entry #{index}: not an object, skipped")
            continue
        try:
            records.append(_current_event(raw, page))
        except ValueError as error:
            warnings.append(f"{doc.url}: entry {text_field(raw, 'service') or index}: {error}")
    if data and not records and not warnings:
        raise ParseError(doc.url, "no AWS events in the list")
    return ParsedDoc(format=NAME, incidents=tuple(records), page=PageInfo(name="AWS", url=page),
                     warnings=tuple(warnings))


def _current_event(raw: dict[str, Any], page: str) -> IncidentRecord:
    service = (text_field(raw, "service") or "").strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,80}", service):
        raise ValueError("missing or invalid service key")
    first = epoch_time(raw.get("date"))
    if first is None:
        raise ValueError("missing or invalid epoch date")
    summary = (text_field(raw, "summary") or "").strip()
    name = (text_field(raw, "service_name") or service).strip()
    region = (text_field(raw, "region_name") or "").strip()
    if region and region not in name:
        name = f"{name} ({region})"
    posts, _ = parse_each(list_field(raw, "event_log"), _log_entry, "event_log entries")
    if not posts:
        raise ValueError("no readable event_log entry")
    row = Row(service=service, service_name=name, summary=summary, first_post=first,
              status=text_field(raw, "status"), posts=posts)
    record = event_record([row], channel=CHANNEL, page_url=page, complete=True)
    extra = []
    impacted = raw.get("impacted_services")
    if isinstance(impacted, dict):
        for key, value in impacted.items():
            if isinstance(value, dict) and key != service:
                extra.append(ComponentRecord(
                    name=text_field(value, "service_name") or key, code=str(key)[:120],
                    status=text_field(value, "current")))
    title = clean_summary(summary) or name
    return replace(record, title=title, components=(*record.components, *extra))


def _log_entry(item: dict[str, Any]) -> UpdateRecord | None:
    """One post of an event's log; None without a readable timestamp."""
    at = epoch_time(item.get("timestamp"))
    if at is None:
        return None
    marked = (text_field(item, "summary") or "").lstrip().upper().startswith(RESOLVED_MARK)
    return UpdateRecord(
        at=at, label=RESOLVED_MARK if marked else (text_field(item, "status") or ""),
        body=text_field(item, "message") or "", body_format="text")
