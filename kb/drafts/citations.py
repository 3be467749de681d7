"""Footnote citations for postmortem drafts: every factual sentence names its source.

A draft is made of `Fact`s: one sentence of text plus the labels of the sources it rests on.
Labels are stable and readable, so two templates of one incident cite alike:

| label   | source                                                                     |
|---------|----------------------------------------------------------------------------|
| `page`  | the incident page (title, components, severity), held in stored payloads   |
| `u3`    | the 3rd status-page update of the timeline (incident URL + its time)       |
| `p1`    | a stored raw payload (URL + sha256), for what no single update says        |
| `s1`    | a community signal (a thread or article), once kb/signals exists            |
| `k1`    | a figure the knowledge base computed from stored incidents (named keys)    |

Every citation carries what makes it checkable: `resolve()` confirms each one against the
store (and the raw archive when given), and `uncited_sentences()` is the test that fails when
a sentence with a time or a number has no footnote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from kb.model import Incident, SourcedRecord, SourceRef, Update
from scrapers import registry

__all__ = [
    "MARKER",
    "Citation",
    "CitationKind",
    "Citations",
    "Fact",
    "resolve",
    "uncited_sentences",
]

MARKER = re.compile(r"\[\^([A-Za-z][\w-]*)\]")
_MARKER_RUN = r"(?:\[\^[A-Za-z][\w-]*\])+"


class CitationKind(StrEnum):
    PAGE = "page"
    UPDATE = "update"
    PAYLOAD = "payload"
    SIGNAL = "signal"
    DERIVED = "derived"
    POSTMORTEM = "postmortem"  # a published write-up linked to the incident (kb.postmortems)


@dataclass(frozen=True, slots=True)
class Citation:
    """One footnote. `payloads` are the stored raw payloads (url, sha256) that hold it."""

    label: str
    kind: CitationKind
    text: str  # what the footnote says, e.g. "Status page update, 2023-09-19 20:57:46 UTC"
    url: str | None = None  # where a reader goes: the incident page, the thread, ...
    at: datetime | None = None
    payloads: tuple[SourceRef, ...] = ()
    refs: tuple[str, ...] = ()  # signal ids or incident keys a derived figure rests on


@dataclass(frozen=True, slots=True)
class Fact:
    """One sentence of a draft and the labels of the sources it rests on (none: no claim)."""

    text: str
    cites: tuple[str, ...] = ()
    quote: bool = False  # `text` is the provider's own words, rendered in quotation marks
    lead: str = ""  # our words before a quotation ("Stated cause:"), never third-party text

    def __post_init__(self) -> None:
        object.__setattr__(self, "cites", tuple(dict.fromkeys(self.cites)))  # each label once


def when(value: datetime | None, *, seconds: bool = False) -> str:
    """2023-09-19 20:57 UTC (the one time format of drafts)."""
    if value is None:
        return "unknown time"
    spec = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return value.astimezone(UTC).strftime(spec)


def _channel_formats() -> dict[str, str]:
    """Record channel → the format name stored with payloads (statuspage_json → statuspage)."""
    return {getattr(m, "CHANNEL", m.NAME): m.NAME for m in registry.FORMATS}


@dataclass
class Citations:
    """The footnotes one draft uses, created on first use, listed in a stable order."""

    incident: Incident
    current: Sequence[SourcedRecord] = ()  # the store's current record of each channel
    used: dict[str, Citation] = field(default_factory=dict)

    def _add(self, citation: Citation) -> str:
        self.used.setdefault(citation.label, citation)
        return citation.label

    def _payloads_of(self, channels: Iterable[str]) -> tuple[SourceRef, ...]:
        """The stored payloads of these channels: the current record's payload when known
        (it holds exactly what the timeline shows), else every stored payload of that format."""
        by_channel = {r.record.channel: r.source for r in self.current}
        formats = _channel_formats()
        found: dict[str, SourceRef] = {}
        for channel in channels:
            if channel in by_channel:
                found[by_channel[channel].sha256] = by_channel[channel]
                continue
            fmt = formats.get(channel, channel)
            for ref in self.incident.sources:
                if ref.format == fmt:
                    found[ref.sha256] = ref
        return tuple(sorted(found.values(), key=lambda r: (r.fetched_at, r.url, r.sha256)))

    def page(self) -> str:
        """The incident page itself: title, components and severity come from its payloads."""
        channels = [r.record.channel for r in self.current]
        payloads = self._payloads_of(channels) if channels else tuple(self.incident.sources)
        return self._add(Citation(
            "page", CitationKind.PAGE, f"Incident page “{self.incident.title}”",
            url=self.incident.url, payloads=payloads, refs=(self.incident.key,),
        ))

    def update(self, index: int) -> str:
        """The update at `index` (0-based) of the incident's timeline."""
        update: Update = self.incident.updates[index]
        label = f"u{index + 1}"
        what = "" if update.label.strip().lower() in ("update", "") else f" “{update.label}”"
        return self._add(Citation(
            label, CitationKind.UPDATE,
            f"Status page update{what}, {when(update.at, seconds=update.at.second != 0)}",
            url=self.incident.url, at=update.at, payloads=self._payloads_of(update.channels),
            refs=(self.incident.key,),
        ))

    def payload(self, ref: SourceRef) -> str:
        """A stored raw payload, for facts no single update states (vendor fields)."""
        for citation in self.used.values():
            if citation.kind is CitationKind.PAYLOAD and citation.payloads == (ref,):
                return citation.label
        count = sum(c.kind is CitationKind.PAYLOAD for c in self.used.values())
        return self._add(Citation(
            f"p{count + 1}", CitationKind.PAYLOAD, f"Stored payload ({ref.format})", url=ref.url,
            at=ref.fetched_at, payloads=(ref,), refs=(self.incident.key,),
        ))

    def external(self, prefix: str, text: str, *, url: str | None, at: datetime | None,
                 refs: tuple[str, ...], kind: CitationKind) -> str:
        """A signal (`s`) or a computed figure (`k`); the same refs give the same label."""
        for citation in self.used.values():
            if citation.kind is kind and citation.refs == refs and citation.text == text:
                return citation.label
        count = sum(c.kind is kind for c in self.used.values())
        return self._add(Citation(f"{prefix}{count + 1}", kind, text, url=url, at=at, refs=refs))

    def ordered(self) -> list[Citation]:
        """Page first, then updates in timeline order, payloads, signals, computed figures."""
        rank = {CitationKind.PAGE: 0, CitationKind.UPDATE: 1, CitationKind.PAYLOAD: 2,
                CitationKind.SIGNAL: 3, CitationKind.POSTMORTEM: 3, CitationKind.DERIVED: 4}

        def key(c: Citation) -> tuple[int, int, str]:
            digits = re.sub(r"\D", "", c.label)
            return rank[c.kind], int(digits) if digits else 0, c.label

        return sorted(self.used.values(), key=key)


