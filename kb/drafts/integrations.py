"""The optional sections, read from the other features' own APIs (imported lazily).

* signals, user_reports: kb.signals.figures.incident_signals (linked threads and articles,
  detection lead, top comments); every fact cites its thread or article (`s` labels).
* similar: kb.embed.search.Searcher.similar (hybrid, falling back to keyword search); each
  past incident is cited as a stored incident (`k` labels) with how it ended.
* cause_tags: kb.analysis.stage.causes_for (stored tags, else the rules now); each tag
  quotes its evidence sentence, cited to the update that said it.
* reliability, fallback: kb.analysis (figures over the 90 / 365 days before this incident);
  each figure cites the stored incidents it was computed from and the command reproducing it.

`kb.drafts.adapters` calls these inside a guard: a missing module or table makes the section
"not available yet" instead of breaking the draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kb.drafts import prose
from kb.drafts.citations import CitationKind, Citations, Fact, when
from kb.drafts.draft import Extra
from kb.model import CONTRADICTING_TIMES, Incident, contradicts
from kb.shell import command_line, kb_command
from kb.timefmt import minutes_text, whole_minutes

if TYPE_CHECKING:
    from kb.store.repo import Store

MAX_SIGNALS = 5
MAX_COMMENTS = 5
MAX_COMMENT = 300
SIMILAR = 5


def _day(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d") if value else "an unknown date"


def _signal_label(cite: Citations, signal) -> str:  # type: ignore[no-untyped-def]
    where = "+".join(sorted({s.source for s in signal.sources})) or "signal"
    return cite.external(
        "s", f"{where}: “{signal.title}”", url=signal.discussion_url or signal.url,
        at=signal.created_at, refs=(signal.id,), kind=CitationKind.SIGNAL)


def _no_links(store: Store) -> tuple[bool, str]:
    """(available, note) when nothing is linked: an empty signal store is not "none found"."""
    from kb.store.signals import links

    if not links(store):
        return False, "not available yet (no signal is linked in this knowledge base)"
    return True, "no thread or article is linked to this incident"


def signals(store: Store, incident: Incident, cite: Citations) -> Extra:
    from kb.signals.figures import incident_signals

    view = incident_signals(store, incident)
    title = "Community signals"
    if not view.linked:
        return Extra("signals", title, *_no_links(store))
    facts: list[Fact] = []
    first = next((s for s, _ in view.linked if s.created_at == view.first_signal_at), None)
    if view.detection_lead_s is not None and first is not None and incident.updates:
        lead = whole_minutes(incident.updates[0].at, first.created_at)
        rel = "before" if lead < 0 else "after"
        facts.append(Fact(f"The first community signal came {abs(lead)} min {rel} the first "
                          "official post.", (_signal_label(cite, first), cite.update(0))))
    for signal, link in view.linked[:MAX_SIGNALS]:
        counts = [f"{signal.points} points" if signal.points is not None else "",
                  f"{signal.comments} comments" if signal.comments is not None else ""]
        extra = "".join(f", {c}" for c in counts if c)
        facts.append(Fact(signal.title, (_signal_label(cite, signal),), quote=True,
                          lead=f"{when(signal.created_at)} ({signal.kind}{extra}; linked with "
                               f"{link.confidence} confidence):"))
    return Extra("signals", title, True, "threads and articles linked to this incident",
                 tuple(facts))


def user_reports(store: Store, incident: Incident, cite: Citations) -> Extra:
    from kb.signals.figures import incident_signals

    view = incident_signals(store, incident)
    facts = []
    for signal, _link in view.linked:
        for comment in signal.top_comments:
            text = " ".join(comment.split())
            if len(text) > MAX_COMMENT:
                text = text[:MAX_COMMENT].rsplit(" ", 1)[0] + " […]"
            facts.append(Fact(text, (_signal_label(cite, signal),), quote=True))
            if len(facts) == MAX_COMMENTS:
                break
        if len(facts) == MAX_COMMENTS:
            break
    if not view.linked:
        return Extra("user_reports", "What users reported", *_no_links(store))
    note = "top comments of linked threads" if facts else "no comment of a linked thread"
    return Extra("user_reports", "What users reported", True, note, tuple(facts))


def _ending(other: Incident) -> str:
    """How a past incident ended, in its own words where it says (else its lifecycle)."""
    said = prose.resolutions(other.updates, limit=1) or prose.causes(other.updates, limit=1)
    if said:
        return f"it ended: “{said[-1].text}”"
    life = other.lifecycle
    if contradicts(life.first_post_at, life.resolved_at):
        return f"resolved before its first post ({CONTRADICTING_TIMES})"
    if life.first_post_at and life.resolved_at == life.first_post_at:
        return "its first post already said it was resolved"  # no time measured, not "0 min"
    if life.first_post_at and life.resolved_at:
        taken = whole_minutes(life.first_post_at, life.resolved_at)
        return f"resolved {minutes_text(taken)} after its first post"
    return "no resolution is stored"


def similar(store: Store, incident: Incident, cite: Citations) -> Extra:
    from kb.config import load_settings
    from kb.embed.search import Searcher

    result = Searcher(store, load_settings().home).similar(incident.key, k=SIMILAR)
    facts = []
    for hit in result.hits:
        other = hit.incident
        label = cite.external(
            "k", f"Stored incident {other.key}, found by "
            f"`{kb_command('similar', incident.key) or 'kb similar'}` ({result.mode})",
            url=other.url, at=other.first_posted, refs=(other.key,),
            kind=CitationKind.DERIVED)
        facts.append(Fact(f"{other.title} ({other.provider}, {_day(other.first_posted)}); "
                          f"{_ending(other)}", (label,)))
    note = f"ranked by {result.mode} search" if facts else "no similar incident found"
    return Extra("similar", "Similar past incidents", True, note, tuple(facts))


def cause_tags(store: Store, incident: Incident, cite: Citations) -> Extra:
    from kb.analysis.causes import LABELS
    from kb.analysis.stage import causes_for

    # Stated causes first: a tag read from "users may see login errors" says what failed, and
    # the draft says so ("stated as symptom") rather than offering it as a contributing factor.
    order = {"cause": 0, "unknown": 1, "symptom": 2}
    tags = sorted(causes_for(store, [incident]).get(incident.key, []),
                  key=lambda t: order.get(t.stated_as, 3))
    facts = []
    for tag in tags:
        if not tag.evidence:
            continue
        index = next((i for i, u in enumerate(incident.updates) if tag.evidence in u.text),
                     None)
        label = cite.update(index) if index is not None else cite.page()
        role = {"cause": "stated as the cause", "symptom": "a symptom, not a stated cause",
                "unknown": "suspected, not stated"}.get(tag.stated_as, "role unknown")
        facts.append(Fact(tag.evidence, (label,), quote=True,
                          lead=f"{tag.tag.value} ({LABELS[tag.tag]}; {tag.method}, {role}):"))
    note = "tagged by kb.analysis" if facts else "no cause tag beyond unknown"
    return Extra("cause_tags", "Cause tags", True, note, tuple(facts))


def _period_keys(figures: Sequence, lo: datetime, hi: datetime) -> tuple[str, ...]:  # type: ignore[type-arg]
    return tuple(sorted(f.key for f in figures if f.kind == "incident" and f.start is not None
                        and lo <= f.start < hi))


def reliability(store: Store, incident: Incident, cite: Citations) -> Extra:
    from kb.analysis import dataset
    from kb.analysis.periods import parse_period
    from kb.analysis.reliability import group_figures
    from kb.analysis.report import uptime_text

    title = "Recent reliability of the provider"
    start = incident.first_posted
    if start is None:
        return Extra("reliability", title, True, "the incident has no time to measure from")
    data = dataset.load(store, [incident.provider], with_causes=False, keep_incidents=False)
    figures = data.figures.get(incident.provider, [])
    period = parse_period("90d", end=start)[0]
    group = group_figures(figures, data.coverages.get(incident.provider), period,
                          provider=incident.provider)
    keys = _period_keys(figures, period.start, period.end)
    if group.status == "unknown" or not keys:
        return Extra("reliability", title, True,
                     "the knowledge base holds no data for the days before this incident")
    label = cite.external(
        "k", f"Computed from {len(keys)} stored incidents: `kb metrics --provider "
        f"{incident.provider} --period 90d --end {start:%Y-%m-%dT%H:%M}`", url=None, at=start,
        refs=keys, kind=CitationKind.DERIVED)
    severities = ", ".join(f"{n} {s}" for s, n in sorted(group.by_severity.items()) if n)
    facts = [Fact(f"In the 90 days before this incident the knowledge base holds "
                  f"{group.incidents} incidents of {incident.provider} ({severities}); "
                  f"coverage {round(group.coverage * 100)}% of the period.", (label,))]
    if group.resolve.median is not None:
        facts.append(Fact(f"Median time from first post to resolved: "
                          f"{round(group.resolve.median)} min (90th percentile "
                          f"{round(group.resolve.p90 or 0)} min).", (label,)))
    facts.append(Fact(f"Uptime recomputed from impact windows: {uptime_text(group)} "
                      f"({group.status} coverage).", (label,)))
    return Extra("reliability", title, True, "from kb.analysis", tuple(facts))


def fallback(store: Store, incident: Incident, cite: Citations) -> Extra:
    from kb.analysis import dataset
    from kb.analysis.compare import compare
    from kb.analysis.periods import parse_period
    from kb.analysis.report import pair_text

    title = "Fallback provider overlap"
    start = incident.first_posted
    data = dataset.load(store, None, with_causes=False, keep_incidents=False)
    others = sorted(p for p in data.figures if p != incident.provider)
    if start is None or not others:
        return Extra("fallback", title, False,
                     "not available yet (no other provider in the knowledge base)")
    period = parse_period("365d", end=start)[0]
    result = compare([incident.provider, *others], data.figures, data.coverages, {}, period)
    found = []
    for pair in result.pairs:
        if incident.provider not in (pair.a, pair.b) or pair.both_down_hours is None:
            continue
        other = pair.b if pair.a == incident.provider else pair.a
        keys = tuple(sorted({k for e in pair.episodes for k in (*e.a_keys, *e.b_keys)}))
        keys = keys or _period_keys(data.figures.get(incident.provider, []), period.start,
                                    period.end)
        if not keys:
            continue
        label = cite.external(
            "k", "Computed from stored incidents: `" + (command_line(
                "kb", "compare", incident.provider, other, "--period", "365d", "--end",
                f"{start:%Y-%m-%dT%H:%M}") or "kb compare") + "`", url=None, at=start, refs=keys,
            kind=CitationKind.DERIVED)
        # the hours one side's state is unknown count against a fallback, never for it
        found.append((pair.both_down_hours + (pair.both_unknown_hours or 0), other, Fact(
            f"{other}: {pair_text(pair)}, in the 365 days before this incident.", (label,))))
    facts = [fact for _hours, _other, fact in sorted(found)[:3]]  # least shared downtime
    if not facts:
        return Extra("fallback", title, False, "not available yet (no provider is covered "
                     "over the same period)")
    return Extra("fallback", title, True, "from kb compare", tuple(facts))
