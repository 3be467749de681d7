"""Per incident: its linked signals and the figures derived from them, for `kb show`.

- first community signal: the earliest linked live thread or news item (late write-ups are
  not "seeing it"); when only late ones are linked, none;
- detection lead = first community signal − first official post, in seconds: negative means
  the community saw it first;
- threads, points and comments: summed over the linked signals' discussion threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from kb.model import Incident, Signal, SignalLink
from kb.present import print_table
from kb.serialize import stamp
from kb.store.repo import Store
from kb.store.signals import links, signal_to_dict, signals
from kb.timefmt import clock


@dataclass(frozen=True)
class IncidentSignals:
    """An incident's linked signals (oldest first) and what they add up to."""

    incident_key: str
    linked: tuple[tuple[Signal, SignalLink], ...]
    first_signal_at: datetime | None
    detection_lead_s: int | None
    threads: int
    points: int
    comments: int


def incident_signals(store: Store, incident: Incident) -> IncidentSignals:
    """The signals linked to `incident`, with the derived figures."""
    found = links(store, incident_key=incident.key)
    by_id = {s.id: s for s in signals(store, ids=[link.signal_id for link in found])}
    return summarize(incident, found, by_id)


def summarize(incident: Incident, found: Sequence[SignalLink],
              by_id: Mapping[str, Signal]) -> IncidentSignals:
    """The figures of `incident` from its links and the signals they point at (loaded once
    by the caller, e.g. for a whole site build)."""
    linked = sorted(((by_id[k.signal_id], k) for k in found if k.signal_id in by_id),
                    key=lambda pair: (pair[0].created_at is None, pair[0].created_at, pair[0].id))
    community = [s.created_at for s, _ in linked if s.kind in ("live", "news") and s.created_at]
    first = min(community) if community else None
    official = incident.lifecycle.first_post_at
    lead = int((first - official).total_seconds()) if first and official else None
    return IncidentSignals(
        incident_key=incident.key,
        linked=tuple(linked),
        first_signal_at=first,
        detection_lead_s=lead,
        threads=sum(s.threads for s, _ in linked),
        points=sum(s.points or 0 for s, _ in linked),
        comments=sum(s.comments or 0 for s, _ in linked),
    )


def lead_text(seconds: int | None) -> str:
    """"-12m (community first)", "+1h05m (official first)", or "-"."""
    if seconds is None:
        return "-"
    span = clock(abs(seconds) // 60)
    if seconds < 0:
        return f"-{span} (community first)"
    return f"+{span} (official post first)"


def signals_json(view: IncidentSignals) -> dict[str, Any]:
    """The keys `kb show --json` gains: "signals" (list) and "signal_figures"."""
    items = []
    for signal, link in view.linked:
        data = signal_to_dict(signal)
        data.update({
            "source": "+".join(sorted({s.source for s in signal.sources})),
            "time": data["created_at"],
            "score": link.score,
            "confidence": link.confidence,
            "rule": link.rule,
            "evidence": link.evidence,
        })
        items.append(data)
    return {
        "signals": items,
        "signal_figures": {
            "first_signal_at": stamp(view.first_signal_at) if view.first_signal_at
            else None,
            "detection_lead_s": view.detection_lead_s,
            "threads": view.threads,
            "points": view.points,
            "comments": view.comments,
        },
    }


def print_signals(console: Console, view: IncidentSignals) -> None:
    """The signals table of `kb show`, with the detection lead; nothing when none linked."""
    if not view.linked:
        return
    table = Table(title="Signals (news and forum threads, UTC)", title_justify="left")
    for column in ("time", "source", "title", "score", "confidence", "url"):
        table.add_column(column, overflow="fold")
    for signal, link in view.linked:
        when = signal.created_at.strftime("%Y-%m-%d %H:%M") if signal.created_at else "-"
        sources = "+".join(sorted({s.source for s in signal.sources}))
        table.add_row(when, sources, signal.title, f"{link.score:.2f}", link.confidence,
                      signal.discussion_url or signal.url or "-")
    print_table(console, table)
    first = view.first_signal_at.strftime("%Y-%m-%d %H:%M") if view.first_signal_at else "-"
    console.print(f"first community signal {first} · detection lead "
                  f"{lead_text(view.detection_lead_s)} · {view.threads} threads, "
                  f"{view.points} points, {view.comments} comments", markup=False)
