"""Which stretches of time the KB actually holds data for, per provider.

A period the KB never saw is unknown, not 100% up. Coverage is built from the payloads stored
(kb.store.analysis.payload_spans), because the first..last incident range would call the
three-month holes between two 25-entry feed snapshots "no incidents":

* A listing payload (a feed or incidents.json with two or more entries, at least one of them
  an incident rather than a maintenance) states the provider's complete history from its oldest
  entry up to the latest time the payload proves was watched (``as_of``, set at ingest by
  kb.pipeline.seen_until: the feed's <updated>, the page's updated_at; else the fetch time
  of a live fetch; else the newest timestamp inside the payload — never the clock at import,
  so an imported AWS data.json covers up to its newest entry, not to the day it was copied).
  A maintenance-only listing says nothing about incidents and covers nothing.
* A single-incident payload (one /incidents/{code}.json) only proves its own incident, from
  first post to resolution. A run of them (a per-incident archive such as
  GitHub-Incident-History) is taken as complete while consecutive incidents are at most
  `BRIDGE` apart; a longer quiet gap is reported as unknown rather than assumed quiet.

The union of those spans is the provider's coverage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kb.analysis.intervals import Interval, clip, total, union
from kb.store.analysis import PayloadSpan

BRIDGE = timedelta(days=30)
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Coverage:
    """The time one provider's data covers (a union: sorted, disjoint)."""

    provider: str
    spans: tuple[Interval, ...]
    basis: str  # how the spans were derived, for reports

    @property
    def start(self) -> datetime | None:
        return self.spans[0][0] if self.spans else None

    @property
    def end(self) -> datetime | None:
        return self.spans[-1][1] if self.spans else None

    def within(self, lo: datetime, hi: datetime) -> list[Interval]:
        """The covered parts of [lo, hi)."""
        return clip(self.spans, lo, hi)

    def fraction(self, lo: datetime, hi: datetime) -> float:
        """Share of [lo, hi) the KB holds data for (0.0 … 1.0)."""
        if hi <= lo:
            return 0.0
        return total(self.within(lo, hi)) / (hi - lo)


def _bridged(spans: Sequence[Interval], bridge: timedelta) -> list[Interval]:
    out: list[Interval] = []
    for start, end in sorted(spans):
        if out and start - out[-1][1] <= bridge:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def coverage_from_payloads(
    payloads: Iterable[PayloadSpan], *, bridge: timedelta = BRIDGE
) -> dict[str, Coverage]:
    """Coverage per provider from the stored payloads (see module docstring)."""
    listings: dict[str, list[Interval]] = {}
    singles: dict[str, list[Interval]] = {}
    for p in payloads:
        if p.oldest is None or p.incidents == 0:
            continue  # a maintenance-only listing, or a payload whose entries have no dates
        if p.entries >= 2:
            end = max(p.as_of, p.oldest)
            listings.setdefault(p.provider, []).append((p.oldest, end))
        else:
            end = max(p.newest_end or p.oldest, p.oldest)
            # a zero-length span would vanish in the union: an instant still counts as seen
            singles.setdefault(p.provider, []).append((p.oldest, max(end, p.oldest + _MINUTE)))
    out: dict[str, Coverage] = {}
    for provider in sorted(set(listings) | set(singles)):
        spans = listings.get(provider, []) + _bridged(singles.get(provider, []), bridge)
        kinds = [name for name, found in (("listing payloads", provider in listings),
                                          ("per-incident payloads bridged over gaps ≤ "
                                           f"{bridge.days} d", provider in singles)) if found]
        out[provider] = Coverage(provider, tuple(union(spans)), " + ".join(kinds))
    return out
