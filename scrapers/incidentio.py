"""incident.io status pages' own JSON API, the one their web page reads (status.openai.com).

Accepted shapes, detected by their keys:
- `/proxy/<host>`: {"summary": {name, public_url, components[], structure, affected_components[],
  ongoing_incidents[], scheduled_maintenances[], in_progress_maintenances[]}}
- `/proxy/<host>/incidents`: {"incidents": [incident, ...]}; one incident: {"incident": {...}}
- `/proxy/<host>/component_impacts`: {"incident_links": [...], "component_impacts": [...]}

An incident: {id (ULID), name, status, type ("incident" | "maintenance"), published_at,
updates: [{id, published_at, to_status, message_string | message{text_node}, component_statuses}],
component_impacts: [{component_id, status, start_at, end_at}], affected_components: [...]}.

Vocabulary is kept raw: update `to_status` is investigating / identified / fixing /
monitoring / resolved, or maintenance_scheduled / maintenance_in_progress /
maintenance_complete; `kb.normalize.vocabulary` maps them ("fixing" → identified).

`component_impacts` say, per component, when the vendor marked it impaired and when it
recovered: a machine-stated impact window, kept as `IncidentRecord.impacts`. Only the summary
payload names components; the history payload refers to them by id, so there the id stands in
for the name.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import list_field, load_json, native_id, parse_each, text_field, time_field
from scrapers.records import (
    ComponentChange,
    ComponentImpact,
    ComponentRecord,
    IncidentRecord,
    PageInfo,
    ParsedDoc,
    RawDoc,
    UpdateRecord,
)
from scrapers.urls import page_origin

NAME = "incidentio"
VERSION = 1
CHANNEL = "incidentio_api"
# incident.io's own API: the same updates as its Statuspage-compatible copy, plus
# component statuses and impact windows, so it is the base where both are held
PRIORITY = -10

_SNIFF_KEYS = ('"to_status"', '"message_string"', '"component_impacts"', '"status_page_id"',
               '"incident_links"', '"ongoing_incidents"', '"public_url"')
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}\Z")
# rich text: a document's blocks are paragraphs, list items are lines, inline runs join directly
_JOINERS = {"doc": "\n\n", "bulletList": "\n", "orderedList": "\n"}


def sniff(body: bytes) -> bool:
    """A JSON object carrying incident.io's own field names (never Statuspage's)."""
    head = head_text(body, 16384).lstrip()
    if not head.startswith("{"):
        return False
    if '"incident_updates"' in head or '"included"' in head:  # Statuspage; JSON:API pages
        return False
    return any(key in head for key in _SNIFF_KEYS)


def parse(doc: RawDoc) -> ParsedDoc:
    """Incidents (with updates and component impacts) and page components of one payload."""
    data = load_json(doc.body, doc.url)
    if not isinstance(data, dict):
        raise ParseError(doc.url, f"expected a JSON object, got {type(data).__name__}")
    summary = data.get("summary")
    if isinstance(summary, dict):
        return _summary(doc, summary)
    if isinstance(data.get("incident_links"), list):
        return _impacts_only(doc, data)
    raw_incidents = list_field(data, "incidents")
    if isinstance(data.get("incident"), dict):
        raw_incidents = [data["incident"], *raw_incidents]
    elif "incidents" not in data:
        raise ParseError(doc.url, "JSON object has none of the incident.io keys "
                                  "(summary, incidents, incident, incident_links)")
    page_url = page_origin(doc.url)
    incidents, warnings = _incidents(doc.url, raw_incidents, page_url, {})
    return ParsedDoc(
        format=NAME,
        incidents=tuple(incidents),
        page=PageInfo(url=page_url) if page_url else None,
        as_of=_newest(incidents),
        warnings=tuple(warnings),
    )


def _newest(records: list[IncidentRecord]) -> datetime | None:
    """The latest time a payload mentions: it was made no earlier. These payloads carry no
    timestamp of their own, and two snapshots of one incident (summary, history) must be
    ordered by what they know, not by which was fetched last."""
    stamps = [u.at for r in records for u in r.updates]
    stamps += [s for r in records for i in r.impacts for s in (i.start, i.end) if s is not None]
    stamps += [r.created_at for r in records if r.created_at is not None]
    return max(stamps, default=None)


def _summary(doc: RawDoc, summary: dict[str, Any]) -> ParsedDoc:
    names = _component_names(summary)
    page_url = page_origin(text_field(summary, "public_url")) or page_origin(doc.url)
    raw = (list_field(summary, "ongoing_incidents")
           + list_field(summary, "in_progress_maintenances")
           + list_field(summary, "scheduled_maintenances"))
    incidents, warnings = _incidents(doc.url, raw, page_url, names)
    affected = {
        text_field(a, "component_id"): text_field(a, "status")
        for a in list_field(summary, "affected_components") if isinstance(a, dict)
    }
    components = tuple(
        ComponentRecord(name=name, code=code, status=affected.get(code, "operational"))
        for code, name in names.items()
    )
    return ParsedDoc(
        format=NAME,
        incidents=tuple(incidents),
        page=PageInfo(name=text_field(summary, "name"), url=page_url,
                      page_id=text_field(summary, "id")),
        components=components,
        as_of=_newest(incidents),
        warnings=tuple(warnings),
    )


def _impacts_only(doc: RawDoc, data: dict[str, Any]) -> ParsedDoc:
    """The uptime-bar payload: incident names plus component impacts, no update text, so each
    record says only what it holds (updates_complete=False)."""
    page_url = page_origin(doc.url)
    impacts: dict[str, list[ComponentImpact]] = {}
    for raw in list_field(data, "component_impacts"):
        impact = _impact(raw, {}) if isinstance(raw, dict) else None
        owner = text_field(raw, "status_page_incident_id") if isinstance(raw, dict) else None
        if impact is not None and owner:
            impacts.setdefault(owner.upper(), []).append(impact)
    records, warnings = [], []
    for index, link in enumerate(list_field(data, "incident_links")):
        try:
            if not isinstance(link, dict):
                raise ValueError("not an object")
            ident = _native_id(link)
            records.append(IncidentRecord(
                native_id=ident,
                title=(text_field(link, "name") or "").strip() or "(untitled)",
                channel=CHANNEL,
                url=f"{page_url}/incidents/{ident}" if page_url else None,
                page_url=page_url,
                status=text_field(link, "status"),
                created_at=time_field(link, "published_at"),
                impacts=tuple(impacts.get(ident, ())),
                updates_complete=False,
            ))
        except ValueError as error:
            warnings.append(f"{doc.url}: incident link #{index}: {error}")
    return ParsedDoc(format=NAME, incidents=tuple(records),
                     page=PageInfo(url=page_url) if page_url else None, as_of=_newest(records),
                     warnings=tuple(warnings))


def _component_names(summary: dict[str, Any]) -> dict[str, str]:
    """component id → display name, from the flat list and the grouped structure."""
    names: dict[str, str] = {}
    for raw in list_field(summary, "components"):
        if isinstance(raw, dict) and text_field(raw, "id") and text_field(raw, "name"):
            names[text_field(raw, "id") or ""] = (text_field(raw, "name") or "").strip()
    structure = summary.get("structure")
    items = list_field(structure, "items") if isinstance(structure, dict) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        group = item.get("group")
        members = list_field(group, "components") if isinstance(group, dict) else []
        single = item.get("component")
        for raw in [*members, *([single] if isinstance(single, dict) else [])]:
            if isinstance(raw, dict):
                code, name = text_field(raw, "component_id"), text_field(raw, "name")
                if code and name and code not in names:
                    names[code] = name.strip()
    return names


def _incidents(
    source: str, raw: list[Any], page_url: str | None, names: dict[str, str]
) -> tuple[list[IncidentRecord], list[str]]:
    records: list[IncidentRecord] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            record = _incident(item, page_url, names)
        except ValueError as error:
            ident = (text_field(item, "id") or "").strip() if isinstance(item, dict) else ""
            warnings.append(f"{source}: incident {ident or '#' + str(index)}: {error}")
            continue
        if record.native_id in seen:  # a maintenance can be listed as scheduled and running
            continue
        seen.add(record.native_id)
        records.append(record)
    return records, warnings


def _native_id(raw: dict[str, Any]) -> str:
    """The entry's id (ValueError when unfit for a key); ULIDs upper-case, because they are
    case-insensitive and the Atom feed's links carry them upper-case."""
    ident = native_id((text_field(raw, "id") or "").strip())
    return ident.upper() if _ULID.match(ident) else ident


