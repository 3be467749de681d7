"""Gather everything the knowledge base knows about one incident into a cited `Draft`.

`build_draft(store, "github/zjchv3zvfg50")` reads the stored timeline, the current payload of
each channel (so each update is cited to the exact raw payload that holds it), and the
optional sections of other features, and computes the minutes engineers ask for first: the
stated impact window against the status-page lifecycle ("impact 17:34–18:52, 78 min; first
post 7 min after impact start"). `render_draft` turns it into Markdown, HTML or JSON.

Minutes are computed from the times as displayed (whole minutes, UTC), so a reader checking
"16:00, 600 min after 06:00" by hand gets the same number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise
from statistics import median
from typing import TYPE_CHECKING

from kb.drafts import adapters, mitigations, prose, writeups
from kb.drafts.citations import CitationKind, Citations, Fact, resolve
from kb.drafts.draft import Draft, Extra, Figures, Lessons, TimelineRow
from kb.model import (
    CONTRADICTING_TIMES,
    Incident,
    Kind,
    Phase,
    SourcedRecord,
    Update,
    contradicts,
    final_resolution,
)
from kb.normalize.snapshots import describe_end
from kb.timefmt import minutes_text, whole_minutes

if TYPE_CHECKING:
    from kb.store.repo import Store

__all__ = ["build_draft", "check_draft", "draft_from_incident"]

_STATUS_WORDS = {
    "operational": "operational", "degraded_performance": "degraded performance",
    "partial_outage": "partial outage", "major_outage": "major outage",
    "under_maintenance": "under maintenance",
}
_STATUS_RANK = {"degraded_performance": 1, "under_maintenance": 1, "partial_outage": 2,
                "major_outage": 3}
_TIMELINE_TEXT = 280
_LONG_SILENCE = 60  # minutes without an update worth pointing out


def _hm(value: datetime, ref: datetime | None = None) -> str:
    """17:34, with the date when it differs from `ref`'s."""
    value = value.astimezone(UTC)
    if ref is not None and value.date() == ref.astimezone(UTC).date():
        return value.strftime("%H:%M")
    return value.strftime("%Y-%m-%d %H:%M")


def _gaps(updates: Sequence[Update]) -> list[int]:
    """Minutes between each update and the next."""
    return [whole_minutes(a.at, b.at) for a, b in pairwise(updates)]


def _evidence_update(incident: Incident) -> int | None:
    """The latest update whose text holds the impact window's evidence sentence."""
    window = incident.impact_window
    if window is None:
        return None
    found = [i for i, u in enumerate(incident.updates) if window.evidence in u.text]
    return found[-1] if found else None


def _first_index(incident: Incident, *phases: Phase) -> int | None:
    return next((i for i, u in enumerate(incident.updates) if u.phase in phases), None)


def _at_index(incident: Incident, at: datetime) -> int | None:
    """The update posted at `at` (component changes are announced with an update)."""
    near = [(abs((u.at - at).total_seconds()), i) for i, u in enumerate(incident.updates)]
    best = min(near, default=None)
    return best[1] if best is not None and best[0] <= 60 else None


def build_draft(store: Store, key: str, *, extras: dict[str, adapters.Adapter] | None = None
                ) -> Draft:
    """The cited draft context of stored incident `key` (NotFound when it is not stored).
    `extras` replaces the optional-section adapters (default: all of kb.drafts.adapters)."""
    incident = store.get(key)
    current = store.current_records([key]).get(key, [])
    name = store.provider_names().get(incident.provider) or incident.provider
    return draft_from_incident(incident, provider_name=name, current=current, store=store,
                               extras=extras)


def draft_from_incident(
    incident: Incident,
    *,
    provider_name: str | None = None,
    current: Sequence[SourcedRecord] = (),
    store: Store | None = None,
    extras: dict[str, adapters.Adapter] | None = None,
) -> Draft:
    """The draft of an incident already in hand. `current` (the store's current record of
    each channel) pins each update to the exact payload holding it; without it, updates
    cite every stored payload of their channel. Without a `store`, the optional sections
    say the knowledge base was not given."""
    cite = Citations(incident, current)
    written = writeups.WriteupFacts()
    if store is None:
        extra = {name: adapters.absent(name, "no knowledge base given")
                 for name in adapters.ADAPTERS}
    else:
        extra = adapters.collect(store, incident, cite, only=extras)
        written = writeups.collect(store, incident, cite)
    return _assemble(incident, provider_name or incident.provider, cite, extra, written)


