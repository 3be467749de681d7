"""Payload builders for the hostile-record suite: the same records written in every format
that scrapers/registry.py FORMATS reads (status formats and signal formats).

Each builder takes records (id, title, time, body) and returns the payload bytes, shaped
after the recorded real samples under tests/fixtures/<format>/ (the field names, nesting and
sniffed marks are those of the samples; the values are ours). A record's `when` is an ISO
time or None (no time at all); builders write it in the format's own notation (RFC 822 for
RSS, epoch seconds for AWS data.json, JavaScript date strings for Instatus).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

NOW_ISH = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rec:
    """One record to write: `id` is the part of the native id we control."""

    id: str
    title: str
    when: str | None
    body: str


def _dt(when: str) -> datetime:
    return datetime.fromisoformat(when.replace("Z", "+00:00"))


def _rfc822(when: str | None) -> str | None:
    if when is None:
        return None
    stamp = _dt(when)
    if stamp.year < 1000:  # format_datetime pads years to 4 digits anyway; keep it explicit
        return f"Mon, 01 Jan {stamp.year:04d} 00:00:00 +0000"
    return format_datetime(stamp)


def _xml(text: str) -> str:
    """Text for an XML document: lone surrogates cannot be encoded, so they are written as
    the character reference a hostile server would send (not well-formed XML)."""
    out = []
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"&#x{ord(ch):X};")
        else:
            out.append(escape(ch))
    return "".join(out)


def _json(value: object) -> bytes:
    # ensure_ascii writes a lone surrogate as the JSON escape "\ud800" (valid JSON)
    return json.dumps(value, ensure_ascii=True).encode()


# + 4 characters of our own. The first 10 encode the ULID's creation time, 2025-03-01 00:00Z:
# before every record's date, as a real incident is created before its updates (a later one,
# 2026-01, made every update a year older than its incident: not placed, kb.normalize).
ULID_PREFIX = "01JN7G1C00ZCZBXCRP47BT"


def ulid(rec: Rec) -> str:
    """A 26-character ULID-shaped id for `rec` (incident.io's feed links need one)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
    number = zlib.crc32(rec.id.encode())
    tail = "".join(alphabet[(number >> (5 * k)) & 31] for k in range(4))
    return ULID_PREFIX + tail


def statuspage_json(recs: list[Rec]) -> bytes:
    incidents = []
    for r in recs:
        update = {"id": f"u-{r.id}", "status": "investigating", "body": r.body}
        item: dict = {"id": r.id, "name": r.title, "status": "investigating", "impact": "minor",
                      "incident_updates": [update] if r.when else []}
        if r.when:
            item["created_at"] = item["updated_at"] = r.when
            update["created_at"] = update["display_at"] = r.when
        incidents.append(item)
    return _json({"page": {"id": "p1", "name": "Acme", "url": "https://status.acme.test"},
                  "incidents": incidents})


def _feed_block(r: Rec) -> str:
    """Statuspage's update block: the stamp has no year (it is taken from <updated>)."""
    stamp = _dt(r.when) if r.when else NOW_ISH
    return (f"<p><small>{stamp:%b} <var data-var='date'>{stamp.day:2d}</var>, "
            f"<var data-var='time'>{stamp:%H:%M}</var> UTC</small><br>"
            f"<strong>Investigating</strong> - {r.body}</p>")


def statuspage_feed(recs: list[Rec]) -> bytes:
    entries = []
    for r in recs:
        stamp = f"<published>{r.when}</published><updated>{r.when}</updated>" if r.when else ""
        entries.append(
            f"<entry><id>tag:status.acme.test,2005:Incident/{abs(hash(r.id)) % 10**8}</id>"
            f"{stamp}<link rel=\"alternate\" type=\"text/html\" "
            f"href=\"https://status.acme.test/incidents/{r.id}\"/>"
            f"<title>{_xml(r.title)}</title><content type=\"html\">"
            f"{_xml(_feed_block(r))}</content></entry>")
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xml:lang=\"en-US\" "
            "xmlns=\"http://www.w3.org/2005/Atom\"><id>tag:status.acme.test,2005:/history</id>"
            "<link rel=\"alternate\" type=\"text/html\" href=\"https://status.acme.test\"/>"
            "<title>Acme Status - Incident History</title>"
            "<updated>2025-03-05T00:00:00Z</updated>" + "".join(entries) + "</feed>").encode()


def incidentio(recs: list[Rec]) -> bytes:
    incidents = []
    for r in recs:
        item: dict = {"id": r.id, "name": r.title, "status": "investigating",
                      "status_page_id": "01JEV56RY0P76Q6QPHRZN5SJ9D", "updates": []}
        if r.when:
            item["published_at"] = r.when
            item["updates"] = [{"id": f"u-{r.id}", "published_at": r.when,
                                "message_string": r.body, "to_status": "investigating",
                                "component_statuses": []}]
        incidents.append(item)
    return _json({"incidents": incidents})


