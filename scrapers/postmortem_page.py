"""A provider's own incident write-up as an HTML page (an RCA, a blog post-incident review)
→ one PostmortemRecord.

Pages such as aws.amazon.com/message/12721 ("Summary of the AWS Service Event in the Northern
Virginia (US-EAST-1) Region"), a status blog's "Post-incident review" or "Incident report".
Recognised by content, and only when all of these hold (else the page stays a news article for
`scrapers.news`, or an unknown format):
- HTML (a document, not a feed), not marked as a news story (JSON-LD `NewsArticle`);
- it reads like a write-up: its title, `og:title` or a top heading says so ("Summary of the
  ... event", "post-incident review/report", "incident report/review/summary/analysis",
  "postmortem", "root cause analysis", "RCA", "outage report/review/summary"), or its title
  names an outage or incident and at least two of its section headings are a write-up's
  ("Root cause", "Timeline", "Impact", "Remediation", "What happened", "Next steps", ...);
- it comes from the provider itself: written as "we" (at least `MIN_VOICE` times and
  `MIN_VOICE_SHARE` of its words: a news story tells what "the company said"), or its own
  host (canonical URL) is named in its title or site name (aws.amazon.com titled "Summary
  of the AWS Service Event ...").
The provider is not decided here (scrapers know nothing of the KB's providers):
kb.postmortems maps the page's host and site name to one, as for the lists' entries.

What it states, read as stated: the publication time (`article:published_time`, JSON-LD
`datePublished`, a `<time datetime>`), and the start (and end) of the event when a sentence
of the text gives a full date with its year and a clock time with its zone ("On December 7th,
2021, at 7:30 AM PST, ..."); a date without a time is that whole day (as the annotated lists
state a day). A page that states no date at all is kept undated, with a one-line note; a date
before 1990 (a ship in 1628) is kept as stated, with a note: kb.postmortems never matches it
on time.

Hostile pages: scripts, styles and page chrome never reach the text; a body over
`MAX_PAGE_BYTES` is refused in one line; the text is cut to `TEXT_CHARS` (the raw archive
keeps the whole page).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from scrapers.encoding import head_text
from scrapers.errors import ParseError
from scrapers.jsondoc import one_line
from scrapers.news import (
    canonical_url,
    first_time,
    json_ld,
    meta_tags,
    time_attribute,
)
from scrapers.plausible import EARLIEST
from scrapers.records import ParsedDoc, PostmortemRecord, RawDoc

NAME = "postmortem_page"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

PROVIDER_HINT = "postmortems"
SOURCE = "page"
SNIFF_BYTES = 262_144  # the head read to recognise a page (title, headings, first prose)
MAX_PAGE_BYTES = 5_000_000  # a write-up is tens of KB; beyond this it is not one to parse
TEXT_CHARS = 60_000
SUMMARY_CHARS = 1_500
MIN_VOICE = 5
MIN_VOICE_SHARE = 0.008

_WRITEUP_TITLE = re.compile(
    r"\bsummary of the\b.{0,160}?\b(?:events?|disruptions?|outages?|interruptions?|issues?"
    r"|incidents?|degradation)\b"
    r"|\bpost[- ]?incident (?:review|report|analysis|summary)\b"
    r"|\bincident (?:report|review|summary|analysis|retrospective)\b"
    r"|\bpost[- ]?mortem\b"
    r"|\broot[- ]cause analysis\b"
    r"|\b(?:outage|service disruption|service event|downtime|disruption) "
    r"(?:report|review|summary|analysis|retrospective|post[- ]?mortem)\b",
    re.I)
_RCA = re.compile(r"\bRCA\b")  # upper case only: "rca" is a word in other languages
_VOICE = re.compile(r"\b(?:we|our|us|we're|we've|we'll)\b", re.I)
_WORD = re.compile(r"[^\W\d_]+")
_NEWS_MARK = re.compile(r"\"@type\"\s*:\s*\"(?:NewsArticle|ReportageNewsArticle)\"")
# Opening tags of the elements read from the raw head; each one's end is looked up by
# str.find within `_ELEMENT_CHARS` (a heading is short), and at most `_MAX_TAGS` are tried:
# hostile markup (thousands of unclosed <h1>) costs linear time, never a scan per tag.
_TEXT_OPEN = re.compile(r"<(title|h1)\b[^<>]{0,2000}>", re.I)
_SECTION_OPEN = re.compile(r"<(h2|h3)\b[^<>]{0,2000}>", re.I)
_HEAD_TAG = re.compile(r"<(?:meta|link)\b([^<>]{0,2000})>", re.I)
_ATTRIBUTE = re.compile(r"([a-z][\w:-]{0,40})\s*=\s*(?:\"([^\"<>]{0,2000})\"|'([^'<>]{0,2000})')",
                        re.I)
_ELEMENT_CHARS = 2000
_MAX_TAGS = 200
_SECTION = re.compile(
    r"^\W*(?:\d+[.)]?\s*)?(?:root causes?|causes?|timeline|impact|customer impact|remediation"
    r"|what happened|what went wrong|resolution|next steps|action items|lessons learned"
    r"|contributing factors|detection|mitigation|summary|background|conclusion"
    r"|follow[- ]ups?|how we(?:'re| are) improving|what we(?:'re| are) doing)\b", re.I)
_OUTAGE_TITLE = re.compile(r"\b(?:outages?|incidents?|disruptions?|downtime|degradation"
                           r"|service events?)\b", re.I)
_GENERIC_LABELS = frozenset({"www", "blog", "blogs", "status", "engineering", "news", "about",
                             "help", "support", "docs", "co", "com", "org", "net", "io"})
_DROP_OPEN = re.compile(r"<(script|style|noscript|template|svg)\b", re.I)
_ANY_TAG = re.compile(r"<[^<>]{0,2000}>")  # stops at the next "<": linear on "<<<<"

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_MONTH = (r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
          r"|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE = re.compile(rf"\b{_MONTH}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})\b",
                   re.I)
_CLOCK = re.compile(r"\b(?P<h>\d{1,2}):(?P<m>\d{2})\s*(?P<ampm>[ap]\.?m\.?)?\s*"
                    r"(?P<zone>UTC|GMT|PST|PDT|EST|EDT|CST|CDT|MST|MDT|CET|CEST|BST)\b", re.I)
_ZONES = {"UTC": 0, "GMT": 0, "PST": -8, "PDT": -7, "EST": -5, "EDT": -4, "CST": -6,
          "CDT": -5, "MST": -7, "MDT": -6, "CET": 1, "CEST": 2, "BST": 1}


# --------------------------------------------------------------------------- recognition


def _strip(markup: str) -> str:
    return " ".join(_ANY_TAG.sub(" ", markup).split())


def _drop_blocks(markup: str) -> str:
    """The markup without script, style, noscript, template and svg elements (an unclosed
    one drops the rest). Linear: each block's end is found once, from where it opens."""
    lowered = markup.lower()
    kept: list[str] = []
    at = 0
    while (found := _DROP_OPEN.search(markup, at)) is not None:
        kept.append(markup[at:found.start()])
        close = lowered.find(f"</{found.group(1).lower()}", found.end())
        if close < 0:
            return " ".join(kept)
        end = lowered.find(">", close)
        at = len(markup) if end < 0 else end + 1
    kept.append(markup[at:])
    return " ".join(kept)


