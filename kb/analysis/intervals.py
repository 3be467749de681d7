"""Interval arithmetic on aware datetimes: unions, clipping, intersections, weighted downtime.

Every reliability figure reduces to these few operations, so they live in one place and are
tested on constructed edge cases (nested, adjacent, open-ended, crossing a boundary, mixed UTC
offsets). Intervals are half-open, [start, end): two adjacent incidents (one ends at 11:00, the
next starts at 11:00) touch but never overlap, and a period boundary at midnight splits a window
into two parts whose lengths add up to the whole.

Hand-written rather than a library (portion, intervaltree): the operations are a sort and one
sweep each, and weighted "max of the overlapping weights" sweeps are not what those libraries
offer.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Weighted:
    """An interval with the share of service it took down (1.0 = all, 0.3 = partial, 0 = none)."""

    start: datetime
    end: datetime
    weight: float


def _proper(items: Iterable[Interval]) -> list[Interval]:
    """Non-empty intervals only (an end at or before its start carries no time)."""
    return [(s, e) for s, e in items if e > s]


def union(items: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering exactly the same time; touching ones are joined."""
    out: list[Interval] = []
    for start, end in sorted(_proper(items)):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def clip(items: Iterable[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    """The parts of the intervals inside [lo, hi)."""
    return _proper((max(s, lo), min(e, hi)) for s, e in items)


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Time in both sets (each given as a union: sorted and disjoint)."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            out.append((start, end))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Time in `a` but not in `b` (both unions)."""
    out: list[Interval] = []
    j = 0
    for start, end in a:
        cursor = start
        while j < len(b) and b[j][1] <= cursor:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cursor:
                out.append((cursor, b[k][0]))
            cursor = max(cursor, b[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def total(items: Iterable[Interval]) -> timedelta:
    """Summed length. Pass a union when overlaps must not count twice."""
    return sum((e - s for s, e in _proper(items)), timedelta())


def weighted_union(items: Iterable[Weighted]) -> list[Weighted]:
    """Disjoint pieces carrying, at each instant, the largest weight of the intervals active
    then: a partial outage (0.3) nested in a major one (1.0) adds nothing; two overlapping
    major outages count once. Pieces of weight 0 are dropped.

    One sweep over sorted boundaries with a max-heap of active weights (lazy deletion), so
    100k intervals cost a sort, not a quadratic scan.
    """
    events: list[tuple[datetime, int, float]] = []
    for item in items:
        if item.end > item.start and item.weight > 0:
            events.append((item.start, 1, item.weight))
            events.append((item.end, 0, item.weight))
    events.sort(key=lambda ev: ev[0])
    heap: list[float] = []  # negated weights of the active intervals
    ended: dict[float, int] = {}  # weights whose interval ended but is still in the heap
    out: list[Weighted] = []
    previous: datetime | None = None
    index = 0
    while index < len(events):
        at = events[index][0]
        while heap and ended.get(-heap[0], 0):
            ended[-heap[0]] -= 1
            heapq.heappop(heap)
        if previous is not None and heap and at > previous:
            weight = -heap[0]
            if out and out[-1].end == previous and out[-1].weight == weight:
                out[-1] = Weighted(out[-1].start, at, weight)
            else:
                out.append(Weighted(previous, at, weight))
        while index < len(events) and events[index][0] == at:
            _, opens, weight = events[index]
            if opens:
                heapq.heappush(heap, -weight)
            else:
                ended[weight] = ended.get(weight, 0) + 1
            index += 1
        previous = at
    return out


def weighted_total(pieces: Iterable[Weighted]) -> timedelta:
    """Weighted length of disjoint pieces (from `weighted_union`)."""
    seconds = sum((p.end - p.start).total_seconds() * p.weight for p in pieces)
    return timedelta(seconds=seconds)


def clip_weighted(pieces: Iterable[Weighted], within: Sequence[Interval]) -> list[Weighted]:
    """The parts of disjoint weighted pieces that lie inside the union `within`."""
    out: list[Weighted] = []
    for piece in pieces:
        for start, end in intersect([(piece.start, piece.end)], within):
            out.append(Weighted(start, end, piece.weight))
    return out
