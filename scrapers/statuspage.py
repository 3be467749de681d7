"""Atlassian Statuspage public API v2 JSON (and incident.io pages that mimic it).

Accepted shapes, detected by their keys:
- `/api/v2/incidents.json` and `/api/v2/summary.json`: {"page", "incidents", ...}; a
  summary lists only unresolved items, marked `ParsedDoc.lists_open_only`
- `/api/v2/incidents/<code>.json`: {"page", "incident"}
- `/api/v2/scheduled-maintenances.json`: {"page", "scheduled_maintenances"}
- `/api/v2/components.json`: {"page", "components"} (components only, no incidents)
- archiver wrappers: {"_meta": {...}, "incidents": [...]} (junxit/ai-status-archive)
- a bare list of incident objects

incident.io's compatible API (status.openai.com) leaves out shortlink, started_at,
monitoring_at and components, and uses ULID ids: all of these are optional here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import (
    STREAM_BYTES,
    list_field,
    load_json,
    native_id,
    parse_each,
    parse_time,
    stream_top,
    text_field,
    time_field,
)
from scrapers.plausible import Screen
from scrapers.records import (
    ComponentChange,
    ComponentRecord,
    IncidentRecord,
    PageInfo,
    ParsedDoc,
    RawDoc,
    UpdateRecord,
)
from scrapers.urls import page_origin

NAME = "statuspage"
VERSION = 1
CHANNEL = "statuspage_json"
PRIORITY = 0

MAINTENANCE_STATUSES = frozenset({"scheduled", "in_progress", "verifying", "completed"})
_SNIFF_KEYS = ('"incident_updates"', '"incidents"', '"incident"', '"scheduled_maintenances"')


def sniff(body: bytes) -> bool:
    """A JSON object or list that speaks Statuspage's vocabulary."""
    head = head_text(body).lstrip()
    if not head.startswith(("{", "[")):
        return False
    if any(key in head for key in _SNIFF_KEYS):
        return True
    # components.json: a page object followed by components
    return '"page"' in head and '"components"' in head


def parse(doc: RawDoc) -> ParsedDoc:
    """Every incident and maintenance of one payload. A payload over STREAM_BYTES is read one
    array item at a time, and each record is screened (scrapers.plausible) as it is read, so
    junk (a quarter million "incidents" with no time) costs the memory of one record."""
    if len(doc.body) > STREAM_BYTES:
        top = stream_top(doc.body, doc.url, _ARRAYS)
        summary = False  # a summary.json lists only what is open now: never this large
    else:
        data = load_json(doc.body, doc.url)
        top, summary = _top_of(data, doc.url), _is_summary(data)
    check = Screen(doc.url)
    warnings: list[str] = []
    page = None
    meta: dict[str, Any] = {}
    page_url: str | None = None
    page_updated: str | None = None
    seen: set[str] = set()
    records: list[IncidentRecord] = []
    components: list[ComponentRecord] = []
    for key, value in top:
        seen.add(key)
        if key == "_meta" and isinstance(value, dict):
            meta = value
            page_url = page_url or page_origin(text_field(meta, "source_url"))
        elif key == "page" and isinstance(value, dict):
            page = _page(value)
            page_updated = text_field(value, "updated_at")
            page_url = page_origin(page.url) or page_url
        elif key == "components":
            component = _component(value)
            if component is not None:
                components.append(component)
        elif key in ("", "incident", "incidents", "scheduled_maintenances"):
            if key == "incident" and not isinstance(value, dict):
                continue
            if not isinstance(value, dict):
                warnings.append(f"{doc.url}: skipped a non-object incident entry")
                continue
            try:
                record = _incident(value, key == "scheduled_maintenances", page_url)
            except ValueError as exc:
                ident = text_field(value, "id") or "?"
                warnings.append(f"{doc.url}: incident {ident}: {exc}")
                continue
            kept = check.incident(record)
            if kept is not None:
                records.append(kept)
    if "" not in seen and seen and not _KNOWN & seen:
        raise ParseError(doc.url, "JSON object has none of the Statuspage keys")
    if page is None and page_url:
        page = PageInfo(name=text_field(meta, "provider_name"), url=page_url)
    if page_url:  # the page may come after the incidents in a streamed payload
        records = [
            r if r.page_url else replace(r, page_url=page_url,
                                         url=f"{page_url}/incidents/{r.native_id}")
            for r in records
        ]
    as_of = time_field(meta, "retrieved_at") or (parse_time(page_updated) if page_updated else None)
    return ParsedDoc(
        format=NAME,
        incidents=tuple(records),
        page=page,
        components=tuple(components),
        as_of=as_of,
        provider_hint=text_field(meta, "provider"),
        warnings=(*warnings, *check.warnings()),
        lists_open_only=summary,
    )