def _elements(head: str, opening: re.Pattern[str], limit: int) -> list[str]:
    """The text of at most `limit` elements whose opening tag `opening` matches."""
    lowered = head.lower()
    found: list[str] = []
    for index, tag in enumerate(opening.finditer(head)):
        if index >= _MAX_TAGS or len(found) >= limit:
            break
        close = lowered.find(f"</{tag.group(1).lower()}", tag.end(), tag.end() + _ELEMENT_CHARS)
        if close >= 0:
            text = _strip(head[tag.end():close])
            if text:
                found.append(text)
    return found


def head_meta(head: str) -> dict[str, str]:
    """og:title, og:site_name and the canonical URL from the raw head's meta and link tags."""
    found: dict[str, str] = {}
    for index, tag in enumerate(_HEAD_TAG.finditer(head)):
        if index >= _MAX_TAGS:
            break
        attrs = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                 for m in _ATTRIBUTE.finditer(tag.group(1))}
        name = (attrs.get("property") or attrs.get("name") or "").lower()
        if name in ("og:title", "og:site_name") and attrs.get("content"):
            found.setdefault(name, " ".join(attrs["content"].split()))
        if "canonical" in (attrs.get("rel") or "").lower().split() and attrs.get("href"):
            found.setdefault("canonical", attrs["href"].strip())
    return found


