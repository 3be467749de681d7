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
    subtract,
    total,
    union,
    weighted_total,
    weighted_union,
)
from kb.analysis.metrics import IncidentFigures
from kb.analysis.periods import Period
from kb.timefmt import hours_text

_MIN = timedelta(minutes=1)
# Above this share of a period's incidents without a measurable duration (or with any
# major/critical one among them) the period's uptime is unknown, not an upper bound.
UNMEASURED_MAX_SHARE = 0.2
# Above this share of the covered time whose state is unknown (ends the data does not show)
# the uptime is unknown too: "mostly unknown" is not "measured" (Vultr 2024: every covered
# minute unknown, printed "100.000% (measured)"; Oracle Cloud: 4 h known of 542 h).
UNKNOWN_MAX_SHARE = 0.5
# ... and so it is wherever some time is unknown and none is measured down (a component whose
# incidents are all feed-only): unknown is all of the impact time the data shows.
SEVERITIES = ("critical", "major", "minor", "none", "unknown")


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
    uptime: float | None  # percent of covered time, unknown ends not counted; None: unknown
    nines: float | None  # None when unknown or when no downtime was recorded
    down: tuple[Interval, ...] = field(default=(), repr=False)  # unweighted, covered, clipped
    unknown_minutes: float | None = None  # covered time in an unknown end, not down
    uptime_if_down: float | None = None  # uptime with that unknown time counted as down
    uptime_note: str | None = None  # why uptime is None although the period is covered
    # component rows: the provider's incidents of the period that name no component (they
    # count against none, so the component's uptime is an upper bound; unknown when all do)
    unattributed: int = 0
    unknown: tuple[Interval, ...] = field(default=(), repr=False)  # unknown, covered, not down


def _parts(f: IncidentFigures, component: str | None,
           ) -> list[tuple[datetime | None, datetime | None, float]]:
    if component is None:
        return [(f.start, f.end, f.weight)]
    return [(c.start, c.end, c.weight) for c in f.components if c.name == component]


def intervals_of(
    figures: Iterable[IncidentFigures], component: str | None = None,
) -> list[Weighted]:
    """Weighted impact intervals, measured ones only: an open incident counts up to the last
    time it is known to have gone on (`unknown_start`), never to "now"; for a component, its
    own status-change windows where it has them."""
    out: list[Weighted] = []
    for f in figures:
        for start, end, weight in _parts(f, component):
            if start is None or weight <= 0:
                continue
            if end is None:
                if f.source == "posted-resolved" or f.unknown_start is None:
                    continue
                end = f.unknown_start
            out.append(Weighted(start, end, weight))
    return out


def unknown_intervals_of(
    figures: Iterable[IncidentFigures], component: str | None = None,
) -> list[Weighted]:
    """The time whose state is unknown: an open or bounded end's unknown stretch, with the
    weight it would carry were it down (for the figure "with the unknown counted as down")."""
    out: list[Weighted] = []
    for f in figures:
        if f.unknown_start is None or f.unknown_end is None:
            continue
        for start, end, weight in _parts(f, component):
            if start is not None and end is None and weight > 0:
                out.append(Weighted(max(start, f.unknown_start), f.unknown_end, weight))
    return out


def is_unmeasured(f: IncidentFigures) -> bool:
    """No impact time at all, not even an unknown stretch (posted once, already resolved)."""
    return f.impact_minutes is None and not f.open and f.unknown_start is None


def uptime_unknown_reason(incidents: Sequence[IncidentFigures]) -> str | None:
    """Why a period's uptime cannot be told although the KB covers it, or None. The one
    place the threshold is applied (docs/analysis.md, "What the figures mean"): more than
    UNMEASURED_MAX_SHARE of the period's incidents, or any major/critical one, without a
    measurable duration (posted once, already resolved)."""
    unmeasured = [f for f in incidents if is_unmeasured(f)]
    if not unmeasured:
        return None
    major = sum(1 for f in unmeasured if f.severity in ("major", "critical"))
    if major or len(unmeasured) > UNMEASURED_MAX_SHARE * len(incidents):
        text = f"{len(unmeasured)} of {len(incidents)} incidents have no measurable duration"
        return text + (f" ({major} major/critical)" if major else "")
    return None