def _assemble(incident: Incident, name: str, cite: Citations, extra: dict[str, Extra],
              written: writeups.WriteupFacts | None = None) -> Draft:
    u = incident.updates
    window = incident.impact_window
    ev = _evidence_update(incident)
    first = 0 if u else None
    # the final resolution: an incident resolved, reopened and resolved again ends at the last
    resolved = final_resolution(u)
    identified = _first_index(incident, Phase.IDENTIFIED)
    c_first = (cite.update(first),) if first is not None else ()
    c_res = (cite.update(resolved),) if resolved is not None else ()
    c_ev = (cite.update(ev),) if ev is not None else (cite.page(),)

    fig = _figures(incident, first, resolved, identified)
    impact: list[Fact] = []
    summary: list[Fact] = []
    # A feed entry keeps only its latest update: its first post is the entry's published
    # time, before that update (OpenAI's FedRAMP entry: published 06-15, the one stored
    # update, "resolved", 06-26); the stored update is then not the first post.
    published = incident.lifecycle.first_post_at
    if incident.updates_complete or not u or published is None or published >= u[0].at:
        published = None
    if u:
        comps = ", ".join(c.name for c in incident.components)
        what = f", affecting {comps}" if comps else ""
        opened = published or u[0].at
        summary.append(Fact(
            f"On {opened.astimezone(UTC):%Y-%m-%d}, {name} opened this {incident.kind.value} "
            f"on its status page{what}.", (cite.page(), *c_first)))
    if window is not None:
        start = _hm(window.start)
        if window.end is not None and fig.impact_minutes is not None:
            text = (f"The provider's updates give an impact window of {start} to "
                    f"{_hm(window.end, window.start)} UTC, {minutes_text(fig.impact_minutes)}.")
        else:
            text = (f"The provider's updates give an impact start of {start} UTC and no "
                    "end.")
        summary.append(Fact(text, c_ev))
        impact.append(Fact(window.evidence, c_ev, quote=True))
        impact.append(Fact(text, c_ev))
    if first is not None and published is not None:
        done = "completed" if incident.kind is Kind.MAINTENANCE else "resolved"
        text = (f"It was first published at {_hm(published)} UTC; the feed keeps only its "
                f"latest update, posted at {_hm(u[-1].at, published)} UTC")
        if resolved is not None:
            text += f", which says it was {done}; when its impact ended is not known"
        summary.append(Fact(text + ".", (cite.page(), cite.update(len(u) - 1))))
        impact.append(summary[-1])
    elif first is not None:
        lifecycle = f"The first public post was at {_hm(u[first].at)} UTC"
        if fig.first_post_lag_minutes is not None:
            lag = fig.first_post_lag_minutes
            rel = "after" if lag >= 0 else "before"
            lifecycle += f", {abs(lag)} min {rel} the stated impact start"
        if resolved is not None and resolved == first:
            # posted once, already resolved: no time to resolve was measured (not "0 min")
            done = "completed" if incident.kind is Kind.MAINTENANCE else "resolved"
            lifecycle += f"; that post already said it was {done}"
        elif resolved is not None and fig.lifecycle_minutes is not None:
            done = "completed" if incident.kind is Kind.MAINTENANCE else "resolved"
            lifecycle += (f"; the {incident.kind.value} was marked {done} at "
                          f"{_hm(u[resolved].at, u[first].at)} UTC, "
                          f"{minutes_text(fig.lifecycle_minutes)} after the first post")
        cites = (*c_first, *c_res, *(c_ev if fig.first_post_lag_minutes is not None else ()))
        summary.append(Fact(lifecycle + ".", tuple(dict.fromkeys(cites))))
        impact.append(summary[-1])
    if first is not None and resolved is None and incident.lifecycle.resolved_at is None:
        # no end is stated: say so, with a snapshot archive's bound where there is one,
        # never leave the reader to take it as still going on or as ended "now"
        summary.append(Fact(_unknown_end(incident), (cite.page(),)))
        impact.append(summary[-1])
    impact.extend(f for f in _quotes(prose.data_loss(u), cite) if f not in impact)
    if fig.resolve_lag_minutes is not None and resolved is not None:
        impact.append(Fact(
            f"The status page marked it resolved {fig.resolve_lag_minutes} min after the "
            "stated end of impact.", (*c_ev, *c_res)))
    elif window and window.end and resolved is not None and contradicts(window.end, u[resolved].at):
        # never a negative lag: say the two vendor times disagree
        impact.append(Fact(
            f"The status page marked it resolved at {_hm(u[resolved].at)} UTC, before the "
            f"stated end of impact ({_hm(window.end, u[resolved].at)} UTC): "
            f"{CONTRADICTING_TIMES}.", (*c_ev, *c_res)))
    for again in incident.reopened:
        at = next((i for i, x in enumerate(u) if x.at == again.at), None)
        impact.append(Fact(
            f"It was reopened at {_hm(again.at, u[0].at)} UTC ({again.from_phase.value} → "
            f"{again.to_phase.value}); the figures use the final resolution.",
            (cite.update(at),) if at is not None else (cite.page(),)))
    if identified is not None and fig.time_to_identified_minutes is not None:
        impact.append(Fact(
            f"The provider posted that it had identified the issue at "
            f"{_hm(u[identified].at)} UTC, {fig.time_to_identified_minutes} min after the "
            "first post.", (*c_first, cite.update(identified))))
    if incident.impact:
        refs = [r.source for r in cite.current if r.record.impact == incident.impact]
        if refs:
            impact.append(Fact(f"The provider rated the impact “{incident.impact}”.",
                               (cite.payload(refs[0]),)))

    written = written or writeups.WriteupFacts()
    causes = _quotes(prose.causes(u), cite)
    if causes:
        summary.append(Fact(causes[-1].text, causes[-1].cites, quote=True,
                            lead="Stated cause, in the provider's words:"))
    elif written.causes:  # the status page does not say; a linked write-up does
        summary.append(Fact(written.causes[0].text, written.causes[0].cites, quote=True,
                            lead="Stated cause, in a linked postmortem:"))
    causes = causes + written.causes
    tags = adapters.cause_tag_names(extra)
    feed = next(((s.url, cite.payload(s)) for s in incident.sources
                 if s.url.startswith("http") and s.format.endswith("feed")), None)
    missing = _missing(incident, causes, written)
    return Draft(
        key=incident.key, provider=incident.provider, provider_name=name, title=incident.title,
        url=incident.url, kind=incident.kind.value, severity=incident.stated_severity,
        status=incident.status, summary=tuple(summary), impact=tuple(impact),
        symptoms=_quotes(prose.symptoms(u), cite),
        components=_components(incident, cite),
        causes=causes, trigger=_quotes(prose.triggers(u), cite) + written.trigger,
        resolution=_quotes(prose.resolutions(u), cite) + written.resolution,
        detection=_detection(incident, cite, fig, c_first, c_ev),
        communication=_communication(incident, cite, fig),
        provider_actions=_quotes(prose.provider_actions(u), cite),
        follow_ups=_quotes(prose.follow_ups(u), cite) + written.follow_ups,
        timeline=_timeline(incident, cite, ev),
        mitigations=mitigations.suggest(
            incident, name, cite, fig, first_post=(*c_first, *c_ev) if window else (), tags=tags,
            fallback=extra.get("fallback"), alert_feed=feed),
        lessons=_lessons(incident, cite, fig, c_first, c_ev),
        extras=extra, missing=missing, figures=fig, citations=tuple(cite.ordered()),
        data_as_of=max((s.fetched_at for s in incident.sources), default=None),
    )


