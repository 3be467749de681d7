"""Hacker News through the Algolia HN Search API: search pages and item threads → SignalRecords.

Two payload shapes (https://hn.algolia.com/api):
- `/api/v1/search` and `/api/v1/search_by_date`: `{"hits": [...], "nbHits", "page", "nbPages",
  "hitsPerPage", "query", "params", ...}`; each story hit has `objectID`, `title`, `url`,
  `author`, `points`, `num_comments`, `created_at`, `created_at_i`, `story_text`, `_tags`.
- `/api/v1/items/<id>`: the story with its comment tree, `{"id", "type": "story", "title",
  "url", "author", "points", "created_at_i", "text", "children": [{"type": "comment", ...}]}`.

The API returns at most about 1,000 hits per query whatever the page (`paginationLimitedTo`),
so `search_docs` slices the time range in halves until each slice fits, then pages through it.
Every page fetched is handed back as a RawDoc, so it is archived and parsed like any payload.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from scrapers.clip import ellipsize
from scrapers.errors import FetchError, ParseError
from scrapers.fetch import Fetcher
from scrapers.jsondoc import head_text, load_json, one_line, parse_time
from scrapers.markup import html_to_text
from scrapers.records import ParsedDoc, RawDoc, SignalRecord

NAME = "hackernews"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

SOURCE = "hackernews"
PROVIDER_HINT = "signals-hackernews"  # the pseudo-provider signal payloads are stored under
ITEM_PAGE = "https://news.ycombinator.com/item?id="
TOP_COMMENTS = 5  # leading comments kept per thread (what users saw, for the postmortem)
COMMENT_CHARS = 800  # each kept comment is cut to this many characters
RESULT_CAP = 1000  # the API's paginationLimitedTo: hits beyond it are unreachable by paging


# --------------------------------------------------------------------------- format contract


def sniff(body: bytes) -> bool:
    """An Algolia HN search page or item: looks at the head only."""
    head = head_text(body, 2048).lstrip()
    if not head.startswith("{"):
        return False
    if '"hits"' in head and ('"nbHits"' in head or '"hitsPerPage"' in head
                             or '"objectID"' in head):
        return True
    return '"created_at_i"' in head and '"story_id"' in head and '"children"' in head


def parse(doc: RawDoc) -> ParsedDoc:
    """One SignalRecord per story hit of a search page, or one per item thread."""
    data = load_json(doc.body, doc.url)
    if not isinstance(data, dict):
        raise ParseError(doc.url, "expected a JSON object (Algolia search page or item)")
    warnings: list[str] = []
    if "hits" in data:
        hits = data["hits"]
        if not isinstance(hits, list):
            raise ParseError(doc.url, "'hits' is not a list")
        signals = []
        for index, hit in enumerate(hits):
            try:
                record = _hit(hit, doc.url)
            except _Skip as skip:
                if skip.reason:
                    warnings.append(f"{doc.url}: hit #{index}: {skip.reason}")
                continue
            signals.append(record)
        return ParsedDoc(format=NAME, provider_hint=PROVIDER_HINT, warnings=tuple(warnings),
                         signals=tuple(signals))
    if data.get("type") != "story":
        raise ParseError(doc.url, f"item is a {data.get('type')!r}, not a story")
    try:
        record = _item(data, doc.url)
    except _Skip as skip:
        raise ParseError(doc.url, skip.reason or "unreadable story") from None
    return ParsedDoc(format=NAME, provider_hint=PROVIDER_HINT, signals=(record,))


class _Skip(Exception):
    """This hit is not a readable story; `reason` is empty when that is normal (a comment)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _time(obj: dict[str, Any]) -> datetime | None:
    stamp = _int(obj.get("created_at_i"))
    if stamp is not None:
        try:
            return datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = _str(obj.get("created_at"))
    return parse_time(text) if text else None


def _hit(hit: Any, where: str) -> SignalRecord:
    if not isinstance(hit, dict):
        raise _Skip("not an object")
    tags = hit.get("_tags") if isinstance(hit.get("_tags"), list) else []
    if "comment" in tags or hit.get("comment_text"):
        raise _Skip()  # a comment hit (no tags=story filter): not a thread of its own
    object_id = _str(hit.get("objectID")) or (str(hit["story_id"]) if _int(
        hit.get("story_id")) else None)
    title = _str(hit.get("title"))
    if object_id is None or not object_id.isdigit():
        raise _Skip("no numeric objectID")
    if title is None:
        raise _Skip(f"story {object_id} has no title")
    body = _str(hit.get("story_text"))
    return SignalRecord(
        source=SOURCE,
        native_id=object_id,
        title=" ".join(title.split()),
        url=_str(hit.get("url")),
        discussion_url=ITEM_PAGE + object_id,
        created_at=_time(hit),
        author=_str(hit.get("author")),
        points=_int(hit.get("points")),
        comments=_int(hit.get("num_comments")),
        text=html_to_text(body) if body else "",
        site="Hacker News",
        feed_url=where,
    )


