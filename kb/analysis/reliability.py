"""Reliability figures per provider, component and period, computed from per-incident figures.

* Counts: incidents (and maintenances) whose impact starts inside the period, by severity.
* Distributions: median and 90th percentile (linear interpolation between ranks, numpy's
  default) of impact minutes, first post → resolved, first post → identified, detection lag
  and update cadence. Never a mean alone: one three-day incident would swamp it.
* Uptime: the weighted union of impact intervals (a minute where a major outage (1.0) and a
  partial one (0.3) overlap counts 1.0 once), clipped to the period *and to the time the KB
  covers* (kb.analysis.coverage). Uptime = 1 − weighted downtime / covered time, also as
  "nines" (−log10 of the down fraction). A period the KB holds no data for is ``unknown``
  with uptime None, never 100%; a partly covered one says how much of it is covered.
* An open incident (no end known) counts as down until the newest payload that still listed
  it open (its ``as_of``): the vendor still had it open then; after that the KB cannot say.
* Incidents with no measurable duration (``posted-resolved``) are counted but add no
  downtime; `unmeasured` says how many, and uptime is then an upper bound.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kb.analysis.coverage import Coverage
from kb.analysis.intervals import (
    Interval,
    Weighted,
    clip_weighted,
    intersect,
    total,
    union,
    weighted_total,
    weighted_union,
)
from kb.analysis.metrics import IncidentFigures
from kb.analysis.periods import Period

_MIN = timedelta(minutes=1)
SEVERITIES = ("critical", "major", "minor", "none", "unstated")


@dataclass(frozen=True, slots=True)
class Stat:
    """A distribution in minutes: count, median, 90th percentile, maximum."""

    n: int
    median: float | None
    p90: float | None
    max: float | None


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) of sorted values, linear between closest ranks; None if empty."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def describe(values: Iterable[float | None]) -> Stat:
    ordered = sorted(v for v in values if v is not None)
    return Stat(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9),
                ordered[-1] if ordered else None)


@dataclass(frozen=True)
class GroupFigures:
    """The figures of one provider (or one of its components) over one period."""

    provider: str
    component: str | None
    period: Period
    status: str  # "known" (fully covered), "partial" or "unknown" (no data at all)
    coverage: float  # share of the period the KB covers, 0..1
    covered: tuple[Interval, ...]
    incidents: int
    maintenances: int
    by_severity: dict[str, int]
    open_incidents: int
    unmeasured: int  # incidents with no measurable impact interval (uptime is an upper bound)
    impact_sources: dict[str, int]
    impact: Stat
    resolve: Stat
    identified: Stat
    detection: Stat
    cadence: Stat
    outage_minutes: float | None  # union of impact time (any weight > 0), within covered time
    downtime_minutes: float | None  # weighted
    uptime: float | None  # percent of covered time; None when unknown
    nines: float | None  # None when unknown or when no downtime was recorded
    down: tuple[Interval, ...] = field(default=(), repr=False)  # unweighted, covered, clipped


def intervals_of(
    figures: Iterable[IncidentFigures], component: str | None = None,
) -> list[Weighted]:
    """Weighted impact intervals (an open one runs to the last time the KB saw it open); for
    a component, its own status-change windows where it has them."""
    out: list[Weighted] = []
    for f in figures:
        if component is None:
            parts = [(f.start, f.end, f.weight)]
        else:
            parts = [(c.start, c.end, c.weight) for c in f.components if c.name == component]
        for start, end, weight in parts:
            if start is None or weight <= 0:
                continue
            if end is None:
                if f.source == "posted-resolved" or f.last_seen is None:
                    continue
                end = f.last_seen
            out.append(Weighted(start, end, weight))
    return out


@dataclass(frozen=True)
class Series:
    """One provider's (or one component's) incidents prepared once for many periods: sorted
    by start for bisection, and the weighted union of their impact intervals."""

    figures: tuple[IncidentFigures, ...]
    starts: tuple[datetime, ...]
    pieces: tuple[Weighted, ...]
    ends: tuple[datetime, ...]

    @classmethod
    def of(cls, figures: Iterable[IncidentFigures], component: str | None = None) -> Series:
        chosen = list(figures)
        if component is not None:
            chosen = [f for f in chosen if any(c.name == component for c in f.components)]
        dated = sorted((f for f in chosen if f.start is not None),
                       key=lambda f: (f.start, f.key))
        pieces = tuple(weighted_union(intervals_of(chosen, component)))
        return cls(tuple(dated), tuple(f.start for f in dated if f.start is not None), pieces,
                   tuple(p.end for p in pieces))

    def starting_in(self, lo: datetime, hi: datetime) -> tuple[IncidentFigures, ...]:
        return self.figures[bisect_left(self.starts, lo):bisect_left(self.starts, hi)]

    def pieces_in(self, lo: datetime, hi: datetime) -> list[Weighted]:
        """The pieces reaching into [lo, hi)."""
        out = []
        for piece in self.pieces[bisect_right(self.ends, lo):]:
            if piece.start >= hi:
                break
            out.append(piece)
        return out


def group_figures(
    figures: Sequence[IncidentFigures], coverage: Coverage | None, period: Period, *,
    provider: str, component: str | None = None, series: Series | None = None,
) -> GroupFigures:
    """Figures of one provider's incidents (already filtered to the provider) over `period`;
    with `component`, only the incidents naming it and that component's own windows.
    `series` (Series.of the same figures) may be passed in when many periods share it."""
    series = series or Series.of(figures, component)
    covered = tuple(coverage.within(period.start, period.end)) if coverage else ()
    span = period.end - period.start
    fraction = total(covered) / span if span > timedelta(0) else 0.0
    inside = series.starting_in(period.start, period.end)
    incidents = [f for f in inside if f.kind == "incident"]
    by_severity = Counter(f.severity for f in incidents)
    if covered:
        counted = clip_weighted(series.pieces_in(period.start, period.end), covered)
        down = tuple(intersect(union((p.start, p.end) for p in counted), covered))
        downtime = weighted_total(counted) / _MIN
        outage = total(down) / _MIN
        down_fraction = downtime / (total(covered) / _MIN)
        uptime: float | None = 100.0 * (1.0 - down_fraction)
        nines = -math.log10(down_fraction) if down_fraction > 0 else None
    else:
        down, downtime, outage, uptime, nines = (), None, None, None, None
    status = "unknown" if not covered else ("known" if fraction >= 0.9999 else "partial")
    return GroupFigures(
        provider=provider,
        component=component,
        period=period,
        status=status,
        coverage=fraction,
        covered=covered,
        incidents=len(incidents),
        maintenances=sum(1 for f in inside if f.kind == "maintenance"),
        by_severity={s: by_severity[s] for s in SEVERITIES if by_severity[s]},
        open_incidents=sum(1 for f in incidents if f.open),
        unmeasured=sum(1 for f in incidents if f.impact_minutes is None and not f.open),
        impact_sources=dict(sorted(Counter(f.source for f in incidents).items())),
        impact=describe(f.impact_minutes for f in incidents),
        resolve=describe(f.resolve_minutes for f in incidents),
        identified=describe(f.identified_minutes for f in incidents),
        detection=describe(f.detection_minutes for f in incidents),
        cadence=describe(f.cadence_minutes for f in incidents),
        outage_minutes=outage,
        downtime_minutes=downtime,
        uptime=uptime,
        nines=nines,
        down=down,
    )


def components_of(figures: Iterable[IncidentFigures]) -> list[str]:
    """Every component named by the incidents, sorted."""
    return sorted({c.name for f in figures for c in f.components})


def component_figures(
    figures: Sequence[IncidentFigures], coverage: Coverage | None, period: Period, *,
    provider: str, component: str, series: Series | None = None,
) -> GroupFigures:
    """Figures of one component: the incidents naming it, its own status-change windows.

    Incidents that name no component are not counted against any component (pages leave
    components empty on a third of GitHub's incidents), so a component's uptime is an upper
    bound (docs/analysis.md).
    """
    return group_figures(figures, coverage, period, provider=provider, component=component,
                         series=series)


def reliability_table(
    figures_by_provider: dict[str, list[IncidentFigures]],
    coverages: dict[str, Coverage],
    periods_for: dict[str, list[Period]],
    *, components: bool = False,
) -> list[GroupFigures]:
    """Figures for every provider (and, with `components`, every component) and period."""
    rows: list[GroupFigures] = []
    for provider in sorted(figures_by_provider):
        figures = figures_by_provider[provider]
        coverage = coverages.get(provider)
        whole = Series.of(figures)
        names = components_of(figures) if components else []
        own = {n: Series.of(figures, n) for n in names}
        for period in periods_for.get(provider, []):
            rows.append(group_figures(figures, coverage, period, provider=provider,
                                      series=whole))
            for name in names:
                rows.append(group_figures(figures, coverage, period, provider=provider,
                                          component=name, series=own[name]))
    return rows
