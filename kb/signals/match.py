"""Which providers a signal names, and how alike a signal and an incident read.

Provider evidence, strongest first:
- a status-page host in one of its URLs (githubstatus.com, status.claude.com);
- a name or product in its title, matched as whole words, case-insensitively ("Claude Code",
  "ChatGPT"; "GitHub" also inside "GitHub's");
- one of the provider's own domains in its URL, or a name in its text — weak evidence, used only
  when the title names no provider at all (a github.com link is mostly not about GitHub).

Similarity is token containment: the share of the signal title's content words (provider
names, stop words and generic outage words removed) found in the incident's title, component
names and updates.
Short titles against long incident texts make containment the right measure (Jaccard would
punish every incident for having many updates).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from kb.model import Incident
from kb.signals.config import ProviderTerms

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_STOP_WORDS_TEXT = """
a an and are as at be been being but by can could did do does for from had has have how i if
in into is it its it's just me my no not now of on or our out so some than that the their them
then there these they this to too up us was we were what when where which while who why will
with you your again today still seems seem anyone else here all any more most other across
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


# Outage vocabulary shared by nearly every incident: it says nothing about *which* one.
_GENERIC_TEXT = """
incident outage availability available unavailable degraded degradation error issue update
down service elevated disruption performance problem report investigating resolved
experiencing partial major minor some having again working status rate
"""
GENERIC_WORDS = frozenset(_GENERIC_TEXT.split())


@dataclass(frozen=True)
class ProviderMatch:
    """One provider a signal names, and the evidence."""

    provider: str
    alias: str  # the name, product or host that matched
    where: str  # "url-status" | "title" | "url" | "text"
    strong: bool


@lru_cache(maxsize=4096)
def _pattern(alias: str) -> re.Pattern[str]:
    # Word boundaries that also hold for aliases with dots ("Claude.ai") and a trailing "'s".
    return re.compile(rf"(?<![\w.]){re.escape(alias.lower())}(?![\w])")


def names_in(text: str, aliases: Iterable[str]) -> list[str]:
    """The aliases present in `text` as whole words, longest first."""
    lowered = text.lower()
    return [a for a in sorted(aliases, key=len, reverse=True) if _pattern(a).search(lowered)]


def host_of(url: str | None) -> str:
    try:
        host = urlsplit(url or "").netloc.lower()
    except ValueError:
        return ""
    return host.split("@")[-1].split(":")[0].removeprefix("www.")


def _host_matches(host: str, domains: Iterable[str]) -> str | None:
    for domain in domains:
        if host == domain or host.endswith("." + domain):
            return domain
    return None


def match_providers(title: str, urls: Sequence[str | None], text: str,
                    providers: Sequence[ProviderTerms]) -> list[ProviderMatch]:
    """Every provider the signal names, with the strongest evidence for each."""
    found: dict[str, ProviderMatch] = {}
    hosts = [host_of(u) for u in urls if u]
    for terms in providers:
        for host in hosts:
            hit = _host_matches(host, terms.status_hosts)
            if hit:
                found[terms.slug] = ProviderMatch(terms.slug, hit, "url-status", True)
                break
        if terms.slug in found:
            continue
        named = names_in(title, terms.aliases)
        if named:
            found[terms.slug] = ProviderMatch(terms.slug, named[0], "title", True)
    if found:
        return sorted(found.values(), key=lambda m: m.provider)
    for terms in providers:  # weak evidence, only when nothing strong was found
        for host in hosts:
            hit = _host_matches(host, terms.domains)
            if hit:
                found[terms.slug] = ProviderMatch(terms.slug, hit, "url", False)
                break
        if terms.slug not in found and text:
            named = names_in(text[:2000], terms.names)
            if named:
                found[terms.slug] = ProviderMatch(terms.slug, named[0], "text", False)
    return sorted(found.values(), key=lambda m: m.provider)


def tokens(text: str, drop: Iterable[str] = ()) -> set[str]:
    """Content words of `text`: lower-case; stop words, generic outage words and the `drop`
    words removed; a plural 's' is folded so "errors" meets "error"."""
    dropped = {w for phrase in drop for w in _WORD.findall(phrase.lower())}
    out = set()
    for word in _WORD.findall(text.lower()):
        word = word.removesuffix("'s")
        if word in STOP_WORDS or word in dropped or len(word) < 2:
            continue
        word = word[:-1] if len(word) > 4 and word.endswith("s") else word
        if word not in GENERIC_WORDS:
            out.add(word)
    return out


def incident_tokens(incident: Incident, drop: Iterable[str] = ()) -> set[str]:
    """Content words of an incident: title, component names and every update's text."""
    parts = [incident.title, *(c.name for c in incident.components),
             *(u.text for u in incident.updates)]
    return tokens(" ".join(parts), drop)


def containment(signal_words: set[str], incident_words: set[str]) -> float:
    """Share of the signal's words that the incident also uses (0 when it has none)."""
    if not signal_words:
        return 0.0
    return len(signal_words & incident_words) / len(signal_words)
