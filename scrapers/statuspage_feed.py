"""Atlassian Statuspage incident-history feeds: `/history.atom` and `/history.rss`.

Each entry is one incident or maintenance; its HTML content lists every update, newest first:

    <p><small>Oct <var data-var='date'> 7</var>, <var data-var='time'>21:23</var> UTC</small><br>
    <strong>Resolved</strong> - body HTML</p>

Update stamps carry no year (it is inferred from the entry's own timestamps) and name the
page's *configured* zone ("PST" all year round on some pages; see `scrapers.zones`).

The content is segmented with a regular expression on that header rather than with an HTML
tree: bodies contain unclosed `<li>` (Symantec), and lxml re-nests the following `<p>` blocks
inside them, while the header itself is machine-written and rigid. Bodies are kept as the
HTML that was published.

The small feed helpers (`load_feed`, `read_entries`, `feed_time`, `node_time`) are shared
with `scrapers.incidentio_feed`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser

from scrapers.encoding import utf8_xml
from scrapers.errors import ParseError
from scrapers.markup import html_to_text
from scrapers.records import IncidentRecord, PageInfo, ParsedDoc, RawDoc, UpdateRecord
from scrapers.urls import page_origin
from scrapers.zones import infer_year, local_to_utc, zone_for

NAME = "statuspage_feed"
VERSION = 1
CHANNEL = NAME
PRIORITY = 50

_SNIFF_BYTES = 4096
_MAINTENANCE_LABELS = frozenset({"scheduled", "in progress", "verifying", "completed"})
_SCHEDULED_PREFIX = "THIS IS A SCHEDULED EVENT"

# One update header; the optional leading <p> belongs to the block, so the previous body ends
# where this match starts. Only the <strong> right after "<small>…</small><br>" is a label.
_HEADER = re.compile(
    r"(?:<p\b[^>]*>\s*)?<small\b[^>]*>(?P<stamp>.*?)</small\s*>\s*<br\s*/?>\s*"
    r"<strong\b[^>]*>(?P<label>.*?)</strong\s*>[ \t\r\n]*(?:-[ \t\r\n]*)?",
    re.S | re.I,
)
_TRAILING_P = re.compile(r"(?:\s*</p\s*>)+\s*$", re.I)
_INCIDENT_CODE = re.compile(r"/incidents/([^/?#\s]+)")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
# "Oct 7, 21:23 UTC", "Jan  1, 09:09 PST", "Dec 29, 2013, 9:09 AM PST" (the year is optional).
_WALL = (
    r"(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+"
    r"(?:(?P<year>\d{4}),?\s+)?"
)
_CLOCK = (
    r"(?P<h>\d{1,2})[:\u2236](?P<m>\d{2})\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?)?"
    r"(?:\s*(?P<zone>[A-Za-z][A-Za-z0-9_/+\-]*))?"
)
_STAMP = re.compile(rf"^{_WALL}{_CLOCK}$")
_CLOCK_ONLY = re.compile(rf"^{_CLOCK}$")


# An update inferred this long before the one listed under it was put in the wrong year.
_FELL_BACK_A_YEAR = timedelta(days=180)

_Wall = tuple[int, int, int, int, ZoneInfo]
T = TypeVar("T")  # month, day, hour, minute, zone of a stamp


class EntryError(Exception):
    """This one feed entry cannot be read; it is skipped with a warning (`read_entries`)."""


# --------------------------------------------------------------------------- public contract


def sniff(body: bytes) -> bool:
    """A Statuspage history feed (Atom or RSS), not an incident.io one; looks at the head only."""
    head = body[:_SNIFF_BYTES].decode("latin-1").lower()
    if "<feed" not in head and "<rss" not in head:
        return False
    if "<generator>incident.io" in head or "//incidents/" in head:
        return False
    # Every Statuspage feed in the corpus (2013–2026) titles itself "<Page> - Incident History"
    # and its Atom ids read "tag:<host>,2005:Incident/<n>". A bare "/incidents/" link is not
    # enough: other vendors' feeds (Google Cloud's) link to /incidents/ too.
    return "incident history" in head or ",2005:incident/" in head


def parse(doc: RawDoc) -> ParsedDoc:
    """One IncidentRecord per feed entry; unreadable entries are skipped with a warning."""
    feed, warnings = load_feed(doc)
    meta = feed.get("feed", {})
    page_url = page_origin(_alternate_link(meta) or meta.get("link") or doc.url)
    # RSS: <lastBuildDate> is "updated", the channel <pubDate> is "published".
    as_of = node_time(meta, "updated") or node_time(meta, "published")
    # Stamps may not lie after the snapshot itself (bounds the postmortem year fix below).
    horizon = as_of or doc.fetched_at
    complete = not _malformed_xml(feed)
    incidents = read_entries(feed.get("entries", []),
                             lambda entry: _entry(entry, page_url, horizon, complete), warnings)
    return ParsedDoc(
        format=NAME,
        incidents=tuple(incidents),
        page=PageInfo(name=_page_name(meta.get("title")), url=page_url),
        as_of=as_of,
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------ helpers shared with incidentio


def load_feed(doc: RawDoc) -> tuple[Any, list[str]]:
    """Run feedparser over the bytes; ParseError unless it is a feed with something in it.

    Returns the feedparser result and warnings (one for a malformed, partly recovered feed).
    """
    try:
        # A stream, never the bytes themselves: feedparser treats a str/bytes argument that
        # looks like a URL or a path as something to fetch or open. HTML sanitizing and URI
        # rewriting are off so bodies stay as published; `markup`/`kb` clean them later.
        feed = feedparser.parse(
            io.BytesIO(_no_surrogate_refs(utf8_xml(doc.body))), sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as error:
        raise ParseError(doc.url, f"feedparser failed: {_one_line(error)}") from error
    version = feed.get("version") or ""
    entries = feed.get("entries") or []
    problem = feed.get("bozo_exception") if feed.get("bozo") else None
    if not version.startswith(("atom", "rss")):
        reason = "not an Atom/RSS feed"
        if not doc.body.strip():
            reason = "empty body"
        elif problem is not None:
            reason += f" ({_one_line(problem)})"
        raise ParseError(doc.url, reason)
    if problem is not None and not entries and _malformed_xml(feed):
        raise ParseError(doc.url, f"malformed feed, nothing recoverable: {_one_line(problem)}")
    warnings = []
    if problem is not None:
        warnings.append(f"feed is malformed, parsed what was recoverable: {_one_line(problem)}")
    return feed, warnings


def read_entries(entries: list[Any], read: Callable[[Any], T], warnings: list[str]) -> list[T]:
    """`read` over a feed's entries: what it returned, and one warning in `warnings` per entry
    it could not read, named by its link, id or position."""
    found: list[T] = []
    for index, entry in enumerate(entries):
        where = entry.get("link") or entry.get("id") or f"#{index}"
        try:
            found.append(read(entry))
        except EntryError as error:
            warnings.append(f"entry {where}: {error}")
        except Exception as error:  # hostile payloads must cost one entry, not the document
            warnings.append(f"entry {where}: unexpected {type(error).__name__}: "
                            f"{_one_line(error)}")
    return found


def feed_time(value: str | None, parsed: Any = None) -> datetime | None:
    """A feed timestamp as aware UTC: RFC 3339 (Atom, keeping milliseconds), RFC 822 (RSS),
    else feedparser's own parse; None when there is none."""
    if isinstance(value, str) and value.strip():
        text = value.strip()
        for reader in (datetime.fromisoformat, parsedate_to_datetime):
            try:
                moment = reader(text)
                if moment is None:
                    continue
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                return moment.astimezone(UTC)
            # OverflowError: a year of a hundred digits; astimezone past year 9999
            except (ValueError, TypeError, IndexError, OverflowError):
                continue
    if parsed:
        try:
            return datetime(*parsed[:6], tzinfo=UTC)
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def node_time(node: dict[str, Any], key: str) -> datetime | None:
    """`feed_time` of a feed or entry field ("updated", "published"), read as stored: plain
    dict access skips feedparser's deprecated updated→published aliasing."""
    value = dict.get(node, key)
    moment = feed_time(value, dict.get(node, f"{key}_parsed"))
    # feedparser reads the RFC 822 year "0001" as 2001 (two-digit year rules): a stamp
    # whose written four-digit year is not the year read is not trusted at all
    if moment is not None and isinstance(value, str):
        written = _YEAR.search(value)
        if written and int(written.group(0)) != moment.year and abs(
                int(written.group(0)) - moment.year) > 1:  # a zone can move Dec 31 → Jan 1
            return None
    return moment


