"""Bounded ends from archives of open-only snapshots (Statuspage `summary.json`).

A summary lists only unresolved incidents (and upcoming or running maintenances), so an
archive of summaries never shows an end: an incident that drops out ended between the last
snapshot that holds it and the first later one that does not. That interval is recorded as
`Lifecycle.end_not_before` / `end_not_after` — a bound, never a guessed time, and never
"open" forever. While the newest snapshot still lists it, only `end_not_before` is set.

A snapshot's time is its own `page.updated_at` (the payload's `as_of`): in the recorded
Cloudflare and Oracle Cloud archives it precedes the scraper's commit by 1 to 40 minutes,
and it is never earlier than the last update of any incident the snapshot lists.

Alert lists that keep resolved alerts with a status but no resolution time (Vultr's
alerts.json: scrapers.registry.END_UNPUBLISHED) show the end the other way: an alert "ongoing"
in one fetch and "resolved" in the next ended between the two (`bound_status_end`). The merge
keeps only the newest record of a channel, so the newest "ongoing" fetch is carried in the
stored bound itself (`end_not_before`), which makes the result the same in any order of
ingest: the bound is (latest fetch showing it ongoing, or its last update when later; the first
fetch of that format after that). An alert first fetched already resolved is bounded the same
way, from its last update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from kb.model import FINAL_STATUSES, Incident, SourcedRecord, SourceRef
from scrapers.registry import END_UNPUBLISHED

__all__ = ["bound_end", "bound_status_end", "describe_end", "predecessors"]

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


def bound_status_end(incident: Incident, records: Sequence[SourcedRecord],
                     sources: Sequence[SourceRef], known: datetime | None) -> Incident:
    """`incident` with its end bounded between the last time it is known open (the last fetch
    whose record still said so, or its own last update when later) and the first later fetch
    of that format (which said resolved: nothing after the last "open" one did otherwise).
    `records`: what is held of one END_UNPUBLISHED format, stored and new (any order);
    `sources`: every payload that listed the incident; `known`: the `end_not_before` stored
    before, which carries an "open" fetch the merge no longer holds.

    Unchanged when the newest record still says open, or when the incident has a resolved
    time of its own. An alert first fetched already resolved ends between its last update
    and that fetch."""
    life = incident.lifecycle
    if not records or life.resolved_at is not None or life.vendor_resolved_at is not None:
        return incident
    newest = max(records, key=SourcedRecord.freshness)
    if (newest.record.status or "").strip().lower() not in FINAL_STATUSES:
        return incident
    seen = [r.source.fetched_at for r in records
            if (r.record.status or "").strip().lower() not in FINAL_STATUSES]
    if known is not None:
        seen.append(known)
    # cannot have ended before its own last update (nor, without one, its first post): an
    # alert first fetched already resolved ended between that and the first fetch
    last = incident.updates[-1].at if incident.updates else life.first_post_at
    if last is not None:
        seen.append(last)
    if not seen:
        return incident
    lo = max(seen)
    fmt = newest.source.format
    hi = min((s.fetched_at for s in sources if s.format == fmt and s.fetched_at > lo),
             default=None)
    if hi is None:  # the resolved fetch is no later than the last update: no bound to give
        return incident
    return replace(incident, lifecycle=replace(life, end_not_before=lo, end_not_after=hi))


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
    if any(s.format in END_UNPUBLISHED for s in incident.sources):
        if life.end_not_after is None:
            return None
        return (f"ended between {fmt(life.end_not_before)} and {fmt(life.end_not_after)} "
                "(last known ongoing, and the first fetch of the alert list that showed it "
                "resolved)")
    if life.end_not_after is None:
        return (f"still listed as open in the newest snapshot ({fmt(life.end_not_before)}); "
                "end not known")
    return (f"ended between {fmt(life.end_not_before)} and {fmt(life.end_not_after)} "
            "(gone from the next snapshot of the open-incident list)")
