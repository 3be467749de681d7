"""Providers side by side over one period, and the hours they were down together.

The question behind it: which provider is the safer fallback? A fallback that fails at the
same time is no fallback, so besides each provider's own figures (kb.analysis.reliability)
this reports, per pair, the time both were impacted at once — counted only where the KB
covers *both* (a period one of them has no data for is unknown, not "never together") — and
the incidents that made up each shared episode. "Down" here is any impact interval with a
weight above zero; `both_major_hours` counts only full-weight (major/critical) time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations

from kb.analysis.causes import Cause, CauseTag
from kb.analysis.coverage import Coverage
from kb.analysis.intervals import Interval, intersect, total, union
from kb.analysis.metrics import IncidentFigures
from kb.analysis.periods import Period
from kb.analysis.reliability import (
    GroupFigures,
    group_figures,
    intervals_of,
    unknown_intervals_of,
)

_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Side:
    """One provider's column of the comparison."""

    provider: str
    name: str | None
    figures: GroupFigures
    causes: tuple[tuple[str, int], ...]  # most common stated causes over the period's incidents
    symptoms: tuple[tuple[str, int], ...] = ()  # most common tags stated only as symptoms


@dataclass(frozen=True)
class Episode:
    """A stretch of time both providers of a pair were impacted, with the incidents."""

    start: datetime
    end: datetime
    a_keys: tuple[str, ...]
    b_keys: tuple[str, ...]


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    both_covered_hours: float  # time the KB covers both
    both_down_hours: float | None  # None when the KB never covers both in the period
    both_major_hours: float | None
    episodes: tuple[Episode, ...]
    # time both were down or in an unknown end (open, bounded), beyond both_down_hours
    both_unknown_hours: float | None = None
    unknown_reason: str | None = None  # why both_down_hours is None although both are covered
    # some incidents of either side in the period state no severity: both_major_hours is then
    # the time both were down in incidents *known* to be major, a lower bound
    major_lower_bound: bool = False


@dataclass(frozen=True)
class Comparison:
    period: Period
    sides: tuple[Side, ...]
    pairs: tuple[Pair, ...]


def _down(figures: Sequence[IncidentFigures], covered: Sequence[Interval],
          minimum: float, *, with_unknown: bool = False) -> list[Interval]:
    pieces = intervals_of(figures) + (unknown_intervals_of(figures) if with_unknown else [])
    spans = [(w.start, w.end) for w in pieces if w.weight >= minimum]
    return intersect(union(spans), list(covered))


def _episodes(shared: Sequence[Interval], a: Sequence[IncidentFigures],
              b: Sequence[IncidentFigures]) -> tuple[Episode, ...]:
    spans_a, spans_b = _spans(a), _spans(b)
    return tuple(Episode(lo, hi, _keys(spans_a, lo, hi), _keys(spans_b, lo, hi))
                 for lo, hi in shared)


_Spans = tuple[list[datetime], list[tuple[datetime, datetime, str]], timedelta]


def _spans(figures: Sequence[IncidentFigures]) -> _Spans:
    """Impacting incidents sorted by start, with the longest duration (for bisection)."""
    rows = sorted((w_start, w_end, f.key) for f in figures if f.weight > 0 and f.start
                  for w_start, w_end in [(f.start, f.end or f.last_seen or f.start)])
    longest = max((e - s for s, e, _ in rows), default=timedelta(0))
    return [s for s, _, _ in rows], rows, longest


def _keys(spans: _Spans, lo: datetime, hi: datetime) -> tuple[str, ...]:
    starts, rows, longest = spans
    first, last = bisect_left(starts, lo - longest), bisect_left(starts, hi)
    return tuple(sorted(key for s, e, key in rows[first:last] if e > lo))


def top_causes(keys: Sequence[str], causes: Mapping[str, Sequence[CauseTag]],
               limit: int = 3, role: str = "cause") -> tuple[tuple[str, int], ...]:
    """The most common tags among `keys` with the given role (kb.analysis.causes.role_of):
    by default the stated causes, with how many incidents state each. `role="symptom"`:
    the kinds of failure that were only described ("users may see authentication errors"),
    never counted as causes."""
    tally = Counter(tag for k in keys for tag in {t.tag.value for t in causes.get(k, ())
                                                  if t.tag is not Cause.UNKNOWN
                                                  and t.stated_as == role})
    return tuple(sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])


def compare(
    providers: Sequence[str], figures_by_provider: Mapping[str, Sequence[IncidentFigures]],
    coverages: Mapping[str, Coverage], causes: Mapping[str, Sequence[CauseTag]],
    period: Period, names: Mapping[str, str | None] | None = None,
) -> Comparison:
    """Side-by-side figures for `providers` over `period`, and every pair's shared downtime.
    A provider the KB holds nothing for gets an ``unknown`` column, not an error."""
    names = names or {}
    sides = []
    for provider in providers:
        figures = list(figures_by_provider.get(provider, ()))
        group = group_figures(figures, coverages.get(provider), period, provider=provider)
        inside = [f.key for f in figures if f.kind == "incident" and f.start is not None
                  and period.start <= f.start < period.end]
        sides.append(Side(provider, names.get(provider), group, top_causes(inside, causes),
                          top_causes(inside, causes, role="symptom")))
    pairs = []
    for x, y in combinations(sides, 2):
        fa = list(figures_by_provider.get(x.provider, ()))
        fb = list(figures_by_provider.get(y.provider, ()))
        both = intersect(list(x.figures.covered), list(y.figures.covered))
        if not both:
            pairs.append(Pair(x.provider, y.provider, 0.0, None, None, ()))
            continue
        unmeasured = [f"{s.provider}: {s.figures.uptime_note}" for s in (x, y)
                      if s.figures.uptime_note]
        if unmeasured:  # "both down 0.0 h" would be read as a safe fallback
            pairs.append(Pair(x.provider, y.provider, total(both) / _HOUR, None, None, (),
                              None, "; ".join(unmeasured)))
            continue
        shared = intersect(_down(fa, both, 1e-9), _down(fb, both, 1e-9))
        major = intersect(_down(fa, both, 1.0), _down(fb, both, 1.0))
        maybe = intersect(_down(fa, both, 1e-9, with_unknown=True),
                          _down(fb, both, 1e-9, with_unknown=True))
        pairs.append(Pair(x.provider, y.provider, total(both) / _HOUR, total(shared) / _HOUR,
                          total(major) / _HOUR, _episodes(shared, fa, fb),
                          (total(maybe) - total(shared)) / _HOUR,
                          major_lower_bound=any(s.figures.by_severity.get("unknown", 0)
                                                for s in (x, y))))
    return Comparison(period, tuple(sides), tuple(pairs))
