"""Domain types the rest of `kb` speaks. Only `kb.store` maps them to tables.

All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

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


# Phases that say the incident is over, and those that say it is (again) under way.
CLOSING_PHASES = frozenset({Phase.RESOLVED, Phase.COMPLETED})
OPEN_PHASES = frozenset({Phase.INVESTIGATING, Phase.IDENTIFIED, Phase.MONITORING,
                         Phase.IN_PROGRESS, Phase.VERIFYING})
# Vendor statuses (lower case) that say an incident or a maintenance is over.
FINAL_STATUSES = frozenset({"resolved", "postmortem", "completed"})
# Shown instead of a duration whose end the vendor put before its start (a window's end before
# its start, a resolution before the first post): never a negative number.
CONTRADICTING_TIMES = "contradicting vendor times"


# Updates posted within this of a resolution are the same moment, listed in no reliable order
# (GitHub's feed puts "Investigating - X is operating normally" beside "Resolved" at 19:03):
# they do not reopen it.
SAME_MOMENT = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Reopening:
    """An update that took a closed incident back to an open phase ("resolved" → "monitoring").

    `inferred`: either phase was read from prose rather than stated (AWS's multi-service posts
    move between "resolved" for one service and "monitoring" for another).
    """

    at: datetime
    from_phase: Phase
    to_phase: Phase
    inferred: bool = False


def reopenings(updates: Sequence[Update]) -> tuple[Reopening, ...]:
    """Every time the timeline went from a closing phase back to an open one, oldest first.

    A postmortem after a resolution neither closes nor reopens: it is skipped over, and so is
    an open update posted within SAME_MOMENT of the resolution.
    """
    found: list[Reopening] = []
    closed: Update | None = None  # the update that closed the incident, while it is closed
    for u in updates:
        if u.phase in CLOSING_PHASES:
            closed = closed or u
        elif u.phase in OPEN_PHASES and closed is not None:
            if u.at - closed.at <= SAME_MOMENT:
                continue
            found.append(Reopening(u.at, closed.phase, u.phase,
                                   closed.phase_inferred or u.phase_inferred))
            closed = None
    return tuple(found)


def final_resolution(updates: Sequence[Update]) -> int | None:
    """Index of the update that closed the incident for good: the first closing update after
    the last reopening (None while it is open again, or was never closed)."""
    index: int | None = None
    for i, u in enumerate(updates):
        if u.phase in CLOSING_PHASES:
            index = i if index is None else index
        elif (u.phase in OPEN_PHASES and index is not None
              and u.at - updates[index].at > SAME_MOMENT):
            index = None
    return index


def elapsed(start: datetime | None, end: datetime | None) -> timedelta | None:
    """end − start, or None when either is unknown or the end comes first (contradicting
    times: see `contradicts`). The one place published durations are computed from two
    stamps, so that none is ever negative."""
    if start is None or end is None or end < start:
        return None
    return end - start


def contradicts(start: datetime | None, end: datetime | None) -> bool:
    """Whether both times are known and the end comes before the start."""
    return start is not None and end is not None and end < start


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """First time each phase was reached, plus the vendor's own timestamps as given.

    `resolved_at` is the final resolution: an incident resolved, reopened and resolved again
    is resolved at the second time (the reopenings are `Incident.reopened`). Normalization
    never sets `resolved_at` before `first_post_at`.
    """

    first_post_at: datetime | None = None
    identified_at: datetime | None = None
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    vendor_created_at: datetime | None = None
    vendor_started_at: datetime | None = None
    vendor_resolved_at: datetime | None = None
    # Bounded end from an archive of open-only snapshots (Statuspage summary.json lists only
    # unresolved incidents, see kb.normalize.snapshots): the incident was still listed at
    # `end_not_before` and gone from the next snapshot, taken at `end_not_after`. Both are set
    # only while `resolved_at` is unknown; `end_not_after` is None while the newest snapshot
    # still lists it. For figures: the end is a bound, never a time — a duration lies between
    # (end_not_before - start) and (end_not_after - start); use the lower bound for "at
    # least", report the span between them as unknown minutes, and never substitute "now".
    end_not_before: datetime | None = None
    end_not_after: datetime | None = None


# The Lifecycle times every stored, exported and CSV incident carries, in their column order
# (the snapshot bounds are written only when known).
LIFECYCLE_TIMES = ("first_post_at", "identified_at", "monitoring_at", "resolved_at",
                   "vendor_created_at", "vendor_started_at", "vendor_resolved_at")


def imported_name(url: str) -> str | None:
    """The file name of a payload imported from a local file (a `file:` URL, or a bare path
    from older versions); None for anything else (http(s) and other fetched URLs)."""
    if url.startswith("file:"):
        path = unquote(urlsplit(url).path)
    elif url.startswith(("/", "\\")) or (len(url) > 2 and url[1] == ":" and url[2] in "/\\"):
        path = url
    else:
        return None
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return name or "file"


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A raw payload this incident was read from."""

    url: str
    fetched_at: datetime
    sha256: str
    format: str

    @property
    def imported(self) -> bool:
        """Read from a local file (`kb ingest`), not fetched: its url is a path of this
        machine, which nothing published may show."""
        return imported_name(self.url) is not None

    @property
    def shown(self) -> str:
        """The url for a published page or file: a fetched payload's url, an imported one's
        file name with "(imported)" — never the machine's path."""
        name = imported_name(self.url)
        return self.url if name is None else f"{name} (imported)"


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
    # Updates that cannot be placed: dated more than a day before the incident was created
    # (scrapers.plausible warns "dated before the incident was created"). Shown with the
    # timeline, marked, but outside `updates`, so no lifecycle time, impact window, coverage,
    # duration or other figure is ever read from them (kb.normalize._placed).
    unplaced: tuple[Update, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.native_id}"

    @property
    def time_to_resolve(self) -> timedelta | None:
        """First post → final resolution; None unless both exist in that order. An incident
        whose first post already said resolved (posted once, after the fact) measures nothing:
        None, not zero."""
        ttr = elapsed(self.lifecycle.first_post_at, self.lifecycle.resolved_at)
        return ttr if ttr else None

    @property
    def reopened(self) -> tuple[Reopening, ...]:
        """Each time the incident went back from resolved to an open phase."""
        return reopenings(self.updates)

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


