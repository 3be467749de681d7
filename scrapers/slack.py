"""Slack's status API v2.0.0 (slack-status.com): not a Statuspage, its own small JSON.

Accepted shapes:
- `/api/v2.0.0/current`: {"status": "ok" | "active", "date_created", "date_updated",
  "active_incidents": [issue, ...]}
- `/api/v2.0.0/history`: [issue, ...]

An issue: {id, date_created, date_updated, title, type, status, url, services: [names],
notes: [{date_created, body}]}. `type` is incident, outage, notice or maintenance; `status`
is active or resolved (scheduled / completed / cancelled for maintenance). Times carry
Slack's local offset (-07:00) and are converted to UTC here.

Slack's notes state no phase of their own, so each becomes an update labelled "note" (a word
that names no phase): the normalizer carries or infers phases and says so. `type` is kept as
the raw impact (outage, incident, notice), which is how Slack grades an issue.
"""

from __future__ import annotations

import re
from typing import Any

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import (
    list_field,
    load_json,
    native_id,
    parse_each,
    parse_records,
    text_field,
    time_field,
)
from scrapers.records import (
    ComponentRecord,
    IncidentRecord,
    PageInfo,
    ParsedDoc,
    RawDoc,
    UpdateRecord,
)
from scrapers.urls import page_origin

NAME = "slack"
VERSION = 1
CHANNEL = "slack_api"
PRIORITY = 0
NOTE_LABEL = "note"  # Slack's notes have no status; this label names no phase on purpose

_MAINTENANCE_STATUSES = frozenset({"scheduled", "completed", "cancelled", "in_progress"})
_HTML = re.compile(r"<\s*(?:p|br|a|ul|ol|li|strong|b|em|i)\b", re.I)
_ISSUE_KEYS = ('"notes"', '"services"')


def sniff(body: bytes) -> bool:
    """Slack's current-status object or its history list."""
    head = head_text(body).lstrip()
    if head.startswith("{"):
        return '"active_incidents"' in head and '"date_updated"' in head
    if head.startswith("["):
        return all(key in head for key in _ISSUE_KEYS) and '"date_created"' in head
    return False


def parse(doc: RawDoc) -> ParsedDoc:
    """One IncidentRecord per issue; unreadable issues are skipped with a warning each."""
    data = load_json(doc.body, doc.url)
    as_of = None
    if isinstance(data, list):
        issues = data
    elif isinstance(data, dict):
        if "active_incidents" not in data:
            raise ParseError(doc.url, "JSON object has no active_incidents (not Slack's status)")
        issues = list_field(data, "active_incidents")
        as_of = time_field(data, "date_updated")
    else:
        raise ParseError(doc.url, f"expected a JSON object or list, got {type(data).__name__}")
    page_url = page_origin(doc.url) if doc.url.startswith("http") else None
    records, warnings = parse_records(issues, lambda raw: _issue(raw, page_url), doc.url,
                                      "issue")
    if page_url is None:  # an imported file: the issues' own links name the page
        page_url = next((r.page_url for r in records if r.page_url), None)
    return ParsedDoc(
        format=NAME,
        incidents=tuple(records),
        page=PageInfo(name="Slack", url=page_url),
        as_of=as_of,
        warnings=tuple(warnings),
    )


def _issue(raw: dict[str, Any], page_url: str | None) -> IncidentRecord:
    ident = native_id((text_field(raw, "id") or "").strip())
    notes, skipped = parse_each(list_field(raw, "notes"), _note, "notes")
    issue_type = (text_field(raw, "type") or "").strip().lower() or None
    status = (text_field(raw, "status") or "").strip().lower() or None
    kind = "maintenance" if issue_type == "maintenance" or (
        issue_type not in ("incident", "outage", "notice") and status in _MAINTENANCE_STATUSES
    ) else "incident"
    url = text_field(raw, "url")
    own_page = page_origin(url) if url else None
    services = [s.strip() for s in list_field(raw, "services") if isinstance(s, str) and s.strip()]
    return IncidentRecord(
        native_id=ident,
        title=(text_field(raw, "title") or "").strip() or "(untitled)",
        channel=CHANNEL,
        kind=kind,
        url=url if own_page else None,
        page_url=page_url or own_page,
        status=status,
        impact=issue_type,
        created_at=time_field(raw, "date_created"),
        updated_at=time_field(raw, "date_updated"),
        components=tuple(ComponentRecord(name=name) for name in dict.fromkeys(services)),
        updates=tuple(notes),
        updates_complete=skipped == 0,
    )


def _note(raw: dict[str, Any]) -> UpdateRecord | None:
    at = time_field(raw, "date_created")
    body = text_field(raw, "body")
    if at is None or body is None:
        return None
    # Slack writes \r\n line ends; the body is otherwise kept as published
    body = body.replace("\r\n", "\n").strip()
    return UpdateRecord(at=at, label=NOTE_LABEL, body=body,
                        body_format="html" if _HTML.search(body) else "text")