def _item(data: dict[str, Any], where: str) -> SignalRecord:
    object_id = _int(data.get("id"))
    title = _str(data.get("title"))
    if object_id is None or title is None:
        raise _Skip("story without id or title")
    children = [c for c in _children(data) if c.get("type", "comment") == "comment"]
    total, sizes = _count_comments(children)
    # Leading comments: the most-discussed top-level ones first (the API's child order is not
    # HN's ranking), then the earliest; deleted and empty comments are skipped.
    ranked = sorted(
        (c for c in children if _str(c.get("text"))),
        key=lambda c: (-sizes.get(id(c), 0), _int(c.get("created_at_i")) or 0),
    )
    top = tuple(ellipsize(one_line(html_to_text(str(c["text"]))) or "", COMMENT_CHARS)
                for c in ranked[:TOP_COMMENTS])
    body = _str(data.get("text"))
    return SignalRecord(
        source=SOURCE,
        native_id=str(object_id),
        title=" ".join(title.split()),
        url=_str(data.get("url")),
        discussion_url=ITEM_PAGE + str(object_id),
        created_at=_time(data),
        author=_str(data.get("author")),
        points=_int(data.get("points")),
        comments=total,
        text=html_to_text(body) if body else "",
        top_comments=tuple(t for t in top if t),
        site="Hacker News",
        feed_url=where,
    )


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    kids = node.get("children")
    return [k for k in kids if isinstance(k, dict)] if isinstance(kids, list) else []


def _count_comments(top: list[dict[str, Any]]) -> tuple[int, dict[int, int]]:
    """Comments in the whole tree (deleted ones have no author and no text), and the size of
    each top-level subtree. Iterative: a thread may nest deeper than Python's recursion limit."""
    total = 0
    sizes: dict[int, int] = {}
    for root in top:
        size = 0
        stack = [root]
        while stack:
            node = stack.pop()
            if node.get("author") or node.get("text"):
                size += 1
            stack.extend(_children(node))
        sizes[id(root)] = size
        total += size
    return total, sizes


# --------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class PageInfo:
    """Paging facts of one search page."""

    nb_hits: int
    nb_pages: int
    page: int
    hits_per_page: int


def page_info(doc: RawDoc) -> PageInfo:
    """nbHits, nbPages, page and hitsPerPage of a search page; ParseError when absent."""
    data = load_json(doc.body, doc.url)
    if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
        raise ParseError(doc.url, "not an Algolia search page")
    values = [_int(data.get(k)) for k in ("nbHits", "nbPages", "page", "hitsPerPage")]
    if any(v is None or v < 0 for v in values):
        raise ParseError(doc.url, "search page without nbHits/nbPages/page/hitsPerPage")
    return PageInfo(*values)  # type: ignore[arg-type]


def search_url(api: str, query: str, start: datetime, end: datetime, *, page: int = 0,
               hits_per_page: int = 100) -> str:
    """A `search_by_date` URL for stories matching `query` created in [start, end)."""
    params = {
        "query": query,
        "tags": "story",
        "numericFilters": f"created_at_i>={int(start.timestamp())},"
                          f"created_at_i<{int(end.timestamp())}",
        "hitsPerPage": str(hits_per_page),
        "page": str(page),
    }
    return f"{api.rstrip('/')}/search_by_date?{urlencode(params)}"


def item_url(api: str, object_id: str) -> str:
    """The `/items/<id>` URL of a story's thread."""
    return f"{api.rstrip('/')}/items/{object_id}"


@dataclass(frozen=True)
class Fetched:
    """One request of a crawl: the payload, or the one-line reason it failed."""

    url: str
    doc: RawDoc | None = None
    error: str | None = None


def search_docs(
    fetcher: Fetcher, api: str, query: str, start: datetime, end: datetime, *,
    hits_per_page: int = 100, cap: int = RESULT_CAP, min_slice_s: int = 3600,
) -> Iterator[Fetched]:
    """Every search page of `query` over [start, end), newest slice first.

    A slice whose nbHits passes `cap` is split in two (its first page is still handed back:
    it was fetched, so it is archived); a slice shorter than `min_slice_s` is paged as far as
    the cap allows and the loss is reported. A failed page ends its slice, not the crawl.
    """
    slices = [(start, end)]
    while slices:
        lo, hi = slices.pop()
        url = search_url(api, query, lo, hi, hits_per_page=hits_per_page)
        first = _get(fetcher, url)
        yield first
        if first.doc is None:
            continue
        try:
            info = page_info(first.doc)
        except ParseError as exc:
            yield Fetched(url, error=str(exc))
            continue
        if info.nb_hits > cap and (hi - lo).total_seconds() > min_slice_s:
            middle = lo + (hi - lo) / 2
            slices.extend([(lo, middle), (middle, hi)])  # newer half popped first
            continue
        reachable = min(info.nb_pages, max(1, cap // max(1, info.hits_per_page)))
        if info.nb_hits > cap:
            yield Fetched(url, error=f"{url}: {info.nb_hits} hits in a slice shorter than "
                                     f"{min_slice_s}s; only the first {cap} are reachable")
        for page in range(1, reachable):
            fetched = _get(fetcher, search_url(api, query, lo, hi, page=page,
                                               hits_per_page=hits_per_page))
            yield fetched
            if fetched.doc is None:
                break


def _get(fetcher: Fetcher, url: str) -> Fetched:
    try:
        outcome = fetcher.get(url)
    except FetchError as exc:
        return Fetched(url, error=str(exc))
    return Fetched(url, doc=outcome.doc)
