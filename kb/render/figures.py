"""Plain counts the site computes from the incidents themselves: how many per period, and the
median time from first post to resolved. These are labelled as such on the pages; the
reliability figures proper (availability, MTTR with its caveats) belong to kb.analysis and
reach the pages through the "reliability" section slot.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kb.model import FINAL_STATUSES, Incident, Kind


@dataclass
class Period:
    """Counts for one period (a year) of one provider, or of all providers."""

    label: str
    incidents: int = 0
    maintenances: int = 0
    resolve_times: list[timedelta] = field(default_factory=list)

    @property
    def median_to_resolve(self) -> timedelta | None:
        return statistics.median(self.resolve_times) if self.resolve_times else None


def time_to_resolve(incident: Incident) -> timedelta | None:
    """First post → resolved (Incident.time_to_resolve): None when the first post already
    said resolved (GitHub's history has hundreds of incidents posted once, after the fact);
    counting it as 0 made GitHub's median "0m". kb.analysis.metrics leaves the same
    incidents out ("posted-resolved")."""
    return incident.time_to_resolve


def year_of(incident: Incident) -> int | None:
    at = incident.first_posted
    return at.year if at else None


def by_year(incidents: Iterable[Incident]) -> list[Period]:
    """One Period per year that has incidents, newest first."""
    periods: dict[int, Period] = {}
    for incident in incidents:
        year = year_of(incident)
        if year is None:
            continue
        period = periods.setdefault(year, Period(str(year)))
        if incident.kind is Kind.MAINTENANCE:
            period.maintenances += 1
            continue
        period.incidents += 1
        ttr = time_to_resolve(incident)
        if ttr is not None:
            period.resolve_times.append(ttr)
    return [periods[y] for y in sorted(periods, reverse=True)]


def total(periods: Sequence[Period]) -> Period:
    whole = Period("all")
    for period in periods:
        whole.incidents += period.incidents
        whole.maintenances += period.maintenances
        whole.resolve_times.extend(period.resolve_times)
    return whole


def components(incidents: Iterable[Incident]) -> list[tuple[str, int]]:
    """Component names with the number of incidents naming them, most first."""
    counts = Counter(name for i in incidents for name in {c.name for c in i.components})
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def first_post(incident: Incident) -> datetime | None:
    """Incident.first_posted, as a function for sort keys and the templates."""
    return incident.first_posted


def is_open(incident: Incident) -> bool:
    """Not resolved as far as the published updates say."""
    if incident.lifecycle.resolved_at is not None:
        return False
    if incident.lifecycle.end_not_after is not None:
        return False  # dropped out of the open-incident snapshots: ended, within a bound
    return incident.status.lower() not in FINAL_STATUSES