def _incident(raw: dict[str, Any], page_url: str | None, names: dict[str, str]) -> IncidentRecord:
    ident = _native_id(raw)
    updates, skipped = parse_each(list_field(raw, "updates"),
                                  lambda item: _update(item, names), "updates")
    status = text_field(raw, "status")
    kind = (
        "maintenance"
        if text_field(raw, "type") == "maintenance" or (status or "").startswith("maintenance")
        else "incident"
    )
    impacts = tuple(
        i for i in (_impact(x, names) for x in list_field(raw, "component_impacts")
                    if isinstance(x, dict)) if i is not None
    )
    components = []
    for item in list_field(raw, "affected_components"):
        code = text_field(item, "component_id") if isinstance(item, dict) else None
        if code:
            components.append(ComponentRecord(name=names.get(code, code), code=code,
                                              status=text_field(item, "status")))
    window_start = min((i.start for i in impacts), default=None)
    ends = [i.end for i in impacts if i.end is not None]
    window_end = max(ends) if ends and len(ends) == len(impacts) else None
    maintenance = kind == "maintenance"
    return IncidentRecord(
        native_id=ident,
        title=(text_field(raw, "name") or "").strip() or "(untitled)",
        channel=CHANNEL,
        kind=kind,
        url=f"{page_url}/incidents/{ident}" if page_url else None,
        page_url=page_url,
        status=status,
        created_at=time_field(raw, "published_at"),
        # a maintenance's component impacts are its announced window
        scheduled_for=window_start if maintenance else None,
        scheduled_until=window_end if maintenance else None,
        components=tuple(components),
        updates=tuple(updates),
        updates_complete=skipped == 0,
        impacts=() if maintenance else impacts,
    )


