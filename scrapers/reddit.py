"""Reddit, an optional signal source: search listings (JSON) → SignalRecords, and the fetching.

Reddit's anonymous JSON answers 403 nowadays, so there are two ways in:
- app-only OAuth (client credentials) when a client id and secret are configured: a token from
  `/api/v1/access_token`, then `https://oauth.reddit.com/.../search` Listings (this module's
  format);
- otherwise the public RSS search feeds (`/search.rss`), which `scrapers.news` parses.
When neither answers, `crawl` says so once and stops; the caller goes on with other sources.

Both go through the caller's `scrapers.fetch.Fetcher` and its public API only: the token
request is `post_form` (a form POST with HTTP Basic client credentials, as reddit's token
endpoint requires) and each search is a `get` with the bearer token as an extra header, so
retries, size caps, politeness and Retry-After apply to every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from scrapers.errors import FetchError, ParseError
from scrapers.fetch import Fetcher, FetchSettings
from scrapers.hackernews import Fetched
from scrapers.jsondoc import head_text, load_json
from scrapers.records import ParsedDoc, RawDoc, SignalRecord

NAME = "reddit"
VERSION = 1
CHANNEL = PRIORITY = None  # no incident records of its own

PROVIDER_HINT = "signals-reddit"
WEB = "https://www.reddit.com"
OAUTH_API = "https://oauth.reddit.com"
TOKEN_URL = "https://www.reddit.com/api/v1/access_token"


def sniff(body: bytes) -> bool:
    """A reddit Listing (search results or a subreddit's posts)."""
    head = head_text(body, 512).replace(" ", "")
    return head.lstrip().startswith("{") and '"kind":"Listing"' in head


def parse(doc: RawDoc) -> ParsedDoc:
    """One SignalRecord per post (t3) of the Listing; other kinds are skipped."""
    data = load_json(doc.body, doc.url)
    listing = data.get("data") if isinstance(data, dict) else None
    children = listing.get("children") if isinstance(listing, dict) else None
    if not isinstance(children, list):
        raise ParseError(doc.url, "reddit Listing without data.children")
    signals, warnings = [], []
    for index, child in enumerate(children):
        post = child.get("data") if isinstance(child, dict) and child.get("kind") == "t3" else None
        if not isinstance(post, dict):
            continue
        record = _post(post, doc.url)
        if record is None:
            warnings.append(f"{doc.url}: post #{index} has no id or title, skipped")
            continue
        signals.append(record)
    return ParsedDoc(format=NAME, provider_hint=PROVIDER_HINT, warnings=tuple(warnings),
                     signals=tuple(signals))


def _post(post: dict[str, Any], where: str) -> SignalRecord | None:
    name, title = post.get("name"), post.get("title")
    if not isinstance(name, str) or not isinstance(title, str) or not title.strip():
        return None
    created = post.get("created_utc")
    when = None
    if isinstance(created, (int, float)) and not isinstance(created, bool):
        try:
            when = datetime.fromtimestamp(created, UTC)
        except (OverflowError, OSError, ValueError):
            when = None
    permalink = post.get("permalink")
    discussion = WEB + permalink if isinstance(permalink, str) and permalink.startswith(
        "/") else None
    url = post.get("url") if isinstance(post.get("url"), str) else None
    if post.get("is_self") or url == discussion:
        url = None
    text = post.get("selftext") if isinstance(post.get("selftext"), str) else ""
    sub = post.get("subreddit")
    return SignalRecord(
        source="reddit",
        native_id=name,
        title=" ".join(title.split()),
        url=url,
        discussion_url=discussion,
        created_at=when,
        author=post.get("author") if isinstance(post.get("author"), str) else None,
        points=_int(post.get("score")),
        comments=_int(post.get("num_comments")),
        text=text.strip()[:1500],
        site=f"r/{sub}" if isinstance(sub, str) else "reddit",
        feed_url=where,
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class RedditConfig:
    """Where and how to search reddit. Credentials come from the environment, never a file."""

    subreddits: tuple[str, ...] = ()  # empty: all of reddit
    client_id: str | None = None
    client_secret: str | None = None
    web: str = WEB
    oauth_api: str = OAUTH_API
    token_url: str = TOKEN_URL


def oauth_token(fetcher: Fetcher, config: RedditConfig) -> str:
    """An app-only access token (client credentials grant); FetchError with the reason."""
    try:
        answer = fetcher.post_form(
            config.token_url, {"grant_type": "client_credentials"},
            auth=(config.client_id or "", config.client_secret or ""),
        )
    except FetchError as exc:  # say which of reddit's requests it was
        raise FetchError(config.token_url, f"token request: {exc.reason}") from None
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise FetchError(config.token_url, "token response without access_token")
    return token


def search_urls(config: RedditConfig, query: str, *, oauth: bool) -> list[str]:
    """Newest-first search URLs for `query`: JSON under OAuth, RSS otherwise."""
    params = {"q": query, "sort": "new", "t": "week", "limit": "100"}
    base = config.oauth_api if oauth else config.web
    suffix = "/search" if oauth else "/search.rss"
    if not config.subreddits:
        return [f"{base}{suffix}?{urlencode(params)}"]
    return [f"{base}/r/{quote(sub)}{suffix}?{urlencode(dict(params, restrict_sr='1'))}"
            for sub in config.subreddits]


def crawl(fetcher: Fetcher, config: RedditConfig, queries: list[str], *,
          settings: FetchSettings | None = None) -> Iterator[Fetched]:
    """Every search page for `queries`: OAuth JSON when credentials work, else RSS. When the
    first request of a mode fails, that mode is abandoned; when both are, one error line.

    `settings` is not used (every request goes through `fetcher`, with its own settings);
    the keyword stays so that callers written for the earlier signature keep working."""
    del settings
    reasons: list[str] = []
    if config.client_id and config.client_secret:
        try:
            token = oauth_token(fetcher, config)
        except FetchError as exc:
            reasons.append(f"OAuth: {exc.reason}")
        else:
            bearer = {"Authorization": f"bearer {token}"}
            yield from _pages(fetcher, config, queries, oauth=True, reasons=reasons,
                              headers=bearer)
            if not reasons:
                return
    else:
        reasons.append("OAuth: no client id/secret configured")
    before = len(reasons)
    yield from _pages(fetcher, config, queries, oauth=False, reasons=reasons, headers={})
    if len(reasons) > before:
        yield Fetched(config.web, error="reddit: skipped, neither way in works ("
                                         + "; ".join(reasons) + ")")


def _pages(fetcher: Fetcher, config: RedditConfig, queries: list[str], *, oauth: bool,
           reasons: list[str], headers: dict[str, str]) -> Iterator[Fetched]:
    first = True
    for query in queries:
        for url in search_urls(config, query, oauth=oauth):
            try:
                outcome = fetcher.get(url, headers=headers)
            except FetchError as exc:
                if first:  # the way in itself is closed (403, 429 storm, ...): stop here
                    reasons.append(f"{'OAuth' if oauth else 'RSS'}: {exc.reason}")
                    return
                yield Fetched(url, error=str(exc))
                continue
            first = False
            yield Fetched(url, doc=outcome.doc)