# Community signals (news, forum threads) and what linking makes of them (kb.signals)


@dataclass(frozen=True)
class SignalSource:
    """One source's view of a story (an HN thread, a feed entry)."""

    source: str
    native_id: str
    url: str | None
    discussion_url: str | None
    created_at: datetime | None
    site: str | None = None
    points: int | None = None
    comments: int | None = None


@dataclass(frozen=True)
class Signal:
    """A story: one or more source items about the same thing, merged."""

    id: str
    title: str
    url: str | None
    discussion_url: str | None
    created_at: datetime | None
    kind: str  # live | late | news (see kb.signals.kinds)
    providers: tuple[str, ...]  # providers its title, URL or text names
    sources: tuple[SignalSource, ...]
    site: str | None = None
    author: str | None = None
    points: int | None = None
    comments: int | None = None
    threads: int = 0  # discussion threads among the sources (HN, reddit, lobsters)
    text: str = ""
    top_comments: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignalLink:
    """A signal linked to an incident, with the score and the evidence behind it."""

    signal_id: str
    incident_key: str
    provider: str
    score: float
    confidence: str  # high | medium | low
    rule: str  # url | live | news | late-named | late | late-only
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unofficial:
    """Independent signals that agree on an outage no official incident covers."""

    key: str
    provider: str
    start: datetime
    end: datetime
    signal_ids: tuple[str, ...]
    titles: tuple[str, ...]
    source_families: tuple[str, ...]
    score: float
