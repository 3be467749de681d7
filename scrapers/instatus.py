"""Instatus status pages' public JSON: `/summary.json`, `/v3/summary.json`, `/v3/components.json`.

Accepted shapes:
- summary: {"page": {name, url, status: UP | HASISSUES | UNDERMAINTENANCE},
  "activeIncidents": [{id, name, started, status, impact, url, updatedAt}],
  "activeMaintenances": [{id, name, start, status, duration, url, updatedAt}]}
  (the two lists are left out entirely when empty)
- components: {"components": [{id, name, status, group, ...}]} or a bare list of them; a
  component may embed "incidents": [{id, name, started, resolved, status, components,
  updates: [{id, message, messageHtml, status, started}]}] as Instatus's REST API documents.

Enums are upper-case and kept raw (INVESTIGATING, MAJOROUTAGE, NOTSTARTEDYET, ...);
`kb.normalize.vocabulary` maps them. Dates come as ISO-8601 or as JavaScript's
`Date.toString()` ("Sat Jun 11 2022 18:55:50 GMT+0000 (Coordinated Universal Time)"), both read
here. The summary lists only what is open and gives no update text, so its records are
latest-state only (updates_complete=False).
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import list_field, load_json, parse_time, text_field
from scrapers.jsondoc import native_id as valid_id
from scrapers.records import (
    ComponentRecord,
    IncidentRecord,
    PageInfo,
    ParsedDoc,
    RawDoc,
    UpdateRecord,
)
from scrapers.urls import page_origin

NAME = "instatus"
VERSION = 1
CHANNEL = "instatus_json"
PRIORITY = 60  # the summary lists open items without update text

_PAGE_STATUSES = ('"UP"', '"HASISSUES"', '"UNDERMAINTENANCE"')
_COMPONENT_STATUSES = ('"OPERATIONAL"', '"DEGRADEDPERFORMANCE"', '"PARTIALOUTAGE"',
                       '"MINOROUTAGE"', '"MAJOROUTAGE"', '"UNDERMAINTENANCE"')
# Date.prototype.toString(): "Sat Jun 11 2022 18:55:50 GMT+0000 (Coordinated Universal Time)"
_JS_DATE = re.compile(
    r"^\s*(?:[A-Za-z]{3},?\s+)?(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\s+"
    r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*(?:GMT|UTC)?\s*"
    r"(?P<off>[+-]\d{2}:?\d{2})?(?:\s*\(.*\))?\s*$"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_INCIDENT_PATH = re.compile(r"/(?:incidents?|maintenances?)/([A-Za-z0-9_-]{6,64})")


def sniff(body: bytes) -> bool:
    """Instatus's camelCase summary, or a component list in its upper-case vocabulary."""
    head = head_text(body).lstrip()
    if not head.startswith(("{", "[")):
        return False
    if '"activeIncidents"' in head or '"activeMaintenances"' in head or '"messageHtml"' in head:
        return True
    if '"page"' in head and '"status"' in head and any(s in head for s in _PAGE_STATUSES):
        return '"incidents"' not in head and '"components"' not in head  # not Statuspage
    return ('"components"' in head or head.startswith("[")) and '"name"' in head and any(
        s in head for s in _COMPONENT_STATUSES)


def parse(doc: RawDoc) -> ParsedDoc:
    """Open incidents and maintenances (summary) or components (components endpoint)."""
    data = load_json(doc.body, doc.url)
    if isinstance(data, dict) and isinstance(data.get("page"), dict):
        return _summary(doc, data)
    if isinstance(data, dict) and "components" in data:
        return _components(doc, list_field(data, "components"))
    if isinstance(data, list):
        return _components(doc, data)
    what = "object without page or components" if isinstance(data, dict) else type(data).__name__
    raise ParseError(doc.url, f"not an Instatus payload (JSON {what})")


def js_time(value: Any) -> datetime | None:
    """ISO-8601 or JavaScript `Date.toString()` text to aware UTC; None when neither."""
    if not isinstance(value, str) or not value.strip():
        return None
    found = _JS_DATE.match(value)
    if found is None:
        return parse_time(value)
    month = _MONTHS.get(found["mon"].lower())
    if month is None:
        return None
    offset = timedelta()
    if found["off"]:
        digits = found["off"].replace(":", "")
        sign = -1 if digits[0] == "-" else 1
        offset = sign * timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
    try:
        local = datetime(int(found["year"]), month, int(found["day"]), int(found["h"]),
                         int(found["mi"]), int(found["s"] or 0), tzinfo=timezone(offset))
        return local.astimezone(UTC)
    except (ValueError, OverflowError):  # Jun 31, hour 25, an offset past year 9999
        return None


