"""Bounded ends from archives of open-only snapshots (Statuspage `summary.json`).

A summary lists only unresolved incidents (and upcoming or running maintenances), so an
archive of summaries never shows an end: an incident that drops out ended between the last
snapshot that holds it and the first later one that does not. That interval is recorded as
`Lifecycle.end_not_before` / `end_not_after` — a bound, never a guessed time, and never
"open" forever. While the newest snapshot still lists it, only `end_not_before` is set.

A snapshot's time is its own `page.updated_at` (the payload's `as_of`): in the recorded
Cloudflare and Oracle Cloud archives it precedes the scraper's commit by 1 to 40 minutes,
and it is never earlier than the last update of any incident the snapshot lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from kb.model import Incident

__all__ = ["bound_end", "describe_end", "predecessors"]


def bound_end(incident: Incident, series: Sequence[tuple[datetime, str]]) -> Incident:
    """`incident` with its end bounded by the open-only `series` [(taken at, sha256)] of its
    provider (any order). Unchanged when it has a resolved time of its own or no snapshot of
    the series holds it; a bound it had is dropped once a resolved time is known."""
    life = incident.lifecycle
    if life.resolved_at is not None or life.vendor_resolved_at is not None:
        if life.end_not_before or life.end_not_after:
            return replace(incident, lifecycle=replace(life, end_not_before=None,
                                                       end_not_after=None))
        return incident
    held = {ref.sha256 for ref in incident.sources}
    ordered = sorted(series)
    last = max((i for i, (_, sha) in enumerate(ordered) if sha in held), default=None)
    if last is None:
        return incident
    seen_at = ordered[last][0]
    if incident.updates and incident.updates[-1].at > seen_at:
        seen_at = incident.updates[-1].at  # cannot have ended before its own last update
    after = next((at for at, sha in ordered[last + 1:] if at > seen_at and sha not in held),
                 None)
    return replace(incident, lifecycle=replace(life, end_not_before=seen_at,
                                               end_not_after=after))


def predecessors(series: Sequence[tuple[datetime, str]], new: Sequence[str]) -> set[str]:
    """The snapshots just before each of the `new` ones (sha256s) in time: the incidents they
    hold are the ones whose bound a new snapshot can change, besides those it holds itself."""
    ordered = sorted(series)
    fresh = set(new)
    found: set[str] = set()
    for i, (_, sha) in enumerate(ordered):
        if sha in fresh and i > 0:
            found.add(ordered[i - 1][1])
    return found - fresh  # a new snapshot's own incidents are in its batch already


def describe_end(incident: Incident, fmt: Callable[[datetime], str]) -> str | None:
    """How a bounded end reads ("ended between X and Y ..."), with times written by `fmt`;
    None when the incident has no snapshot bound."""
    life = incident.lifecycle
    if life.resolved_at is not None or life.end_not_before is None:
        return None
    if life.end_not_after is None:
        return (f"still listed as open in the newest snapshot ({fmt(life.end_not_before)}); "
                "end not known")
    return (f"ended between {fmt(life.end_not_before)} and {fmt(life.end_not_after)} "
            "(gone from the next snapshot of the open-incident list)")
