"""Signals ↔ incidents: who links where, with which score and why.

For each provider a signal names (kb.signals.match), the first rule that applies decides:

1. url — one of its URLs is the provider's status page for an incident
   (`/incidents/<id>`): linked to that incident whatever the time (score 1). When that
   incident is not stored, the signal is known to be about something else than what we hold,
   and no time rule links it to this provider.
2. late-named — a late signal (postmortem, analysis), or any signal naming an earlier day
   ("The August 17 outage"): linked to the provider's incident first posted that day (±1 day
   for time zones), the most severe and longest one when several are.
3. live / news / late — by time window around the incident, scored by time and similarity:
   - live: from `live_before` before the first post to `live_after` after resolution;
   - news: from `news_before` before the first post to `news_after` after resolution;
   - late without a named day: after resolution up to `late_after`, only when the text reads
     like the incident (similarity ≥ `late_min_similarity`).
   Live and news signals must use outage vocabulary (kb.signals.kinds.OUTAGE).

4. late-only — a late or news item that would otherwise link with less than medium
   confidence (or not at all), names the provider and uses outage vocabulary but no day: the
   provider's only major/critical incident of the `late_after` before it, medium confidence,
   with the reason in the evidence (issue 16's "late write-ups"). When no single such
   incident exists, the signal stays unlinked and `Linker.considered` keeps the incidents of
   that week with why none was linked (`kb signals --unlinked` shows them).

The best incident per (signal, provider) is linked when its score reaches `min_score`.
Thresholds were tuned on the labeled pairs in bench/data/signal_links.jsonl (bench/bench_link.py,
docs/signals.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kb.model import Incident, Kind, Severity, Signal, SignalLink
from kb.signals.config import ProviderTerms, SignalConfig
from kb.signals.kinds import is_outage, named_date
from kb.signals.match import (
    ProviderMatch,
    containment,
    host_of,
    incident_tokens,
    match_providers,
    names_in,
    tokens,
)

_INCIDENT_PATH = re.compile(r"/incidents/([A-Za-z0-9_-]+)")
_SEVERITY = {Severity.CRITICAL: 3, Severity.MAJOR: 2, Severity.MINOR: 1, Severity.NONE: 0}


@dataclass(frozen=True)
class Rules:
    """Windows, weights and thresholds of the linker (see the module docstring)."""

    live_before: timedelta = timedelta(hours=6)
    live_full_before: timedelta = timedelta(minutes=30)
    live_after: timedelta = timedelta(hours=2)
    open_for: timedelta = timedelta(hours=24)  # an unresolved incident counts as open so long
    news_before: timedelta = timedelta(hours=1)
    news_after: timedelta = timedelta(hours=48)
    live_floor: float = 0.4  # time score at the far ends of the live window
    news_floor: float = 0.6  # ... of the news window (articles follow by a day or two)
    late_after: timedelta = timedelta(days=7)
    named_slack: timedelta = timedelta(days=1)
    named_max_age: timedelta = timedelta(days=120)
    late_min_similarity: float = 0.5
    min_score: float = 0.5
    high: float = 0.8
    medium: float = 0.6
    time_weight: float = 0.7
    component_bonus: float = 0.1
    late_only_score: float = 0.65  # medium: the only major incident, not words, says which


@dataclass
class _Candidate:
    incident: Incident
    score: float
    evidence: dict


class Linker:
    """Links signals to the given incidents (maintenance windows are never linked)."""

    def __init__(self, incidents: Sequence[Incident], config: SignalConfig,
                 rules: Rules | None = None) -> None:
        self.rules = rules or Rules()
        self.config = config
        self.by_key = {i.key: i for i in incidents if i.kind is Kind.INCIDENT}
        self.by_provider: dict[str, list[Incident]] = {}
        for incident in self.by_key.values():
            if incident.lifecycle.first_post_at is not None:
                self.by_provider.setdefault(incident.provider, []).append(incident)
        for found in self.by_provider.values():
            found.sort(key=lambda i: i.lifecycle.first_post_at)  # type: ignore[arg-type,return-value]
        self._tokens: dict[str, set[str]] = {}
        self.unknown_named: dict[str, set[str]] = {}  # signal id → providers named elsewhere
        # (signal id, provider) → the incidents a late item was weighed against, each with
        # why it was not linked; kept only while the signal has no link to that provider
        self.considered: dict[tuple[str, str], list[dict]] = {}

    # -- public ------------------------------------------------------------------------

    def link(self, signal: Signal) -> list[SignalLink]:
        """The links of one signal, at most one per provider it names."""
        urls = _urls(signal)
        found = []
        for match in match_providers(signal.title, urls, signal.text, self.config.providers):
            terms = self.config.terms(match.provider)
            if terms is None:
                continue
            by_url = self._by_url(signal, urls, terms)
            if by_url is not None:
                if isinstance(by_url, SignalLink):
                    found.append(by_url)
                continue
            best = self._by_time(signal, match, terms)
            if best is not None and best.score >= self.rules.min_score:
                found.append(self._make(signal, match, best))
                self.considered.pop((signal.id, terms.slug), None)
        return found

    # -- rules -------------------------------------------------------------------------

    def _by_url(self, signal: Signal, urls: list[str],
                terms: ProviderTerms) -> SignalLink | str | None:
        """A link, the id of an incident we do not hold (no link for this provider), or None."""
        for url in urls:
            if host_of(url) not in terms.status_hosts:
                continue
            hit = _INCIDENT_PATH.search(url)
            if hit is None:
                continue
            key = f"{terms.slug}/{hit.group(1)}"
            incident = self.by_key.get(key)
            if incident is None:
                self.unknown_named.setdefault(signal.id, set()).add(terms.slug)
                return hit.group(1)
            evidence = {"alias": host_of(url), "url": url,
                        **_offsets(signal, incident)}
            return SignalLink(signal.id, key, terms.slug, 1.0, "high", "url", evidence)
        return None

    def _by_time(self, signal: Signal, match: ProviderMatch,
                 terms: ProviderTerms) -> _Candidate | None:
        at = signal.created_at
        incidents = self.by_provider.get(terms.slug, [])
        if at is None or not incidents:
            return None
        day = named_date(signal.title, at)
        if day is not None and (signal.kind == "late" or day < at.date()):
            return self._named(signal, day, incidents, terms)
        # A live thread says what it is about in its title; an article may say it in its lead.
        said = signal.title + ("\n" + signal.text[:300] if signal.kind == "news" else "")
        if signal.kind in ("live", "news") and not is_outage(said):
            return None
        words = tokens(signal.title, terms.aliases)
        best: _Candidate | None = None
        for incident in incidents:
            candidate = self._score(signal, incident, words, terms)
            if candidate is None:
                continue
            if best is None or (candidate.score, -abs(candidate.evidence["offset_s"])) > (
                    best.score, -abs(best.evidence["offset_s"])):
                best = candidate
        if signal.kind in ("late", "news") and (best is None or best.score < self.rules.medium):
            only = self._only_major(signal, incidents, words, terms)
            best = only or best
        return best

    def _only_major(self, signal: Signal, incidents: list[Incident], words: set[str],
                    terms: ProviderTerms) -> _Candidate | None:
        """A write-up or article after the fact that names the provider and uses outage
        vocabulary but shares few words with the status page and names no day: linked, with
        medium confidence and the reason, to the provider's one major (or critical) incident
        of the `late_after` before it, when there is exactly one."""
        r = self.rules
        at = signal.created_at
        assert at is not None
        if not is_outage(signal.title + "\n" + signal.text[:300]):
            return None
        recent = [i for i in incidents
                  if i.lifecycle.first_post_at is not None and i.lifecycle.first_post_at <= at
                  and (i.lifecycle.resolved_at or i.lifecycle.first_post_at) >= at - r.late_after]
        major = [i for i in recent if _SEVERITY[i.severity] >= _SEVERITY[Severity.MAJOR]]
        if len(major) != 1:
            self.considered[(signal.id, terms.slug)] = _considered(
                terms.slug, recent, major, r.late_after.days)
            return None
        (incident,) = major
        similarity = containment(words, self._incident_words(incident, terms))
        days = r.late_after.days
        evidence = {"window": "late-only", "similarity": round(similarity, 3),
                    "why": f"the only major {terms.slug} incident in the {days} days before it "
                           f"({len(recent)} incidents in all); few words in common",
                    **_offsets(signal, incident)}
        return _Candidate(incident, r.late_only_score, evidence)

    def _score(self, signal: Signal, incident: Incident, words: set[str],
               terms: ProviderTerms) -> _Candidate | None:
        r = self.rules
        at = signal.created_at
        first = incident.lifecycle.first_post_at
        assert at is not None and first is not None
        end = incident.lifecycle.resolved_at or first + r.open_for
        if signal.kind == "live":
            time_score = _ramp(at, first, end, r.live_full_before, r.live_before, r.live_after,
                               floor=r.live_floor)
        elif signal.kind == "news":
            time_score = _ramp(at, first, end, r.news_before, r.news_before, r.news_after,
                               floor=r.news_floor)
        else:  # late, no named day: only after the fact, and only when it reads alike
            time_score = 1.0 if end <= at <= end + r.late_after or first <= at <= end else None
        if time_score is None:
            return None
        similarity = containment(words, self._incident_words(incident, terms))
        if signal.kind == "late" and similarity < r.late_min_similarity:
            return None
        components = names_in(signal.title, [c.name for c in incident.components])
        score = r.time_weight * time_score + (1 - r.time_weight) * similarity
        if components:
            score += r.component_bonus
        evidence = {"window": signal.kind, "time_score": round(time_score, 3),
                    "similarity": round(similarity, 3), **_offsets(signal, incident)}
        if components:
            evidence["components"] = components
        evidence["why"] = _why_in_time(signal.kind, evidence["offset_s"], similarity, components)
        return _Candidate(incident, min(1.0, score), evidence)

    def _named(self, signal: Signal, day, incidents: list[Incident],  # type: ignore[no-untyped-def]
               terms: ProviderTerms) -> _Candidate | None:
        r = self.rules
        at = signal.created_at
        assert at is not None
        if at.date() - day > r.named_max_age:
            return None
        words = tokens(signal.title, terms.aliases)
        ranked = []
        for incident in incidents:
            first = incident.lifecycle.first_post_at
            assert first is not None
            gap = abs(first.date() - day)
            if gap > r.named_slack or first > at:
                continue
            end = incident.lifecycle.resolved_at or first
            similarity = containment(words, self._incident_words(incident, terms))
            ranked.append(((gap == timedelta(0), _SEVERITY[incident.severity],
                            end - first, similarity), incident, similarity, gap))
        if not ranked:
            return None
        ranked.sort(key=lambda item: item[0], reverse=True)
        _, incident, similarity, gap = ranked[0]
        score = 0.7 + (0.2 if gap == timedelta(0) else 0.0) + 0.1 * similarity
        evidence = {"window": "late-named", "named_day": day.isoformat(),
                    "same_day_incidents": sum(1 for item in ranked if item[3] == gap),
                    "similarity": round(similarity, 3), **_offsets(signal, incident)}
        return _Candidate(incident, min(1.0, score), evidence)

    # -- helpers -----------------------------------------------------------------------

    def _incident_words(self, incident: Incident, terms: ProviderTerms) -> set[str]:
        if incident.key not in self._tokens:
            self._tokens[incident.key] = incident_tokens(incident, terms.aliases)
        return self._tokens[incident.key]

    def _make(self, signal: Signal, match: ProviderMatch, best: _Candidate) -> SignalLink:
        r = self.rules
        confidence = "high" if best.score >= r.high else "medium" if best.score >= r.medium \
            else "low"
        rule = best.evidence["window"]
        evidence = {"alias": match.alias, "alias_in": match.where, **best.evidence}
        return SignalLink(signal.id, best.incident.key, match.provider, round(best.score, 3),
                          confidence, rule, evidence)


def _why_in_time(kind: str, offset_s: int, similarity: float, components: list[str]) -> str:
    """One line on a time-window link: when the item came, and what it shares."""
    hours = offset_s / 3600
    when = (f"{abs(hours):.0f} h before the first post" if hours < 0
            else f"{hours:.0f} h after the first post")
    shared = (f"names its component {components[0]!r}" if components
              else f"{similarity:.0%} of its title words are in the incident's text")
    return f"a {kind} item {when}; {shared}"


def _urls(signal: Signal) -> list[str]:
    found = [signal.url, signal.discussion_url]
    for source in signal.sources:
        found += [source.url, source.discussion_url]
    return list(dict.fromkeys(u for u in found if u))


def _offsets(signal: Signal, incident: Incident) -> dict:
    """Seconds from the incident's first post to the signal (negative: the signal came first)."""
    first = incident.lifecycle.first_post_at
    if signal.created_at is None or first is None:
        return {"offset_s": 0}
    return {"offset_s": int((signal.created_at - first).total_seconds())}


