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
}
_COMPONENT_SEVERITY = {
    "operational": Severity.NONE,
    "under_maintenance": Severity.NONE,
    "degraded_performance": Severity.MINOR,
    "partial_outage": Severity.MAJOR,
    "major_outage": Severity.CRITICAL,
    "full_outage": Severity.CRITICAL,
}
_ORDER = [Severity.NONE, Severity.MINOR, Severity.MAJOR, Severity.CRITICAL]


def severity_for(impact: str | None, component_statuses: Iterable[str | None]) -> Severity:
    """The worse of the vendor's stated impact and the worst component status it announced.

    Why both: vendors set `impact: none` on real disruptions (an OpenAI Agents API incident in
    the corpus) while marking components partial_outage; the components tell the truth.
    """
    found = [_IMPACT_SEVERITY.get((impact or "").strip().lower(), Severity.NONE)]
    for status in component_statuses:
        key = "_".join((status or "").strip().lower().split())
        found.append(_COMPONENT_SEVERITY.get(key, Severity.NONE))
    return max(found, key=_ORDER.index)