def _summary(doc: RawDoc, data: dict[str, Any]) -> ParsedDoc:
    page = data["page"]
    page_url = page_origin(text_field(page, "url")) or page_origin(doc.url)
    records: list[IncidentRecord] = []
    warnings: list[str] = []
    for key, maintenance in (("activeIncidents", False), ("activeMaintenances", True)):
        for index, raw in enumerate(list_field(data, key)):
            try:
                records.append(_open_item(raw, maintenance, page_url))
            except ValueError as exc:
                warnings.append(f"{doc.url}: {key}[{index}]: {exc}")
    return ParsedDoc(
        format=NAME,
        incidents=tuple(records),
        page=PageInfo(name=text_field(page, "name"), url=page_url),
        warnings=tuple(warnings),
    )


def _item_id(raw: dict[str, Any]) -> str:
    """The item's id, or the one its public link carries (the documented sample has no id)."""
    native_id = (text_field(raw, "id") or "").strip()
    if not native_id:
        found = _INCIDENT_PATH.search(text_field(raw, "url") or "")
        native_id = found.group(1) if found else ""
    return valid_id(native_id)


def _open_item(raw: Any, maintenance: bool, page_url: str | None) -> IncidentRecord:
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    native_id = _item_id(raw)
    url = text_field(raw, "url")
    if maintenance:
        start = js_time(raw.get("start"))
        minutes = _number(raw.get("duration"))
        until = None
        if start is not None and minutes is not None:
            with contextlib.suppress(OverflowError):  # a start in year 9999
                until = start + timedelta(minutes=minutes)
        return IncidentRecord(
            native_id=native_id, title=(text_field(raw, "name") or "").strip() or "(untitled)",
            channel=CHANNEL, kind="maintenance", url=url, page_url=page_url,
            status=text_field(raw, "status"), impact="maintenance",
            updated_at=js_time(raw.get("updatedAt")), scheduled_for=start, scheduled_until=until,
            updates_complete=False,
        )
    return IncidentRecord(
        native_id=native_id, title=(text_field(raw, "name") or "").strip() or "(untitled)",
        channel=CHANNEL, url=url, page_url=page_url, status=text_field(raw, "status"),
        impact=text_field(raw, "impact"), started_at=js_time(raw.get("started")),
        created_at=js_time(raw.get("started")), updated_at=js_time(raw.get("updatedAt")),
        updates_complete=False,
    )


def _number(value: Any) -> float | None:
    """Instatus's maintenance `duration` (minutes), given as a number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if 0 <= number <= 60 * 24 * 366 else None


def _components(doc: RawDoc, raw: list[Any]) -> ParsedDoc:
    page_url = page_origin(doc.url)
    components: list[ComponentRecord] = []
    incidents: dict[str, IncidentRecord] = {}
    warnings: list[str] = []
    for item in raw:
        if not isinstance(item, dict) or not text_field(item, "name"):
            continue
        components.append(ComponentRecord(name=(text_field(item, "name") or "").strip(),
                                          code=text_field(item, "id"),
                                          status=text_field(item, "status")))
        for index, embedded in enumerate(list_field(item, "incidents")):
            try:
                record = _full_incident(embedded, page_url)
            except ValueError as exc:
                warnings.append(f"{doc.url}: incident #{index} of {components[-1].name}: {exc}")
                continue
            incidents.setdefault(record.native_id, record)  # listed once per component
    return ParsedDoc(format=NAME, incidents=tuple(incidents.values()),
                     page=PageInfo(url=page_url) if page_url else None,
                     components=tuple(components), warnings=tuple(warnings))


def _full_incident(raw: Any, page_url: str | None) -> IncidentRecord:
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    native_id = _item_id(raw)
    updates = []
    for item in list_field(raw, "updates"):
        if not isinstance(item, dict):
            continue
        at = js_time(item.get("started") or item.get("createdAt"))
        label = text_field(item, "status")
        if at is None or not label:
            continue
        html = text_field(item, "messageHtml")
        updates.append(UpdateRecord(
            at=at, label=label, body=html if html else (text_field(item, "message") or ""),
            body_format="html" if html else "markdown", native_id=text_field(item, "id"),
        ))
    if list_field(raw, "updates") and not updates:
        raise ValueError("no readable update")
    return IncidentRecord(
        native_id=native_id, title=(text_field(raw, "name") or "").strip() or "(untitled)",
        channel=CHANNEL, url=f"{page_url}/incident/{native_id}" if page_url else None,
        page_url=page_url, status=text_field(raw, "status"), impact=text_field(raw, "impact"),
        created_at=js_time(raw.get("started")), started_at=js_time(raw.get("started")),
        resolved_at=js_time(raw.get("resolved")),
        components=tuple(
            ComponentRecord(name=text_field(c, "name") or "", code=text_field(c, "id"),
                            status=text_field(c, "status"))
            for c in list_field(raw, "components") if isinstance(c, dict) and text_field(c, "name")
        ),
        updates=tuple(updates),
        updates_complete=len(updates) == len(list_field(raw, "updates")),
    )
