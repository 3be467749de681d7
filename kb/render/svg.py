"""Pictures drawn at build time as inline SVG: an incident's timeline and the per-provider
90-day bars. Hand-written strings rather than a plotting library: the pictures are a few
dozen shapes, must carry no script or external reference, and are made 10,000 times per
build, where a library's startup and object graph would cost more than the drawing.

Every piece of text (tooltips, labels) is escaped; element counts are kept small because
mkdocs parses each page's HTML twice (Markdown raw blocks, search index).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup, escape

from kb.model import SEVERITY_UNKNOWN, Incident, Kind, Phase, Severity
from kb.render.safe import one_line
from kb.render.sections import Mark

PHASE_COLOURS = {
    Phase.INVESTIGATING: "#e8590c",
    Phase.IDENTIFIED: "#f08c00",
    Phase.MONITORING: "#1c7ed6",
    Phase.RESOLVED: "#2f9e44",
    Phase.POSTMORTEM: "#5f3dc4",
    Phase.SCHEDULED: "#868e96",
    Phase.IN_PROGRESS: "#1c7ed6",
    Phase.VERIFYING: "#0ca678",
    Phase.COMPLETED: "#2f9e44",
}
SEVERITY_COLOURS = {
    None: "#2f9e44",  # no incident that day
    Severity.NONE: "#74b816",
    Severity.MINOR: "#fab005",
    Severity.MAJOR: "#f76707",
    Severity.CRITICAL: "#e03131",
    SEVERITY_UNKNOWN: "#868e96",  # no source stated a severity: neutral, never green
}
# A day the knowledge base holds no status-page data for: unknown, never "no incident".
NO_DATA_COLOUR = "#ced4da"
# A day whose only incidents state no severity is grey, not green "none"; a stated minor or
# worse outranks it (what is known is shown).
_RANK = {Severity.NONE: 0, SEVERITY_UNKNOWN: 0.5, Severity.MINOR: 1, Severity.MAJOR: 2,
         Severity.CRITICAL: 3}
_FINAL = (Phase.RESOLVED, Phase.POSTMORTEM, Phase.COMPLETED)

_NS = "http://www.w3.org/2000/svg"
SPAN = 90  # days in the per-provider bars
WIDTH = 800
LEFT = 92  # room for the row labels
RIGHT = 12


def _t(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(incident: Incident, marks: Sequence[Mark]) -> tuple[datetime, datetime]:
    life, window = incident.lifecycle, incident.impact_window
    points = [u.at for u in incident.updates] + [m.at for m in marks]
    points += [p for p in (life.first_post_at, life.resolved_at, life.vendor_started_at) if p]
    if window:
        points += [p for p in (window.start, window.end) if p]
    if not points:
        now = datetime(1970, 1, 1, tzinfo=UTC)
        return now, now + timedelta(hours=1)
    start, end = min(points), max(points)
    if end - start < timedelta(minutes=30):  # a single update: show half an hour around it
        start, end = start - timedelta(minutes=15), end + timedelta(minutes=15)
    pad = (end - start) * 0.03
    return start - pad, end + pad


def timeline(incident: Incident, marks: Sequence[Mark] = ()) -> Markup:
    """The lifecycle as phase bands with a tick per update, the prose impact window as its own
    bar, and `marks` (community signals, ...) as dots: one <svg> element."""
    if not incident.updates and not marks and incident.lifecycle.first_post_at is None:
        return Markup(
            f'<svg class="kb-timeline" data-search-exclude="svg" xmlns="{_NS}" '
            'viewBox="0 0 800 30" role="img" aria-label="No timestamps published">'
            '<text x="4" y="20" class="kb-svg-label">no timestamps published</text></svg>'
        )
    start, end = _span(incident, marks)
    total = (end - start).total_seconds()
    inner = WIDTH - LEFT - RIGHT

    def x(at: datetime) -> float:
        return round(LEFT + inner * (at - start).total_seconds() / total, 1)

    rows = ["status"] + (["impact"] if incident.impact_window else []) + (
        ["signals"] if marks else []
    )
    height = 34 + 26 * len(rows)
    # data-search-exclude: mkdocs-material leaves the picture out of the search index (and
    # strips the attribute from the page).
    parts = [
        f'<svg class="kb-timeline" data-search-exclude="svg" xmlns="{_NS}" viewBox="0 0 '
        f'{WIDTH} {height}" role="img" aria-label="Timeline of the incident">'
    ]
    for index, name in enumerate(rows):
        parts.append(f'<text x="4" y="{26 * index + 22}" class="kb-svg-label">{name}</text>')
    updates = incident.updates
    for i, update in enumerate(updates):
        if i + 1 < len(updates):
            stop = updates[i + 1].at
        elif update.phase in _FINAL or incident.kind is Kind.MAINTENANCE:
            continue  # resolved: nothing after the last update
        else:
            stop = end  # still open as far as we know
        x0, width = x(update.at), max(round(x(stop) - x(update.at), 1), 1.5)
        parts.append(
            f'<rect class="kb-phase kb-ph-{update.phase.value}" x="{x0}" y="8" '
            f'width="{width}" height="18" fill="{PHASE_COLOURS[update.phase]}">'
            f"<title>{escape(update.phase.value)} from {_t(update.at)}</title></rect>"
        )
    for update in updates:
        tip = f"{_t(update.at)} · {update.phase.value} · {one_line(update.label, 80)}"
        parts.append(
            f'<line class="kb-tick" x1="{x(update.at)}" x2="{x(update.at)}" y1="4" y2="30" '
            f'stroke="#212529" stroke-width="2"><title>{escape(tip)}</title></line>'
        )
    row = 1
    window = incident.impact_window
    if window:
        y = 26 * row + 8
        x0 = x(window.start)
        width = max(round((x(window.end) if window.end else x(end)) - x0, 1), 1.5)
        until = _t(window.end) if window.end else "open end"
        tip = f"impact {_t(window.start)} → {until}: {one_line(window.evidence, 200)}"
        dash = "" if window.end else ' stroke-dasharray="4 3"'
        parts.append(
            f'<rect class="kb-impact" x="{x0}" y="{y}" width="{width}" height="14" '
            f'fill="#c92a2a" fill-opacity="0.35" stroke="#c92a2a"{dash}>'
            f"<title>{escape(tip)}</title></rect>"
        )
        row += 1
    if marks:
        y = 26 * row + 15
        for mark in sorted(marks, key=lambda m: m.at):
            kind = "".join(ch for ch in mark.kind.lower() if ch.isalnum())[:20] or "signal"
            tip = f"{_t(mark.at)} · {one_line(mark.label, 120)}"
            parts.append(
                f'<circle class="kb-mark kb-mark-{kind}" cx="{x(mark.at)}" cy="{y}" r="5" '
                f'fill="#7048e8"><title>{escape(tip)}</title></circle>'
            )
    axis = 26 * len(rows) + 20
    parts.append(
        f'<text x="{LEFT}" y="{axis}" class="kb-svg-axis">{_t(start)}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{axis}" class="kb-svg-axis" text-anchor="end">'
        f"{_t(end)}</text></svg>"
    )
    return Markup("".join(parts))


# -- the 90-day bars ---------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """One day of a provider's bar: the worst severity of incidents touching it."""

    day: date
    worst: Severity | str | None  # a Severity, SEVERITY_UNKNOWN, or None (no incident)
    count: int
    watched: float = 1.0  # share of the day the KB holds data for; 0: unknown


