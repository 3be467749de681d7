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
from datetime import UTC, datetime, timedelta

from kb.alerts.changes import Change, diff, state_of
from kb.alerts.message import FactsContext, build_facts
from kb.alerts.send import CLAIM_LEASE, Poster, SendReport, send_due
from kb.alerts.targets import Target
from kb.config import Settings, SourceConfig
from kb.errors import KbError
from kb.model import Incident
from kb.pipeline import Line, run_later_stages, scrape
from kb.serialize import stamp
from kb.stage import RunReport, StageContext, StageProgress
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
    unlisted: list[str] = field(default_factory=list)  # open incidents the page dropped
    started: datetime | None = None  # when this round began polling (the fetch log's clock)


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
    """Poll `sources`, then diff every incident of `followed` providers and notify: the
    three phases below in one go. `kb watch` runs them itself, holding the KB writer lock
    for `observe` and `refresh_site` only, never while it sends."""
    now = now or datetime.now(UTC)
    result = observe(line, fetcher, settings, watch, targets, sources, followed=followed,
                     now=now, rng=rng)
    deliver(line.store, targets, result, now=now, poster=poster, lease=watch.lease)
    if wants_refresh(result, watch, refresh):
        refresh_site(line.store, settings, line.report, line.stage_progress)
    return result


def observe(line: Line, fetcher, settings: Settings, watch: WatchSettings,  # type: ignore[no-untyped-def]
            targets: Sequence[Target], sources: Sequence[SourceConfig], *,
            followed: Sequence[str], now: datetime,
            rng: random.Random | None = None) -> RoundReport:
    """Phase 1, a writer's: poll `sources` and store what they say (`kb scrape`'s own
    function), then find what changed and record it with the notifications it calls for in
    one transaction. After this, nothing is lost if the process dies: the outbox holds it."""
    result = RoundReport(line.report, started=datetime.now(UTC))
    if sources:
        scrape(line, fetcher, sources)
        result.polled = [s.slug for s in sources]
        _reschedule(line, watch, sources, now, rng)
    _detect(line, settings, targets, followed, now, result)
    _mark_changed(line.report, result)
    return result


def deliver(store, targets: Sequence[Target], result: RoundReport, *,  # type: ignore[no-untyped-def]
            now: datetime, poster: Poster | None = None,
            lease: timedelta = CLAIM_LEASE) -> None:
    """Phase 2: send what the outbox holds (this round's rows and any left over). Needs no
    writer lock: rows are claimed (kb.alerts.send), so a concurrent `kb scrape` or a second
    watcher never sends them too, and a slow target blocks no writer."""
    kwargs = {"poster": poster} if poster is not None else {}
    result.send = send_due(store, targets, now=now, lease=lease, **kwargs)


def wants_refresh(result: RoundReport, watch: WatchSettings, refresh: bool | None) -> bool:
    """Whether phase 3 runs: the round changed something and refreshing is on."""
    return bool(result.changes or result.run.changed) and (
        watch.refresh if refresh is None else refresh)


def refresh_site(store, settings: Settings, report: RunReport,  # type: ignore[no-untyped-def]
                 progress: StageProgress | None = None) -> None:
    """Phase 3, a writer's: the later stages as `kb update` runs them (link and analysis
    under PostgreSQL stage locks, embed by work claims, so two watchers on one database do
    not do one piece of work twice; then the site, which may re-render only
    `report.changed`)."""
    run_later_stages(StageContext(store, settings, report, progress))


def _mark_changed(report: RunReport, result: RoundReport) -> None:
    """Add the incidents this round found changed to `report.changed` (the keys the site
    stage re-renders), beside those the scrape stored as new or updated: a change stored
    by an earlier `kb scrape` or a killed round is news to the site too."""
    have = set(report.changed)
    for change in result.changes:
        key = change.incident_key
        if key not in have and not key.startswith("unofficial/"):
            report.changed.append(key)
            have.add(key)


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
        dropped, gone = _unlisted(line.report, result, seen, store)
        if dropped:
            context = FactsContext(store, settings.home, followed,
                                   names=store.provider_names(), now=now)
            result.recorded = outbox.record_round(
                store, dropped, _withdrawals(context, targets, gone, result), now)
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
            intents += _intents(context, targets, incident, change, result)
    # judged on what the watcher knows after this round's changes (a snapshot source closes
    # an incident it no longer lists: that is a resolution, not a withdrawal)
    current = {**seen, **{w.incident_key: w for w in new_seen}}
    dropped, gone = _unlisted(line.report, result, current, store)
    intents += _withdrawals(context, targets, gone, result)
    fresh = {w.incident_key: i for i, w in enumerate(new_seen)}
    for row in dropped:
        if row.incident_key in fresh:
            new_seen[fresh[row.incident_key]] = row
        else:
            new_seen.append(row)
    result.recorded = outbox.record_round(store, new_seen, intents, now)


