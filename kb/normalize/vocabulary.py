"""Vendor vocabulary mapped onto canonical phases and severities; raw values are kept elsewhere."""

from __future__ import annotations

from collections.abc import Iterable

from kb.model import Kind, Phase, Severity

_PHASES: dict[str, Phase] = {
    "investigating": Phase.INVESTIGATING,
    "identified": Phase.IDENTIFIED,
    "fixing": Phase.IDENTIFIED,  # incident.io: a fix is being worked on
    "monitoring": Phase.MONITORING,
    "resolved": Phase.RESOLVED,
    "postmortem": Phase.POSTMORTEM,
    "scheduled": Phase.SCHEDULED,
    "in_progress": Phase.IN_PROGRESS,
    "verifying": Phase.VERIFYING,
    "completed": Phase.COMPLETED,
    # incident.io maintenance statuses
    "maintenance_scheduled": Phase.SCHEDULED,
    "maintenance_in_progress": Phase.IN_PROGRESS,
    "maintenance_complete": Phase.COMPLETED,
    # Instatus maintenance statuses (upper-case, one word: NOTSTARTEDYET, INPROGRESS)
    "notstartedyet": Phase.SCHEDULED,
    "inprogress": Phase.IN_PROGRESS,
}
# Labels that announce "no change of phase" (Statuspage feeds print "Update").
NO_CHANGE = frozenset({"update"})


def phase_for_label(label: str) -> Phase | None:
    """The canonical phase a label states, or None when it states none ("Update", unknown)."""
    key = "_".join(label.strip().lower().replace("-", " ").split())
    return _PHASES.get(key)


def default_phase(kind: Kind) -> Phase:
    """The phase assumed before any update stated one."""
    return Phase.SCHEDULED if kind is Kind.MAINTENANCE else Phase.INVESTIGATING


_IMPACT_SEVERITY = {
    "none": Severity.NONE,
    "minor": Severity.MINOR,
    "major": Severity.MAJOR,
    "critical": Severity.CRITICAL,
    "maintenance": Severity.NONE,
    # Slack grades an issue by its type (outage > incident > notice)
    "outage": Severity.MAJOR,
    "incident": Severity.MINOR,
    "notice": Severity.NONE,
    # Google Cloud / Workspace status_impact, and its severity where no status_impact is given
    "service_outage": Severity.CRITICAL,
    "service_disruption": Severity.MAJOR,
    "service_information": Severity.MINOR,
    "available": Severity.NONE,
    "high": Severity.CRITICAL,
    "medium": Severity.MAJOR,
    "low": Severity.MINOR,
    # AWS Health Dashboard: numeric statuses of data.json/currentevents (the legacy legend:
    # 0 operating normally, 1 informational, 2 performance issues, 3 service disruption) and
    # the same levels as its RSS titles word them
    "0": Severity.NONE,
    "1": Severity.MINOR,
    "2": Severity.MAJOR,
    "3": Severity.CRITICAL,
    "service is operating normally": Severity.NONE,
    "informational message": Severity.MINOR,
    "performance issues": Severity.MAJOR,
    "service degradation": Severity.MAJOR,
    "service disruption": Severity.CRITICAL,
    "service impact": Severity.CRITICAL,
}
_COMPONENT_SEVERITY = {
    "operational": Severity.NONE,
    "under_maintenance": Severity.NONE,
    "degraded_performance": Severity.MINOR,
    "partial_outage": Severity.MAJOR,
    "major_outage": Severity.CRITICAL,
    "full_outage": Severity.CRITICAL,
    # Better Stack resource states
    "degraded": Severity.MINOR,
    "downtime": Severity.CRITICAL,
    "maintenance": Severity.NONE,
    "resolved": Severity.NONE,
}
# Instatus writes the same words upper-case and run together (MAJOROUTAGE) for both an
# incident's impact and a component's status; looked up with separators removed.
_COMPACT_SEVERITY = {key.replace("_", ""): value for key, value in _COMPONENT_SEVERITY.items()}
_COMPACT_SEVERITY["minoroutage"] = Severity.MINOR
_ORDER = [Severity.NONE, Severity.MINOR, Severity.MAJOR, Severity.CRITICAL]


def severity_for(impact: str | None, component_statuses: Iterable[str | None]) -> Severity:
    """The worse of the vendor's stated impact and the worst component status it announced.

    Why both: vendors set `impact: none` on real disruptions (an OpenAI Agents API incident in
    the corpus) while marking components partial_outage; the components tell the truth.
    """
    word = (impact or "").strip().lower()
    found = [_IMPACT_SEVERITY.get(word) or _COMPACT_SEVERITY.get(_compact(word), Severity.NONE)]
    for status in component_statuses:
        key = "_".join((status or "").strip().lower().split())
        found.append(_COMPONENT_SEVERITY.get(key) or _COMPACT_SEVERITY.get(_compact(key),
                                                                           Severity.NONE))
    return max(found, key=_ORDER.index)


def _compact(word: str) -> str:
    return "".join(ch for ch in word if ch.isalnum())
