"""Recorded front pages and feed logs (Hacker News, lobste.rs, Slashdot, SoylentNews) →
SignalRecords: every listed story, whatever its subject (kb.signals decides what is kept).

Four archive shapes, as kept in `shared/corpus/signals/` (its SOURCES.md):
- a daily Markdown list (github:kherrick/hacker-news, /lobsters, /slashdot, /soylent-news):
  `* [YYYY-MM-DD, HH:MM:SS](item link) - [title](url)`, the feed's pubDate in UTC;
- a front-page snapshot of kherrick/hacker-news (`index.json`):
  `[[[ "YYYY-MM-DD, HH:MM:SS", hn item link ], [ title, url ]], ...]`;
- a front-page scrape of christian-fei/hn-history (`hn.json`): `[{title, url, upvotes, author,
  comments, link}, ...]` with no item time: the snapshot's time (the file name's leading
  `YYYYMMDDTHHMMSSZ`) is used as an upper bound, said in the record's notes, else unknown;
- a log of stories removed from the front page (vitoplantamura/HackerNewsRemovals):
  `#### **Weekday, Month D, YYYY**` headings over `* [id](hn link) #rank P points C comments ->
  [title](url)` lines; only the day of removal is known: the time is left unknown (noted).

Keys match the live sources (HN item id, lobste.rs short id, an article's URL without
tracking parameters), so the same story read here, from a compiled record or from the API is
one item.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scrapers.errors import ParseError
from scrapers.jsondoc import head_text, load_json
from scrapers.records import ParsedDoc, RawDoc, SignalRecord

NAME = "frontpage"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

PROVIDER_HINT = "signals-frontpage"
_HN_ITEM = re.compile(r"^https?://news\.ycombinator\.com/item\?id=(\d+)$")
_LOBSTERS = re.compile(r"^https?://lobste\.rs/s/([a-z0-9]+)")
_DAILY = re.compile(r"^\* \[(\d{4}-\d{2}-\d{2}), (\d{2}:\d{2}:\d{2})\]\((\S+)\) - "
                    r"\[(.*)\]\((\S*)\)$")
_REMOVED = re.compile(r"^\* \[(\d+)\]\((\S+)\) #\d+(?: (\d+) points?)?(?: (\d+) comments?)? -> "
                      r"\[(.*)\]\((\S*)\)")
_DAY = re.compile(r"^#### \*\*\w+, (\w+ \d{1,2}, \d{4})\*\*")
_SNAPSHOT_NAME = re.compile(r"(\d{8}T\d{6}Z)_[0-9a-f]+_hn\.json$")
_SITES = {"hackernews": "Hacker News", "lobsters": "Lobsters"}


def sniff(body: bytes) -> bool:
    """A daily list, a removals log, an index.json snapshot or an hn.json scrape (head only)."""
    head = head_text(body, 4096)
    if re.search(r"^\* \[\d{4}-\d{2}-\d{2}, \d{2}:\d{2}:\d{2}\]\(https?://", head, re.M):
        return True
    if _DAY.search(head) and "<!-- HN:" in head:
        return True
    compact = "".join(head.split())
    return (compact.startswith('[[["') and "news.ycombinator.com/item?id=" in compact[:400]) or (
        compact.startswith('[{"title":') and '"upvotes":' in compact
        and "news.ycombinator.com/item?id=" in compact)


def parse(doc: RawDoc) -> ParsedDoc:
    """One SignalRecord per listed story; an unreadable entry costs that entry (a warning)."""
    text = doc.body.decode("utf-8", errors="replace")
    if text.lstrip().startswith("["):
        # load_json: depth-bounded, and lone surrogates made U+FFFD (ParseError otherwise)
        data = load_json(text.encode("utf-8"), doc.url)
        if not isinstance(data, list):
            raise ParseError(doc.url, "expected a JSON list of front-page stories")
        records, warnings = _json_items(data, doc.url)
    else:
        records, warnings = _markdown(text, doc.url)
    if not records:
        raise ParseError(doc.url, "no story could be read")
    return ParsedDoc(format=NAME, provider_hint=PROVIDER_HINT, warnings=tuple(warnings),
                     signals=tuple(records))


def _clean_url(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.startswith("utm_") and k != "from"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _record(link: str, title: str, url: str | None, created: datetime | None, where: str,
            notes: tuple[str, ...] = (), **extra: Any) -> SignalRecord | None:
    title = " ".join(title.split())
    if not title:
        return None
    url = _clean_url(url) if url else None
    if match := _HN_ITEM.match(link):
        source, native, discussion = "hackernews", match.group(1), link
        if url == link:
            url = None  # a text post
    elif match := _LOBSTERS.match(link):
        source, native, discussion = "lobsters", match.group(1), link
    else:
        source, native, discussion = "news", _clean_url(link), None
        url = url or native
        extra.setdefault("site", urlsplit(native).netloc.removeprefix("www."))
    return SignalRecord(source=source, native_id=native, title=title, url=url,
                        discussion_url=discussion, created_at=created,
                        site=extra.pop("site", _SITES.get(source)), feed_url=where,
                        notes=notes, **extra)


def _stamp(day: str, time: str) -> datetime | None:
    try:
        return datetime.strptime(f"{day} {time}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _markdown(text: str, where: str) -> tuple[list[SignalRecord], list[str]]:
    records: list[SignalRecord] = []
    warnings: list[str] = []
    day_note: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        if heading := _DAY.match(line):
            try:
                day = datetime.strptime(heading.group(1), "%B %d, %Y")
            except ValueError:
                day_note = ()
                continue
            day_note = (f"time: unknown; removed from the front page on {day:%Y-%m-%d}",)
            continue
        if not line.startswith("* ["):
            continue
        record = None
        if match := _DAILY.match(line):
            day, time, link, title, url = match.groups()
            record = _record(link, title, url or None, _stamp(day, time), where)
        elif match := _REMOVED.match(line):
            _id, link, points, comments, title, url = match.groups()
            # only the day of removal is known: the time stays unknown, so that the exact
            # feed time of the same story (a daily list, a compiled record) is the one kept
            # whatever the order the files are read in (kb.store.signals.merge_records)
            record = _record(link, title, url or None, None, where, day_note,
                             points=int(points) if points else None,
                             comments=int(comments) if comments else None)
        if record is None:
            warnings.append(f"{where}: line {number}: not a readable story line")
            continue
        records.append(record)
    return records, warnings


def _json_items(data: list[Any], where: str) -> tuple[list[SignalRecord], list[str]]:
    records: list[SignalRecord] = []
    warnings: list[str] = []
    name = _SNAPSHOT_NAME.search(where)
    taken = datetime.strptime(name.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) \
        if name else None
    for index, item in enumerate(data):
        record = None
        try:
            if isinstance(item, dict) and "link" not in item and "title" in item:
                continue  # a job ad (no HN thread): not a story
            if isinstance(item, dict):
                upvotes, comments = item.get("upvotes"), item.get("comments")
                record = _record(
                    str(item["link"]), str(item["title"]), item.get("url") or None, taken,
                    where, ("time: front-page snapshot time (an upper bound)",) if taken
                    else ("time: unknown (the snapshot's name carries no time)",),
                    author=item.get("author") if isinstance(item.get("author"), str) else None,
                    points=upvotes if isinstance(upvotes, int) else None,
                    comments=comments if isinstance(comments, int) else None)
            else:
                (stamp, link), (title, url) = item
                day, _, time = str(stamp).partition(", ")
                record = _record(str(link), str(title), url or None, _stamp(day, time), where)
        except (KeyError, TypeError, ValueError):
            record = None
        if record is None:
            warnings.append(f"{where}: entry #{index}: not a readable story")
            continue
        records.append(record)
    return records, warnings
