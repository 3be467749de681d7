"""Customer-side mitigations suited to what the provider said went wrong.

Each rule fires on words of the incident's own text (title, updates) or on a cause tag, and
carries the sentence that made it fire, cited. Suggestions are phrased as suggestions and
contain no figure; the only numbers are cited facts: the measured first-post lag, and a
fallback provider's measured outage overlap when kb.analysis provides one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kb.drafts.citations import Citations, Fact
from kb.drafts.draft import Extra, Figures, Suggestion
from kb.model import Incident
from kb.normalize.impact import sentences

__all__ = ["suggest"]


@dataclass(frozen=True)
class _Rule:
    name: str
    title: str
    cue: re.Pattern[str]
    text: str  # {provider} is filled in
    tags: frozenset[str] = frozenset()  # cause tags (kb.analysis) that also make it fire


def _cue(words: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{words})\b", re.I)


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "retries", "Retries with backoff and jitter",
        _cue(r"errors?|error rates?|failed requests?|failures?|5\d\d|unavailable|timeouts?|"
             r"timed out|intermittent"),
        "Consider retrying idempotent calls to {provider} with exponential backoff, full jitter "
        "and a small attempt budget, so brief errors are absorbed without your clients adding "
        "a retry storm to the provider's trouble.",
        frozenset({"capacity", "network", "dependency"}),
    ),
    _Rule(
        "circuit_breaker", "Circuit breaker",
        _cue(r"outage|unavailable|elevated errors|error rates?|degraded availability|down"),
        "Consider a circuit breaker around {provider}: fail fast (or degrade a feature) while "
        "its error rate is high, and let a few probe requests through before sending full "
        "traffic again.",
        frozenset({"capacity", "dependency", "network"}),
    ),
    _Rule(
        "timeouts", "Client timeouts",
        _cue(r"latency|slow(?:ness)?|degraded performance|delays?|delayed|timeouts?|timed out"),
        "Consider explicit client timeouts on calls to {provider}, set from your own users' "
        "patience, so slow answers fail fast instead of holding threads and connections.",
    ),
    _Rule(
        "cache", "Cached responses",
        _cue(r"loading|viewing|unable to (?:load|view|access|fetch)|downloads?|read"),
        "Consider serving cached or stale responses for reads that depend on {provider} while "
        "it fails, marked as possibly out of date.",
    ),
    _Rule(
        "auth_cache", "Sessions and tokens that outlive an auth outage",
        _cue(r"log(?:ging)? ?in|sign(?:ing)?[- ]in|authenticat\w*|tokens?|SSO|SAML|OIDC|OAuth|"
             r"credentials?"),
        "Consider keeping tokens and sessions issued by {provider} for their full validity and "
        "refreshing them early, so a login or token outage does not sign your users out.",
        frozenset({"auth"}),
    ),
    _Rule(
        "rate_limits", "Respect rate limits and shed load",
        _cue(r"rate[- ]limit\w*|429|capacity|overload\w*|saturat\w*|traffic|throttl\w*"),
        "Consider honouring Too Many Requests answers and Retry-After from {provider}, "
        "queueing non-urgent work and shedding load on your side rather than retrying at once.",
        frozenset({"capacity", "rate-limiting"}),
    ),
    _Rule(
        "async", "Idempotent consumers and reconciliation",
        _cue(r"webhooks?|queued?|backlog|lag|delivery|deliveries|jobs?|workflows?|processing"),
        "Consider making consumers of {provider}'s webhooks and jobs idempotent and "
        "reconciling by polling after an outage, since deliveries can arrive late, twice or "
        "not at all.",
    ),
)


def _evidence(incident: Incident, cite: Citations, cue: re.Pattern[str]) -> Fact | None:
    """The first sentence of the incident that matches `cue`, cited (title: the page)."""
    if cue.search(incident.title):
        return Fact(incident.title, (cite.page(),), quote=True)
    for index, update in enumerate(incident.updates):
        for sentence in sentences(update.text):
            if cue.search(sentence) and len(sentence) <= 300:
                return Fact(sentence, (cite.update(index),), quote=True)
    return None


def suggest(
    incident: Incident,
    provider: str,
    cite: Citations,
    figures: Figures,
    *,
    first_post: Sequence[str],
    tags: Sequence[str] = (),
    fallback: Extra | None = None,
    alert_feed: tuple[str, str] | None = None,
) -> tuple[Suggestion, ...]:
    """Mitigations suited to this incident (`provider`: its display name). `first_post`
    cites the first-post lag figure; `tags` are cause tags when kb.analysis has them;
    `fallback` its measured overlap; `alert_feed` is (feed URL, citation label) of a
    stored status feed."""
    found: list[Suggestion] = []
    for rule in _RULES:
        fact = _evidence(incident, cite, rule.cue)
        tagged = sorted(rule.tags & {t.lower() for t in tags})
        if fact is None and not tagged:
            continue
        why = (fact,) if fact else ()
        found.append(Suggestion(rule.name, rule.title, rule.text.format(provider=provider), why))
    found.append(_fallback(provider, fallback))
    found.append(_alerts(provider, figures, first_post, alert_feed))
    return tuple(found)


def _fallback(provider: str, extra: Extra | None) -> Suggestion:
    text = ("Consider a fallback provider for the calls that matter most, switched by the "
            "circuit breaker; it only helps if it does not fail at the same time as "
            f"{provider}.")
    if extra is not None and extra.available and extra.facts:
        return Suggestion("fallback", "Fallback provider", text, extra.facts)
    note = extra.note if extra is not None else "provider comparison: not available yet"
    return Suggestion("fallback", "Fallback provider",
                      text + f" Measured overlap of outages: {note}.")


def _alerts(
    provider: str, figures: Figures, first_post: Sequence[str],
    feed: tuple[str, str] | None,
) -> Suggestion:
    text = (f"Consider subscribing to {provider}'s status page (email, webhook, or its "
            "Atom/RSS feed) and routing it to your on-call channel, alongside your own "
            "synthetic checks of the calls you depend on.")
    why: list[Fact] = []
    if feed is not None:
        why.append(Fact(f"This draft was built from the provider's status feed, {feed[0]} .",
                        (feed[1],)))
    lag = figures.first_post_lag_minutes
    if lag is not None and lag > 0 and first_post:
        why.append(Fact(
            f"Here the first public post came {lag} min after the stated impact start, so "
            "alerts driven by the status page alone would have been that late.",
            tuple(first_post),
        ))
    return Suggestion("alerts", "Status-page alerts and webhooks", text, tuple(why))
