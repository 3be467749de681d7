"""The facts of one alert, as a plain JSON-ready dict (schema: docs/alerts.md).

What the KB knows that a status page does not: the nearest past incidents and how long they
lasted (kb.embed's `similar`), the typical duration of such incidents (their median, when at
least `TYPICAL_MIN` of them have a known duration), and the fallback: followed providers with
nothing open now, ranked by how rarely they were down together with this one over the last
year (kb.analysis.compare; a pair the KB never covered both of is "unknown" and ranked last).
Unknown values are None in the payload and "unknown" in messages, never 0.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kb.alerts.changes import Change, is_open, phase_of
from kb.errors import KbError
from kb.model import Incident
from kb.serialize import stamp
from kb.store.repo import Store

SCHEMA = "outage-kb.alert/1"
SIMILAR = 3  # past incidents shown
TYPICAL_FROM = 10  # similar incidents the typical duration is taken over
TYPICAL_MIN = 3  # known durations needed before a typical duration is stated
FALLBACKS = 5
FALLBACK_DAYS = 365
UP_RECENT = timedelta(days=14)  # an incident open longer than this is not counted as "down now"
TEXT_LIMIT = 500  # characters of the latest update carried


@dataclass
class FactsContext:
    """What alerts of one round share, loaded once and only when an alert needs it."""

    store: Store
    home: Path
    followed: Sequence[str]  # provider slugs watched
    names: dict[str, str | None] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _searcher: Any = None
    _searcher_note: str | None = None
    _pairs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _open: dict[str, bool] | None = None

    def searcher(self) -> Any:
        if self._searcher is None and self._searcher_note is None:
            try:
                from kb.embed.search import Searcher

                self._searcher = Searcher(self.store, self.home)
            except (KbError, ImportError, OSError) as exc:
                self._searcher_note = f"similar incidents unavailable ({exc})"
        return self._searcher


def _minutes(incident: Incident) -> float | None:
    ttr = incident.time_to_resolve
    return round(ttr.total_seconds() / 60, 1) if ttr is not None else None


def incident_facts(incident: Incident, name: str | None) -> dict[str, Any]:
    """The incident's own facts."""
    last = incident.updates[-1] if incident.updates else None
    return {
        "key": incident.key,
        "provider": incident.provider,
        "provider_name": name or incident.provider,
        "title": incident.title,
        "kind": incident.kind.value,
        "phase": phase_of(incident),
        "status": incident.status,
        "open": is_open(incident),
        "severity": incident.stated_severity,
        "components": [c.name for c in incident.components],
        "first_post_at": stamp(incident.first_posted),
        "resolved_at": stamp(incident.lifecycle.resolved_at),
        "duration_minutes": _minutes(incident),
        "url": incident.url if (incident.url or "").startswith(("https://", "http://")) else None,
        "latest_update": None if last is None else {
            "at": stamp(last.at), "phase": last.phase.value,
            "text": last.text[:TEXT_LIMIT] + ("…" if len(last.text) > TEXT_LIMIT else ""),
        },
    }


def similar_facts(context: FactsContext, key: str) -> tuple[list[dict[str, Any]],
                                                            float | None, int, str | None]:
    """(the nearest past incidents, the typical duration in minutes or None, how many
    durations it is the median of, a note when similar incidents are unavailable)."""
    searcher = context.searcher()
    if searcher is None:
        return [], None, 0, context._searcher_note
    try:
        result = searcher.similar(key, k=TYPICAL_FROM * 2, explain=False)
    except (KbError, ImportError, OSError, ValueError) as exc:
        return [], None, 0, f"similar incidents unavailable ({exc})"
    this = context.store.get(key).first_posted
    past = []
    for hit in result.hits:
        try:
            other = context.store.get(hit.key)
        except KbError:
            continue
        # "like this before": only incidents first posted before this one
        if this is None or other.first_posted is None or other.first_posted < this:
            past.append(other)
    shown = [{"key": o.key, "title": o.title, "provider": o.provider,
              "first_post_at": stamp(o.first_posted), "duration_minutes": _minutes(o),
              "url": o.url if (o.url or "").startswith(("https://", "http://")) else None}
             for o in past[:SIMILAR]]
    known = [m for m in (_minutes(o) for o in past[:TYPICAL_FROM]) if m is not None]
    typical = round(statistics.median(known), 1) if len(known) >= TYPICAL_MIN else None
    note = "; ".join(result.notes) or None
    return shown, typical, len(known), note


