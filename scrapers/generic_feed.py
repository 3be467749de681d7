"""Any other RSS/Atom status feed (Azure's `azure.status.microsoft/en-us/status/feed/`): the
fallback, tried after every specific status format (and before the press/forum formats,
which take any feed).

It accepts a feed only when the feed presents itself as a status feed (its channel title,
link or description says "status", "service health", "health dashboard", "incident history"
or "uptime") and its items speak status vocabulary (incident, outage, resolved,
investigating, degraded, ...): a blog, a news feed or a news search about outages is left to
the other formats or reported as unknown, never turned into "incidents". It never claims
Statuspage or incident.io feeds, even ones their own modules refused.

Each item is an update of the incident named by its guid (or id, or link); items sharing one
are that incident's updates. The phase is taken from the item where it is written:
`<strong>Resolved</strong>` / `<b>Status: Identified</b>` / "Status: Monitoring" in the body,
or "[RESOLVED] ...", "Resolved: ...", "Mitigated - ..." at the head of the title; the raw word
becomes the update's label. Where none is written the label is left empty (`kb` then infers
the phase from the text) and the document's warnings say how many items stated none.
A feed shows a window of recent items, so `updates_complete` is False.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scrapers import incidentio_feed, statuspage_feed
from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.markup import html_to_text
from scrapers.records import IncidentRecord, PageInfo, ParsedDoc, RawDoc, UpdateRecord
from scrapers.statuspage_feed import entry_content, load_feed, node_time
from scrapers.urls import page_origin

NAME = "generic_feed"
VERSION = 1
CHANNEL = "generic_feed"
PRIORITY = 95  # a plain feed often shows only the latest state

_SNIFF_CHARS = 65536
_ROOT = re.compile(r"<(?:[a-z0-9_]+:)?(?:rss|feed|rdf:rdf)\b", re.I)
# Statuspage's own marks, in case its module refused one of its feeds for another reason.
_STATUSPAGE_MARKS = re.compile(r",2005:incident/|<generator>incident\.io|statuspage\.io", re.I)
_STATUS_FEED = re.compile(
    r"\bstatus\b|service health|health dashboard|incident history|\buptime\b", re.I
)
_ITEM_START = re.compile(r"<(?:[a-z0-9_]+:)?(?:item|entry)\b", re.I)
_PRESS_HOSTS = re.compile(r"news\.google\.|reddit\.com|lobste\.rs|ycombinator\.com", re.I)
_VOCABULARY = re.compile(
    r"\b(?:incident|outage|resolved|investigating|identified|monitoring|mitigat\w+|degrad\w+|"
    r"disruption|service (?:health|status|issue|interruption)|operating normally|"
    r"root cause|partial outage|major outage|maintenance|status)\b",
    re.I,
)
_PHASE_WORDS = (r"investigating|identified|monitoring|resolved|mitigated|postmortem|update|"
                r"scheduled|in progress|verifying|completed|fixing")
_BOLD_LABEL = re.compile(rf"<(?:strong|b)\b[^>]*>\s*(?:status:\s*)?(?P<word>{_PHASE_WORDS})\s*"
                         rf"</(?:strong|b)\s*>", re.I)
_STATUS_LINE = re.compile(rf"\bstatus\s*:\s*(?P<word>{_PHASE_WORDS})\b", re.I)
_TITLE_MARK = re.compile(
    rf"^\s*(?:\[(?P<bracket>{_PHASE_WORDS})\]\s*|(?P<word>{_PHASE_WORDS})\s*(?::|-|–|—)\s+)",
    re.I,
)
_MAINTENANCE_WORDS = frozenset({"scheduled", "in progress", "verifying", "completed"})
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")


def sniff(body: bytes) -> bool:
    """An RSS/Atom feed with status vocabulary that no specific format claims."""
    head = head_text(body, _SNIFF_CHARS)
    root = _ROOT.search(head[:4096])
    if root is None or "<html" in head[: root.start()].lower():
        return False
    if statuspage_feed.sniff(body) or incidentio_feed.sniff(body):
        return False
    if _STATUSPAGE_MARKS.search(head):
        return False
    first_item = _ITEM_START.search(head, root.end())
    channel = head[root.start(): first_item.start() if first_item else len(head)]
    if not _STATUS_FEED.search(channel) or _PRESS_HOSTS.search(channel):
        return False
    if first_item is None:
        return True  # a status feed on a quiet day: nothing to read, nothing to invent
    # two distinct status words: "status" alone in a channel title is not enough
    words = {m.group(0).lower() for m in _VOCABULARY.finditer(head)}
    return len(words) >= 2


def parse(doc: RawDoc) -> ParsedDoc:
    """One IncidentRecord per incident id; items sharing an id are its updates. A feed that
    `sniff` would refuse (no status vocabulary, a Statuspage feed) is a ParseError here too,
    so that forcing this format on it cannot produce made-up incidents."""
    if not sniff(doc.body):
        feed_like = _ROOT.search(head_text(doc.body, 4096)) is not None
        raise ParseError(doc.url, "not a status feed (no status vocabulary, or a feed of a "
                         "specific format); refusing to guess" if feed_like
                         else "not an RSS/Atom feed")
    feed, warnings = load_feed(doc)
    meta = feed.get("feed", {})
    link = meta.get("link") or doc.url
    page_url = _origin(link) or _origin(doc.url)
    entries = list(feed.get("entries") or [])
    ids = _ids(entries)
    groups: dict[str, list[tuple[UpdateRecord, dict[str, Any]]]] = {}
    unstated = 0
    for index, entry in enumerate(entries):
        # the record's id (the key it would be stored under) and its link, for the warning
        where = f"{ids[index]} ({entry.get('link') or entry.get('id') or f'#{index}'})"
        try:
            update, stated = _update(entry, fallback=node_time(meta, "updated"))
        except ValueError as error:
            warnings.append(f"entry {where}: {error}")
            continue
        except Exception as error:  # hostile payloads must cost one entry, not the document
            reason = " ".join(str(error).split())[:300]
            warnings.append(f"entry {where}: unexpected {type(error).__name__}: {reason}")
            continue
        unstated += not stated
        groups.setdefault(ids[index], []).append((update, entry))
    if unstated:
        total = sum(len(items) for items in groups.values())
        warnings.append(f"{unstated} of {total} entries state no phase word; their phase is left"
                        " to text inference")
    records = [_record(native_id, items, page_url) for native_id, items in groups.items()]
    return ParsedDoc(
        format=NAME,
        incidents=tuple(records),
        page=PageInfo(name=(str(meta.get("title") or "").strip() or None), url=page_url),
        as_of=node_time(meta, "updated") or node_time(meta, "published"),
        warnings=tuple(warnings),
    )


def phase_word(title: str, content: str) -> str | None:
    """The phase word an item states (body first, then title), as written; None if none."""
    for pattern in (_BOLD_LABEL, _STATUS_LINE):
        found = pattern.search(content)
        if found:
            return " ".join(found.group("word").split())
    found = _TITLE_MARK.match(title)
    if found:
        return found.group("bracket") or found.group("word")
    found = _STATUS_LINE.search(title)
    return found.group("word") if found else None


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    """A stable incident id per entry: its guid/id, else its link when links are unique."""
    links = [str(e.get("link") or "") for e in entries]
    unique_links = len(set(links)) == len(links)
    out = []
    for entry, link in zip(entries, links, strict=True):
        raw = str(entry.get("id") or "") or (link if unique_links else "")
        if not raw:
            raw = "title:" + " ".join(str(entry.get("title") or "").split())
        out.append(_token(raw))
    return out


def _token(raw: str) -> str:
    """A key-safe id: the value itself when short and plain, a tracking id or fragment from a
    URL, else a hash of the value (ids must not contain '/')."""
    raw = raw.strip()
    if _TOKEN.match(raw):
        return raw
    try:
        parts = urlsplit(raw)
    except ValueError:  # "http://[not-an-ip]/": not a URL we can take apart
        parts = urlsplit("")
    if parts.scheme and parts.netloc:
        query = {k.lower(): v for k, v in parse_qs(parts.query).items()}
        for key in ("trackingid", "trackingId", "id", "incident"):
            values = query.get(key.lower())
            if values and _TOKEN.match(values[0]):
                return values[0]
        if parts.fragment and _TOKEN.match(parts.fragment):
            return parts.fragment
    return "h" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def _update(entry: dict[str, Any], fallback: Any) -> tuple[UpdateRecord, bool]:
    at = node_time(entry, "updated") or node_time(entry, "published") or fallback
    if at is None:
        raise ValueError("no time on the item or the feed")
    title = str(entry.get("title") or "")
    content = entry_content(entry)
    word = phase_word(title, content)
    return UpdateRecord(at=at, label=word or "", body=content.strip(),
                        body_format="html", native_id=_text(entry.get("id"))), word is not None


def _record(native_id: str, items: list[tuple[UpdateRecord, dict[str, Any]]],
            page_url: str | None) -> IncidentRecord:
    items = sorted(items, key=lambda i: i[0].at)
    newest_update, newest = items[-1]
    title = _clean_title(str(newest.get("title") or ""), newest.get("title_detail"))
    labels = {u.label.lower() for u, _ in items if u.label}
    maintenance = bool(labels) and labels <= _MAINTENANCE_WORDS
    created = min((t for t in (node_time(e, "published") for _, e in items) if t), default=None)
    return IncidentRecord(
        native_id=native_id,
        title=title or "(untitled)",
        channel=CHANNEL,
        kind="maintenance" if maintenance else "incident",
        url=_text(newest.get("link")),
        page_url=page_url,
        status=newest_update.label.lower().replace(" ", "_") or None,
        created_at=created,
        updated_at=newest_update.at,
        updates=tuple(u for u, _ in items),
        updates_complete=False,
    )


def _clean_title(title: str, detail: Any) -> str:
    if isinstance(detail, dict) and detail.get("type") == "text/html":
        title = html_to_text(title)
    title = " ".join(title.split())
    found = _TITLE_MARK.match(title)
    return title[found.end():].strip() if found else title


def _origin(url: object) -> str | None:
    """scheme://host of a URL, or None for anything that is not one (hostile hosts included)."""
    try:
        return page_origin(str(url)) if url else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return (str(value).strip() or None) if value else None
