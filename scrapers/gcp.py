"""Google Cloud's `incidents.json` (status.cloud.google.com) and Google Workspace's, same shape
(www.google.com/appsstatus/dashboard/incidents.json).

A JSON list of incidents, newest first:

    {"id": "TaA75H7XA1DQyM2ReK2f", "number": "1526...", "begin": "2022-07-01T13:37:44+00:00",
     "created": ..., "end": ..., "modified": ..., "external_desc": "[Google BigQuery] ...",
     "updates": [{"created", "modified", "when", "text" (Markdown), "status",
                  "affected_locations": [{"id", "title"}]}, ...],   # newest first
     "most_recent_update": {...}, "status_impact": "SERVICE_INFORMATION", "severity": "low",
     "service_key", "service_name", "affected_products": [{"id", "title"}], "uri",
     "currently_affected_locations": [...], "previously_affected_locations": [...]}

Google states no investigating/identified/monitoring phases: each update's `status` is the
impact at that time (SERVICE_OUTAGE / SERVICE_DISRUPTION / SERVICE_INFORMATION, AVAILABLE once
over) and is kept as the update's raw label; `kb` infers the phase from the text.

Raw values are kept: `impact` is the incident's `status_impact`, `status` the newest update's
status, products become components (code = product id) and locations become components too,
with code "location:<id>" (the record has no other place for them). Google's `severity`
(low/medium/high) has no field of its own in the record; in the 157 recorded incidents it is
determined by `status_impact` one to one (INFORMATION=low, DISRUPTION=medium, OUTAGE=high),
and a disagreement is reported as a warning rather than dropped silently.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import list_field, load_json, parse_each, text_field, time_field
from scrapers.jsondoc import native_id as valid_id
from scrapers.records import (
    ComponentRecord,
    IncidentRecord,
    PageInfo,
    ParsedDoc,
    RawDoc,
    UpdateRecord,
)

NAME = "gcp_json"
VERSION = 1
CHANNEL = "gcp_json"
PRIORITY = 0  # a complete history of Google's dashboard

GOOGLE_CLOUD = ("Google Cloud", "https://status.cloud.google.com")
GOOGLE_WORKSPACE = ("Google Workspace", "https://www.google.com/appsstatus/dashboard")
_EXPECTED_SEVERITY = {
    "SERVICE_INFORMATION": "low", "SERVICE_DISRUPTION": "medium", "SERVICE_OUTAGE": "high",
}
# Products of the Workspace dashboard: a recorded file (no URL to tell) whose every product is
# one of these is Workspace's; Google Cloud's products are named differently.
_WORKSPACE_PRODUCTS = frozenset({
    "gmail", "google calendar", "google chat", "google classroom", "google cloud search",
    "google docs", "google drive", "google forms", "google groups", "google keep",
    "google meet", "google sheets", "google sites", "google slides", "google tasks",
    "google vault", "google voice", "admin console", "appsheet", "classic hangouts",
    "google hangouts", "gemini", "google workspace", "jamboard", "google currents",
})


def sniff(body: bytes) -> bool:
    """A JSON list/object carrying Google's dashboard keys."""
    head = head_text(body, 16384).lstrip()
    if not head.startswith(("[", "{")):
        return False
    return '"external_desc"' in head or ('"status_impact"' in head and '"service_key"' in head)


def parse(doc: RawDoc) -> ParsedDoc:
    """One IncidentRecord per incident; an unreadable incident is skipped with a warning."""
    data = load_json(doc.body, doc.url)
    if isinstance(data, dict):
        # a single incident object, or a wrapper holding the list
        items = list_field(data, "incidents") if "incidents" in data else [data]
    elif isinstance(data, list):
        items = data
    else:
        raise ParseError(doc.url, f"expected a JSON list of incidents, got {type(data).__name__}")
    if not any(isinstance(i, dict) and ("external_desc" in i or "status_impact" in i)
               for i in items):
        raise ParseError(doc.url, "no Google dashboard incidents (no external_desc/status_impact)")
    name, base = _dashboard(doc.url, items)
    warnings: list[str] = []
    records: list[IncidentRecord] = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            warnings.append(f"{doc.url}: entry #{index}: not an object, skipped")
            continue
        ident = text_field(raw, "id") or f"#{index}"
        try:
            record, note = _incident(raw, base)
        except ValueError as exc:
            warnings.append(f"{doc.url}: incident {ident}: {exc}")
            continue
        records.append(record)
        if note:
            warnings.append(f"{doc.url}: incident {ident}: {note}")
    return ParsedDoc(
        format=NAME,
        incidents=tuple(records),
        page=PageInfo(name=name, url=base) if base else None,
        as_of=max((r.updated_at for r in records if r.updated_at), default=None),
        warnings=tuple(warnings),
    )