_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
# A character reference to a UTF-16 surrogate (&#xD800; / &#55296;) is not well-formed XML,
# and feedparser's loose parser turns it into a lone surrogate it then cannot encode, failing
# the whole feed: such references become U+FFFD (as HTML5 parsers do) before parsing.
_SURROGATE_REF = re.compile(rb"&#(?:[xX]0*([dD][89a-fA-F][0-9a-fA-F]{2})|0*(5[5-7]\d{3}));")


def _no_surrogate_refs(body: bytes) -> bytes:
    if b"&#" not in body:
        return body

    def swap(match: re.Match[bytes]) -> bytes:
        value = int(match.group(1), 16) if match.group(1) else int(match.group(2))
        return b"&#xFFFD;" if 0xD800 <= value <= 0xDFFF else match.group(0)

    return _SURROGATE_REF.sub(swap, body)


def _alternate_link(meta: Mapping[str, Any]) -> str | None:
    for link in meta.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _malformed_xml(feed: Mapping[str, Any]) -> bool:
    """True when the XML itself broke (truncation, bad tokens), not just a charset mismatch."""
    problem = feed.get("bozo_exception") if feed.get("bozo") else None
    return problem is not None and "SAX" in type(problem).__name__


def _one_line(error: object) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


# ------------------------------------------------------------------------------ entry reading