def _intents(context: FactsContext, targets: Sequence[Target], incident: Incident,
             change: Change, result: RoundReport) -> list[Intent]:
    """The notifications `change` calls for: one per target whose filters it passes."""
    wanting = [t for t in targets
               if t.wants(incident.provider, [c.name for c in incident.components],
                          incident.stated_severity)]
    if not wanting:
        return []
    try:
        facts = build_facts(context, incident, change)
    except Exception as exc:  # the alert goes out without what failed:
        # a bug in similar search or the comparison must not hold back every alert
        # (the round would fail before recording, again and again)
        result.errors.append(f"{incident.key}: alert facts incomplete "
                             f"({type(exc).__name__}: {str(exc)[:200]})")
        facts = build_facts_minimal(context, incident, change)
    return [Intent(t.name, incident.key, change.kind, change.change_id, facts)
            for t in wanting]


def _withdrawals(context: FactsContext, targets: Sequence[Target], gone: Sequence[str],
                 result: RoundReport) -> list[Intent]:
    """A `withdrawn` change for each incident in `gone` (see `_unlisted`), identified by
    its last update's time: the same withdrawal found twice is one outbox row, and an
    incident that comes back, changes and is withdrawn again is news again."""
    intents: list[Intent] = []
    for provider, keys in sorted(_by_provider(gone).items()):
        intents += _withdrawn(context, targets, _load(context.store, provider, keys), result)
    return intents


def _by_provider(keys: Sequence[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key in keys:
        grouped.setdefault(key.partition("/")[0], []).append(key)
    return grouped


def _withdrawn(context: FactsContext, targets: Sequence[Target], incidents: list[Incident],
               result: RoundReport) -> list[Intent]:
    intents: list[Intent] = []
    for incident in incidents:
        last = incident.updates[-1].at.isoformat() if incident.updates else ""
        change = Change(incident.key, "withdrawn", last,
                        f"withdrawn: no longer listed by the status page: "
                        f"{incident.title[:120]}")
        result.changes.append(change)
        intents += _intents(context, targets, incident, change, result)
    return intents


UNLISTED = "unlisted"  # watched-state flag: said once that the page no longer lists it


def _unlisted(report: RunReport, result: RoundReport, seen: dict[str, Watched],
              store=None) -> tuple[list[Watched], list[str]]:  # type: ignore[no-untyped-def]
    """Open incidents that the page polled this round no longer lists (deleted by the
    vendor, most likely), each said once in `result.unlisted`. Returns the watched rows to
    write (the flag set, or cleared when an incident is listed again) and the incidents to
    notify as `withdrawn`.

    Judged only for a source polled without failure that answered at least one payload,
    only for incidents (a maintenance leaves the page once done), and only for those at
    least as recent as the oldest one listed — an API lists a window of recent incidents,
    and falling out of it is no deletion. An endpoint that answered 304 still lists what its
    last fetched payload listed (the fetch log names it: kb.store.outbox.listed_unchanged);
    where that payload is not known, the incident is named in the report only, not
    notified. The incident stays in the KB as last seen (docs/alerts.md)."""
    rows: list[Watched] = []
    gone: list[str] = []
    for provider in result.polled:
        entry = report.sources.get(provider)
        if entry is None or entry.failed or not entry.docs:
            continue
        listed = {k for k in report.outcomes if k.partition("/")[0] == provider}
        times = [seen[k].state.get("last_update_at") for k in listed if k in seen]
        times = [t for t in times if t]
        if not listed or not times:
            continue
        oldest = min(times)
        missing: list[Watched] = []
        for key, was in seen.items():
            if was.provider != provider:
                continue
            flagged = bool(was.state.get(UNLISTED))
            if key in listed:
                if flagged:  # listed again
                    state = {k: v for k, v in was.state.items() if k != UNLISTED}
                    rows.append(Watched(key, provider, was.content_hash, state))
                continue
            last = was.state.get("last_update_at") or ""
            if was.state.get("open") and was.state.get("kind") == "incident" and last >= oldest:
                missing.append(was)
        whole = not entry.not_modified
        if missing and entry.not_modified and store is not None and result.started:
            # an endpoint answered 304: what its last payload lists is still listed
            still, whole = outbox.listed_unchanged(store, provider, result.started)
            for was in [w for w in missing if w.incident_key in still]:
                missing.remove(was)
                if was.state.get(UNLISTED):
                    state = {k: v for k, v in was.state.items() if k != UNLISTED}
                    rows.append(Watched(was.incident_key, provider, was.content_hash, state))
        for was in missing:
            key = was.incident_key
            if was.state.get(UNLISTED):
                continue  # said before
            result.unlisted.append(
                f"{key}: open, but no longer listed by its status page (withdrawn by the "
                "vendor?); kept as last seen; " + (
                    "a withdrawn change is notified" if whole else "not notified: an endpoint "
                    "answered 304 and its last payload is not known, so the round does not "
                    "know all the page lists"))
            rows.append(Watched(key, provider, was.content_hash, {**was.state, UNLISTED: True}))
            if whole:
                gone.append(key)
    return rows, gone


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