def incidentio_feed(recs: list[Rec]) -> bytes:
    entries = []
    for r in recs:
        link = f"https://status.acme.test//incidents/{ulid(r)}"
        stamp = f"<updated>{r.when}</updated>" if r.when else ""
        entries.append(
            f"<entry><title type=\"html\">{_xml(r.title)}</title><id>{link}</id>"
            f"<link href=\"{link}\"/>{stamp}<content type=\"html\">"
            f"{_xml('<b>Status: Investigating</b><br/><br/>' + r.body)}</content></entry>")
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed "
            "xmlns=\"http://www.w3.org/2005/Atom\"><id>https://status.acme.test/</id>"
            "<title>Acme status</title><updated>2025-03-05T00:00:00Z</updated>"
            "<generator>incident.io</generator>"
            "<link rel=\"alternate\" href=\"https://status.acme.test/\"/>"
            + "".join(entries) + "</feed>").encode()


def gcp(recs: list[Rec]) -> bytes:
    items = []
    for r in recs:
        item: dict = {"id": r.id, "external_desc": r.title, "service_key": "svc",
                      "service_name": "Cloud Thing", "severity": "medium",
                      "status_impact": "SERVICE_DISRUPTION", "updates": []}
        if r.when:
            item.update(begin=r.when, created=r.when, modified=r.when)
            item["updates"] = [{"created": r.when, "modified": r.when, "when": r.when,
                                "text": r.body, "status": "SERVICE_DISRUPTION"}]
        items.append(item)
    return _json(items)


def aws_service(r: Rec) -> str:
    """The AWS service code (`<service>-<region>`) a record is written under."""
    return f"{r.id}-us-east-1"


def _aws_post(r: Rec) -> str:
    stamp = _dt(r.when) if r.when else NOW_ISH
    return (f"<div><span class=\"yellowfg\">{stamp:%I:%M %p} UTC</span>&nbsp;"
            f"{escape(r.body)}</div>")


def aws_json(recs: list[Rec]) -> bytes:
    archive = []
    for r in recs:
        item = {"service_name": f"Amazon Thing {r.id}", "summary": r.title, "status": "1",
                "details": "", "description": _aws_post(r),
                "service": aws_service(r)}
        if r.when:
            item["date"] = str(int(_dt(r.when).timestamp()))
        archive.append(item)
    return _json({"archive": archive, "current": []})


def aws_rss(recs: list[Rec]) -> bytes:
    items = []
    for r in recs:
        # the guid carries the time (#<service>_<epoch>); a record with no time has none
        epoch = f"_{int(_dt(r.when).timestamp())}" if r.when else ""
        date = f"<pubDate>{_rfc822(r.when)}</pubDate>" if r.when else ""
        items.append(
            f"<item><title>{_xml(r.title)}</title><link>https://status.aws.amazon.com/</link>"
            f"{date}<guid isPermaLink=\"false\">https://status.aws.amazon.com/#"
            f"{aws_service(r)}{epoch}</guid><description>{_xml(r.body)}</description></item>")
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>"
            "<title>Amazon Web Services Service Status</title>"
            "<link>https://status.aws.amazon.com/</link>"
            "<generator>AWS Service Health Dashboard RSS Generator</generator>"
            + "".join(items) + "</channel></rss>").encode()


def slack(recs: list[Rec]) -> bytes:
    items = []
    for r in recs:
        item: dict = {"id": r.id, "title": r.title, "type": "incident", "status": "active",
                      "services": ["Messaging"], "notes": []}
        if r.when:
            item["date_created"] = item["date_updated"] = r.when
            item["notes"] = [{"date_created": r.when, "body": r.body}]
        items.append(item)
    return _json(items)


def vultr(recs: list[Rec]) -> bytes:
    """Vultr's alerts.json (tests/fixtures/vultr): one alert per record, one entry each."""
    items = []
    for r in recs:
        item: dict = {"id": r.id, "region": "ewr", "subject": r.title, "updated_at": "",
                      "status": "ongoing", "entries": []}
        if r.when:
            item["start_date"] = r.when
            item["entries"] = [{"updated_at": r.when, "message": r.body}]
        items.append(item)
    return _json({"service_alerts": items})


def instatus(recs: list[Rec]) -> bytes:
    items = []
    for r in recs:
        item = {"name": r.title, "status": "INVESTIGATING", "impact": "MAJOROUTAGE",
                "url": f"https://acme.instatus.com/incident/{r.id}"}
        if r.when:
            stamp = _dt(r.when)
            item["started"] = (f"{stamp:%a %b %d} {stamp.year:04d} {stamp:%H:%M:%S} GMT+0000 "
                               "(Coordinated Universal Time)")
        items.append(item)
    return _json({"page": {"name": "Acme", "url": "https://acme.instatus.com",
                           "status": "HASISSUES"}, "activeIncidents": items})


