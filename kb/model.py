"""Domain types the rest of `kb` speaks. Only `kb.store` maps them to tables.

All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from scrapers.records import IncidentRecord


class Phase(StrEnum):
    """Canonical phases: incident phases first, then maintenance phases."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


class Severity(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


# What an incident's severity is shown as when no source stated one: distinct from the vendor's
# explicit "none" (Statuspage JSON impact "none"), because an Atom/RSS feed carries no impact
# at all and a feed-only sign-in outage is not known to have been harmless.
SEVERITY_UNKNOWN = "unknown"


class Kind(StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A component's status change, announced at `at`."""

    at: datetime
    old_status: str | None
    new_status: str | None


@dataclass(frozen=True, slots=True)
class Component:
    """A component affected by an incident, with its status changes over time."""

    name: str
    code: str | None = None
    changes: tuple[StatusChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Update:
    """One update of a timeline: canonical phase plus the raw label and body as published."""

    at: datetime
    phase: Phase
    label: str  # raw label or status ("Update" means: no change of phase)
    body: str  # original body (HTML, Markdown or text)
    text: str  # plain text for display and search
    phase_inferred: bool = False  # True when the phase was not stated but deduced
    native_id: str | None = None
    channels: tuple[str, ...] = ()  # format families the update was seen in


@dataclass(frozen=True, slots=True)
class ImpactWindow:
    """When users were affected, as the prose states it; evidence is the sentence it came from."""

    start: datetime
    end: datetime | None
    evidence: str


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """First time each phase was reached, plus the vendor's own timestamps as given."""

    first_post_at: datetime | None = None
    identified_at: datetime | None = None
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    vendor_created_at: datetime | None = None
    vendor_started_at: datetime | None = None
    vendor_resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A raw payload this incident was read from."""

    url: str
    fetched_at: datetime
    sha256: str
    format: str


@dataclass(frozen=True, slots=True)
class Incident:
    """A canonical incident timeline. Identity: `key` == f"{provider}/{native_id}"."""

    provider: str
    native_id: str
    title: str
    kind: Kind
    status: str  # latest raw status
    severity: Severity
    impact: str | None = None  # vendor's impact, raw
    url: str | None = None
    components: tuple[Component, ...] = ()
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    impact_window: ImpactWindow | None = None
    updates: tuple[Update, ...] = ()  # oldest first
    sources: tuple[SourceRef, ...] = ()
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    updates_complete: bool = True  # False if only a latest-state feed was seen

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.native_id}"

    @property
    def time_to_resolve(self) -> timedelta | None:
        """First post → resolved; None unless both exist in that order. An incident whose
        first post already said resolved (posted once, after the fact) measures nothing:
        None, not zero."""
        first, resolved = self.lifecycle.first_post_at, self.lifecycle.resolved_at
        return resolved - first if first and resolved and resolved > first else None

    @property
    def stated_severity(self) -> str:
        """The severity as a source stated it (a Severity value), or SEVERITY_UNKNOWN for an
        incident whose sources state no impact and no component status (feed-only
        incidents): the one value every list, badge, figure and export shows."""
        if self.severity is Severity.NONE and self.kind is Kind.INCIDENT:
            stated = self.impact is not None or any(
                ch.new_status or ch.old_status for c in self.components for ch in c.changes)
            if not stated:
                return SEVERITY_UNKNOWN
        return self.severity.value

    @property
    def first_posted(self) -> datetime | None:
        """When it was first posted: the lifecycle's first post, else the oldest update's
        time (a feed without phases), else None."""
        return self.lifecycle.first_post_at or (self.updates[0].at if self.updates else None)


@dataclass(frozen=True, slots=True)
class SourcedRecord:
    """A parsed record together with the payload it came from and that payload's own time."""

    record: IncidentRecord
    source: SourceRef
    as_of: datetime | None = None

    def freshness(self) -> tuple[datetime, datetime, str]:
        """Sort key: later payloads supersede earlier ones of the same channel."""
        return (self.as_of or self.source.fetched_at, self.source.fetched_at, self.source.sha256)
