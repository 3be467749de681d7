"""How a duration is written, in one place for every surface (CLI, site, reports, drafts).

The surfaces keep their own forms (a table cell is short, a draft's sentence spells units
out), but each form is written here once, on plain numbers, so this module sits below the
domain model and anything may import it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def whole_minutes(start: datetime, end: datetime) -> int:
    """Whole minutes between two times as displayed (seconds dropped first)."""
    a = start.astimezone(UTC).replace(second=0, microsecond=0)
    b = end.astimezone(UTC).replace(second=0, microsecond=0)
    return int((b - a).total_seconds() // 60)


def clock(minutes: int) -> str:
    """A table cell: 45m, 1h05m, 26h00m."""
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def minutes_text(total: int) -> str:
    """Prose: 78 min; 792 min (13 h 12 min) once it is long enough for hours to help."""
    if abs(total) < 120:
        return f"{total} min"
    return f"{total} min ({abs(total) // 60} h {abs(total) % 60} min)"


def hours_text(value: float | None) -> str:
    """A figure (median, p90) in minutes: 45m, 2.5h from two hours on; - when unknown."""
    if value is None:
        return "-"
    if value >= 120:
        return f"{value / 60:.1f}h"
    return f"{value:.0f}m"
