"""`kb signals fetch`: Hacker News, news feeds with their articles, and reddit, into the line.

Every payload goes through `Line.feed` (archived first, skipped when its bytes are already
stored, parsed, stored at the next flush); a failing request is one line in the report and
the crawl goes on. What fetching an article adds beyond a payload (the publisher URL behind a
Google News link, or why the page gave nothing: not HTML, too large, paywalled) is recorded
on the item with `note_item`.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from kb.errors import SourceFailed
from kb.signals.config import SignalConfig
from kb.signals.kinds import is_outage
from kb.signals.match import match_providers
from kb.store.signals import load_items, note_item
from scrapers import hackernews, news, reddit
from scrapers.errors import FetchError, ParseError
from scrapers.fetch import Fetcher, FetchSettings
from scrapers.hackernews import Fetched
from scrapers.records import SignalRecord

if TYPE_CHECKING:
    from kb.pipeline import Line  # the Line the command opened; no import at run time

SOURCES = ("hn", "news", "reddit")


@dataclass(frozen=True)
class FetchPlan:
    """What one `kb signals fetch` run covers."""

    providers: tuple[str, ...]
    since: datetime
    until: datetime
    sources: tuple[str, ...] = SOURCES
    articles: bool = True
    max_threads: int = 30  # /items/<id> requests per run
    max_articles: int = 50  # article pages per run


def fetch_signals(line: Line, fetcher: Fetcher, article_fetcher: Fetcher,
                  config: SignalConfig, plan: FetchPlan, settings: FetchSettings) -> None:
    """Run the plan; results land in `line.report` (per pseudo-provider) and the store.

    `fetcher` fetches what the configuration names (the HN API, the feeds listed in
    sources.toml): trusted as configured. `article_fetcher` fetches the links those feeds
    carry, written by third parties: it must be `Fetcher(untrusted=True)`, which refuses
    loopback, private and metadata addresses on every hop (scrapers.addresses)."""
    if plan.articles and "news" in plan.sources and not article_fetcher.untrusted:
        raise ValueError("article links come from third-party feeds: pass an untrusted "
                         "Fetcher (Fetcher(untrusted=True)) as article_fetcher")
    check_network(endpoints(config, plan))
    if "hn" in plan.sources:
        _hackernews(line, fetcher, config, plan)
    if "news" in plan.sources:
        _news(line, fetcher, article_fetcher, config, plan)
    if "reddit" in plan.sources:
        _reddit(line, fetcher, config, plan, settings)
    line.flush()


def endpoints(config: SignalConfig, plan: FetchPlan) -> list[str]:
    """The configured URLs the plan will ask first (the HN API, the feeds, reddit)."""
    urls = []
    if "hn" in plan.sources:
        urls.append(config.hn_api)
    if "news" in plan.sources:
        urls += [feed.url for feed in config.feeds]
    if "reddit" in plan.sources and config.reddit_subreddits:
        urls.append(config.reddit_web)
    return urls


def check_network(urls: Sequence[str]) -> None:
    """Resolve each distinct host once before any request; SourceFailed (exit 5, one line)
    when none resolves. Offline, every request would otherwise spend its retries and back-offs
    on name resolution (59 s for one run); a name that fails here is not worth retrying."""
    hosts = _unique([h for h in (urlsplit(u).hostname for u in urls) if h])
    failures = []
    for host in hosts:
        try:
            socket.getaddrinfo(host, None)
        except (socket.gaierror, UnicodeError) as exc:
            failures.append(f"{host} ({getattr(exc, 'strerror', None) or exc})")
            if getattr(exc, "errno", None) == socket.EAI_AGAIN:
                break  # no resolver answers: the next host would wait as long for nothing
        else:
            return  # one host answers: the network is there; per-request errors say the rest
    if failures:
        more = f" and {len(failures) - 1} more" if len(failures) > 1 else ""
        raise SourceFailed(f"no network: cannot resolve {failures[0]}{more}; nothing fetched "
                           "(offline: import recorded payloads with `kb ingest DIR`)")


def _take(line: Line, fetched: Fetched, slug: str) -> bool:
    """Feed one fetched payload to the line; a failure is reported under `slug`."""
    if fetched.error is not None:
        line.report.source(slug).failed.append(fetched.error)
        line.progress(fetched.url)
        return False
    if fetched.doc is None:
        return False
    line.feed(fetched.doc, provider=None, label=fetched.url, archive_source=slug)
    return True


def _hackernews(line: Line, fetcher: Fetcher, config: SignalConfig, plan: FetchPlan) -> None:
    slug = hackernews.PROVIDER_HINT
    threads: dict[str, SignalRecord] = {}
    for provider in plan.providers:
        terms = config.terms(provider)
        if terms is None:
            continue
        for name in terms.names:
            for word in config.outage_words:
                for fetched in hackernews.search_docs(fetcher, config.hn_api, f"{name} {word}",
                                                      plan.since, plan.until):
                    if _take(line, fetched, slug) and fetched.doc is not None:
                        for record in _records(hackernews, fetched):
                            if (record.comments or 0) >= config.thread_min_comments \
                                    and is_outage(record.title):
                                threads.setdefault(record.native_id, record)
    line.flush()
    newest = sorted(threads.values(), key=lambda r: -(r.comments or 0))[: plan.max_threads]
    for record in newest:
        url = hackernews.item_url(config.hn_api, record.native_id)
        try:
            outcome = fetcher.get(url)
        except FetchError as exc:
            line.report.source(slug).failed.append(str(exc))
            continue
        _take(line, Fetched(url, doc=outcome.doc), slug)


def _records(module, fetched: Fetched) -> tuple[SignalRecord, ...]:  # type: ignore[no-untyped-def]
    """The signals of a payload the line just took (parsed again here: cheap, and the line
    keeps no parse results)."""
    try:
        return module.parse(fetched.doc).signals
    except ParseError:
        return ()


def _news(line: Line, fetcher: Fetcher, article_fetcher: Fetcher, config: SignalConfig,
          plan: FetchPlan) -> None:
    slug = news.PROVIDER_HINT
    listed: list[SignalRecord] = []
    for feed in config.feeds:
        if feed.provider is not None and feed.provider not in plan.providers:
            continue
        try:
            outcome = fetcher.get(feed.url, line.archive.validators(feed.url))
        except FetchError as exc:
            line.report.source(slug).failed.append(str(exc))
            continue
        if outcome.doc is None:  # 304: nothing new in this feed
            line.report.source(slug).not_modified += 1
            continue
        fetched = Fetched(feed.url, doc=outcome.doc)
        if _take(line, fetched, slug):
            listed += [r for r in _records(news, fetched)
                       if r.created_at is None or r.created_at >= plan.since]
    line.flush()
    if not plan.articles:
        return
    done = {(i.record.source, i.record.native_id) for i in load_items(line.store)
            if i.resolved_url or i.fetch_note}
    wanted = [r for r in listed if r.source == "news" and r.url
              and (r.source, r.native_id) not in done
              and is_outage(r.title + " " + r.text[:300])
              and match_providers(r.title, [r.url], r.text, config.providers)]
    for record in wanted[: plan.max_articles]:
        assert record.url is not None
        result = _checked(line, news.fetch_article(article_fetcher, record.url), slug)
        own_note = None
        if result.doc is not None:
            line.feed(result.doc, provider=None, label=result.doc.url, archive_source=slug)
            line.flush()
            own_note = next(iter(news.parse(result.doc).signals[0].notes), None)  # paywalled
        if result.note:
            line.report.source(slug).warnings.append(f"{record.url}: {result.note}")
        note_item(line.store, record.source, record.native_id,
                  resolved_url=result.resolved or (result.doc.url if result.doc else None),
                  note=result.note or own_note)


def _checked(line: Line, result: news.ArticleFetch, slug: str) -> news.ArticleFetch:
    """A fetched page that is no readable article is archived, and becomes a note: a bad
    third-party page costs its article text, not the run's exit status."""
    if result.doc is None:
        return result
    reason = None if news.sniff(result.doc.body) else "page has no article markup"
    if reason is None:
        try:
            news.parse(result.doc)
        except ParseError as exc:
            reason = f"article page unreadable ({exc.reason})"
    if reason is None:
        return result
    line.archive.put(result.doc, source=slug)
    return replace(result, doc=None, note=f"{reason}: feed summary only")


def _reddit(line: Line, fetcher: Fetcher, config: SignalConfig, plan: FetchPlan,
            settings: FetchSettings) -> None:
    slug = reddit.PROVIDER_HINT
    queries = [f"{name} outage" for p in plan.providers if (t := config.terms(p))
               for name in t.names]
    settings_ = reddit.RedditConfig(
        subreddits=config.reddit_subreddits, client_id=config.reddit_client_id,
        client_secret=config.reddit_client_secret, web=config.reddit_web,
        oauth_api=config.reddit_oauth_api, token_url=config.reddit_token_url)
    for fetched in reddit.crawl(fetcher, settings_, _unique(queries), settings=settings):
        if fetched.error is not None and fetched.error.startswith("reddit: skipped"):
            line.report.notes.append(fetched.error)  # optional source: said once, not a failure
            continue
        _take(line, fetched, slug)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
