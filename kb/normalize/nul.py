"""The NUL character dropped from scraped text before it becomes an incident.

Why here: every text field a stored incident carries (title, update bodies and labels,
statuses, component names) comes out of `normalize_incident`, whatever the parser and
whatever the database. PostgreSQL refuses a NUL in a text column ("PostgreSQL text fields
cannot contain NUL (0x00) bytes") where SQLite stores it, so cleaning at the store would make
the two databases hold different incidents, and cleaning in each parser would miss the next
parser. One pass here gives the same incident, and the same content hash, on both.

What is dropped: NUL only. The other C0 controls (ESC, BEL, backspace...) store on both
databases and are kept: a status update is kept as published, and the exits escape them
(the terminal, CSV, HTML and JSON writers; tests/test_output_safety.py holds every exit to
that, with the exact text kept in JSON). NUL is different: no text column of PostgreSQL can
hold it, so keeping it would make one database refuse what the other stores.
Record JSON (`incident_records.record_json`) keeps the payload's text as read, escaped by
JSON, so nothing of the source is lost.
"""

from __future__ import annotations

from dataclasses import replace

from kb.model import SourcedRecord
from scrapers.records import ComponentChange, IncidentRecord

__all__ = ["clean_record", "clean_text"]

def clean_text(text: str) -> str:
    """`text` without NUL."""
    return text.replace("\x00", "")


def clean_record(item: SourcedRecord) -> SourcedRecord:
    """`item` with NUL dropped from every text its record carries;
    `item` itself when it has none (the common case costs one `in` per text)."""
    record = item.record
    if not _has_nul(record):
        return item
    opt = _optional
    components = tuple(replace(c, name=clean_text(c.name), code=opt(c.code),
                               status=opt(c.status)) for c in record.components)
    updates = tuple(
        replace(u, label=clean_text(u.label), body=clean_text(u.body), native_id=opt(u.native_id),
                components=tuple(_change(c) for c in u.components))
        for u in record.updates)
    impacts = tuple(replace(i, name=clean_text(i.name), code=opt(i.code), status=opt(i.status))
                    for i in record.impacts)
    cleaned = replace(record, title=clean_text(record.title), status=opt(record.status),
                      impact=opt(record.impact), url=opt(record.url),
                      shortlink=opt(record.shortlink), components=components, updates=updates,
                      impacts=impacts)
    return replace(item, record=cleaned)


def _optional(text: str | None) -> str | None:
    return None if text is None else clean_text(text)


def _change(change: ComponentChange) -> ComponentChange:
    return replace(change, name=clean_text(change.name), code=_optional(change.code),
                   old_status=_optional(change.old_status),
                   new_status=_optional(change.new_status))


def _texts(record: IncidentRecord):  # type: ignore[no-untyped-def]
    yield record.title
    yield from (record.status, record.impact, record.url, record.shortlink)
    for c in record.components:
        yield from (c.name, c.code, c.status)
    for u in record.updates:
        yield from (u.label, u.body, u.native_id)
        for ch in u.components:
            yield from (ch.name, ch.code, ch.old_status, ch.new_status)
    for i in record.impacts:
        yield from (i.name, i.code, i.status)


def _has_nul(record: IncidentRecord) -> bool:
    return any(t and "\x00" in t for t in _texts(record))


