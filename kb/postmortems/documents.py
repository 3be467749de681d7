"""Entries → documents: one Postmortem per write-up URL, with its provider and status.

The same write-up appears in several lists (icco's annotated file and danluu's paragraph,
sometimes once as an archive.org copy): entries are merged by `url_key`, the URL without
scheme, `www.`, fragment, trailing slash and archive.org wrapper. The annotated entry wins
for every field it states (times, product, categories); the list adds its category.

A document's status says what it can be linked by (kb.postmortems.link):
- linkable: states a plausible start, maps to a provider;
- undated: states no time: linked only by its URL or a day its text names, never by time;
- historical: states a time before any status page existed (before 1990: the corpus has a
  1628 ship and the 1969 moon landing): stored and browsable, never linked by time;
- other-language: not English text; stored, linked only by URL;
- unmapped: its company is not a provider this KB follows; stored and browsable.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from kb.postmortems.providers import map_provider
from kb.signals.config import ProviderTerms
from kb.store.postmortems import Postmortem, StoredItem
from scrapers.records import PostmortemRecord

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # as scrapers.plausible: no status page before
_ARCHIVE = re.compile(r"^https?://web\.archive\.org/web/[0-9a-z_]+/(?P<url>.+)$", re.I)
_ENGLISH_TEXT = """the and of to in was were is a that for on with by at from this it as be we
our an are not which after had has all but their"""
_ENGLISH = frozenset(_ENGLISH_TEXT.split())
_WORD = re.compile(r"[^\W\d_]+")
# A source earlier in this list wins a field both state (annotated before the bare list).
SOURCE_RANK = ("icco", "danluu", "page", "status-page")


def url_key(url: str) -> str:
    """The write-up's identity: `host/path?query`, lower-case host, no `www.`, no fragment,
    no trailing slash, an archive.org copy read as the page it copies."""
    url = url.strip().strip('"')
    wrapped = _ARCHIVE.match(url)
    if wrapped:
        url = wrapped.group("url")
        if not re.match(r"^https?://", url, re.I):
            url = "http://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.lower()
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("", host, path, parts.query, "")).lstrip("/")


def document_id(key: str) -> str:
    return "pm-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def is_english(text: str) -> bool | None:
    """True/False when the text is long enough to tell (≥ 20 words), else None."""
    words = [w.lower() for w in _WORD.findall(text[:4000])]
    if len(words) < 20:
        return None
    return sum(w in _ENGLISH for w in words) / len(words) >= 0.08


def build_documents(items: Sequence[StoredItem],
                    terms: Sequence[ProviderTerms]) -> list[Postmortem]:
    """Every stored entry merged by URL key, mapped to a provider, given a status."""
    by_key: dict[str, list[PostmortemRecord]] = {}
    for item in items:
        by_key.setdefault(item.url_key, []).append(item.record)
    return [_document(key, records, terms) for key, records in sorted(by_key.items())]


def _rank(record: PostmortemRecord) -> int:
    return SOURCE_RANK.index(record.source) if record.source in SOURCE_RANK else len(SOURCE_RANK)


def _first(records: list[PostmortemRecord], name: str):  # type: ignore[no-untyped-def]
    return next((getattr(r, name) for r in records if getattr(r, name)), None)


def _document(key: str, records: list[PostmortemRecord],
              terms: Sequence[ProviderTerms]) -> Postmortem:
    records = sorted(records, key=lambda r: (_rank(r), r.native_id))
    products = tuple(dict.fromkeys(
        p.strip() for r in records for p in (r.product or "").split(",") if p.strip()))
    company = _first(records, "company")
    url = next((r.url for r in records if not _ARCHIVE.match(r.url)), records[0].url)
    summary = _first(records, "summary") or ""
    text = max((r.text for r in records), key=len, default="")
    mapping = map_provider(company, products, url, f"{summary} {text}", terms)
    start, end = _first(records, "start"), _first(records, "end")
    notes = tuple(dict.fromkeys(n for r in records for n in r.notes))
    english = is_english(f"{summary} {text}")
    if not mapping.providers:
        status, reason = "unmapped", mapping.evidence
    elif english is False:
        status, reason = "other-language", ("text is not English: linked only by a status-page "
                                            "URL, never by time or words")
    elif start is not None and start < EARLIEST:
        status, reason = "historical", (f"states {start:%Y-%m-%d}, before any status page "
                                        "existed: not matched on time")
    elif start is None:
        status, reason = "undated", ("states no time: linked only by its URL or a day its "
                                     "text names, never by time alone")
    else:
        status, reason = "linkable", ""
    return Postmortem(
        id=document_id(key), url=url, title=_first(records, "title") or url,
        provider=mapping.providers[0] if mapping.providers else None,
        providers=mapping.providers, company=company, products=products,
        start=start, end=end, published_at=_first(records, "published_at"),
        categories=tuple(dict.fromkeys(c for r in records for c in r.categories)),
        keywords=tuple(dict.fromkeys(k for r in records for k in r.keywords)),
        summary=summary, text=text,
        sources=tuple((r.source, r.native_id) for r in records),
        archive_url=_first(records, "archive_url") or next(
            (r.url for r in records if _ARCHIVE.match(r.url)), None),
        status=status, reason=reason, provider_evidence=mapping.evidence, notes=notes)
