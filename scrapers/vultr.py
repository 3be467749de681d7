"""Vultr's own status API (status.vultr.com/alerts.json): not a Statuspage, its own JSON.

Accepted shape: {"service_alerts": [alert, ...]}. An alert: {id (UUID), region (a location
code such as "ewr", or "global"), subject, start_date, updated_at (usually ""), status
("ongoing" or "resolved"), entries: [{updated_at, message}]}. Times carry "+00:00".

Entries state no phase of their own, so each becomes an update labelled "note" (a word that
names no phase): the normalizer infers phases from the text (kb.normalize.infer) and says so.
The alert's own status is kept as the record's status; when the alert turned resolved is not
published, so no resolved time is invented (the KB bounds the end between two fetches:
END_UNPUBLISHED). Scheduled maintenances are ordinary alerts whose
subject says "Scheduled Maintenance"; their window is only in the message text ("Start Time:
2025-01-07 08:00:00 UTC" / "End Time: ..."), read here into scheduled_for/until. The region
code is the alert's one component. Alerts stay in the list after they are resolved, so the
payload is not an open-only snapshot. Messages carry CRLF line ends, kept as text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
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

NAME = "vultr"
VERSION = 1
CHANNEL = "vultr_json"
# between the complete APIs and the feeds (the rank it had by default before it was declared)
PRIORITY = 40
NOTE_LABEL = "note"  # Vultr's entries have no status; this label names no phase on purpose
PAGE_URL = "https://status.vultr.com"  # the only page that publishes this format
# An alert states "resolved" but not when: the end lies between the last fetch that showed it
# ongoing and the first that showed it resolved (scrapers.registry.END_UNPUBLISHED).
END_UNPUBLISHED = True

_MAINTENANCE = re.compile(r"\bscheduled\s+maintenance\b", re.I)
_WINDOW = re.compile(r"\b(Start|End)\s+Time:\s*(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)"
                     r"\s*UTC\b", re.I)


def sniff(body: bytes) -> bool:
    """A JSON object whose first key is Vultr's `service_alerts`."""
    head = head_text(body).lstrip()
    return head.startswith("{") and '"service_alerts"' in head


def parse(doc: RawDoc) -> ParsedDoc:
    """One IncidentRecord per alert; unreadable alerts are skipped with a warning each."""
    data = load_json(doc.body, doc.url)
    if not isinstance(data, dict) or not isinstance(data.get("service_alerts"), list):
        raise ParseError(doc.url, "expected a JSON object with a service_alerts list "
                                  "(Vultr's alerts.json)")
    page_url = page_origin(doc.url) if doc.url.startswith("http") else PAGE_URL
    records, warnings = parse_records(list_field(data, "service_alerts"),
                                      lambda raw: _alert(raw, page_url), doc.url, "alert")
    return ParsedDoc(
        format=NAME,
        incidents=tuple(records),
        page=PageInfo(name="Vultr", url=page_url),
        # No time of its own, and the newest time it states is no clock: a later snapshot
        # that dropped the newest alert states older times. Its fetch time orders snapshots.
        as_of=None,
        warnings=tuple(warnings),
    )


def _alert(raw: dict[str, Any], page_url: str | None) -> IncidentRecord:
    ident = native_id((text_field(raw, "id") or "").strip())
    entries, skipped = parse_each(list_field(raw, "entries"), _entry, "entries")
    subject = " ".join((text_field(raw, "subject") or "").split()) or "(untitled)"
    region = (text_field(raw, "region") or "").strip()
    maintenance = bool(_MAINTENANCE.search(subject))
    window = _window(" ".join(u.body for u in entries)) if maintenance else {}
    return IncidentRecord(
        native_id=ident,
        title=subject,
        channel=CHANNEL,
        kind="maintenance" if maintenance else "incident",
        url=None,  # alerts have no page of their own
        page_url=page_url,
        status=(text_field(raw, "status") or "").strip().lower() or None,
        created_at=time_field(raw, "start_date"),
        updated_at=time_field(raw, "updated_at"),  # "" (most alerts) is no time
        scheduled_for=window.get("start"),
        scheduled_until=window.get("end"),
        components=(ComponentRecord(name=region),) if region else (),
        updates=tuple(sorted(entries, key=lambda u: u.at)),
        updates_complete=skipped == 0,
    )


def _entry(raw: dict[str, Any]) -> UpdateRecord | None:
    at = time_field(raw, "updated_at")
    message = text_field(raw, "message")
    if at is None or message is None:
        return None
    body = "\n".join(line.rstrip() for line in message.replace("\r\n", "\n").split("\n")).strip()
    return UpdateRecord(at=at, label=NOTE_LABEL, body=body, body_format="text")


def _window(text: str) -> dict[str, datetime]:
    """The maintenance window the message states ("Start Time: 2025-01-07 08:00:00 UTC")."""
    found: dict[str, datetime] = {}
    for which, day, clock in _WINDOW.findall(text):
        key = which.lower()
        if key in found:
            continue
        try:
            found[key] = datetime.fromisoformat(f"{day}T{clock.zfill(5)}").replace(tzinfo=UTC)
        except ValueError:
            continue
    if "start" in found and "end" in found and found["end"] < found["start"]:
        return {}
    return found
