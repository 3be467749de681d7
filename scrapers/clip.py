"""Bounds on the text kept for display and search; the raw archive keeps every payload whole.

Why clip: one 60 MB update body cost 1.75 GB at ingest and a 3-minute, 243 MB site build,
because every later stage (HTML to text, the impact-window grammar, the content hash, the
database row, full-text search, the page) handles the whole text. Why 64 KiB for a body: the
longest update text in the recorded corpus is 11,142 characters (an AWS event description; a
long Google Cloud postmortem is 8,412), so 64 KiB is about six times the longest real one and
clips only what no reader scrolls through (docs/reliability.md, "Hostile records").
Titles: 16,384 characters (real ones are < 200; the site already shortens long titles where
they would swell pages and shows them whole in one table cell, so only absurd ones are cut).

A clipped text ends with CLIP_NOTE, so the incident page, search results and exports say that
it was clipped and where the full text is; the run summary warns once per payload.
"""

from __future__ import annotations

from dataclasses import replace

from scrapers.records import IncidentRecord, ParsedDoc, SignalRecord

MAX_BODY_CHARS = 64 * 1024
MAX_TITLE_CHARS = 16 * 1024
CLIP_NOTE = ("\n\n[clipped at {limit:,} characters of {length:,}; "
             "the full text is in the raw archive]")


def clip_text(text: str, limit: int = MAX_BODY_CHARS) -> str:
    """`text`, or its first `limit` characters followed by CLIP_NOTE when it is longer."""
    if len(text) <= limit:
        return text
    return text[:limit] + CLIP_NOTE.format(limit=limit, length=len(text))


def clip_title(title: str) -> str:
    """A title cut at MAX_TITLE_CHARS, ending with an ellipsis when cut."""
    return title if len(title) <= MAX_TITLE_CHARS else title[:MAX_TITLE_CHARS - 1] + "…"


def ellipsize(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with an ellipsis when cut (a summary or a
    comment kept for display: no note, the archive has the rest)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clip(parsed: ParsedDoc, source: str) -> ParsedDoc:
    """`parsed` with over-long titles and bodies clipped, plus one warning naming `source`
    and the first clipped record; `parsed` itself when nothing was too long."""
    clipped: list[str] = []
    incidents = tuple(_incident(r, clipped) for r in parsed.incidents)
    signals = tuple(_signal(s, clipped) for s in parsed.signals)
    if not clipped:
        return parsed
    more = f" and {len(clipped) - 1:,} more" if len(clipped) > 1 else ""
    warning = (f"{source}: record {clipped[0]}{more}: text longer than "
               f"{MAX_BODY_CHARS:,} characters clipped for display and search "
               f"(the raw archive keeps it whole)")
    return replace(parsed, incidents=incidents, signals=signals,
                   warnings=(*parsed.warnings, warning))


def _incident(record: IncidentRecord, clipped: list[str]) -> IncidentRecord:
    title = clip_title(record.title)
    updates = tuple(
        replace(u, body=clip_text(u.body)) if len(u.body) > MAX_BODY_CHARS else u
        for u in record.updates
    )
    if title is record.title and all(a is b for a, b in zip(updates, record.updates,
                                                               strict=True)):
        return record
    clipped.append(record.native_id)
    return replace(record, title=title, updates=updates)


def _signal(signal: SignalRecord, clipped: list[str]) -> SignalRecord:
    title = clip_title(signal.title)
    text = clip_text(signal.text)
    comments = tuple(clip_text(c) for c in signal.top_comments)
    if title is signal.title and text is signal.text and all(
            a is b for a, b in zip(comments, signal.top_comments, strict=True)):
        return signal
    clipped.append(signal.native_id)
    return replace(signal, title=title, text=text, top_comments=comments)