@dataclass(frozen=True)
class Series:
    """One provider's (or one component's) incidents prepared once for many periods: sorted
    by start for bisection, and the weighted union of their impact intervals."""

    figures: tuple[IncidentFigures, ...]
    starts: tuple[datetime, ...]
    pieces: tuple[Weighted, ...]
    ends: tuple[datetime, ...]
    unknown: tuple[Weighted, ...] = ()  # unknown_intervals_of the figures (few: not bisected)

    @classmethod
    def of(cls, figures: Iterable[IncidentFigures], component: str | None = None) -> Series:
        chosen = list(figures)
        if component is not None:
            chosen = [f for f in chosen if any(c.name == component for c in f.components)]
        dated = sorted((f for f in chosen if f.start is not None),
                       key=lambda f: (f.start, f.key))
        pieces = tuple(weighted_union(intervals_of(chosen, component)))
        return cls(tuple(dated), tuple(f.start for f in dated if f.start is not None), pieces,
                   tuple(p.end for p in pieces),
                   tuple(unknown_intervals_of(chosen, component)))

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
    unnamed: tuple[int, int] | None = None,
) -> GroupFigures:
    """Figures of one provider's incidents (already filtered to the provider) over `period`;
    with `component`, only the incidents naming it and that component's own windows.
    `series` (Series.of the same figures) may be passed in when many periods share it.

    Incidents that name no component are not counted against any component (pages leave
    components empty on a third of GitHub's incidents), so a component's uptime is an upper
    bound (docs/analysis.md).
    """
    series = series or Series.of(figures, component)
    if component is not None and unnamed is None:
        unnamed = unattributed_in(figures, period)
    covered = tuple(coverage.within(period.start, period.end)) if coverage else ()
    span = period.end - period.start
    fraction = total(covered) / span if span > timedelta(0) else 0.0
    inside = series.starting_in(period.start, period.end)
    incidents = [f for f in inside if f.kind == "incident"]
    by_severity = Counter(f.severity for f in incidents)
    unknown: tuple[Interval, ...] = ()
    unknown_minutes = uptime_if_down = None
    note = uptime_unknown_reason(incidents) if covered else None
    if covered:
        counted = clip_weighted(series.pieces_in(period.start, period.end), covered)
        down = tuple(intersect(union((p.start, p.end) for p in counted), covered))
        downtime = weighted_total(counted) / _MIN
        outage = total(down) / _MIN
        unknown = tuple(subtract(intersect(union((p.start, p.end) for p in series.unknown),
                                           covered), down))
        unknown_minutes = total(unknown) / _MIN
        # measured: the unknown time counted as not down (an upper bound); beside it the
        # figure with that time counted as down, both over the same covered time
        down_fraction = downtime / (total(covered) / _MIN)
        worst = weighted_total(clip_weighted(
            weighted_union([*counted, *clip_weighted(series.unknown, covered)]), covered)) / _MIN
        covered_minutes = total(covered) / _MIN
        if not note and unknown_minutes > UNKNOWN_MAX_SHARE * covered_minutes:
            note = (f"{hours_text(unknown_minutes)} of the {hours_text(covered_minutes)} "
                    "covered unknown: ends the data does not show")
        elif not note and unknown_minutes > 0 and outage == 0:
            # Nothing measured, only unknown: "100.000% (measured)" would be a figure read off
            # no measurement (OpenAI's feed-only components: "100.000% (measured); 38.7h
            # unknown"). The unknown share of what the data shows of impact is all of it.
            note = (f"no impact time measured, {hours_text(unknown_minutes)} unknown: ends "
                    "the data does not show")
        if not note and unnamed and unnamed[1] and unnamed[0] == unnamed[1]:
            # GitHub 365d: its 75 incidents are feed entries naming no component; every
            # component read "100.000%, no downtime" beside them
            note = f"all {unnamed[1]} incidents of {provider} in the period name no component"
        if note:
            uptime, nines = None, None
        else:
            uptime = 100.0 * (1.0 - down_fraction)
            nines = -math.log10(down_fraction) if down_fraction > 0 else None
            uptime_if_down = 100.0 * (1.0 - worst / (total(covered) / _MIN))
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
        unmeasured=sum(1 for f in incidents if is_unmeasured(f)),
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
        unknown_minutes=unknown_minutes,
        uptime_if_down=uptime_if_down,
        uptime_note=note,
        unknown=unknown,
        unattributed=unnamed[0] if unnamed and component is not None else 0,
    )


def unattributed_in(figures: Iterable[IncidentFigures], period: Period) -> tuple[int, int]:
    """(incidents naming no component, incidents) of a provider starting in `period`."""
    inside = [f for f in figures if f.kind == "incident" and f.start is not None
              and period.start <= f.start < period.end]
    return sum(1 for f in inside if not f.components), len(inside)


def components_of(figures: Iterable[IncidentFigures]) -> list[str]:
    """Every component named by the incidents, sorted."""
    return sorted({c.name for f in figures for c in f.components})


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
            inside = [f for f in whole.starting_in(period.start, period.end)
                      if f.kind == "incident"]
            unnamed = (sum(1 for f in inside if not f.components), len(inside))
            for name in names:
                rows.append(group_figures(figures, coverage, period, provider=provider,
                                          component=name, series=own[name], unnamed=unnamed))
    return rows
