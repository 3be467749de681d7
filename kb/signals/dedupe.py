"""The same story from several feeds becomes one signal with several sources.

Two items are one story when
- they point at the same canonical URL (tracking parameters, `www.`, `amp`, fragments and
  trailing slashes removed; a bare home page such as https://github.com/ does not count, it
  says nothing about which story) and were published within `URL_DAYS` of each other; or
- they come from different source families (a Google News entry and the publisher's feed, an
  HN thread and the article it links) and their titles are near-identical (at least
  `TITLE_MIN_WORDS` words, similarity ≥ `TITLE_RATIO`) within `TITLE_DAYS`. Two threads of one
  forum with the same short title ("Claude is down") are independent reports, not one story.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kb.store.signals import StoredItem

URL_DAYS = 14
TITLE_DAYS = 3
TITLE_MIN_WORDS = 5
TITLE_RATIO = 0.9
DISCUSSION_FAMILIES = frozenset({"hackernews", "reddit", "lobsters"})

_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|mc_cid|mc_eid|ref|ref_src|cmpid|oc|ncid|"
                       r"src|smid|partner|guccounter|guce_\w+|at_\w+|taid|cid|sr_share|"
                       r"todayis|today|t)$", re.I)


def canonical_url(url: str | None) -> str | None:
    """A comparable form of a URL; None for what is not an http(s) URL."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.lower().split("@")[-1]
    host = re.sub(r":(80|443)$", "", host)
    for prefix in ("www.", "m.", "amp.", "mobile."):
        host = host.removeprefix(prefix)
    path = re.sub(r"/+", "/", parts.path or "/")
    path = re.sub(r"/(amp|amp\.html)/?$", "/", path)
    path = path.rstrip("/") or "/"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    return urlunsplit(("https", host, path, query, ""))


def is_specific(canonical: str | None) -> bool:
    """A URL that names one story (not a home page or a bare status page)."""
    if not canonical:
        return False
    parts = urlsplit(canonical)
    return parts.path not in ("", "/") or bool(parts.query)


def title_key(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())
    return " ".join(words)


def _when(item: StoredItem) -> datetime:
    return item.record.created_at or item.fetched_at


class _Groups:
    """Union-find over item indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def item_urls(item: StoredItem) -> list[str]:
    """Canonical, story-specific URLs of an item (its link, resolved link, thread page)."""
    urls = [item.resolved_url, item.record.url, item.record.discussion_url]
    found = [canonical_url(u) for u in urls]
    return list(dict.fromkeys(u for u in found if u and is_specific(u)))


def group_items(items: Sequence[StoredItem]) -> list[list[StoredItem]]:
    """Items grouped into stories; each group sorted by time, groups sorted by first time."""
    order = sorted(range(len(items)), key=lambda i: (_when(items[i]), items[i].record.source,
                                                     items[i].record.native_id))
    ordered = [items[i] for i in order]
    groups = _Groups(len(ordered))
    by_url: dict[str, list[int]] = {}
    for index, item in enumerate(ordered):
        for url in item_urls(item):
            for other in by_url.get(url, []):
                if abs(_when(ordered[other]) - _when(item)) <= timedelta(days=URL_DAYS):
                    groups.join(index, other)
            by_url.setdefault(url, []).append(index)
    keys = [title_key(item.record.title) for item in ordered]
    window = timedelta(days=TITLE_DAYS)
    for index, item in enumerate(ordered):  # ordered by time: compare with the days before
        if len(keys[index].split()) < TITLE_MIN_WORDS:
            continue
        back = index - 1
        while back >= 0 and _when(item) - _when(ordered[back]) <= window:
            other = ordered[back]
            if (other.record.source != item.record.source
                    and len(keys[back].split()) >= TITLE_MIN_WORDS
                    and SequenceMatcher(None, keys[index], keys[back]).ratio() >= TITLE_RATIO):
                groups.join(index, back)
            back -= 1
    found: dict[int, list[StoredItem]] = {}
    for index, item in enumerate(ordered):
        found.setdefault(groups.find(index), []).append(item)
    return [found[root] for root in sorted(found)]


def signal_id(group: Sequence[StoredItem]) -> str:
    """A stable id: the first item's source and id (hashed when it is a long URL)."""
    first = group[0].record
    native = first.native_id
    if len(native) > 24 or not re.fullmatch(r"[\w.-]+", native):
        native = hashlib.sha256(native.encode()).hexdigest()[:12]
    return f"{first.source}:{native}"