_ARRAYS = frozenset({"incidents", "scheduled_maintenances", "components"})
_KNOWN = frozenset({"incidents", "incident", "scheduled_maintenances", "components"})


def _top_of(data: Any, source: str) -> Iterator[tuple[str, Any]]:
    """A whole decoded document as jsondoc.stream_top yields a streamed one."""
    if isinstance(data, list):
        yield from (("", item) for item in data)
    elif isinstance(data, dict):
        for key, value in data.items():
            if key in _ARRAYS:
                if isinstance(value, list):
                    yield from ((key, item) for item in value)
                else:
                    yield key, None  # present but junk: counts as a Statuspage key
            else:
                yield key, value
    else:
        raise ParseError(source, f"expected a JSON object or list, got {type(data).__name__}")


def _is_summary(data: Any) -> bool:
    """`/api/v2/summary.json`: page, status, components, incidents and scheduled maintenances
    together. It lists only unresolved incidents and upcoming or running maintenances, so an
    archive of these snapshots never shows an end, only an absence."""
    return isinstance(data, dict) and isinstance(data.get("page"), dict) and isinstance(
        data.get("status"), dict) and all(
        isinstance(data.get(k), list) for k in ("components", "incidents",
                                                "scheduled_maintenances"))


def _page(raw: dict[str, Any]) -> PageInfo:
    return PageInfo(
        name=text_field(raw, "name"),
        url=page_origin(text_field(raw, "url")),
        page_id=text_field(raw, "id"),
        time_zone=text_field(raw, "time_zone"),
    )


def _component(raw: Any) -> ComponentRecord | None:
    if not isinstance(raw, dict):
        return None
    name = text_field(raw, "name")
    if not name:
        return None
    return ComponentRecord(
        name=name, code=text_field(raw, "id") or text_field(raw, "code"),
        status=text_field(raw, "status"),
    )


def _incident(raw: dict[str, Any], is_maintenance: bool, page_url: str | None) -> IncidentRecord:
    ident = native_id(text_field(raw, "id"))
    title = (text_field(raw, "name") or "").strip() or "(untitled)"
    updates, skipped = parse_each(list_field(raw, "incident_updates"), _update, "updates")
    statuses = {u.label for u in updates}
    impact = text_field(raw, "impact")
    kind = (
        "maintenance"
        if is_maintenance
        or impact == "maintenance"
        or raw.get("scheduled_for")
        or (statuses and statuses <= MAINTENANCE_STATUSES)
        else "incident"
    )
    return IncidentRecord(
        native_id=ident,
        title=title,
        channel=CHANNEL,
        kind=kind,
        url=f"{page_url}/incidents/{ident}" if page_url else None,
        page_url=page_url,
        status=text_field(raw, "status"),
        impact=impact,
        created_at=time_field(raw, "created_at"),
        started_at=time_field(raw, "started_at"),
        monitoring_at=time_field(raw, "monitoring_at"),
        resolved_at=time_field(raw, "resolved_at"),
        updated_at=time_field(raw, "updated_at"),
        scheduled_for=time_field(raw, "scheduled_for"),
        scheduled_until=time_field(raw, "scheduled_until"),
        shortlink=text_field(raw, "shortlink"),
        components=tuple(
            c for c in (_component(x) for x in list_field(raw, "components")) if c is not None
        ),
        updates=tuple(updates),
        updates_complete=skipped == 0,
    )


def _update(raw: dict[str, Any]) -> UpdateRecord | None:
    created = time_field(raw, "created_at")
    at = time_field(raw, "display_at") or created
    label = text_field(raw, "status")
    if at is None or not label:
        return None
    changes = []
    for item in list_field(raw, "affected_components"):
        if isinstance(item, dict) and text_field(item, "name"):
            changes.append(
                ComponentChange(
                    name=text_field(item, "name") or "",
                    code=text_field(item, "code"),
                    old_status=text_field(item, "old_status"),
                    new_status=text_field(item, "new_status"),
                )
            )
    return UpdateRecord(
        at=at,
        label=label,
        body=text_field(raw, "body") or "",
        body_format="text",
        native_id=text_field(raw, "id"),
        created_at=created if created != at else None,
        components=tuple(changes),
    )