def titles_of(head: str, meta: dict[str, str] | None = None) -> list[str]:
    """The page's title, h1 headings and og:title, from raw markup."""
    meta = head_meta(head) if meta is None else meta
    found = _elements(head, _TEXT_OPEN, 12)
    if meta.get("og:title"):
        found.append(meta["og:title"])
    return found


def writeup_title(titles: list[str]) -> str | None:
    """The first title or heading that reads like an incident write-up, or None."""
    for title in titles:
        if _WRITEUP_TITLE.search(title) or _RCA.search(title):
            return title
    return None


def sectioned_writeup(titles: list[str], sections: list[str]) -> str | None:
    """A title naming an outage or incident over at least two write-up section headings
    ("Root cause", "Timeline", ...): the title, else None."""
    found = sum(bool(_SECTION.search(h)) for h in sections[:40])
    if found < 2:
        return None
    return next((t for t in titles if _OUTAGE_TITLE.search(t)), None)


def own_voice(text: str) -> bool:
    """Written as "we": the provider telling its own incident, not a reporter retelling it."""
    words = _WORD.findall(text)
    voice = len(_VOICE.findall(text))
    return voice >= MIN_VOICE and voice >= MIN_VOICE_SHARE * max(len(words), 1)


def own_host(host: str, titles: list[str]) -> bool:
    """The page's host is named by its title or site name: a label of the host ("aws",
    "amazon", "cloudflare") is one of their words, or one of their words of five letters or
    more is part of a label ("github" of githubstatus.com)."""
    labels = [label for label in host.lower().split(".")[:-1]
              if label and label not in _GENERIC_LABELS]
    words = {w.lower() for t in titles for w in _WORD.findall(t)}
    return any(label in words or any(len(w) >= 5 and w in label for w in words)
               for label in labels)


def recognise(titles: list[str], sections: list[str], text: str, host: str, site: str,
              news_marked: bool) -> str | None:
    """The write-up's title when the page is a provider's own write-up, else None."""
    if news_marked:
        return None
    title = writeup_title(titles) or sectioned_writeup(titles, sections)
    if title is None:
        return None
    return title if own_voice(text) or own_host(host, [*titles, site]) else None


def sniff(body: bytes) -> bool:
    """An HTML page that reads like a write-up, from the provider itself (see above)."""
    head = head_text(body, SNIFF_BYTES)
    lowered = head[:4096].lower()
    if "<html" not in lowered and "<!doctype html" not in lowered:
        return False
    meta = head_meta(head)
    titles, sections = titles_of(head, meta), _elements(head, _SECTION_OPEN, 40)
    if writeup_title(titles) is None and sectioned_writeup(titles, sections) is None:
        return False
    return recognise(titles, sections, _strip(_drop_blocks(head)),
                     _host(meta.get("canonical", "")), meta.get("og:site_name", ""),
                     bool(_NEWS_MARK.search(head))) is not None


def _host(url: str) -> str:
    """The host of an http(s) URL; "" for anything else or an unreadable one."""
    if not url.startswith(("http://", "https://")):
        return ""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # "http://[::1": a hostile canonical URL is no host
        return ""


# --------------------------------------------------------------------------- parsing


