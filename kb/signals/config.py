"""What to look for and where: the `[signals]` tables of sources.toml.

    [signals]                       # optional; defaults below
    hn_api = "https://hn.algolia.com/api/v1"
    outage_words = ["down", "outage", ...]   # combined with each name into HN queries
    thread_min_comments = 5         # fetch /items/<id> (top comments) above this many comments
    article_max_bytes = 2000000     # article pages larger than this keep the feed summary

    [signals.match.<provider slug>] # names, products and domains that mean this provider
    names = ["Anthropic", "Claude"]
    products = ["Claude Code", "Opus"]
    domains = ["anthropic.com", "claude.ai"]

    [[signals.feed]]                # news feeds (tech press, Google News search RSS)
    name = "The Register"
    url = "https://www.theregister.com/headlines.atom"
    provider = "anthropic"          # optional: a per-provider search feed

    [signals.reddit]
    subreddits = ["sysadmin"]       # OAuth credentials: KB_REDDIT_CLIENT_ID/_SECRET env vars

A provider without a match table is matched by its display name (before any parenthesis)
and its status page hosts from its [[source]] entry; a disabled one by its hosts alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.config import SourceConfig, load_settings, number_setting, signals_table
from kb.errors import ConfigError

HN_API = "https://hn.algolia.com/api/v1"
OUTAGE_WORDS = ("down", "outage", "degraded", "errors", "incident", "unavailable")


@dataclass(frozen=True)
class ProviderTerms:
    """The words and hosts that mean one provider."""

    slug: str
    names: tuple[str, ...]  # strong: a title naming one is about the provider
    products: tuple[str, ...] = ()  # strong too, but not used as search queries
    domains: tuple[str, ...] = ()  # the provider's own sites
    status_hosts: tuple[str, ...] = ()  # its status page hosts (from [[source]])

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.names + self.products


@dataclass(frozen=True)
class Feed:
    name: str
    url: str
    provider: str | None = None


@dataclass(frozen=True)
class SignalConfig:
    """Everything kb.signals reads from sources.toml (and the reddit credentials)."""

    providers: tuple[ProviderTerms, ...]
    feeds: tuple[Feed, ...] = ()
    hn_api: str = HN_API
    outage_words: tuple[str, ...] = OUTAGE_WORDS
    thread_min_comments: int = 5
    article_max_bytes: int = 2_000_000
    reddit_subreddits: tuple[str, ...] = ()
    reddit_web: str = "https://www.reddit.com"
    reddit_oauth_api: str = "https://oauth.reddit.com"
    reddit_token_url: str = "https://www.reddit.com/api/v1/access_token"
    reddit_client_id: str | None = field(default=None, repr=False)
    reddit_client_secret: str | None = field(default=None, repr=False)

    def terms(self, slug: str) -> ProviderTerms | None:
        return next((p for p in self.providers if p.slug == slug), None)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def default_names(source: SourceConfig) -> tuple[str, ...]:
    """"Datadog (US1)" → ("Datadog",). A disabled source (kept for imports only) is matched by
    its status hosts alone: "Parse (defunct)" must not claim every title that says "parse"."""
    if not source.enabled:
        return ()
    main = source.name.split("(")[0].strip()
    return (main,) if main else (source.slug,)


def load_signal_config(path: Path, sources: Sequence[SourceConfig],
                       env: Mapping[str, str] | None = None, *,
                       table: Mapping[str, Any] | None = None) -> SignalConfig:
    """The [signals] tables of `path` (or `table`, an already merged [signals] table, see
    kb.config.load_source_list; `path` then only names it in errors) over defaults;
    ConfigError (one line) on bad values."""
    if table is None:
        table = signals_table(path) if path.is_file() else {}
    data: Any = dict(table)
    where = f"{path}: [signals]"
    match = data.get("match", {})
    if not isinstance(match, dict):
        raise ConfigError(f"{where}.match must be a table of provider tables")
    known = {s.slug: s for s in sources}
    unknown = sorted(set(match) - set(known))
    if unknown:
        raise ConfigError(f"{where}.match: not a [[source]] slug: {', '.join(unknown)}")
    providers = []
    for slug, source in known.items():
        table = match.get(slug, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}.match.{slug} must be a table")
        names = _strings(table.get("names"), f"{where}.match.{slug}.names") or (
            () if table else default_names(source))
        providers.append(ProviderTerms(
            slug=slug,
            names=names,
            products=_strings(table.get("products"), f"{where}.match.{slug}.products"),
            domains=tuple(d.lower() for d in _strings(table.get("domains"),
                                                      f"{where}.match.{slug}.domains")),
            status_hosts=tuple(h.removeprefix("www.") for h in source.hosts),
        ))
    feeds = []
    for index, entry in enumerate(data.get("feed", []) or [], 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) or not str(
                entry["url"]).startswith(("http://", "https://")):
            raise ConfigError(f"{where} feed #{index}: needs an http(s) url")
        provider = entry.get("provider")
        if provider is not None and provider not in known:
            raise ConfigError(f"{where} feed #{index}: unknown provider {provider!r}")
        feeds.append(Feed(str(entry.get("name") or entry["url"]), entry["url"], provider))
    reddit = data.get("reddit", {}) if isinstance(data.get("reddit", {}), dict) else {}
    own = load_settings(env).signals
    return SignalConfig(
        providers=tuple(providers),
        feeds=tuple(feeds),
        hn_api=str(own.hn_api or data.get("hn_api") or HN_API),
        outage_words=_strings(data.get("outage_words"), f"{where}.outage_words")
        or OUTAGE_WORDS,
        thread_min_comments=number_setting(f"{where}.thread_min_comments",
                                           data.get("thread_min_comments", 5), int, 0),
        article_max_bytes=number_setting(f"{where}.article_max_bytes",
                                         data.get("article_max_bytes", 2_000_000), int, 1),
        reddit_subreddits=_strings(reddit.get("subreddits"), f"{where}.reddit.subreddits"),
        reddit_web=str(reddit.get("web", "https://www.reddit.com")),
        reddit_oauth_api=str(reddit.get("oauth_api", "https://oauth.reddit.com")),
        reddit_token_url=str(reddit.get("token_url",
                                        "https://www.reddit.com/api/v1/access_token")),
        reddit_client_id=own.reddit_client_id,
        reddit_client_secret=own.reddit_client_secret,
    )