# -- checks ---------------------------------------------------------------------------------


class _Archive(Protocol):
    def __contains__(self, sha256: object) -> bool: ...


class _Signals(Protocol):
    def __call__(self, refs: tuple[str, ...]) -> bool: ...


def resolve(
    citations: Sequence[Citation],
    incident: Incident,
    stored_sources: Sequence[SourceRef],
    *,
    archive: _Archive | None = None,
    known_incidents: set[str] | None = None,
    signal_exists: _Signals | None = None,
    postmortem_exists: _Signals | None = None,
) -> list[str]:
    """Problems, one line each, for citations that do not resolve to a stored source.

    An update must exist in the stored timeline at its time and be held by a stored payload
    of this incident; a payload must be one of the incident's stored sources (and, given an
    archive, its bytes must be there); a computed figure must name stored incidents; a signal
    must be known to the signal store."""
    problems: list[str] = []
    stored = {(s.sha256, s.url) for s in stored_sources}
    times = {u.at for u in incident.updates}
    for c in citations:
        if c.kind in (CitationKind.PAGE, CitationKind.UPDATE, CitationKind.PAYLOAD):
            if not c.payloads:
                problems.append(f"[^{c.label}]: no stored payload holds it")
            for ref in c.payloads:
                if (ref.sha256, ref.url) not in stored:
                    problems.append(f"[^{c.label}]: payload {ref.sha256[:12]} is not stored")
                elif archive is not None and ref.sha256 not in archive:
                    problems.append(f"[^{c.label}]: payload {ref.sha256[:12]} not in raw archive")
            if c.kind is CitationKind.UPDATE and c.at not in times:
                problems.append(f"[^{c.label}]: no update at {when(c.at, seconds=True)}")
        elif c.kind is CitationKind.DERIVED:
            known = known_incidents if known_incidents is not None else set(c.refs)
            missing = [k for k in c.refs if k not in known]
            if not c.refs or missing:
                problems.append(f"[^{c.label}]: computed from unknown incidents {missing}")
        elif c.kind is CitationKind.SIGNAL and (signal_exists is None or not signal_exists(c.refs)):
            problems.append(f"[^{c.label}]: signal {', '.join(c.refs)} is not stored")
        elif c.kind is CitationKind.POSTMORTEM and (postmortem_exists is None
                                                    or not postmortem_exists(c.refs)):
            problems.append(f"[^{c.label}]: postmortem {', '.join(c.refs)} is not stored")
    return problems