def betterstack(recs: list[Rec]) -> bytes:
    included: list[dict] = []
    for r in recs:
        report = {"type": "status_report", "id": r.id,
                  "attributes": {"title": r.title, "report_type": "manual",
                                 "starts_at": r.when, "ends_at": None,
                                 "aggregate_state": "degraded", "affected_resources": []},
                  "relationships": {"status_updates": {"data": [
                      {"id": f"u-{r.id}", "type": "status_update"}]}}}
        update = {"type": "status_update", "id": f"u-{r.id}",
                  "attributes": {"message": r.body, "published_at": r.when,
                                 "affected_resources": []}}
        included += [report, update]
    return _json({"data": {"id": "1", "type": "status_page",
                           "attributes": {"company_name": "Acme",
                                          "aggregate_state": "degraded"}},
                  "included": included})


def generic_feed(recs: list[Rec]) -> bytes:
    items = []
    for r in recs:
        date = f"<pubDate>{_rfc822(r.when)}</pubDate>" if r.when else ""
        items.append(
            f"<item><guid isPermaLink=\"false\">{r.id}</guid>"
            f"<link>https://status.acme.test/</link><title>{_xml(r.title)}</title>"
            f"<description>{_xml('We are investigating. ' + r.body)}</description>"
            f"{date}</item>")
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>"
            "<title>Acme Status</title><link>https://status.acme.test/</link>"
            "<description>Acme service status: incidents, outages and maintenance"
            "</description>" + "".join(items) + "</channel></rss>").encode()


def hn_id(rec: Rec) -> str:
    """Hacker News ids are numbers: one derived from `rec.id`."""
    return str(40_000_000 + zlib.crc32(rec.id.encode()) % 1_000_000)


def hackernews(recs: list[Rec]) -> bytes:
    hits = []
    for n, r in enumerate(recs):
        hit: dict = {"_tags": ["story", f"story_{r.id}"], "author": "someone", "children": [],
                     "num_comments": 3, "objectID": hn_id(r), "points": 10,
                     "story_id": n + 1,
                     "title": r.title, "url": f"https://news.acme.test/{r.id}",
                     "story_text": r.body}
        if r.when:
            hit["created_at"] = r.when
            hit["created_at_i"] = int(_dt(r.when).timestamp())
        hits.append(hit)
    return _json({"hits": hits, "nbHits": len(hits), "hitsPerPage": 50})


def signal_records(recs: list[Rec]) -> bytes:
    """The corpus' compiled signal records (JSON Lines; tests/fixtures/signals), lobste.rs."""
    lines = []
    for r in recs:
        lines.append(json.dumps({
            "source": "lobsters", "id": r.id, "title": r.title,
            "url": f"https://news.acme.test/{r.id}",
            "discussion_url": f"https://lobste.rs/s/{r.id}", "created_at": r.when,
            "provider": "acme", "kind": "live_report", "note": r.body,
            "where_found": "a hostile test"}, ensure_ascii=True))
    return ("\n".join(lines) + "\n").encode()


def news(recs: list[Rec]) -> bytes:
    items = []
    for r in recs:
        date = f"<pubDate>{_rfc822(r.when)}</pubDate>" if r.when else ""
        items.append(
            f"<item><title>{_xml(r.title)}</title><link>https://news.acme.test/{r.id}</link>"
            f"<guid>{r.id}</guid>{date}<description>{_xml(r.body)}</description></item>")
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>"
            "<title>Example Tech News</title><link>https://news.acme.test/</link>"
            "<description>Daily technology headlines</description>"
            + "".join(items) + "</channel></rss>").encode()


# format module NAME → (builder, file suffix, stores signals rather than incidents)
BUILDERS: dict[str, tuple[Callable[[list[Rec]], bytes], str, bool]] = {
    "statuspage": (statuspage_json, "json", False),
    "statuspage_feed": (statuspage_feed, "atom", False),
    "incidentio": (incidentio, "json", False),
    "incidentio_feed": (incidentio_feed, "atom", False),
    "gcp_json": (gcp, "json", False),
    "aws_json": (aws_json, "json", False),
    "aws_rss": (aws_rss, "rss", False),
    "slack": (slack, "json", False),
    "vultr": (vultr, "json", False),
    "instatus": (instatus, "json", False),
    "betterstack": (betterstack, "json", False),
    "generic_feed": (generic_feed, "rss", False),
    "hackernews": (hackernews, "json", True),
    "news": (news, "rss", True),
    "signal_records": (signal_records, "jsonl", True),
}



def expected_id(fmt: str, rec: Rec, index: int) -> str:
    """Text that the stored key (or a warning about the record) contains for `rec` written
    at position `index` of a payload in format `fmt`."""
    if fmt == "incidentio_feed":
        return ulid(rec)
    if fmt in ("aws_json", "aws_rss"):
        return aws_service(rec)
    if fmt == "hackernews":
        return hn_id(rec)
    return rec.id
