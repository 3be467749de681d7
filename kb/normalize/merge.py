"""Merging what several payloads say about one incident into one timeline.

The same incident arrives as JSON (complete, second precision, real statuses) and in feeds
(minute precision, "Update" labels, newline → <br />), in many snapshots. Rules:
- per channel only the latest snapshot counts (later ones supersede, with a revision kept by
  the store); an incident missing from a newer list is not withdrawn;
- the most authoritative complete record is the base; another record's update joins the base
  update it matches (same minute and same text, or the one same-minute update of a
  compatible phase), and is added only when it is newer than everything the base holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kb.model import SourcedRecord
from kb.normalize.vocabulary import NO_CHANGE, phase_for_label
from scrapers.markup import html_to_text
from scrapers.records import IncidentRecord, UpdateRecord
from scrapers.registry import CHANNEL_PRIORITY

_HTML_HINT = re.compile(r"<\s*(?:p|br|ul|ol|li|strong|b|i|em|a|div|span|small|code|pre)\b", re.I)
_NON_WORD = re.compile(r"\W+")
# What makes tidying a plain body more than .strip(): a line boundary other than "\n" (all
# str.splitlines splits on), or whitespace (str.isspace, as rstrip strips; re's \s is the
# same class) at the end of a line. Most bodies have neither (issue 19: the per-line join
# cost 0.3 s of a 10k import); tests/test_ingest_speed_equivalence.py checks the shortcut.
_UNTIDY = re.compile(r"[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]|[^\S\n]\n")


def priority(channel: str) -> int:
    """The channel's rank (lower is more authoritative), as its format module declares it
    (PRIORITY, collected in scrapers.registry.CHANNEL_PRIORITY)."""
    return CHANNEL_PRIORITY[channel]


def select_current(records: list[SourcedRecord]) -> list[SourcedRecord]:
    """The latest record of each channel, most authoritative channel first."""
    latest: dict[str, SourcedRecord] = {}
    for item in records:
        held = latest.get(item.record.channel)
        if held is None or item.freshness() > held.freshness():
            latest[item.record.channel] = item
    return sorted(latest.values(), key=lambda r: (priority(r.record.channel), r.record.channel))


def plain_text(update: UpdateRecord) -> str:
    """Plain text of an update body: HTML stripped safely, other text whitespace-tidied."""
    body = update.body or ""
    if update.body_format == "html" or _HTML_HINT.search(body):
        return html_to_text(body)
    body = body.strip()
    if _UNTIDY.search(body) is None:
        return body
    return tidy_lines(body)


def tidy_lines(body: str) -> str:
    """Each line right-stripped, joined by "\n" (the general path of plain_text)."""
    return "\n".join(line.rstrip() for line in body.splitlines())


def text_key(text: str) -> str:
    return _NON_WORD.sub("", text.casefold())


@dataclass
class MergedUpdate:
    update: UpdateRecord
    text: str
    channels: set[str] = field(default_factory=set)
    order: int = 0  # position in its source list; lists are newest first, so larger is older

    @property
    def minute(self) -> datetime:
        return self.update.at.replace(second=0, microsecond=0)


def _compatible(a: UpdateRecord, b: UpdateRecord) -> bool:
    la, lb = a.label.strip().lower(), b.label.strip().lower()
    if la in NO_CHANGE or lb in NO_CHANGE:
        return True
    return phase_for_label(la) == phase_for_label(lb)


def _find(merged: list[MergedUpdate], candidate: MergedUpdate) -> MergedUpdate | None:
    near = [
        m
        for m in merged
        if abs(m.minute - candidate.minute) <= timedelta(minutes=1)
    ]
    key = text_key(candidate.text)
    for m in near:
        if text_key(m.text) == key:
            return m
    same_minute = [
        m for m in near if m.minute == candidate.minute and _compatible(m.update, candidate.update)
    ]
    return same_minute[0] if len(same_minute) == 1 else None


def merge_updates(current: list[SourcedRecord]) -> list[MergedUpdate]:
    """One list of updates, oldest first, from the current record of each channel."""
    if not current:
        return []
    base = next((r for r in current if r.record.updates_complete), current[0])
    merged = _wrap(base.record)
    base_last = max((m.update.at for m in merged), default=None)
    for other in current:
        if other is base:
            continue
        for candidate in _wrap(other.record):
            match = _find(merged, candidate)
            if match is not None:
                match.channels |= candidate.channels
            elif base_last is None or candidate.minute > base_last:
                merged.append(candidate)
            # else: inside the period a complete record covers, an unmatched feed update is a
            # rendering variant or an update the vendor since removed: the base is authoritative.
    merged.sort(key=lambda m: (m.update.at, m.update.created_at or m.update.at, -m.order))
    return merged


def _wrap(record: IncidentRecord) -> list[MergedUpdate]:
    return [
        MergedUpdate(update=u, text=plain_text(u), channels={record.channel}, order=i)
        for i, u in enumerate(record.updates)
    ]
