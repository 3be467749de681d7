"""Compiled signal records (JSON Lines) → SignalRecords.

The offline signals corpus (`shared/corpus/signals/*.jsonl`, see its SOURCES.md) records
Hacker News stories, lobste.rs submissions and news items about outages, one JSON object a
line, each with `source`, `id`, `title`, `url`, `created_at` and the archive it came from
(`where_found`, `raw_files`). Recognised by content: the first line is such an object.

Times, as exact as the record allows (never invented):
- `created_at` when given (exact, UTC);
- else for a story `first_seen_on_front_page_at` — an upper bound (first front-page sighting),
  said in the record's notes;
- else for a news item `published_upper_bound` (the HN submission that linked it), or the end
  of its `published_date` day when only the day is known (noted);
- else unknown (None).

Keys match what the live sources would give, so a story read here and later fetched merges:
HN stories by their item id (as the Algolia API), lobste.rs by its short id (as its RSS guid),
news items by their URL (as an article page's canonical URL).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scrapers.clip import ellipsize
from scrapers.errors import ParseError
from scrapers.jsondoc import head_text, load_json, one_line, parse_time
from scrapers.records import ParsedDoc, RawDoc, SignalRecord

NAME = "signal_records"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

PROVIDER_HINT = "signals-corpus"
HN_ITEM = "https://news.ycombinator.com/item?id="
_REQUIRED = ("source", "id", "title")
_ARCHIVE_KEYS = ("where_found", "raw_files")
TOP_COMMENTS = 5
COMMENT_CHARS = 800
SUMMARY_CHARS = 1500


def sniff(body: bytes) -> bool:
    """JSON Lines whose first line is a record with source, id, title and its archive origin."""
    head = head_text(body, 65536).lstrip()
    if not head.startswith("{"):
        return False
    first = head.split("\n", 1)[0]
    if not all(f'"{key}"' in first for key in _REQUIRED):
        return False  # cheap: most JSON never gets decoded here
    try:
        row = json.loads(first)
    except (ValueError, RecursionError):  # a hostile nest is some other format's to refuse
        return False
    return (isinstance(row, dict) and all(k in row for k in _REQUIRED)
            and any(k in row for k in _ARCHIVE_KEYS))


def parse(doc: RawDoc) -> ParsedDoc:
    """One SignalRecord per readable line; an unreadable line costs that line (a warning)."""
    try:
        text = doc.body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParseError(doc.url, f"not UTF-8 JSON Lines ({error.reason})") from None
    signals: list[SignalRecord] = []
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            # load_json: lone surrogates become U+FFFD, depth bounded, one-line reasons
            row = load_json(line.encode("utf-8"), doc.url)
            record = _record(row, doc.url) if isinstance(row, dict) else None
        except ParseError as error:
            warnings.append(f"{doc.url}: line {number}: {error.reason}")
            continue
        except (ValueError, TypeError) as error:
            warnings.append(f"{doc.url}: line {number}: {type(error).__name__}: "
                            f"{' '.join(str(error).split())[:200]}")
            continue
        if record is None:
            warnings.append(f"{doc.url}: line {number}: no source, id or title, skipped")
            continue
        signals.append(record)
    if not signals and warnings:
        raise ParseError(doc.url, warnings[0].removeprefix(f"{doc.url}: "))
    return ParsedDoc(format=NAME, provider_hint=PROVIDER_HINT, warnings=tuple(warnings),
                     signals=tuple(signals))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _time(row: dict[str, Any], key: str) -> datetime | None:
    value = row.get(key)
    return parse_time(value) if isinstance(value, str) and value.strip() else None


def _record(row: dict[str, Any], where: str) -> SignalRecord | None:
    source = one_line(row.get("source"))
    native = row.get("id")
    native_id = str(native) if isinstance(native, int) and not isinstance(native, bool) \
        else one_line(native)
    title = one_line(row.get("title"))
    if not source or not native_id or not title:
        return None
    notes: list[str] = []
    created = _time(row, "created_at")
    url = one_line(row.get("url"))
    if source == "hackernews":
        if not native_id.isdigit():
            return None
        if created is None:
            created = _time(row, "first_seen_on_front_page_at")
            if created is not None:
                notes.append("time: first seen on the front page (an upper bound), not the "
                             "submission time")
        if url and "news.ycombinator.com/item" in url:
            url = None  # a text post: the thread itself is the discussion URL
        return SignalRecord(
            source="hackernews", native_id=native_id, title=title, url=url,
            discussion_url=HN_ITEM + native_id, created_at=created,
            author=one_line(row.get("author")), points=_int(row.get("points")),
            comments=_int(row.get("num_comments")), top_comments=_comments(row),
            site="Hacker News", feed_url=where, notes=tuple(notes))
    if source == "lobsters":
        return SignalRecord(
            source="lobsters", native_id=native_id, title=title, url=url,
            discussion_url=one_line(row.get("discussion_url")), created_at=created,
            points=_int(row.get("points")), comments=_int(row.get("num_comments")),
            text=ellipsize(one_line(row.get("note")) or "", SUMMARY_CHARS), site="Lobsters",
            feed_url=where)
    if created is None:
        created = _time(row, "published_upper_bound")
        if created is not None:
            notes.append("time: upper bound (the HN submission that linked it)")
    if created is None:
        day = one_line(row.get("published_date"))
        if day and len(day) == 10:
            created = parse_time(day + "T23:59:59+00:00")
            if created is not None:
                notes.append(f"time: published on {day}, time of day unknown (end of day used)")
    return SignalRecord(
        source="news", native_id=url or f"{source}:{native_id}", title=title, url=url,
        created_at=created, points=_int(row.get("points")),
        comments=_int(row.get("num_comments")),
        text=ellipsize(one_line(row.get("summary")) or "", SUMMARY_CHARS), site=source,
        feed_url=where, notes=tuple(notes))


def _comments(row: dict[str, Any]) -> tuple[str, ...]:
    top = row.get("top_comments")
    items = top.get("comments") if isinstance(top, dict) else top
    if not isinstance(items, list):
        return ()
    texts = (one_line(c if isinstance(c, str) else c.get("text") if isinstance(c, dict) else None)
             for c in items)
    return tuple(ellipsize(one_line(t) or "", COMMENT_CHARS) for t in texts if t)[:TOP_COMMENTS]

