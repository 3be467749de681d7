"""The typed draft context: everything a postmortem template may print, already cited.

A `Draft` is plain data (frozen dataclasses), built by `kb.drafts.postmortem.build_draft`,
rendered by `kb.drafts.render`, serialised by `draft_to_dict` (the `--format json` contract,
schema `outage-kb/postmortem-draft@1`). Every sentence is a `Fact` whose `cites` name entries
of `citations`; an empty section means the public record does not say, and templates print
a "Not disclosed by the provider" slot there instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.drafts.citations import Citation, Fact
from kb.serialize import stamp

__all__ = ["NOT_DISCLOSED", "SCHEMA", "Draft", "Extra", "Figures", "Lessons", "Suggestion",
           "TimelineRow", "draft_to_dict"]

SCHEMA = "outage-kb/postmortem-draft@1"
NOT_DISCLOSED = "Not disclosed by the provider"


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One line of the official timeline (UTC), or an event stated in prose (impact start)."""

    at: datetime
    event: str  # "Investigating", "Impact starts (stated)", ...
    text: str  # the provider's words, shortened
    cites: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A customer-side mitigation, phrased as a suggestion; `why` are the cited facts that
    make it fit this incident (a measured figure only where one was measured)."""

    name: str  # retries, circuit_breaker, cache, auth_cache, rate_limits, async, fallback, alerts
    title: str
    text: str
    why: tuple[Fact, ...] = ()


@dataclass(frozen=True, slots=True)
class Extra:
    """A section fed by another feature (signals, similar incidents, cause tags, metrics).
    `available` False means the feature or its data is not there yet; `note` says which."""

    name: str
    title: str
    available: bool
    note: str
    facts: tuple[Fact, ...] = ()


@dataclass(frozen=True, slots=True)
class Lessons:
    """Facts that prompt the author's lessons; the judgement itself is the author's."""

    went_well: tuple[Fact, ...] = ()
    went_wrong: tuple[Fact, ...] = ()
    lucky: tuple[Fact, ...] = ()


@dataclass(frozen=True, slots=True)
class Figures:
    """The computed minutes, rounded down to whole minutes of the times as displayed."""

    impact_minutes: int | None = None  # stated impact window
    lifecycle_minutes: int | None = None  # first post → resolved
    first_post_lag_minutes: int | None = None  # stated impact start → first post (negative: before)
    resolve_lag_minutes: int | None = None  # stated impact end → resolved
    time_to_identified_minutes: int | None = None  # first post → identified
    updates: int = 0
    longest_silence_minutes: int | None = None


@dataclass(frozen=True)
class Draft:
    """One incident's postmortem draft context. Sections are tuples of cited `Fact`s."""

    key: str
    provider: str
    provider_name: str
    title: str
    url: str | None
    kind: str
    severity: str
    status: str
    summary: tuple[Fact, ...]
    impact: tuple[Fact, ...]
    symptoms: tuple[Fact, ...]
    components: tuple[Fact, ...]
    causes: tuple[Fact, ...]
    trigger: tuple[Fact, ...]
    resolution: tuple[Fact, ...]
    detection: tuple[Fact, ...]
    communication: tuple[Fact, ...]
    provider_actions: tuple[Fact, ...]
    follow_ups: tuple[Fact, ...]
    timeline: tuple[TimelineRow, ...]
    mitigations: tuple[Suggestion, ...]
    lessons: Lessons
    extras: dict[str, Extra]
    missing: tuple[str, ...]  # what the public record does not say, one phrase each
    figures: Figures
    citations: tuple[Citation, ...]
    data_as_of: datetime | None  # newest stored payload this draft was made from
    polished: dict[str, str] = field(default_factory=dict)  # section → verified rewrite
    polish_note: str | None = None

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(c.label for c in self.citations)


def _facts(facts: tuple[Fact, ...]) -> list[dict[str, Any]]:
    return [{"lead": f.lead, "text": f.text, "cites": list(f.cites), "quote": f.quote}
            for f in facts]


def draft_to_dict(draft: Draft) -> dict[str, Any]:
    """The JSON form of a draft (stable key order; times ISO-8601 UTC with Z)."""
    return {
        "schema": SCHEMA,
        "key": draft.key,
        "provider": draft.provider,
        "provider_name": draft.provider_name,
        "title": draft.title,
        "url": draft.url,
        "kind": draft.kind,
        "severity": draft.severity,
        "status": draft.status,
        "data_as_of": stamp(draft.data_as_of),
        "figures": {name: getattr(draft.figures, name) for name in Figures.__slots__},  # type: ignore[attr-defined]
        "sections": {
            name: _facts(getattr(draft, name))
            for name in ("summary", "impact", "symptoms", "components", "causes", "trigger",
                         "resolution", "detection", "communication", "provider_actions",
                         "follow_ups")
        },
        "lessons": {
            "went_well": _facts(draft.lessons.went_well),
            "went_wrong": _facts(draft.lessons.went_wrong),
            "lucky": _facts(draft.lessons.lucky),
        },
        "timeline": [
            {"at": stamp(r.at), "event": r.event, "text": r.text, "cites": list(r.cites)}
            for r in draft.timeline
        ],
        "mitigations": [
            {"name": s.name, "title": s.title, "text": s.text, "why": _facts(s.why)}
            for s in draft.mitigations
        ],
        "extras": {
            name: {"title": e.title, "available": e.available, "note": e.note,
                   "facts": _facts(e.facts)}
            for name, e in sorted(draft.extras.items())
        },
        "not_disclosed": list(draft.missing),
        "polished": dict(sorted(draft.polished.items())),
        "polish_note": draft.polish_note,
        "citations": [
            {
                "label": c.label, "kind": c.kind.value, "text": c.text, "url": c.url,
                "at": stamp(c.at), "refs": list(c.refs),
                "payloads": [
                    {"url": p.url, "sha256": p.sha256, "format": p.format,
                     "fetched_at": stamp(p.fetched_at)}
                    for p in c.payloads
                ],
            }
            for c in draft.citations
        ],
    }
