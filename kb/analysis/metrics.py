"""Per-incident reliability figures: when users were affected, how long, how it was told.

Impact interval, in order of authority (the one used is recorded in `source`):

1. ``prose``: the window the vendor's own text states ("Impact occurred from 12:40 to 13:10
   UTC"), read by kb.normalize.impact. A stated start without a stated end takes its end from
   (2) or (3) and is recorded as ``prose+components`` / ``prose+lifecycle``.
2. ``components``: the component status changes: from the first change announcing (or leaving)
   a non-operational status to the first return to ``operational`` after the last bad status.
3. ``lifecycle``: first public post → resolved; where no update says resolved but the
   vendor's own fields state an end (Google Cloud's `begin`/`end`), ``vendor``: its stated
   start (else the first post) → its stated end.

An incident with no end in any of them (still open when the KB last saw it) is ``open``: it
has no impact minutes, and reliability figures count it as down until the provider's coverage
ends (see kb.analysis.reliability).

A single post that was already resolved (842 of GitHub's pre-2017 incidents) has no
measurable duration: source ``posted-resolved``, impact and resolve minutes None. Counting it
as 0 minutes would drag medians to zero and uptime up.

An end that is not known is not "now": an open incident is known to go on until its last
update, and unknown from there to the newest payload that still listed it (or between a
snapshot series' bounds); a feed entry seen only with its resolving update (source
``bounded``) has an unknown impact time between its first post and its resolution. Those
minutes are `unknown_start`..`unknown_end`, reported as unknown, never as down or up.

Weights follow the Statuspage convention the issue names: major/critical outage 1.0,
partial outage or minor impact 0.3, maintenance 0. Where components announced a
non-operational status, the worst of them sets the weight (major_outage 1.0, partial_outage
and degraded_performance 0.3): they say how much was down, while the incident impact is one
word for the whole page (Anthropic marks a four-day degradation of one Windows feature
"major"). Otherwise the vendor's impact sets it; an incident that states neither (feed-only
incidents carry no impact) is weighted 0.3 and marked ``assumed``: counting it as 0 would
report a silent page as perfect uptime.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from kb.model import Component, Incident, Kind, Severity

_BAD = {"degraded_performance": 0.3, "partial_outage": 0.3, "major_outage": 1.0,
        "full_outage": 1.0}
_GOOD = {"operational"}
_IMPACT_WEIGHT = {"critical": 1.0, "major": 1.0, "minor": 0.3, "none": 0.0, "maintenance": 0.0}
ASSUMED_WEIGHT = 0.3


def _key(status: str | None) -> str:
    return "_".join((status or "").strip().lower().split())


@dataclass(frozen=True, slots=True)
class ComponentImpact:
    """One component's impact within an incident, from its own status changes where it has
    any (else the incident's interval and weight)."""

    name: str
    start: datetime | None
    end: datetime | None
    weight: float
    source: str  # "components" or the incident's source


@dataclass(frozen=True, slots=True)
class IncidentFigures:
    """Everything measured about one incident. Minutes are floats; None means not known."""

    key: str
    provider: str
    kind: str
    severity: str  # kb.model.Severity value, or "unknown" (no impact and no component status)
    weight: float
    weight_basis: str  # "components", "impact", "maintenance" or "assumed"
    start: datetime | None
    end: datetime | None
    source: str  # prose, prose+components, prose+lifecycle, components, lifecycle, vendor,
    #              posted-resolved, bounded (end known only to lie before a resolution) or none
    open: bool
    last_seen: datetime | None  # the latest time the KB knows the incident's state for
    impact_minutes: float | None
    detection_minutes: float | None  # prose start → first public post, when the prose is earlier
    identified_minutes: float | None  # first post → identified
    resolve_minutes: float | None  # first post → resolved
    updates: int
    cadence_minutes: float | None  # median gap between updates
    longest_silence_minutes: float | None  # longest gap between updates
    components: tuple[ComponentImpact, ...] = ()
    # An end that is not known: from `unknown_start` (the last time the impact is known to
    # have gone on: its last update, or a bounded end's earliest moment) to `unknown_end` (the
    # newest payload that still listed it open, or the bounded end's latest moment), the KB
    # cannot say whether users were affected. Counted as unknown minutes, never as down until
    # "now" (docs/analysis.md, "What the figures mean").
    unknown_start: datetime | None = None
    unknown_end: datetime | None = None

    @property
    def unknown_minutes(self) -> float | None:
        return minutes(self.unknown_start, self.unknown_end)


def bounded_end(incident: Incident) -> tuple[datetime | None, datetime | None]:
    """(not before, not after) of an end known only between two snapshots (a summary.json
    series drops an incident somewhere between the last snapshot listing it and the first
    that does not); (None, None) when the model records no such bounds."""
    for holder in (incident, incident.lifecycle):
        lo = getattr(holder, "end_not_before", None)
        hi = getattr(holder, "end_not_after", None)
        if lo is not None or hi is not None:
            return lo, hi
    return None, None


def minutes(start: datetime | None, end: datetime | None) -> float | None:
    """end - start in minutes, or None when either is missing or the end precedes the start."""
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds() / 60


def component_window(component: Component) -> tuple[datetime | None, datetime | None, float]:
    """(start, end, worst weight) a component's status changes announce; (None, None, 0) when
    they never name a non-operational status.

    Why both old and new status count: Statuspage feeds often announce a component as
    partial_outage → partial_outage first (the change was made before the update), so the
    earliest bad status is known only from `old_status`.
    """
    changes = sorted(component.changes, key=lambda c: c.at)
    start: datetime | None = None
    last_bad: datetime | None = None
    worst = 0.0
    for change in changes:
        old, new = _key(change.old_status), _key(change.new_status)
        for status in (old, new):
            if status in _BAD:
                worst = max(worst, _BAD[status])
                start = change.at if start is None else start
        if new in _BAD:
            last_bad = change.at
    if start is None:
        return None, None, 0.0
    end = None
    for change in changes:
        if (last_bad is None or change.at >= last_bad) and _key(change.new_status) in _GOOD and (
            change.at >= start
        ):
            end = change.at
            break
    return start, end, worst


def incident_weight(incident: Incident) -> tuple[float, str]:
    """(weight, basis) for uptime: see the module docstring."""
    if incident.kind is Kind.MAINTENANCE:
        return 0.0, "maintenance"
    statuses = [_key(s) for c in incident.components for ch in c.changes
                for s in (ch.old_status, ch.new_status)]
    bad = [_BAD[s] for s in statuses if s in _BAD]
    if bad:
        return max(bad), "components"
    if incident.impact and _key(incident.impact) in _IMPACT_WEIGHT:
        return _IMPACT_WEIGHT[_key(incident.impact)], "impact"
    if incident.severity is not Severity.NONE:  # an impact word the normalizer still ranked
        return (1.0 if incident.severity in (Severity.MAJOR, Severity.CRITICAL) else 0.3), "impact"
    if any(s in _GOOD or s == "under_maintenance" for s in statuses):
        return 0.0, "components"  # every component stayed operational, by the vendor's word
    return ASSUMED_WEIGHT, "assumed"


def severity_label(incident: Incident) -> str:
    """The model's severity, except "unknown" where nothing stated one (feed-only incidents):
    such an incident is not known to be harmless (Incident.stated_severity)."""
    return incident.stated_severity


def _components_envelope(incident: Incident) -> tuple[datetime | None, datetime | None]:
    windows = [component_window(c) for c in incident.components]
    starts = [s for s, _, _ in windows if s is not None]
    if not starts:
        return None, None
    ends = [e for s, e, _ in windows if s is not None]
    return min(starts), (None if any(e is None for e in ends) else max(e for e in ends if e))


def impact_interval(incident: Incident) -> tuple[datetime | None, datetime | None, str]:
    """(start, end, source) of the incident's impact; end None = open. See module docstring."""
    life = incident.lifecycle
    c_start, c_end = _components_envelope(incident)
    window = incident.impact_window
    if window is not None:
        if window.end is not None:
            return window.start, window.end, "prose"
        if c_end is not None and c_end > window.start:
            return window.start, c_end, "prose+components"
        if life.resolved_at is not None and life.resolved_at > window.start:
            return window.start, life.resolved_at, "prose+lifecycle"
        return window.start, None, "prose"
    if c_start is not None and c_end is not None and c_end > c_start:
        return c_start, c_end, "components"
    start = life.first_post_at or c_start
    if start is None:
        return None, None, "none"
    end = life.resolved_at if life.resolved_at and life.resolved_at >= start else None
    vendor_start, vendor_end = life.vendor_started_at or start, life.vendor_resolved_at
    if life.resolved_at is None and vendor_end is not None and vendor_start < vendor_end:
        # The vendor's own end field, with no update that says resolved: Google Cloud posts
        # some incidents once, after their `end` ("begin" 03:40, "end" 08:40, posted 09:02).
        # Taken as open, such an incident was "unknown" from 2021-08 to the payload's date.
        return vendor_start, vendor_end, "vendor"
    return start, end, "lifecycle"


def _gaps(stamps: Sequence[datetime]) -> list[float]:
    return [(b - a).total_seconds() / 60 for a, b in pairwise(sorted(stamps))]


def incident_figures(incident: Incident, seen: datetime | None = None) -> IncidentFigures:
    """Measure one incident. `seen`: the time of the newest payload that listed it (its
    `as_of`), which is how long an unresolved incident is known to have stayed open."""
    life = incident.lifecycle
    start, end, source = impact_interval(incident)
    weight, basis = incident_weight(incident)
    first_post = life.first_post_at
    # a first post that already said resolved measures no time to resolve: None, not 0 (as
    # Incident.time_to_resolve, which the site's medians use), whatever gave the impact window
    resolve = minutes(first_post, life.resolved_at) or None
    if source == "lifecycle" and len(incident.updates) <= 1 and start == end:
        source, end, resolve = "posted-resolved", None, None
    bounded = None
    if (source == "lifecycle" and not incident.updates_complete and len(incident.updates) <= 1
            and start is not None and end is not None and end > start):
        # A feed entry carries only its latest update: published, then "resolved" days later
        # says nothing of when users stopped being affected (OpenAI's FedRAMP entry: 265 h
        # between the two). The resolution bounds the end; the impact time is unknown.
        bounded, source, end = (start, end), "bounded", None
    detection = None
    if source.startswith("prose") and start is not None and first_post is not None:
        detection = minutes(start, first_post) if start < first_post else None
    gaps = _gaps([u.at for u in incident.updates]) if incident.updates_complete else []
    parts = []
    for component in incident.components:
        c_start, c_end, c_weight = component_window(component)
        if c_start is not None:
            parts.append(ComponentImpact(component.name, c_start, c_end or end,
                                         c_weight if basis != "maintenance" else 0.0,
                                         "components"))
        else:
            parts.append(ComponentImpact(component.name, start, end, weight, source))
    stamps = [s for s in (*(u.at for u in incident.updates), first_post, life.resolved_at,
                          end, seen) if s is not None]
    is_open = start is not None and end is None and source not in ("posted-resolved", "bounded")
    unknown_start, unknown_end = bounded or (None, None)
    if is_open and start is not None:
        lo, hi = bounded_end(incident)
        # known to go on while the vendor kept posting about it; after that, unknown
        posted = [u.at for u in incident.updates if u.at >= start]
        unknown_start = max([start, *posted, *([lo] if lo else [])])
        unknown_end = max([unknown_start, hi or max(stamps, default=unknown_start)])
    return IncidentFigures(
        key=incident.key,
        provider=incident.provider,
        kind=incident.kind.value,
        severity=severity_label(incident),
        weight=weight,
        weight_basis=basis,
        start=start,
        end=end,
        source=source,
        # a snapshot-bounded end (kb.normalize.snapshots) is known to have ended: not open,
        # though its time between the bounds is unknown like an open one's
        open=is_open and life.end_not_after is None,
        last_seen=max(stamps) if stamps else None,
        impact_minutes=minutes(start, end),
        detection_minutes=detection,
        identified_minutes=minutes(first_post, life.identified_at),
        resolve_minutes=resolve,
        updates=len(incident.updates),
        cadence_minutes=statistics.median(gaps) if gaps else None,
        longest_silence_minutes=max(gaps) if gaps else None,
        components=tuple(parts),
        unknown_start=unknown_start,
        unknown_end=unknown_end,
    )


def all_figures(
    incidents: Iterable[Incident], seen: Mapping[str, datetime] | None = None
) -> list[IncidentFigures]:
    """Figures for every incident given (maintenances included: they carry weight 0).
    `seen`: key → as_of of the newest payload listing it (kb.store.analysis.last_seen)."""
    seen = seen or {}
    return [incident_figures(i, seen.get(i.key)) for i in incidents]
