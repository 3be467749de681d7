"""One round of `kb watch`: poll the due sources, store what they say, find what changed,
record the notifications, send them, refresh the site.

Storing is `kb scrape`'s own function (kb.pipeline.scrape: conditional GET, archive, parse,
normalize, upsert), so a watched KB is the KB `kb scrape` would have made. Changes are found
by comparing every followed incident whose content hash differs from what the watcher last
saw (kb.alerts.changes), so a change stored by any writer — this round, an earlier `kb
scrape`, a round killed before it recorded — is found exactly once. What was seen and the
notifications it calls for are recorded in one transaction (kb.store.outbox.record_round).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kb.alerts.changes import Change, diff, state_of
from kb.alerts.message import FactsContext, build_facts
from kb.alerts.send import Poster, SendReport, send_due
from kb.alerts.targets import Target
from kb.config import Settings, SourceConfig
from kb.errors import KbError
from kb.model import Incident
from kb.pipeline import Line, run_later_stages, scrape
from kb.serialize import stamp
from kb.stage import RunReport, StageContext
from kb.store import outbox
from kb.store.outbox import Intent, SourceState, Watched
from kb.watch.early import early_intents
from kb.watch.schedule import WatchSettings

BULK = 50  # changed incidents of one provider above which they are read in one query


@dataclass
class RoundReport:
    """What one round did."""

    run: RunReport
    polled: list[str] = field(default_factory=list)
    first_look: list[str] = field(default_factory=list)  # providers seen for the first time
    changes: list[Change] = field(default_factory=list)
    recorded: int = 0  # notifications recorded (new outbox rows)
    send: SendReport = field(default_factory=SendReport)
    errors: list[str] = field(default_factory=list)  # facts that could not be built, ...


def due_sources(store, sources: Sequence[SourceConfig], now: datetime  # type: ignore[no-untyped-def]
                ) -> list[SourceConfig]:
    """The sources whose next poll has come (never polled: due)."""
    schedule = outbox.sources(store)
    return [s for s in sources if s.slug not in schedule or schedule[s.slug].next_due <= now]


def run_round(line: Line, fetcher, settings: Settings, watch: WatchSettings,  # type: ignore[no-untyped-def]
              targets: Sequence[Target], sources: Sequence[SourceConfig], *,
              followed: Sequence[str], now: datetime | None = None,
              poster: Poster | None = None, refresh: bool | None = None,
              rng: random.Random | None = None) -> RoundReport:
    """Poll `sources`, then diff every incident of `followed` providers and notify."""
    now = now or datetime.now(UTC)
    result = RoundReport(line.report)
    if sources:
        scrape(line, fetcher, sources)
        result.polled = [s.slug for s in sources]
        _reschedule(line, watch, sources, now, rng)
    _detect(line, settings, targets, followed, now, result)
    kwargs = {"poster": poster} if poster is not None else {}
    result.send = send_due(line.store, targets, now=now, **kwargs)
    if result.changes and (watch.refresh if refresh is None else refresh):
        run_later_stages(StageContext(line.store, settings, line.report, line.stage_progress))
    return result


def _reschedule(line: Line, watch: WatchSettings, sources: Sequence[SourceConfig],
                now: datetime, rng: random.Random | None) -> None:
    held = outbox.sources(line.store)
    states = []
    for source in sources:
        entry = line.report.sources.get(source.slug)
        failed = bool(entry and entry.failed)
        before = held.get(source.slug)
        failures = (before.failures + 1 if before else 1) if failed else 0
        states.append(SourceState(
            provider=source.slug, next_due=watch.next_due(source.slug, now, failures, rng),
            failures=failures, last_error=entry.failed[0][:500] if failed and entry else None,
            last_checked=now, watched_since=before.watched_since if before else now))
    outbox.save_sources(line.store, states)


def _detect(line: Line, settings: Settings, targets: Sequence[Target],
            followed: Sequence[str], now: datetime, result: RoundReport) -> None:
    store = line.store
    hashes = outbox.incident_hashes(store, followed)
    seen = outbox.watched(store, followed)
    schedule = outbox.sources(store)
    known = {w.provider for w in seen.values()}
    result.first_look = sorted({key.partition("/")[0] for key in hashes} - known)
    changed: dict[str, list[str]] = {}
    for key, digest in hashes.items():
        if key not in seen or seen[key].content_hash != digest:
            changed.setdefault(key.partition("/")[0], []).append(key)
    early = any(t.early_warning for t in targets)
    if not changed and not early:
        return
    context = FactsContext(store, settings.home, followed, names=store.provider_names(),
                           now=now)
    new_seen: list[Watched] = []
    intents: list[Intent] = []
    if early:
        found, wanted = early_intents(context, targets, followed, now)
        result.changes += found
        intents += wanted
    for provider, keys in sorted(changed.items()):
        since = schedule[provider].watched_since if provider in schedule else None
        for incident in _load(store, provider, keys):
            old = seen.get(incident.key)
            change = diff(old.state if old else None, incident,
                          first_look=provider in result.first_look, watched_since=since)
            new_seen.append(Watched(incident.key, provider, hashes[incident.key],
                                    state_of(incident)))
            if change is None:
                continue
            result.changes.append(change)
            wanting = [t for t in targets
                       if t.wants(provider, [c.name for c in incident.components],
                                  incident.stated_severity)]
            if not wanting:
                continue
            try:
                facts = build_facts(context, incident, change)
            except Exception as exc:  # the alert goes out without what failed:
                # a bug in similar search or the comparison must not hold back every alert
                # (the round would fail before recording, again and again)
                result.errors.append(f"{incident.key}: alert facts incomplete "
                                     f"({type(exc).__name__}: {str(exc)[:200]})")
                facts = build_facts_minimal(context, incident, change)
            intents += [Intent(t.name, incident.key, change.kind, change.change_id, facts)
                        for t in wanting]
    result.recorded = outbox.record_round(store, new_seen, intents, now)


def build_facts_minimal(context: FactsContext, incident: Incident, change: Change) -> dict:
    """The facts without similar incidents and fallbacks (when computing those failed)."""
    from kb.alerts.message import FALLBACK_DAYS, SCHEMA, incident_facts

    return {"schema": SCHEMA,
            "change": {"kind": change.kind, "id": change.change_id, "summary": change.summary,
                       "detected_at": stamp(context.now), "unconfirmed": False},
            "incident": incident_facts(incident, context.names.get(incident.provider)),
            "similar": [], "similar_note": "unavailable", "typical_duration_minutes": None,
            "typical_duration_of": 0, "fallbacks": [], "fallback_period_days": FALLBACK_DAYS}


def _load(store, provider: str, keys: list[str]) -> list[Incident]:  # type: ignore[no-untyped-def]
    if len(keys) > BULK:
        wanted = set(keys)
        return [i for i in store.incidents(provider=provider) if i.key in wanted]
    found = []
    for key in sorted(keys):
        try:
            found.append(store.get(key))
        except KbError:  # removed meanwhile (a reparse): nothing to say about it
            continue
    return found