def _ramp(at: datetime, first: datetime, end: datetime, full_before: timedelta,
          before: timedelta, after: timedelta, *, floor: float) -> float | None:
    """1 from `full_before` before the first post to the end; falling linearly to `floor`
    at `before` before the first post and at `after` after the end; None outside."""
    if first - full_before <= at <= max(end, first):
        return 1.0
    if at < first - full_before:
        early = first - full_before - at
        span = before - full_before
        if early > span:
            return None
        return 1.0 - (1.0 - floor) * (early / span if span else 1.0)
    late = at - max(end, first)
    if late > after:
        return None
    return 1.0 - (1.0 - floor) * (late / after)


def _considered(provider: str, recent: list[Incident], major: list[Incident],
                days: int) -> list[dict]:
    """The incidents a late item was weighed against, each with why it was not linked."""
    if not recent:
        return [{"provider": provider,
                 "why": f"no {provider} incident in the {days} days before it"}]
    out = []
    for incident in recent:
        if incident in major:
            why = (f"one of {len(major)} major or critical {provider} incidents in the {days} "
                   "days before it, and too few words in common to say which")
        else:
            why = (f"{incident.severity.value} impact: only a major or critical incident is "
                   "linked without words in common"
                   + ("" if major else f" (no major {provider} incident in the {days} days)"))
        out.append({"incident_key": incident.key, "title": incident.title,
                    "severity": incident.severity.value, "why": why})
    return out