_ABBREV = re.compile(
    r"(?:\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|approx|e\.g|i\.e|vs|etc|[ap]\.m|"
    r"No|Mr|Ms|Dr|St)|\b[A-Z])$"
)
# A sentence ends at . ! ? (after closing quotes and its footnotes) before a capital or a
# digit, as kb.normalize.impact splits the provider's text, so a quoted sentence stays whole.
_END = re.compile(rf"[.!?][”\"')\]*_]*(?:{_MARKER_RUN})?(?=\s+[\"“'(\[*_\\]*[A-Z0-9])")
_DIGIT = re.compile(r"\d")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_REAL_MARKER = re.compile(r"(?<!\\)\[\^[A-Za-z][\w-]*\]")  # an escaped \[ is quoted text
_SKIP_LINE = re.compile(r"^\s*(?:#|\[\^[\w-]+\]:|```|<!--|\|?\s*:?-{3,})")


def _inside_quote_or_link(line: str, pos: int) -> bool:
    """True when `pos` falls inside “a quotation” or [link text]: those are cited as a whole
    (a title or a quoted sentence may contain a full stop of its own)."""
    head = re.sub(r"\\.", "", line[:pos])  # escaped characters are text, not structure
    return head.count("“") > head.count("”") or head.count("[") > head.count("]")


def _line_units(line: str) -> list[str]:
    """A table row is one unit (its citation cell covers it); other lines are sentences."""
    if line.lstrip().startswith("|"):
        return [line]
    units, start = [], 0
    for m in _END.finditer(line):
        if _ABBREV.search(line[start : m.start()]) or _inside_quote_or_link(line, m.start()):
            continue  # "Oct. 6", "approx. 5", a quoted title: not the end of a sentence
        units.append(line[start : m.end()])
        start = m.end()
    units.append(line[start:])
    return [u for u in (u.strip() for u in units) if u]


def uncited_sentences(markdown: str) -> list[str]:
    """Sentences (and table rows) of a Markdown draft that contain a digit but no footnote.

    Headings, footnote definitions, code and list numbers are not claims and are skipped;
    an escaped `\\[^x]` in quoted text is not a footnote."""
    found: list[str] = []
    in_code = False
    for raw in markdown.splitlines():
        if raw.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code or _SKIP_LINE.match(raw):
            continue
        line = _LIST_MARK.sub("", raw)
        for unit in _line_units(line):
            if _DIGIT.search(_REAL_MARKER.sub("", unit)) and not _REAL_MARKER.search(unit):
                found.append(re.sub(r"\\([^\w\s])", r"\1", unit))
    return found