def _open_now(context: FactsContext) -> dict[str, bool]:
    """provider → whether an incident of it is open now (posted in the last UP_RECENT)."""
    if context._open is None:
        since = context.now - UP_RECENT
        found: dict[str, bool] = {}
        for provider in context.followed:
            found[provider] = any(
                i.kind.value == "incident" and is_open(i)
                for i in context.store.incidents(provider=provider, since=since))
        context._open = found
    return context._open


def fallback_facts(context: FactsContext, provider: str) -> list[dict[str, Any]]:
    """Followed providers with nothing open now, rarest co-failure with `provider` first."""
    if provider not in context._pairs:
        context._pairs[provider] = _fallbacks(context, provider)
    return context._pairs[provider]


def _fallbacks(context: FactsContext, provider: str) -> list[dict[str, Any]]:
    from kb.analysis import dataset
    from kb.analysis.compare import compare
    from kb.analysis.periods import parse_period

    others = [p for p in context.followed if p != provider and not _open_now(context).get(p)]
    if not others:
        return []
    data = dataset.load(context.store, [provider, *others], with_causes=False,
                        keep_incidents=False)
    held = set(data.figures) | set(data.coverages)
    others = [p for p in others if p in held]  # a provider the KB holds nothing of: unknown
    if not others:
        return []
    period = parse_period(f"{FALLBACK_DAYS}d", end=context.now, span=None)[0]
    result = compare([provider, *others], data.figures, data.coverages, {}, period, data.names)
    rows = []
    for pair in result.pairs:
        if provider not in (pair.a, pair.b):
            continue
        other = pair.b if pair.a == provider else pair.a
        rows.append({"provider": other, "name": data.names.get(other) or other,
                     "both_down_hours": (round(pair.both_down_hours, 2)
                                         if pair.both_down_hours is not None else None),
                     "both_covered_hours": round(pair.both_covered_hours, 1)})
    rows.sort(key=lambda r: (r["both_down_hours"] is None, r["both_down_hours"] or 0.0,
                             -r["both_covered_hours"], r["provider"]))
    return rows[:FALLBACKS]


def build_facts(context: FactsContext, incident: Incident, change: Change, *,
                unconfirmed: bool = False) -> dict[str, Any]:
    """The whole alert payload for `change` of `incident` (schema SCHEMA)."""
    similar, typical, typical_of, note = similar_facts(context, incident.key)
    return {
        "schema": SCHEMA,
        "change": {"kind": change.kind, "id": change.change_id, "summary": change.summary,
                   "detected_at": stamp(context.now), "unconfirmed": unconfirmed},
        "incident": incident_facts(incident, context.names.get(incident.provider)),
        "similar": similar,
        "similar_note": note,
        "typical_duration_minutes": typical,
        "typical_duration_of": typical_of,
        "fallbacks": fallback_facts(context, incident.provider),
        "fallback_period_days": FALLBACK_DAYS,
    }


def sample_facts(now: datetime) -> dict[str, Any]:
    """A clearly labelled sample for `kb alerts test` (no stored incident needed)."""
    return {
        "schema": SCHEMA,
        "change": {"kind": "test", "id": now.isoformat(), "detected_at": stamp(now),
                   "summary": "test alert from kb alerts test", "unconfirmed": False},
        "incident": {
            "key": "example/test", "provider": "example", "provider_name": "Example (test)",
            "title": "Test alert from outage-kb: nothing is down", "kind": "incident",
            "phase": "investigating", "status": "investigating", "open": True,
            "severity": "minor", "components": ["API"], "first_post_at": stamp(now),
            "resolved_at": None, "duration_minutes": None, "url": None,
            "latest_update": {"at": stamp(now), "phase": "investigating",
                              "text": "This is a test of the alert target."},
        },
        "similar": [], "similar_note": "a test alert has no similar incidents",
        "typical_duration_minutes": None, "typical_duration_of": 0,
        "fallbacks": [], "fallback_period_days": FALLBACK_DAYS,
    }