def _quotes(found: Sequence[prose.Quote], cite: Citations) -> tuple[Fact, ...]:
    return tuple(Fact(q.text, (cite.update(q.update),), quote=True) for q in found)


def _figures(incident: Incident, first: int | None, resolved: int | None,
             identified: int | None) -> Figures:
    u, window = incident.updates, incident.impact_window
    gaps = _gaps(u)
    return Figures(
        impact_minutes=whole_minutes(window.start, window.end) if window and window.end else None,
        lifecycle_minutes=whole_minutes(u[first].at, u[resolved].at)
        if first is not None and resolved is not None else None,
        first_post_lag_minutes=whole_minutes(window.start, u[first].at)
        if window and first is not None else None,
        resolve_lag_minutes=whole_minutes(window.end, u[resolved].at)
        if window and window.end and resolved is not None
        and not contradicts(window.end, u[resolved].at) else None,
        time_to_identified_minutes=whole_minutes(u[first].at, u[identified].at)
        if first is not None and identified is not None else None,
        updates=len(u),
        longest_silence_minutes=max(gaps) if gaps else None,
    )


def _components(incident: Incident, cite: Citations) -> tuple[Fact, ...]:
    facts = []
    for comp in incident.components:
        bad = [c for c in comp.changes if c.new_status in _STATUS_RANK]
        if not bad:
            facts.append(Fact(f"{comp.name}: listed as affected, with no status change "
                              "recorded.", (cite.page(),)))
            continue
        worst = max(bad, key=lambda c: _STATUS_RANK[c.new_status or ""])
        start = bad[0].at
        back = next((c.at for c in comp.changes if c.at > start
                     and c.new_status == "operational"), None)
        marks = [i for i in (_at_index(incident, start),
                             _at_index(incident, back) if back else None) if i is not None]
        cites = tuple(dict.fromkeys(cite.update(i) for i in marks)) or (cite.page(),)
        status = _STATUS_WORDS.get(worst.new_status or "", worst.new_status)
        if back is not None:
            text = (f"{comp.name}: {status} at worst; not operational from {_hm(start)} to "
                    f"{_hm(back, start)} UTC, {minutes_text(whole_minutes(start, back))}.")
        else:
            text = (f"{comp.name}: {status} at worst from {_hm(start)} UTC; not marked "
                    "operational again in the stored updates.")
        facts.append(Fact(text, cites))
    return tuple(facts)