def _dashboard(url: str, items: list[Any]) -> tuple[str | None, str | None]:
    """Which dashboard this is: from the URL it was fetched from, else from its products."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        path = parts.path.rsplit("/", 1)[0] if parts.path.endswith(".json") else parts.path
        base = f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"
        if parts.netloc.lower().endswith("google.com") and "appsstatus" in parts.path:
            return GOOGLE_WORKSPACE[0], base
        if parts.netloc.lower() == "status.cloud.google.com":
            return GOOGLE_CLOUD[0], base
        return None, base
    products = {
        (text_field(p, "title") or "").strip().lower()
        for i in items if isinstance(i, dict)
        for p in list_field(i, "affected_products") if isinstance(p, dict)
    } | {
        (text_field(i, "service_name") or "").strip().lower() for i in items if isinstance(i, dict)
    }
    products.discard("")
    products.discard("multiple products")
    if products and products <= _WORKSPACE_PRODUCTS:
        return GOOGLE_WORKSPACE
    if products:
        return GOOGLE_CLOUD
    return None, None


def _incident(raw: dict[str, Any], base: str | None) -> tuple[IncidentRecord, str | None]:
    native_id = valid_id(text_field(raw, "id"))
    updates_raw = list_field(raw, "updates")
    recent = raw.get("most_recent_update")
    if not updates_raw and isinstance(recent, dict):
        updates_raw = [recent]
    updates, skipped = parse_each(updates_raw, _update, "updates")
    if not updates:
        raise ValueError("no updates")
    newest = max(updates, key=lambda u: u.at)
    status_impact = text_field(raw, "status_impact")
    severity = text_field(raw, "severity")
    note = None
    expected = _EXPECTED_SEVERITY.get(status_impact or "")
    if severity and expected and severity.lower() != expected:
        note = f"severity {severity!r} disagrees with status_impact {status_impact!r}"
    uri = text_field(raw, "uri") or f"incidents/{native_id}"
    return IncidentRecord(
        native_id=native_id,
        title=" ".join((text_field(raw, "external_desc") or "").split()) or "(untitled)",
        channel=CHANNEL,
        kind="incident",
        url=f"{base}/{uri.lstrip('/')}" if base else None,
        page_url=base,
        status=text_field(recent, "status") if isinstance(recent, dict) else newest.label,
        impact=status_impact or severity,
        created_at=time_field(raw, "created"),
        started_at=time_field(raw, "begin"),
        resolved_at=time_field(raw, "end"),
        updated_at=time_field(raw, "modified"),
        components=_components(raw),
        updates=tuple(updates),
        updates_complete=skipped == 0,
    ), note


def _update(raw: dict[str, Any]) -> UpdateRecord | None:
    at = time_field(raw, "when") or time_field(raw, "created")
    created = time_field(raw, "created")
    if at is None:
        return None
    return UpdateRecord(
        at=at,
        label=text_field(raw, "status") or "",
        body=text_field(raw, "text") or "",
        body_format="markdown",
        created_at=created if created != at else None,
    )


def _components(raw: dict[str, Any]) -> tuple[ComponentRecord, ...]:
    """Affected products, then every location named as currently or previously affected."""
    found: dict[str, ComponentRecord] = {}
    for product in list_field(raw, "affected_products"):
        if isinstance(product, dict) and text_field(product, "title"):
            code = text_field(product, "id")
            key = code or text_field(product, "title") or ""
            found.setdefault(key, ComponentRecord(name=text_field(product, "title") or "",
                                                  code=code))
    if not found and text_field(raw, "service_name"):
        name = text_field(raw, "service_name") or ""
        found[name] = ComponentRecord(name=name, code=text_field(raw, "service_key"))
    for field in ("currently_affected_locations", "previously_affected_locations"):
        for location in list_field(raw, field):
            if not isinstance(location, dict):
                continue
            ident = text_field(location, "id")
            if not ident:
                continue
            key = f"location:{ident}"
            found.setdefault(key, ComponentRecord(name=text_field(location, "title") or ident,
                                                  code=key))
    return tuple(found.values())
