"""Better Stack (Better Uptime) status pages' `/index.json`, a JSON:API document.

Shape: {"data": {"id", "type": "status_page", "attributes": {company_name, custom_domain,
timezone, aggregate_state, updated_at, ...}}, "included": [...]} where `included` holds
`status_page_section`, `status_page_resource` ({public_name, status}), `status_report`
({title, report_type: manual | automatic | maintenance, starts_at, ends_at, aggregate_state,
affected_resources}, with `relationships.status_updates`) and `status_update` ({message,
published_at, affected_resources: [{status_page_resource_id, status}]}).

A report's state is its `aggregate_state` (resolved, degraded, downtime, maintenance, ...),
kept raw as the record's status: `ends_at` stays null on many resolved reports, so it is
never read as "resolved". An update states no phase of its own; its label is the state it
set on the affected resources: "resolved" when it set all of them resolved, otherwise the
worst state it set (downtime, degraded, maintenance), or "update" when it set none.
"""

from __future__ import annotations

from typing import Any

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import list_field, load_json, native_id, text_field, time_field
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

NAME = "betterstack"
VERSION = 1
CHANNEL = "betterstack_json"
PRIORITY = 0

_WORST_FIRST = ("downtime", "degraded", "maintenance")


def sniff(body: bytes) -> bool:
    """A JSON:API document whose primary data is a Better Stack status page."""
    head = head_text(body, 8192).lstrip()
    return head.startswith("{") and '"status_page"' in head and '"data"' in head and (
        '"aggregate_state"' in head or '"included"' in head)


def parse(doc: RawDoc) -> ParsedDoc:
    """One IncidentRecord per status report, with its updates; resources as page components."""
    data = load_json(doc.body, doc.url)
    main = data.get("data") if isinstance(data, dict) else None
    if not isinstance(main, dict) or text_field(main, "type") != "status_page":
        raise ParseError(doc.url, "not a Better Stack status page (no data.type status_page)")
    attributes = main.get("attributes") if isinstance(main.get("attributes"), dict) else {}
    page_url = _page_url(doc.url, attributes)
    by_type: dict[str, dict[str, dict[str, Any]]] = {}
    for item in list_field(data, "included"):
        if isinstance(item, dict) and text_field(item, "type") and text_field(item, "id"):
            attrs = item.get("attributes")
            entry = {"attributes": attrs if isinstance(attrs, dict) else {},
                     "relationships": item.get("relationships")}
            by_type.setdefault(text_field(item, "type") or "", {})[text_field(item, "id") or ""] = (
                entry)
    resources = by_type.get("status_page_resource", {})
    names = {rid: (text_field(r["attributes"], "public_name") or "").strip() or rid
             for rid, r in resources.items()}
    updates = by_type.get("status_update", {})
    records: list[IncidentRecord] = []
    warnings: list[str] = []
    for rid, report in sorted(by_type.get("status_report", {}).items()):
        try:
            records.append(_report(rid, report, updates, names, page_url))
        except ValueError as exc:
            warnings.append(f"{doc.url}: status report {rid}: {exc}")
    components = tuple(
        ComponentRecord(name=names[rid], code=rid, status=text_field(r["attributes"], "status"))
        for rid, r in resources.items()
    )
    return ParsedDoc(
        format=NAME,
        incidents=tuple(records),
        page=PageInfo(name=text_field(attributes, "company_name"), url=page_url,
                      page_id=text_field(main, "id"), time_zone=text_field(attributes, "timezone")),
        components=components,
        as_of=time_field(attributes, "updated_at"),
        warnings=tuple(warnings),
    )


def _page_url(url: str, attributes: dict[str, Any]) -> str | None:
    if url.startswith(("http://", "https://")):
        return page_origin(url)
    domain = text_field(attributes, "custom_domain")
    if domain and "/" not in domain:
        return f"https://{domain.strip()}"
    return None


def _related_updates(report: dict[str, Any]) -> list[str]:
    relationships = report.get("relationships")
    if not isinstance(relationships, dict):
        return []
    link = relationships.get("status_updates")
    refs = list_field(link, "data") if isinstance(link, dict) else []
    return [text_field(r, "id") or "" for r in refs if isinstance(r, dict)]


def _report(
    rid: str, report: dict[str, Any], all_updates: dict[str, dict[str, Any]],
    names: dict[str, str], page_url: str | None,
) -> IncidentRecord:
    native_id(rid)  # ValueError: the report is skipped with a warning
    attrs = report["attributes"]
    wanted = _related_updates(report)
    # Updates point back at their report too; either link is enough.
    linked = {uid for uid, u in all_updates.items()
              if text_field(u["attributes"], "status_report_id") == rid}
    # Not jsondoc.parse_each: these are references into `included`, and a report none of
    # whose updates were included is still a report (kept, marked incomplete), not a skip.
    records = []
    missing = 0
    for uid in dict.fromkeys([*wanted, *sorted(linked)]):
        raw = all_updates.get(uid)
        update = _update(uid, raw["attributes"], names) if raw else None
        if update is None:
            missing += 1
        else:
            records.append(update)
    maintenance = text_field(attrs, "report_type") == "maintenance"
    starts, ends = time_field(attrs, "starts_at"), time_field(attrs, "ends_at")
    affected = [
        ComponentRecord(name=names.get(code, code), code=code, status=text_field(a, "status"))
        for a in list_field(attrs, "affected_resources") if isinstance(a, dict)
        for code in [text_field(a, "status_page_resource_id")] if code
    ]
    return IncidentRecord(
        native_id=rid,
        title=(text_field(attrs, "title") or "").strip() or "(untitled)",
        channel=CHANNEL,
        kind="maintenance" if maintenance else "incident",
        page_url=page_url,
        status=text_field(attrs, "aggregate_state"),
        impact="maintenance" if maintenance else None,
        started_at=None if maintenance else starts,
        scheduled_for=starts if maintenance else None,
        scheduled_until=ends if maintenance else None,
        components=tuple(affected),
        updates=tuple(records),
        updates_complete=missing == 0,
    )


def _update(uid: str, attrs: dict[str, Any], names: dict[str, str]) -> UpdateRecord | None:
    at = time_field(attrs, "published_at")
    if at is None:
        return None
    changes = tuple(
        ComponentChange(name=names.get(code, code), code=code, new_status=text_field(a, "status"))
        for a in list_field(attrs, "affected_resources") if isinstance(a, dict)
        for code in [text_field(a, "status_page_resource_id")] if code
    )
    body = (text_field(attrs, "message") or "").strip()
    return UpdateRecord(at=at, label=_label(changes), body=body, body_format="text",
                        native_id=uid, components=changes)


def _label(changes: tuple[ComponentChange, ...]) -> str:
    states = [(c.new_status or "").lower() for c in changes if c.new_status]
    if not states:
        return "update"
    if all(s == "resolved" for s in states):
        return "resolved"
    return next((s for s in _WORST_FIRST if s in states), states[0])