def parse(doc: RawDoc) -> ParsedDoc:
    """One PostmortemRecord keyed by the page's canonical URL; refused (one line) when too
    large or without a write-up title."""
    if len(doc.body) > MAX_PAGE_BYTES:
        raise ParseError(doc.url, f"postmortem page larger than {MAX_PAGE_BYTES} bytes; "
                                  "not parsed (the archive keeps it)")
    soup = BeautifulSoup(doc.body, "lxml")
    meta = meta_tags(soup)
    ld = json_ld(soup, None)
    url = canonical_url(soup, meta, doc.url)
    stamp = time_attribute(soup)
    for tag in soup(["script", "style", "noscript", "template", "iframe", "svg", "nav",
                     "aside", "footer", "header", "form"]):
        tag.decompose()
    page_title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    # the page's own heading first: a <title> often carries " | Site" (and is raw text)
    titles = [t for t in (*(" ".join(h.get_text(" ").split()) for h in soup.find_all("h1")),
                          meta.get("og:title", ""), page_title) if t][:12]
    sections = [" ".join(h.get_text(" ").split()) for h in soup.find_all(["h2", "h3"])][:40]
    title = writeup_title(titles) or sectioned_writeup(titles, sections)
    if title is None:
        raise ParseError(doc.url, "page has no write-up title (incident report, postmortem, "
                                  "summary of the ... event) or write-up sections")
    paragraphs = _paragraphs(soup)
    text = "\n\n".join(paragraphs)[:TEXT_CHARS]
    notes: list[str] = []
    published = first_time((meta.get("article:published_time"),
                            one_line(ld.get("datePublished")), meta.get("date"),
                            meta.get("pubdate"), stamp))
    start, end = stated_window(paragraphs[:12])
    if start is None and published is None:
        notes.append("the page states no date (no publication date, no dated sentence): "
                     "kept undated, never linked on time")
    for name, value in (("start", start), ("publication date", published)):
        if value is not None and value < EARLIEST:
            notes.append(f"{name} {value:%Y-%m-%d} is before 1990, before any status page: "
                         "kept as stated, never matched on time")
    if urlsplit(url).scheme not in ("http", "https"):
        notes.append("the page names no canonical http(s) URL; kept under its file name")
    described = meta.get("description") or meta.get("og:description") or ""
    # a description that repeats the title says nothing: the opening paragraph instead
    summary = described if described and described != title else (
        paragraphs[0] if paragraphs else "")
    record = PostmortemRecord(
        source=SOURCE, native_id=url[:2000], url=url, title=title[:300],
        company=meta.get("og:site_name") or _publisher(ld), start=start, end=end,
        published_at=published, summary=summary[:SUMMARY_CHARS], text=text,
        notes=tuple(notes))
    return ParsedDoc(format=NAME, postmortems=(record,), provider_hint=PROVIDER_HINT,
                     warnings=tuple(f"{doc.url}: {n}" for n in notes))


def stated_window(paragraphs: list[str]) -> tuple[datetime | None, datetime | None]:
    """(start, end) a write-up's first dated sentence states: the full date with its year,
    the first clock time with a zone in that sentence as the start, a second one as the end
    (the next day when it reads earlier); a date alone is that day (start at midnight UTC,
    no end). (None, None) without a dated sentence."""
    for paragraph in paragraphs:
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            found = _DATE.search(sentence)
            if found is None:
                continue
            day = _date(found)
            if day is None:
                continue
            clocks = [c for c in (_clock(m) for m in _CLOCK.finditer(sentence)) if c]
            if not clocks:
                return datetime(day.year, day.month, day.day, tzinfo=UTC), None
            start = datetime.combine(day, clocks[0][0], tzinfo=clocks[0][1]).astimezone(UTC)
            end = None
            if len(clocks) > 1:
                end = datetime.combine(day, clocks[1][0], tzinfo=clocks[1][1]).astimezone(UTC)
                if end < start:
                    end += timedelta(days=1)
            return start, end
    return None, None


def _date(match: re.Match[str]) -> date | None:
    month = _MONTHS.get(match.group("month")[:3].lower())
    try:
        return date(int(match.group("year")), month or 0, int(match.group("day")))
    except ValueError:
        return None


def _clock(match: re.Match[str]):  # type: ignore[no-untyped-def]
    from datetime import time

    hour, minute = int(match.group("h")), int(match.group("m"))
    ampm = (match.group("ampm") or "").replace(".", "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    zone = timezone(timedelta(hours=_ZONES[match.group("zone").upper()]))
    return time(hour, minute), zone


def _paragraphs(soup: BeautifulSoup) -> list[str]:
    body = (soup.find(attrs={"itemprop": "articleBody"}) or soup.find("article")
            or soup.find("main") or soup.body or soup)
    out = []
    for tag in body.find_all(["p", "li"]):
        text = " ".join(tag.get_text(" ").split())
        if len(text) >= 20 and (not out or out[-1] != text):
            out.append(text)
    return out


def _publisher(ld: dict[str, Any]) -> str | None:
    publisher = ld.get("publisher")
    return one_line(publisher.get("name")) if isinstance(publisher, dict) else None
