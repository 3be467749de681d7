"""Records → canonical incident timelines.

`normalize_incident(provider, records)` is a pure function of the records it is given: the
same records in any order give the same Incident, which is what makes re-runs byte-stable.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from kb.model import (
    Component,
    Incident,
    Kind,
    Lifecycle,
    Phase,
    Severity,
    SourcedRecord,
    SourceRef,
    StatusChange,
    Update,
    final_resolution,
)
from kb.normalize.component_impacts import window_from_impacts
from kb.normalize.impact import find_impact_window
from kb.normalize.infer import infer_phase
from kb.normalize.merge import MergedUpdate, merge_updates, select_current
from kb.normalize.nul import clean_record
from kb.normalize.vocabulary import NO_CHANGE, default_phase, phase_for_label, severity_for
from scrapers.plausible import POSTED_SLACK

__all__ = ["SourcedRecord", "normalize_incident"]


def normalize_incident(provider: str, records: Iterable[SourcedRecord]) -> Incident:
    """Merge every record known for one incident into its canonical timeline."""
    all_records = list(records)
    # NUL out of every text the incident takes (kb.normalize.nul: PostgreSQL cannot store it)
    current = [clean_record(r) for r in select_current(all_records)]
    if not current:
        raise ValueError("no records to normalize")
    primary = current[0].record
    kind = Kind.MAINTENANCE if any(r.record.kind == "maintenance" for r in current) else Kind(
        primary.kind
    )
    created = _first(r.record.created_at for r in current)
    merged, early = _placed(merge_updates(current), created)
    updates = _phased(merged, kind)
    components = _components(current, merged)
    statuses = [c.new_status for comp in components for c in comp.changes]
    statuses += [c.old_status for comp in components for c in comp.changes]
    statuses += [i.status for r in current for i in r.record.impacts]
    impact = _first(r.record.impact for r in current)
    severity = Severity.NONE if kind is Kind.MAINTENANCE else severity_for(impact, statuses)
    freshest = max(current, key=lambda r: (_last_update(r), -current.index(r)))
    return Incident(
        provider=provider,
        native_id=primary.native_id,
        title=_first(r.record.title for r in current) or "(untitled)",
        kind=kind,
        status=_status(freshest.record.status, updates),
        severity=severity,
        impact=impact,
        url=_first(r.record.url for r in current),
        components=components,
        lifecycle=_lifecycle(current, updates),
        # the vendor's own component impact times, where given, beat the prose
        impact_window=(window_from_impacts(current)
                       or find_impact_window([(u.at, u.text) for u in updates]))
        if kind is Kind.INCIDENT
        else None,
        updates=tuple(updates),
        sources=_sources(all_records),
        scheduled_for=_first(r.record.scheduled_for for r in current),
        scheduled_until=_first(r.record.scheduled_until for r in current),
        updates_complete=any(r.record.updates_complete for r in current),
        unplaced=tuple(_phased(early, kind)),
    )


def _placed(merged: list[MergedUpdate],
            created: datetime | None) -> tuple[list[MergedUpdate], list[MergedUpdate]]:
    """(the updates that can be placed, those that cannot): an update dated more than
    POSTED_SLACK (a day: zone mistakes) before the incident's own creation time cannot be
    placed on its timeline. scrapers.plausible keeps it with a warning (Statuspage lets
    vendors backfill); here it is set apart (Incident.unplaced) so no figure reads it: a
    2001 update on an incident created in 2026 once made its impact 225,323 h long."""
    if created is None:
        return merged, []
    floor = created - POSTED_SLACK
    early = [m for m in merged if m.update.at < floor]
    if not early:
        return merged, []
    return [m for m in merged if m.update.at >= floor], early


def _status(raw: str | None, updates: list[Update]) -> str:
    """The vendor's current status; where it names no phase (a feed's newest label "Update"),
    the phase the timeline reached instead."""
    if raw and (phase_for_label(raw) is not None or raw.strip().lower() not in NO_CHANGE):
        return raw
    return updates[-1].phase.value if updates else (raw or "unknown")


def _first(values: Iterable):  # type: ignore[no-untyped-def]
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _last_update(item: SourcedRecord):  # type: ignore[no-untyped-def]
    return max((u.at for u in item.record.updates), default=item.source.fetched_at)


def _phased(merged: list[MergedUpdate], kind: Kind) -> list[Update]:
    """Canonical phases: a stated label wins; "Update" carries the previous phase (or the
    kind's default, flagged as inferred). Any other label states no phase (Google's
    SERVICE_DISRUPTION, AWS's empty labels, a plain feed's nothing): the phase is read from
    the text (kb.normalize.infer), else carried over, and flagged as inferred either way."""
    result: list[Update] = []
    previous: Phase | None = None
    for item in merged:
        stated = phase_for_label(item.update.label)
        guessed = None
        if stated is None and item.update.label.strip().lower() not in NO_CHANGE:
            guessed = infer_phase(item.text, item.update.label)
        phase = stated or guessed or previous or default_phase(kind)
        inferred = stated is None and (
            previous is None or item.update.label.strip().lower() not in NO_CHANGE
        )
        result.append(
            Update(
                at=item.update.at,
                phase=phase,
                label=item.update.label,
                body=item.update.body,
                text=item.text,
                phase_inferred=inferred,
                native_id=item.update.native_id,
                channels=tuple(sorted(item.channels)),
            )
        )
        previous = phase
    return result


def _lifecycle(current: list[SourcedRecord], updates: list[Update]) -> Lifecycle:
    def first(*phases: Phase):  # type: ignore[no-untyped-def]
        return next((u.at for u in updates if u.phase in phases), None)

    complete = any(r.record.updates_complete for r in current)
    first_post = updates[0].at if updates else None
    created = _first(r.record.created_at for r in current)
    if not complete and created is not None and (first_post is None or created < first_post):
        # only a latest-state feed was seen: its creation time is the best first-post time
        first_post = created
    first_post = first_post or created
    # The final resolution, not the first: "resolved", back to "monitoring", resolved again an
    # hour later is resolved at the second post (the reopening is kept: Incident.reopened).
    final = final_resolution(updates)
    resolved = updates[final].at if final is not None else None
    if resolved is not None and first_post is not None and resolved < first_post:
        resolved = None  # an update older than the incident's own creation: cannot be placed
    return Lifecycle(
        first_post_at=first_post,
        identified_at=first(Phase.IDENTIFIED),
        monitoring_at=first(Phase.MONITORING, Phase.VERIFYING),
        resolved_at=resolved,
        vendor_created_at=created,
        vendor_started_at=_first(r.record.started_at for r in current),
        vendor_resolved_at=_first(r.record.resolved_at for r in current),
    )


def _components(current: list[SourcedRecord], merged: list[MergedUpdate]) -> tuple[Component, ...]:
    """Affected components in order of first appearance, with their status changes."""
    names: dict[str, tuple[str, str | None]] = {}
    changes: dict[str, list[StatusChange]] = {}

    def ident(name: str, code: str | None) -> str:
        return code or name.strip().casefold()

    for item in merged:
        for change in item.update.components:
            key = ident(change.name, change.code)
            names.setdefault(key, (change.name, change.code))
            entry = StatusChange(item.update.at, change.old_status, change.new_status)
            if entry not in changes.setdefault(key, []):
                changes[key].append(entry)
    for record in current:
        for comp in record.record.components:
            key = ident(comp.name, comp.code)
            if key not in names and not any(n == comp.name for n, _ in names.values()):
                names[key] = (comp.name, comp.code)
    return tuple(
        Component(name=name, code=code, changes=tuple(changes.get(key, ())))
        for key, (name, code) in names.items()
    )


def _sources(records: list[SourcedRecord]) -> tuple[SourceRef, ...]:
    unique = {(r.source.sha256, r.source.url): r.source for r in records}
    return tuple(sorted(unique.values(), key=lambda s: (s.fetched_at, s.url, s.sha256)))