Span = Callable[[Incident], tuple[datetime, datetime] | None]  # days an incident touched


def _interval(incident: Incident) -> tuple[datetime, datetime] | None:
    window, life = incident.impact_window, incident.lifecycle
    start = (window.start if window else None) or life.first_post_at
    if start is None:
        return None
    end = (window.end if window else None) or life.resolved_at or (
        incident.updates[-1].at if incident.updates else start
    )
    return start, max(start, end)


def days(incidents: Iterable[Incident], as_of: date, span: int = SPAN,
         watched: Callable[[date], float] | None = None,
         interval: Span | None = None) -> list[Day]:
    """The last `span` days up to `as_of`, each with the incidents (not maintenance) that
    touched it: impact window when the prose gave one, else first post → resolved.
    `watched(day)` is the share of that day the KB holds data for (kb.analysis.coverage);
    without it every day counts as watched. `interval(incident)` gives the days an incident
    touched (the site passes kb.analysis.metrics' impact interval, the one `kb metrics`
    measures); without it the prose window, else first post → resolved."""
    first = as_of - timedelta(days=span - 1)
    worst: dict[date, Severity | str] = {}
    count: dict[date, int] = {}
    for incident in incidents:
        if incident.kind is not Kind.INCIDENT:
            continue
        found = (interval or _interval)(incident)
        if found is None:
            continue
        day = max(found[0].astimezone(UTC).date(), first)
        last = min(found[1].astimezone(UTC).date(), as_of)
        while day <= last:
            count[day] = count.get(day, 0) + 1
            held = worst.get(day)
            stated = incident.stated_severity
            severity = stated if stated == SEVERITY_UNKNOWN else Severity(stated)
            if held is None or _RANK[severity] > _RANK[held]:
                worst[day] = severity
            day += timedelta(days=1)
    return [
        Day(d, worst.get(d), count.get(d, 0), 1.0 if watched is None else watched(d))
        for d in (first + timedelta(days=i) for i in range(span))
    ]


def day_bars(cells: Sequence[Day], label: str) -> Markup:
    """A row of day bars, oldest on the left, each with a tooltip; `label` names the row for
    screen readers."""
    step, bar, height = 9, 7, 30
    parts = [
        f'<svg class="kb-bars" data-search-exclude="svg" xmlns="{_NS}" viewBox="0 0 '
        f'{step * len(cells)} {height}" role="img" aria-label="{escape(label)}">'
    ]
    for i, cell in enumerate(cells):
        colour = SEVERITY_COLOURS[cell.worst]
        if cell.count and cell.worst is not None:
            worst = (f"worst {cell.worst}" if cell.worst != SEVERITY_UNKNOWN
                     else "severity not stated")
            tip = f"{cell.day}: {cell.count} incident(s), {worst}"
        elif cell.watched <= 0:
            colour = NO_DATA_COLOUR
            tip = f"{cell.day}: no data (no stored status-page payload covers this day)"
        elif cell.watched < 1:
            share = max(1, int(cell.watched * 100))  # floored, as the reliability tables
            tip = f"{cell.day}: no incident recorded (data covers {share}% of the day)"
        else:
            tip = f"{cell.day}: no incident recorded"
        parts.append(
            f'<rect x="{i * step}" y="0" width="{bar}" height="{height}" rx="1.5" '
            f'fill="{colour}"><title>{tip}</title></rect>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
