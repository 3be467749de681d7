"""Incident ↔ the JSON object of `kb show --json` and `kb export` (a documented contract).

Times are ISO-8601 UTC with a trailing Z. Key order is fixed so exports are byte-stable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kb.model import (
    LIFECYCLE_TIMES,
    Component,
    ImpactWindow,
    Incident,
    Kind,
    Lifecycle,
    Phase,
    Severity,
    SourceRef,
    StatusChange,
    Update,
)

SCHEMA = "outage-kb/incident@1"


def stamp(value: datetime | None) -> str | None:
    """2026-04-28T17:34:00Z (milliseconds kept when the source had them)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # most times are UTC already: skip the conversion (ingest)
        value = value.astimezone(UTC)
    # an aware UTC time's isoformat ends in "+00:00": swapped for "Z"
    if value.microsecond:
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    return value.isoformat(timespec="seconds")[:-6] + "Z"


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    life = incident.lifecycle
    window = incident.impact_window
    return {
        "key": incident.key,
        "provider": incident.provider,
        "native_id": incident.native_id,
        "title": incident.title,
        "url": incident.url,
        "kind": incident.kind.value,
        "status": incident.status,
        "impact": incident.impact,
        "severity": incident.severity.value,
        "components": [
            {
                "name": c.name,
                "code": c.code,
                "changes": [
                    {"at": stamp(s.at), "old_status": s.old_status, "new_status": s.new_status}
                    for s in c.changes
                ],
            }
            for c in incident.components
        ],
        "lifecycle": {
            **{name: stamp(getattr(life, name)) for name in LIFECYCLE_TIMES},
            # written only when known, so incidents without a snapshot bound hash as before
            **({"end_not_before": stamp(life.end_not_before),
                "end_not_after": stamp(life.end_not_after)}
               if life.end_not_before or life.end_not_after else {}),
            # derived from the updates' phases (not stored apart): each resolved → open again
            "reopened": [
                {"at": stamp(r.at), "from_phase": r.from_phase.value,
                 "to_phase": r.to_phase.value, "inferred": r.inferred}
                for r in incident.reopened
            ],
        },
        "impact_window": None
        if window is None
        else {"start": stamp(window.start), "end": stamp(window.end), "evidence": window.evidence},
        "scheduled_for": stamp(incident.scheduled_for),
        "scheduled_until": stamp(incident.scheduled_until),
        "updates_complete": incident.updates_complete,
        "updates": [
            {
                "at": stamp(u.at),
                "phase": u.phase.value,
                "label": u.label,
                "phase_inferred": u.phase_inferred,
                "body": u.body,
                "text": u.text,
                "native_id": u.native_id,
                "channels": list(u.channels),
            }
            for u in incident.updates
        ],
        # written only when some exist, so other incidents hash as before
        **({"unplaced": [_update_dict(u) for u in incident.unplaced]}
           if incident.unplaced else {}),
        "sources": [
            {
                "url": s.url,
                "fetched_at": stamp(s.fetched_at),
                "sha256": s.sha256,
                "format": s.format,
            }
            for s in incident.sources
        ],
    }


def incident_from_dict(data: dict[str, Any]) -> Incident:
    life = data["lifecycle"]
    window = data.get("impact_window")
    return Incident(
        provider=data["provider"],
        native_id=data["native_id"],
        title=data["title"],
        kind=Kind(data["kind"]),
        status=data["status"],
        severity=Severity(data["severity"]),
        impact=data.get("impact"),
        url=data.get("url"),
        components=tuple(
            Component(
                name=c["name"],
                code=c.get("code"),
                changes=tuple(
                    StatusChange(_time(s["at"]), s["old_status"], s["new_status"])  # type: ignore[arg-type]
                    for s in c.get("changes", ())
                ),
            )
            for c in data.get("components", ())
        ),
        # derived keys ("reopened") are recomputed from the updates, not read back
        lifecycle=Lifecycle(**{k: _time(v) for k, v in life.items() if k != "reopened"}),
        impact_window=None
        if window is None
        else ImpactWindow(_time(window["start"]), _time(window["end"]), window["evidence"]),  # type: ignore[arg-type]
        updates=tuple(
            Update(
                at=_time(u["at"]),  # type: ignore[arg-type]
                phase=Phase(u["phase"]),
                label=u["label"],
                body=u["body"],
                text=u["text"],
                phase_inferred=u.get("phase_inferred", False),
                native_id=u.get("native_id"),
                channels=tuple(u.get("channels", ())),
            )
            for u in data.get("updates", ())
        ),
        unplaced=tuple(_update_from(u) for u in data.get("unplaced", ())),
        sources=tuple(
            SourceRef(s["url"], _time(s["fetched_at"]), s["sha256"], s["format"])  # type: ignore[arg-type]
            for s in data.get("sources", ())
        ),
        scheduled_for=_time(data.get("scheduled_for")),
        scheduled_until=_time(data.get("scheduled_until")),
        updates_complete=data.get("updates_complete", True),
    )


def _update_dict(u: Update) -> dict[str, Any]:
    """One update as `incident_to_dict` writes those of `updates` (used for `unplaced`)."""
    return {"at": stamp(u.at), "phase": u.phase.value, "label": u.label,
            "phase_inferred": u.phase_inferred, "body": u.body, "text": u.text,
            "native_id": u.native_id, "channels": list(u.channels)}


def _update_from(u: dict[str, Any]) -> Update:
    """The Update of `_update_dict`'s output."""
    return Update(at=_time(u["at"]), phase=Phase(u["phase"]), label=u["label"],  # type: ignore[arg-type]
                  body=u["body"], text=u["text"], phase_inferred=u.get("phase_inferred", False),
                  native_id=u.get("native_id"), channels=tuple(u.get("channels", ())))
