"""What changed in an incident between two looks: the watcher's diff.

The watcher remembers a few facts per incident (`state_of`); the next look compares the
stored incident with them (`diff`) and names at most one change per incident and round, the
most telling: reopened > resolved > maintenance start > phase change > new update. Each
change carries an identity (`Change.change_id`) that is the same whoever finds it and
however often (the resolution's time, the update's time and phase): with the target and the
incident key it is the outbox's unique key (kb.store.outbox), so one change notifies each
target once.

The first look at a provider (nothing of it remembered yet) notifies only incidents still
open: its history is no news. Later, an incident first seen already closed is notified only
when it was first posted after the provider was first watched (a backfill of old history
stays silent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kb.model import CLOSING_PHASES, FINAL_STATUSES, Incident, Kind, Phase

CHANGE_KINDS = ("new", "reopened", "resolved", "maintenance_start", "phase", "update",
                "unconfirmed", "all_clear", "test", "withdrawn")
_MAINTENANCE_ACTIVE = frozenset({Phase.IN_PROGRESS, Phase.VERIFYING})


@dataclass(frozen=True)
class Change:
    """One change of one incident, found by one look."""

    incident_key: str
    kind: str  # one of CHANGE_KINDS
    change_id: str  # identity of this change within its kind (see the module docstring)
    summary: str  # one line, for logs and `kb watch` output


def is_open(incident: Incident) -> bool:
    """Not over as far as its published updates say (a maintenance: not completed)."""
    life = incident.lifecycle
    if life.resolved_at is not None or life.end_not_after is not None:
        return False
    if incident.updates and incident.updates[-1].phase in CLOSING_PHASES:
        return False
    return incident.status.lower() not in FINAL_STATUSES


def phase_of(incident: Incident) -> str:
    """The latest phase: the newest update's, else the raw status."""
    return incident.updates[-1].phase.value if incident.updates else incident.status.lower()


def _maintenance_active(incident: Incident) -> bool:
    if incident.kind is not Kind.MAINTENANCE or not is_open(incident):
        return False
    return (bool(incident.updates) and incident.updates[-1].phase in _MAINTENANCE_ACTIVE) \
        or incident.status.lower() in ("in_progress", "verifying")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def state_of(incident: Incident) -> dict[str, Any]:
    """The facts a later look compares against."""
    last = incident.updates[-1] if incident.updates else None
    return {
        "open": is_open(incident),
        "phase": phase_of(incident),
        "updates": len(incident.updates),
        "last_update_at": _iso(last.at) if last else None,
        "resolved_at": _iso(incident.lifecycle.resolved_at),
        "reopenings": len(incident.reopened),
        "kind": incident.kind.value,
        "maintenance_active": _maintenance_active(incident),
    }


def diff(old: dict[str, Any] | None, incident: Incident, *, first_look: bool,
         watched_since: datetime | None) -> Change | None:
    """The change between what was seen (`old`, None: never seen) and `incident` now."""
    now = state_of(incident)
    key = incident.key
    title = incident.title[:120]
    if old is None:
        if incident.kind is Kind.MAINTENANCE:
            if now["maintenance_active"]:
                return Change(key, "maintenance_start", now["last_update_at"] or "",
                              f"maintenance started: {title}")
            return None  # scheduled or over: its start, if it comes, is the news
        if now["open"]:
            return Change(key, "new", "", f"new incident ({now['phase']}): {title}")
        posted = incident.first_posted
        if first_look or watched_since is None or posted is None or posted < watched_since:
            return None  # history
        return Change(key, "new", "", f"new incident, already {now['phase']}: {title}")
    if incident.kind is Kind.MAINTENANCE:
        if now["maintenance_active"] and not old.get("maintenance_active"):
            return Change(key, "maintenance_start", now["last_update_at"] or "",
                          f"maintenance started: {title}")
        return None
    if now["reopenings"] > old.get("reopenings", 0) and now["open"]:
        at = incident.reopened[-1].at.isoformat()
        return Change(key, "reopened", at, f"reopened ({now['phase']}): {title}")
    if old.get("open") and not now["open"]:
        ident = now["resolved_at"] or now["last_update_at"] or ""
        return Change(key, "resolved", ident, f"resolved: {title}")
    if not old.get("open") and now["open"]:
        # reopened without a closing update we recognise (vendor edited the status back)
        ident = now["last_update_at"] or ""
        return Change(key, "reopened", ident, f"reopened ({now['phase']}): {title}")
    if now["phase"] != old.get("phase") and now["open"]:
        ident = f"{now['phase']}@{now['last_update_at']}"
        return Change(key, "phase", ident, f"now {now['phase']}: {title}")
    if now["updates"] > old.get("updates", 0) and now["open"]:
        ident = f"{now['updates']}@{now['last_update_at']}"
        return Change(key, "update", ident, f"new update ({now['phase']}): {title}")
    return None