def _page_name(title: str | None) -> str | None:
    if not title:
        return None
    for suffix in (" Status - Incident History", " - Incident History"):
        if title.endswith(suffix):
            return title[: -len(suffix)].strip() or None
    return title.strip() or None


def _entry(entry: dict[str, Any], page_url: str | None, horizon: datetime,
           complete: bool) -> IncidentRecord:
    link = (entry.get("link") or "").strip()
    code = _INCIDENT_CODE.search(urlsplit(link).path) if link else None
    if code is None:
        raise EntryError("no /incidents/<code> link")
    published = node_time(entry, "published")
    updated = node_time(entry, "updated") or published
    moments = [t for t in (published, updated) if t is not None]
    if not moments:
        raise EntryError("no published/updated time to date its updates by")
    # Maintenance entries publish the scheduled start, which may lie after the last update.
    reference = max(moments)

    content = entry_content(entry)
    headers = list(_HEADER.finditer(content))
    if not headers:
        raise EntryError("no '<small>stamp</small><br><strong>label</strong>' update blocks")
    updates: list[UpdateRecord] = []
    walls: list[_Wall | None] = []
    for number, header in enumerate(headers):
        end = headers[number + 1].start() if number + 1 < len(headers) else len(content)
        label = html_to_text(header.group("label"))
        if not label:
            raise EntryError(f"update {number + 1} has an empty label")
        at, wall = _stamp_to_utc(html_to_text(header.group("stamp")), reference)
        body = _TRAILING_P.sub("", content[header.end():end]).strip()
        updates.append(UpdateRecord(at=at, label=label, body=body, body_format="html",
                                    at_precision="minute"))
        walls.append(wall)
    updates = _fix_year_order(updates, walls, horizon)

    preamble = html_to_text(content[: headers[0].start()])
    scheduled = preamble.startswith(_SCHEDULED_PREFIX)
    maintenance = scheduled or any(u.label.lower() in _MAINTENANCE_LABELS for u in updates)
    window = _schedule(preamble, max([reference, *(u.at for u in updates)])) if scheduled else None

    title = entry.get("title") or ""
    if (entry.get("title_detail") or {}).get("type") == "text/html":
        title = html_to_text(title)
    return IncidentRecord(
        native_id=code.group(1),
        title=title.strip(),
        channel=CHANNEL,
        kind="maintenance" if maintenance else "incident",
        url=link,
        page_url=page_url,
        status=updates[0].label.lower().replace(" ", "_"),  # listed newest first
        updated_at=updated,
        scheduled_for=window[0] if window else None,
        scheduled_until=window[1] if window else None,
        updates=tuple(updates),
        updates_complete=complete,
    )


def entry_content(entry: dict[str, Any]) -> str:
    """A feed entry's body: its first non-empty content, else its summary or description."""
    for part in entry.get("content") or []:
        if part.get("value"):
            return str(part["value"])
    return str(entry.get("summary") or entry.get("description") or "")


def _stamp_to_utc(stamp: str, reference: datetime) -> tuple[datetime, _Wall | None]:
    """UTC instant of an update stamp, and its wall-clock parts when the year was inferred."""
    match = _STAMP.match(" ".join(stamp.split()))
    if match is None:
        raise EntryError(f"unreadable update stamp {stamp[:60]!r}")
    wall = _wall_parts(match, None, stamp)
    month, day, hour, minute, zone = wall
    try:
        if match.group("year"):
            moment = datetime(int(match.group("year")), month, day, hour, minute)
            return local_to_utc(moment, zone), None
        return infer_year(month, day, hour, minute, zone, reference), wall
    except ValueError as error:
        raise EntryError(f"impossible update stamp {stamp[:60]!r}") from error


