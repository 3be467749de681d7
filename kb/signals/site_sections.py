"""The "Community signals" slot of incident pages (kb.render.sections, order 20): the linked
Hacker News threads and news with their link score, and the community's detection lead;
each linked story is also marked on the timeline picture."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kb.model import Incident, Signal, SignalLink
from kb.render.sections import (
    Block,
    BuildContext,
    ExternalLink,
    Figures,
    Links,
    Mark,
    Section,
)
from kb.signals.figures import IncidentSignals, lead_text, summarize
from kb.store import Store
from kb.store.signals import links, signals

__all__ = ["SECTIONS"]


@dataclass(frozen=True)
class _State:
    by_incident: dict[str, list[SignalLink]]
    by_id: dict[str, Signal]


def _prepare(store: Store, build: BuildContext | None = None) -> _State:
    """Every link and signal, loaded once per build; in a changed-keys build (`build.scope`)
    the links of the changed incidents and their signals only."""
    grouped: dict[str, list[SignalLink]] = defaultdict(list)
    if build is None or build.scope is None:
        for link in links(store):
            grouped[link.incident_key].append(link)
        return _State(dict(grouped), {s.id: s for s in signals(store)})
    for key in sorted(build.scope.incidents):
        for link in links(store, incident_key=key):
            grouped[link.incident_key].append(link)
    wanted = {link.signal_id for found in grouped.values() for link in found}
    return _State(dict(grouped), {s.id: s for s in signals(store, ids=wanted)} if wanted else {})


def _view(state: _State, incident: Incident) -> IncidentSignals | None:
    found = state.by_incident.get(incident.key)
    return summarize(incident, found, state.by_id) if found else None


def _provide(state: _State, incident: Incident) -> list[Block] | None:
    view = _view(state, incident)
    if view is None or not view.linked:
        return None
    items = []
    for signal, link in view.linked:
        url = signal.discussion_url or signal.url or ""
        when = f"{signal.created_at:%Y-%m-%d %H:%M} UTC" if signal.created_at else "time unknown"
        bits = [signal.kind, when, f"link score {link.score:.2f} ({link.confidence})"]
        if signal.points is not None:
            bits.append(f"{signal.points} points, {signal.comments or 0} comments")
        items.append(ExternalLink(url=url, text=signal.title, note="; ".join(bits)))
    figures = [("detection lead", lead_text(view.detection_lead_s)),
               ("threads", str(view.threads)), ("points", str(view.points)),
               ("comments", str(view.comments))]
    return [Figures(figures, caption="What the community saw"),
            Links(items, caption="Linked threads and news, oldest first")]


def _marks(state: _State, incident: Incident) -> list[Mark]:
    view = _view(state, incident)
    if view is None:
        return []
    return [Mark(at=signal.created_at, label=signal.title[:80],
                 kind="news" if signal.kind == "news" else "signal")
            for signal, _link in view.linked if signal.created_at is not None]


SECTIONS = [
    Section(
        name="signals", title="Community signals", provide=_provide, order=20,
        prepare=_prepare, marks=_marks,
        note="Detection lead = first live thread or news item − first official post "
             "(negative: the community saw it first).",
    ),
]
