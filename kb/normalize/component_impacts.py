"""The impact window as the vendor's own component data states it (incident.io's
`component_impacts`): when each affected component was marked impaired and when it recovered.

Machine-stated start/end times beat sentences in update prose, so where a record carries them
they are the incident's impact window; the evidence names where it came from, e.g.
"component impacts: Conversations degraded performance 2026-04-28 17:34–18:52 UTC".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from kb.model import ImpactWindow, SourcedRecord
from scrapers.records import ComponentImpact

__all__ = ["window_from_impacts"]

_SHOWN = 5  # components spelled out in the evidence; the rest are counted


def window_from_impacts(current: Sequence[SourcedRecord]) -> ImpactWindow | None:
    """The window of the most authoritative record that has component impacts, or None.

    Start: the earliest impact start. End: the latest impact end, or None while any component
    is still impaired (an open impact has no end yet).
    """
    impacts = next((r.record.impacts for r in current if r.record.impacts), ())
    if not impacts:
        return None
    ordered = sorted(impacts, key=lambda i: (i.start, i.name, i.end or i.start))
    start = ordered[0].start
    ends = [i.end for i in ordered if i.end is not None]
    end = max(ends) if len(ends) == len(ordered) else None
    parts = [_describe(i) for i in ordered[:_SHOWN]]
    if len(ordered) > _SHOWN:
        parts.append(f"and {len(ordered) - _SHOWN} more")
    return ImpactWindow(start=start, end=end, evidence="component impacts: " + "; ".join(parts))


def _describe(impact: ComponentImpact) -> str:
    status = (impact.status or "impaired").replace("_", " ")
    return f"{impact.name} {status} {_span(impact.start, impact.end)}"


def _span(start: datetime, end: datetime | None) -> str:
    start, stop = start.astimezone(UTC), end.astimezone(UTC) if end else None
    if stop is None:
        return f"since {start:%Y-%m-%d %H:%M} UTC"
    if stop.date() == start.date():
        return f"{start:%Y-%m-%d %H:%M}–{stop:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} – {stop:%Y-%m-%d %H:%M} UTC"