def _wall_parts(match: re.Match[str], default_zone: ZoneInfo | None, text: str) -> _Wall:
    """(month, day, hour, minute, zone) of a matched stamp; day/month 0 for a clock only."""
    month = day = 0
    if "mon" in match.groupdict():
        name = match.group("mon").lower()
        month = next((i + 1 for i, full in enumerate(_MONTHS) if full.startswith(name)), 0)
        month = 9 if name == "sept" else month
        day = int(match.group("day"))
        if not month:
            raise EntryError(f"unknown month in {text[:60]!r}")
    hour, minute = int(match.group("h")), int(match.group("m"))
    meridiem = (match.group("ampm") or "").replace(".", "").replace(" ", "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise EntryError(f"bad 12-hour clock in {text[:60]!r}")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        raise EntryError(f"bad clock in {text[:60]!r}")
    abbreviation = match.group("zone")
    zone = zone_for(abbreviation) if abbreviation else default_zone
    if zone is None:
        raise EntryError(f"unknown time zone {abbreviation or '(none)'!r} in {text[:60]!r}")
    return month, day, hour, minute, zone


def _fix_year_order(updates: list[UpdateRecord], walls: list[_Wall | None],
                    horizon: datetime) -> list[UpdateRecord]:
    """Updates are listed newest first. A stamp dated more than a day *after* the entry's own
    time (a postmortem: Parse's 'Dec 26' on an entry published Dec 24) makes `infer_year` fall
    back a year, landing months before the update listed under it; move it a year on.

    Small inversions (same-minute updates listed out of order) are real data and kept."""
    fixed = list(updates)
    for index in range(len(fixed) - 2, -1, -1):  # oldest-but-one towards the newest
        newer, older, wall = fixed[index], fixed[index + 1], walls[index]
        if wall is None or older.at - newer.at < _FELL_BACK_A_YEAR:
            continue
        month, day, hour, minute, zone = wall
        try:
            year = newer.at.astimezone(zone).year + 1
            later = local_to_utc(datetime(year, month, day, hour, minute), zone)
        except ValueError:  # Feb 29
            continue
        if older.at - timedelta(days=1) <= later <= horizon + timedelta(days=1):
            fixed[index] = replace(newer, at=later)
    return fixed


def _schedule(preamble: str, reference: datetime) -> tuple[datetime, datetime] | None:
    """The window of "THIS IS A SCHEDULED EVENT Jan 9, 16:00 - 18:00 UTC" (or
    "Jan 9, 16:00 UTC - Jan 10, 02:00 UTC"); None when it is not in that shape."""
    text = " ".join(preamble[len(_SCHEDULED_PREFIX):].split())
    start_text, _, end_text = text.partition(" - ")
    start = _STAMP.match(start_text.strip())
    end = _STAMP.match(end_text.strip()) or _CLOCK_ONLY.match(end_text.strip())
    if start is None or end is None:
        return None
    try:
        end_zone = _wall_parts(end, None, end_text)[4] if end.group("zone") else None
        s_month, s_day, s_hour, s_minute, zone = _wall_parts(start, end_zone, start_text)
        e_month, e_day, e_hour, e_minute, e_zone = _wall_parts(end, zone, end_text)
        begin = _nearest(s_month, s_day, s_hour, s_minute, zone, reference)
        if not e_month:
            e_month, e_day = s_month, s_day
        finish = _nearest(e_month, e_day, e_hour, e_minute, e_zone, begin)
    except (EntryError, ValueError):
        return None
    if finish < begin:  # "23:00 - 01:00 UTC" runs past midnight
        finish += timedelta(days=1)
    return begin, finish


def _nearest(month: int, day: int, hour: int, minute: int, zone: ZoneInfo,
             reference: datetime) -> datetime:
    """The year-less wall time nearest to `reference`: a schedule may lie ahead of the entry,
    which `infer_year` (never after its reference) would push back a year."""
    candidates = []
    for year in (reference.year - 1, reference.year, reference.year + 1):
        try:
            candidates.append(local_to_utc(datetime(year, month, day, hour, minute), zone))
        except ValueError:
            continue
    if not candidates:
        raise ValueError("impossible date")
    return min(candidates, key=lambda moment: abs(moment - reference))