def _detection(incident: Incident, cite: Citations, fig: Figures, c_first: tuple[str, ...],
               c_ev: tuple[str, ...]) -> tuple[Fact, ...]:
    facts = list(_quotes(prose.detection(incident.updates), cite))
    lag = fig.first_post_lag_minutes
    if lag is not None:
        rel = "after" if lag >= 0 else "before"
        facts.append(Fact(f"The first public post came {abs(lag)} min {rel} the stated start "
                          "of impact.", (*c_first, *c_ev)))
    return tuple(facts)


def _communication(incident: Incident, cite: Citations, fig: Figures) -> tuple[Fact, ...]:
    u = incident.updates
    if len(u) < 2:
        return ()
    gaps = _gaps(u)
    apart = f"a median of {round(median(gaps))}" if len(gaps) > 1 else f"{gaps[0]}"
    facts = [Fact(f"The provider posted {len(u)} updates, {apart} min apart.",
                  (cite.update(0), cite.update(len(u) - 1)))]
    widest = max(range(len(gaps)), key=lambda i: (gaps[i], -i))
    if gaps[widest] >= _LONG_SILENCE:
        facts.append(Fact(
            f"The longest silence was {minutes_text(gaps[widest])}, from {_hm(u[widest].at)} to "
            f"{_hm(u[widest + 1].at, u[widest].at)} UTC.",
            (cite.update(widest), cite.update(widest + 1))))
    if not incident.updates_complete:
        facts.append(Fact("The stored source shows only the latest state of this incident, so "
                          "earlier updates may be missing.", (cite.page(),)))
    return tuple(facts)


def _timeline(incident: Incident, cite: Citations, ev: int | None) -> tuple[TimelineRow, ...]:
    rows = []
    for i, update in enumerate(incident.updates):
        text = " ".join(update.text.split())
        if len(text) > _TIMELINE_TEXT:
            text = text[:_TIMELINE_TEXT].rsplit(" ", 1)[0] + " […]"
        label = update.phase.value.replace("_", " ").capitalize()
        if update.label.lower() == "update":
            label += " (update)"
        rows.append(TimelineRow(update.at, label, text, (cite.update(i),)))
    window = incident.impact_window
    if window is not None:
        c_ev = (cite.update(ev),) if ev is not None else (cite.page(),)
        rows.append(TimelineRow(window.start, "Impact starts (as stated later)", "", c_ev))
        if window.end is not None:
            rows.append(TimelineRow(window.end, "Impact ends (as stated later)", "", c_ev))
    return tuple(sorted(rows, key=lambda r: r.at))