def _update(raw: dict[str, Any], names: dict[str, str]) -> UpdateRecord | None:
    at = time_field(raw, "published_at")
    label = text_field(raw, "to_status") or text_field(raw, "status")
    if at is None or not label:
        return None
    body = text_field(raw, "message_string")
    if body is None:
        message = raw.get("message")
        body = _rich_text(message.get("text_node")) if isinstance(message, dict) else ""
    changes = []
    for item in list_field(raw, "component_statuses"):
        code = text_field(item, "component_id") if isinstance(item, dict) else None
        if code:
            changes.append(ComponentChange(
                name=names.get(code, code), code=code,
                new_status=text_field(item, "status") or text_field(item, "component_status"),
            ))
    return UpdateRecord(at=at, label=label, body=body.strip(), body_format="text",
                        native_id=text_field(raw, "id"), components=tuple(changes))


def _impact(raw: dict[str, Any], names: dict[str, str]) -> ComponentImpact | None:
    start: datetime | None = time_field(raw, "start_at")
    code = text_field(raw, "component_id")
    if start is None or not code:
        return None
    end = time_field(raw, "end_at")
    if end is not None and end < start:
        end = None  # a window ending before it starts says nothing about its end
    return ComponentImpact(
        name=names.get(code, code), start=start, end=end, code=code,
        status=text_field(raw, "status") or text_field(raw, "component_status"),
    )


def _rich_text(node: Any, depth: int = 0) -> str:
    """Plain text of incident.io's rich-text document ({"type": "doc", "content": [...]})."""
    if depth > 32 or not isinstance(node, dict):
        return ""
    if isinstance(node.get("text"), str):
        return node["text"]
    parts = [_rich_text(child, depth + 1) for child in list_field(node, "content")]
    joiner = _JOINERS.get(str(node.get("type")), "")
    return joiner.join(p for p in parts if p)
