"""The "Causes" (order 40) and "Metrics" (order 50) slots of incident pages
(kb.render.sections): stored cause tags with the sentence each came from, and the incident's
own measured figures with the source of its impact interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kb.analysis.causes import LABELS, Cause
from kb.analysis.metrics import incident_figures
from kb.model import Incident
from kb.render.sections import Block, Figures, Section, Table, Tags
from kb.store import Store
from kb.store.analysis import CauseRecord, last_seen, stored_causes

__all__ = ["SECTIONS"]


@dataclass(frozen=True)
class _State:
    causes: dict[str, list[CauseRecord]]
    seen: dict[str, datetime]


def _prepare(store: Store) -> _State:
    """Cause tags and last-seen times of every incident, loaded once per build."""
    return _State(stored_causes(store), last_seen(store))


def _label(tag: str) -> str:
    try:
        return LABELS[Cause(tag)]
    except ValueError:
        return tag


def _causes(state: _State, incident: Incident) -> list[Block] | None:
    tags = [t for t in state.causes.get(incident.key, []) if t.tag != Cause.UNKNOWN.value]
    if not tags:
        return None  # untagged, or nothing but "unknown": the slot stays out
    rows = [(_label(t.tag), t.method, t.evidence) for t in tags]
    return [Tags([_label(t.tag) for t in tags]),
            Table(("cause", "how it was tagged", "evidence"), rows)]


def _minutes(value: float | None) -> str:
    if value is None:
        return "unknown"
    whole = round(value)
    return f"{whole // 60}h{whole % 60:02d}m" if whole >= 60 else f"{whole} min"


def _metrics(state: _State, incident: Incident) -> list[Block] | None:
    figures = incident_figures(incident, state.seen.get(incident.key))
    if not figures.updates:
        return None
    pairs = [
        ("impact", f"{_minutes(figures.impact_minutes)} (from the {figures.source})"),
        ("weight", f"{figures.weight:g} ({figures.weight_basis})"),
        ("first post → identified", _minutes(figures.identified_minutes)),
        ("first post → resolved", _minutes(figures.resolve_minutes)),
        ("update cadence (median gap)", _minutes(figures.cadence_minutes)),
        ("longest silence", _minutes(figures.longest_silence_minutes)),
    ]
    if figures.detection_minutes is not None:
        pairs.insert(1, ("stated impact start → first post", _minutes(figures.detection_minutes)))
    return [Figures(pairs, caption="Measured from the timeline (see docs/analysis.md)")]


SECTIONS = [
    Section(name="causes", title="Causes", provide=_causes, order=40, prepare=_prepare,
            note="Contributing-factor tags from the provider's own sentences."),
    Section(name="metrics", title="Metrics", provide=_metrics, order=50, prepare=_prepare),
]