def _lessons(incident: Incident, cite: Citations, fig: Figures, c_first: tuple[str, ...],
             c_ev: tuple[str, ...]) -> Lessons:
    well: list[Fact] = []
    wrong: list[Fact] = []
    lucky: list[Fact] = []
    u = incident.updates
    causes = prose.causes(u)
    if causes and incident.impact_window is not None:
        well.append(Fact("The provider published both an impact window and a cause.",
                         (*c_ev, cite.update(causes[-1].update))))
    lag = fig.first_post_lag_minutes
    if lag is not None and lag >= 5:
        wrong.append(Fact(f"Anyone relying on the status page learned of it {lag} min after "
                          "impact began.", (*c_first, *c_ev)))
    if lag is not None and lag < 0:
        well.append(Fact(f"The provider posted {abs(lag)} min before the stated start of "
                         "impact.", (*c_first, *c_ev)))
    window = incident.impact_window
    if window is not None and window.end is not None and u and window.end <= u[0].at:
        lucky.append(Fact("Impact had already ended when the first public post appeared, "
                          "so it was short-lived for those who noticed it.", (*c_first, *c_ev)))
    silence = fig.longest_silence_minutes
    if silence is not None and silence >= _LONG_SILENCE:
        gaps = _gaps(u)
        widest = gaps.index(silence)
        wrong.append(Fact(f"The status page went {minutes_text(silence)} without an update.",
                          (cite.update(widest), cite.update(widest + 1))))
    return Lessons(tuple(well), tuple(wrong), tuple(lucky))


def _unknown_end(incident: Incident) -> str:
    """The sentence for an end no stored source states: the bound of a snapshot archive
    (`describe_end`, as `kb show` says it) or plainly unknown."""
    bound = describe_end(incident, lambda t: f"{_hm(t)} UTC")
    if bound is not None:
        return f"No stored update says when it ended: {bound}."
    if incident.status.strip().lower() in _DONE_STATUSES:
        # Vultr's alerts: the status turns "resolved", no update or field gives the time
        return (f"The provider marks it {incident.status.strip().lower()} but publishes no "
                "time for that, so when it ended is not known.")
    return ("No stored update says it ended, so when it ended is not known (the draft does "
            "not take it as still going on now).")


_DONE_STATUSES = frozenset({"resolved", "completed", "postmortem", "closed"})


def _missing(incident: Incident, causes: tuple[Fact, ...],
             written: writeups.WriteupFacts | None = None) -> tuple[str, ...]:
    """What the public record (status updates and linked postmortems) does not say: the
    author's slots to fill."""
    u = incident.updates
    written = written or writeups.WriteupFacts()
    gaps = []
    if incident.impact_window is None:
        gaps.append("when user impact started and ended (no impact window in the updates)")
    elif incident.impact_window.end is None:
        gaps.append("when user impact ended (the stated window has no end)")
    if not causes:
        gaps.append("the cause")
    if not prose.triggers(u) and not written.trigger:
        gaps.append("what triggered it (a change, a deploy, a load spike)")
    if not prose.resolutions(u) and not written.resolution:
        gaps.append("what was done to resolve it")
    if not prose.detection(u):
        gaps.append("how the provider detected it")
    if not incident.components:
        gaps.append("which components were affected (the stored sources list none)")
    if not prose.provider_actions(u) and not written.follow_ups:
        gaps.append("the provider's follow-up actions")
    if final_resolution(incident.updates) is None:
        gaps.append("that it was resolved (no resolved update is stored)")
    return tuple(gaps)


def check_draft(store: Store, draft: Draft, *, archive: object | None = None) -> list[str]:
    """Problems (one line each) with citations of `draft` that do not resolve to a stored
    source: the incident's stored payloads (and raw archive when given), stored incidents
    for computed figures, the signal store for threads and articles."""
    incident = store.get(draft.key)
    stored = store.sources_of([draft.key]).get(draft.key, [])
    derived = sorted({k for c in draft.citations if c.kind is CitationKind.DERIVED
                      for k in c.refs})
    known = set(store.content_hashes(derived)) if derived else set()
    return resolve(draft.citations, incident, stored, archive=archive,  # type: ignore[arg-type]
                   known_incidents=known, signal_exists=adapters.signal_exists(store),
                   postmortem_exists=adapters.postmortem_exists(store))
