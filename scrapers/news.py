"""News and forum feeds (RSS/Atom) and news article pages → SignalRecords.

One format, two payload kinds, both about the press:
- a feed (tech press, Google News search RSS, lobste.rs, reddit's RSS): one SignalRecord per
  entry. A broken feed (feedparser's bozo) is read as far as it goes and reported.
- an article page (HTML with article markup: og:type article, article:published_time, a
  NewsArticle JSON-LD block or an <article> element): reduced with beautifulsoup4 to title,
  published time, author and lead paragraphs, keyed by its canonical URL so that it merges
  with the feed entry that listed it. A paywalled page yields no text, with a note.

Google News links (news.google.com/rss/articles/...) stand for the publisher's URL. Old-style
ids carry it base64-encoded and are decoded offline; others are resolved over HTTP by
`resolve_link` (redirect, meta refresh, data-n-au or the first outbound link).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from scrapers.clip import ellipsize
from scrapers.errors import FetchError, ParseError
from scrapers.fetch import Fetcher
from scrapers.jsondoc import head_text, one_line, parse_time
from scrapers.markup import html_to_text
from scrapers.records import ParsedDoc, RawDoc, SignalRecord
from scrapers.statuspage_feed import load_feed, node_time

NAME = "news"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

PROVIDER_HINT = "signals-news"
SUMMARY_CHARS = 1500  # feed summaries and article leads are cut to this
LEAD_PARAGRAPHS = 4
MAX_ARTICLE_BYTES = 3_000_000  # beyond this a page is not an article worth a tree parse
PAYWALL_NOTE = "paywalled: article text not available, feed summary only"

# The root element's name must end there: "<feed-updated-timestamp>" in a Markdown file is no
# feed (SOURCES.md of the corpus was claimed as one).
_FEED_HEAD = re.compile(r"<(rss|feed|rdf:rdf)(?=[\s>/])", re.I)
_ARTICLE_MARKERS = re.compile(
    r"og:type[\"']?\s+content=[\"']article|article:published_time|\"NewsArticle\""
    r"|\"Article\"|\"BlogPosting\"|<article\b", re.I)
_GOOGLE_HOSTS = ("news.google.com",)
_PAYWALL_WORDS = re.compile(r"\b(subscribe|subscription|sign in to read|paywall|"
                            r"subscribers only|already a subscriber)\b", re.I)


# --------------------------------------------------------------------------- format contract


def sniff(body: bytes) -> bool:
    """An RSS/Atom feed, or an HTML page with article markup (head only)."""
    head = head_text(body, 8192)
    if _is_feed(head):
        return True
    lowered = head.lower()
    return ("<html" in lowered or "<!doctype html" in lowered) and bool(
        _ARTICLE_MARKERS.search(head_text(body, 65536)))


def _is_feed(head: str) -> bool:
    """An XML document (markup from its first character: a declaration, comment or the root
    element) whose head names an RSS, Atom or RDF root."""
    return head.lstrip("\ufeff \t\r\n").startswith("<") and bool(_FEED_HEAD.search(head[:2048]))


def parse(doc: RawDoc) -> ParsedDoc:
    """Feed → one SignalRecord per entry; article page → one SignalRecord keyed by its URL."""
    if _is_feed(head_text(doc.body, 2048)):
        return _parse_feed(doc)
    return ParsedDoc(format=NAME, provider_hint=PROVIDER_HINT, signals=(parse_article(doc),))


def source_of(url: str | None) -> str:
    """The source family of a feed or entry URL: reddit, lobsters, or news."""
    host = urlsplit(url or "").netloc.lower().removeprefix("www.").removeprefix("old.")
    if host == "reddit.com" or host.endswith(".reddit.com"):
        return "reddit"
    if host == "lobste.rs":
        return "lobsters"
    return "news"


def _parse_feed(doc: RawDoc) -> ParsedDoc:
    feed, problems = load_feed(doc)
    meta = feed.get("feed", {})
    site = one_line(meta.get("title"))
    family = source_of(meta.get("link") or doc.url)
    warnings = [f"{doc.url}: {p}" for p in problems]
    signals = []
    for index, entry in enumerate(feed.get("entries", [])):
        try:
            record = _entry(entry, doc.url, site, family)
        except Exception as error:  # one hostile entry costs that entry, not the feed
            warnings.append(f"{doc.url}: entry #{index}: {type(error).__name__}: "
                            f"{' '.join(str(error).split())[:200]}")
            continue
        if record is None:
            warnings.append(f"{doc.url}: entry #{index}: no title and no link, skipped")
            continue
        if record.created_at is None and (entry.get("published") or entry.get("updated")):
            stamp = " ".join(str(entry.get("published") or entry.get("updated")).split())[:60]
            warnings.append(f"{doc.url}: record {record.native_id}: unreadable or implausible "
                            f"date {stamp!r}; kept with its date unknown")
        signals.append(record)
    if problems:
        warnings[0] += f" ({len(signals)} entries read)"
    return ParsedDoc(format=NAME, provider_hint=PROVIDER_HINT, as_of=node_time(meta, "updated"),
                     warnings=tuple(warnings), signals=tuple(signals))


def _entry(entry: Any, feed_url: str, site: str | None, family: str) -> SignalRecord | None:
    link = one_line(entry.get("link"))
    title = one_line(entry.get("title"))
    if not title and not link:
        return None
    source = entry.get("source") or {}
    publisher = one_line(source.get("title")) if isinstance(source, dict) else None
    if title and publisher and title.endswith(f" - {publisher}"):
        title = title[: -len(publisher) - 3].rstrip()  # Google News appends " - Publisher"
    url = link
    if link and is_google_news(link):
        url = decode_google_news(link) or link
    native = one_line(entry.get("id")) or link or hashlib.sha256(
        (title or "").encode()).hexdigest()[:16]
    summary = entry.get("summary") or ""
    comments_page = one_line(entry.get("comments"))
    discussion = comments_page if family == "lobsters" else (link if family == "reddit" else None)
    return SignalRecord(
        source=family,
        native_id=native,
        title=title or link or "",
        url=url,
        discussion_url=discussion,
        created_at=node_time(entry, "published") or node_time(entry, "updated"),
        author=one_line(entry.get("author")),
        text=ellipsize(html_to_text(summary).strip(), SUMMARY_CHARS) if summary else "",
        site=publisher or site,
        feed_url=feed_url,
    )


# --------------------------------------------------------------------------- article pages


def parse_article(doc: RawDoc) -> SignalRecord:
    """Title, published time, author and lead paragraphs of an article page."""
    if len(doc.body) > MAX_ARTICLE_BYTES:
        raise ParseError(doc.url, f"article page larger than {MAX_ARTICLE_BYTES} bytes")
    soup = BeautifulSoup(doc.body, "lxml")
    meta = meta_tags(soup)
    ld = json_ld(soup)
    canonical = canonical_url(soup, meta, doc.url)
    title = (meta.get("og:title") or _text_of(soup.find("h1")) or one_line(ld.get("headline"))
             or _text_of(soup.find("title")))
    if not title:
        raise ParseError(doc.url, "article page without a title")
    published = first_time((meta.get("article:published_time"),
                            one_line(ld.get("datePublished")), meta.get("parsely-pub-date"),
                            meta.get("pubdate"), meta.get("date"), time_attribute(soup)))
    notes: list[str] = []
    lead = _lead(soup)
    free = ld.get("isAccessibleForFree")
    if str(free).lower() == "false" or (len(lead) < 200 and _PAYWALL_WORDS.search(lead or
                                                                              _page_text(soup))):
        notes.append(PAYWALL_NOTE)
        lead = ""
    return SignalRecord(
        source="news",
        native_id=canonical,
        title=" ".join(title.split()),
        url=canonical,
        created_at=published,
        author=meta.get("author") or _ld_author(ld),
        text=lead,
        site=meta.get("og:site_name") or urlsplit(canonical).netloc.removeprefix("www."),
        notes=tuple(notes),
    )


def first_time(values: Iterable[str | None]) -> datetime | None:
    """The first of `values` that reads as a time (the page's stamps, most trusted first)."""
    return next((t for v in values if v and (t := parse_time(v)) is not None), None)


def meta_tags(soup: BeautifulSoup) -> dict[str, str]:
    """The page's <meta> values by lower-cased property, name or itemprop (the first of each);
    an author that is a profile URL is dropped (not a name)."""
    found: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = tag.get("property") or tag.get("name") or tag.get("itemprop")
        value = tag.get("content")
        if isinstance(key, str) and isinstance(value, str) and value.strip():
            found.setdefault(key.strip().lower(), " ".join(value.split()))
    author = found.get("author") or found.get("article:author")
    if author and author.startswith("http"):
        found.pop("author", None)  # a profile URL, not a name
    return found


def json_ld(soup: BeautifulSoup, kinds: tuple[str, ...] | None = ("Article", "BlogPosting")
            ) -> dict[str, Any]:
    """The first JSON-LD object whose @type ends with one of `kinds` (any typed object with
    None); unreadable blocks are skipped."""
    for script in soup.find_all("script", type="application/ld+json"):
        try:
            data = json.loads(script.string or "")
        except (ValueError, RecursionError):
            continue
        items = data if isinstance(data, list) else data.get("@graph", [data]) if isinstance(
            data, dict) else []
        for item in items:
            kind = item.get("@type") if isinstance(item, dict) else None
            if kind and kinds is None:
                return item
            types = kind if isinstance(kind, list) else [kind]
            if kinds and any(isinstance(k, str) and k.endswith(kinds) for k in types):
                return item
    return {}


def _ld_author(ld: dict[str, Any]) -> str | None:
    author = ld.get("author")
    if isinstance(author, list):
        author = author[0] if author else None
    if isinstance(author, dict):
        return one_line(author.get("name"))
    return one_line(author)


def canonical_url(soup: BeautifulSoup, meta: dict[str, str], fallback: str) -> str:
    """The page's own http(s) address (link rel=canonical, then og:url), else `fallback`."""
    link = soup.find("link", rel="canonical")
    for candidate in ((link.get("href") if link else None), meta.get("og:url")):
        if isinstance(candidate, str) and candidate.strip():
            absolute = urljoin(fallback, candidate.strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return fallback


def time_attribute(soup: BeautifulSoup) -> str | None:
    """The first <time datetime="..."> value of the page, as written."""
    tag = soup.find("time", attrs={"datetime": True})
    value = tag.get("datetime") if tag else None
    return value if isinstance(value, str) else None


def _text_of(tag: Any) -> str | None:
    return one_line(tag.get_text(" ")) if tag is not None else None


def _lead(soup: BeautifulSoup) -> str:
    """The first substantial paragraphs of the article body; page chrome is dropped."""
    for tag in soup(["script", "style", "noscript", "nav", "aside", "footer", "header",
                     "figure", "form", "iframe", "template"]):
        tag.decompose()
    body = (soup.find(attrs={"itemprop": "articleBody"}) or soup.find("article")
            or soup.find("main") or soup.body or soup)
    paragraphs: list[str] = []
    for p in body.find_all("p"):
        text = " ".join(p.get_text(" ").split())
        if len(text) >= 40:
            paragraphs.append(text)
        if len(paragraphs) >= LEAD_PARAGRAPHS:
            break
    return ellipsize("\n\n".join(paragraphs).strip(), SUMMARY_CHARS)


def _page_text(soup: BeautifulSoup) -> str:
    return " ".join((soup.body or soup).get_text(" ").split())[:5000]


# --------------------------------------------------------------------------- links and fetching


def is_google_news(url: str) -> bool:
    """A news.google.com redirect link, not the publisher's own URL."""
    return urlsplit(url).netloc.lower() in _GOOGLE_HOSTS


def decode_google_news(url: str) -> str | None:
    """The publisher URL inside an old-style Google News article id (base64 protobuf whose
    field 4 is the URL), or None for the newer opaque ids that need a request."""
    parts = urlsplit(url).path.rstrip("/").split("/")
    token = parts[-1] if parts else ""
    if not token or "articles" not in parts:
        return None
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    for start in range(len(data) - 1):
        if data[start] != 0x22:
            continue
        length, shift, at = 0, 0, start + 1
        while at < len(data) and shift < 35:  # protobuf varint length
            length |= (data[at] & 0x7F) << shift
            shift += 7
            at += 1
            if not data[at - 1] & 0x80:
                break
        chunk = data[at: at + length]
        if chunk.startswith((b"http://", b"https://")) and len(chunk) == length:
            try:
                return chunk.decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


@dataclass(frozen=True)
class ArticleFetch:
    """What fetching one article gave: the page (url = where it really came from), or why not;
    `resolved` is the publisher URL when the link was a redirect (Google News)."""

    link: str
    doc: RawDoc | None = None
    resolved: str | None = None
    note: str | None = None


def fetch_article(fetcher: Fetcher, link: str) -> ArticleFetch:
    """Fetch an article page, resolving a Google News link to the publisher first.

    Never raises: a page that is not HTML, too large, unreachable or unresolvable comes back
    with `doc=None` and a one-line note (the caller keeps the feed's summary alone)."""
    target = decode_google_news(link) if is_google_news(link) else link
    try:
        outcome = fetcher.get(target or link)
    except FetchError as exc:
        return ArticleFetch(link, note=f"article not fetched ({exc.reason}): feed summary only")
    doc = outcome.doc
    if doc is None:
        return ArticleFetch(link, note="article not modified")
    final = outcome.final_url or doc.url
    if is_google_news(final):
        found = _publisher_in(doc)
        if found is None:
            return ArticleFetch(link, note="Google News link not resolved: feed summary only")
        return _with_resolution(fetch_article(fetcher, found), link, found)
    doc = replace(doc, url=final)  # where it was fetched from, after redirects
    resolved = final if final != link else None
    kind = (doc.content_type or "").split(";")[0].strip().lower()
    if (kind and "html" not in kind) or not sniff_html(doc.body):
        what = kind or "unknown content"
        return ArticleFetch(link, resolved=resolved,
                            note=f"article page is not HTML ({what}): feed summary only")
    return ArticleFetch(link, doc=doc, resolved=resolved)


def _with_resolution(fetched: ArticleFetch, link: str, found: str) -> ArticleFetch:
    return replace(fetched, link=link, resolved=fetched.resolved or found)


def sniff_html(body: bytes) -> bool:
    head = head_text(body, 1024).lstrip().lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<!--")) or "<html" in head


def _publisher_in(doc: RawDoc) -> str | None:
    """The publisher URL a Google News interstitial page points at."""
    text = head_text(doc.body, 500_000)
    for pattern in (r'data-n-au="(https?://[^"]+)"',
                    r'http-equiv=["\']refresh["\'][^>]*url=([^"\'>\s]+)'):
        match = re.search(pattern, text, re.I)
        if match and not is_google_news(match.group(1)):
            return match.group(1)
    for match in re.finditer(r'href="(https?://[^"]+)"', text):
        host = urlsplit(match.group(1)).netloc.lower()
        if host and "google." not in host and "gstatic" not in host:
            return match.group(1)
    return None

