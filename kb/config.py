"""Paths and settings, from environment variables over an optional TOML file over defaults.

Every environment variable kb reads is listed in ENVIRONMENT and read through `env_value`,
here only: `load_settings` validates every value once (one ConfigError line naming the
variable or key) and hands the features their typed part (`llm`, `embed`, `signals`, the
site's); the README's settings table is tested against that list. kb.toml keys:
database_url, sources, raw_dir, lock_timeout, [fetch] (see scrapers.fetch), [site]
draft_days, [watch] and [[alert]] (see docs/alerts.md).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kb.errors import ConfigError

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")


# Every environment variable kb reads, with what it sets (defaults: the README's table).
ENVIRONMENT: dict[str, str] = {
    "KB_HOME": "home folder (./data)",
    "KB_CONFIG": "settings file ($KB_HOME/kb.toml if present)",
    "KB_DATABASE_URL": "database, any SQLAlchemy URL (sqlite:///$KB_HOME/kb.db)",
    "KB_SOURCES": "sources list over the packaged one ($KB_HOME/sources.toml if present)",
    "KB_RAW_DIR": "raw archive ($KB_HOME/raw)",
    "KB_LOCK_TIMEOUT": "seconds a writer waits for another (600)",
    "KB_SITE_DRAFT_DAYS": "days of postmortem drafts the site publishes (90; 0: none)",
    "KB_SITE_DIR": "site output ($KB_HOME/build)",
    "KB_EMBED_MODEL": "embedding model: all-MiniLM-L6-v2 (packaged), a folder, or fake-hash",
    "KB_EMBED_BACKEND": "onnx-int8 (default), onnx or torch",
    "KB_MODEL_CACHE": "ONNX export cache, shareable by several homes ($KB_HOME/models)",
    "KB_LLM_URL": "polishing: OpenAI-compatible chat completions URLs, comma-separated; a "
                  "base such as http://host:8000/v1 gets /chat/completions appended (off)",
    "KB_LLM_MODEL": "polishing: model name sent with each request (default)",
    "KB_LLM_API_KEY": "polishing: bearer token, sent as Authorization, never printed",
    "KB_LLM_TIMEOUT": "polishing: seconds per request (60)",
    "KB_LLM_RETRIES": "polishing: extra attempts per endpoint on transient failures (1)",
    "KB_HN_API": "Hacker News search API (https://hn.algolia.com/api/v1)",
    "KB_REDDIT_CLIENT_ID": "reddit OAuth client (else reddit's public JSON)",
    "KB_REDDIT_CLIENT_SECRET": "reddit OAuth secret",
}


def env_value(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The one way kb reads an environment variable (`os.environ` unless `env` is given);
    empty counts as unset. `name` must be one of ENVIRONMENT, so none goes undocumented."""
    if name not in ENVIRONMENT:
        raise KeyError(f"{name} is not listed in kb.config.ENVIRONMENT")
    return (os.environ if env is None else env).get(name) or None


@dataclass(frozen=True)
class SourceConfig:
    """One provider's status page as configured in sources.toml."""

    slug: str
    name: str
    url: str  # base URL of the status page
    platform: str = "statuspage"
    aliases: tuple[str, ...] = ()  # other hosts (and, later, names) that mean this provider
    enabled: bool = True

    @property
    def hosts(self) -> tuple[str, ...]:
        own = urlsplit(self.url).hostname or ""
        return (own, *(a.lower() for a in self.aliases if "." in a and " " not in a))


@dataclass(frozen=True)
class LlmSettings:
    """Polishing of drafts by a language model (kb.drafts.polish); off without endpoints."""

    endpoints: tuple[str, ...] = ()  # chat completions URLs, tried in order
    model: str = "default"
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0  # seconds per request
    retries: int = 1  # extra attempts per endpoint on transient failures


EMBED_BACKENDS = ("onnx-int8", "onnx", "torch")


@dataclass(frozen=True)
class EmbedSettings:
    """The embedding model (a name, a folder or fake-hash; kb.embed.encoder locates it)."""

    model: str = "all-MiniLM-L6-v2"
    backend: str = EMBED_BACKENDS[0]  # one of EMBED_BACKENDS
    cache: Path | None = None  # KB_MODEL_CACHE: ONNX exports shared by several homes


@dataclass(frozen=True)
class SignalSettings:
    """The environment's part of kb.signals' settings (the rest is sources.toml [signals])."""

    hn_api: str | None = None
    reddit_client_id: str | None = field(default=None, repr=False)
    reddit_client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    """Every setting, read from the environment and kb.toml and validated once
    (`load_settings`); features take their typed part (`llm`, `embed`, `signals`, `fetch`)."""

    home: Path
    database_url: str
    sources_path: Path  # the home's own list, over the packaged one (see load_source_list)
    raw_dir: Path
    # kb.toml [fetch] as written: scrapers.fetch.FetchSettings, made by
    # kb.commands.common.fetch_settings (scrapers/ is imported only by commands that fetch).
    fetch: Mapping[str, Any] = field(default_factory=dict)
    lock_timeout: float = 600.0  # seconds a writer waits for another writer
    # The site publishes postmortem drafts of the incidents first posted in the last N days
    # before its as-of date (0: none). Drafting all of a large KB would double the page count.
    site_draft_days: int = 90
    site_dir: Path | None = None  # KB_SITE_DIR: the site's build folder
    # KB_SOURCES or kb.toml `sources` named the file: missing, it is an error (the default
    # $KB_HOME/sources.toml is optional: the packaged list alone is then in use).
    sources_named: bool = False
    # [[alert]] tables and the [watch] table of kb.toml, as written: validated by
    # kb.alerts.targets and kb.watch.schedule, which name the file in their errors.
    alerts: tuple[Mapping[str, Any], ...] = ()
    watch: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path | None = None  # the kb.toml read, if any
    llm: LlmSettings = LlmSettings()
    embed: EmbedSettings = EmbedSettings()
    signals: SignalSettings = SignalSettings()


def number_setting(where: str, raw: object, kind: type[float], low: float, *,
            above: bool = False) -> Any:
    """`raw` (a string, or a TOML value) as an int or float of at least (or above) `low`;
    else one ConfigError line naming `where` (the variable or key)."""
    try:  # via str(): a TOML float (30.5) or boolean is refused, not truncated
        value = kind(str(raw).strip())
    except ValueError:
        value = None
    if value is None or not (value > low if above else value >= low):  # NaN fails too
        whole = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{where} must be {whole} {'above' if above else 'of at least'} "
                          f"{low:g}, not {raw!r}")
    return value


def _table(data: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{key}] must be a table")
    return table


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (`os.environ` by default) and the optional kb.toml,
    validated: ConfigError (one line, naming the variable or key) on any bad value."""
    def var(name: str, table: Mapping[str, Any] | None = None, key: str = "",
            default: object = None) -> tuple[str, object]:
        """(where, raw value) of a setting: the variable, else the kb.toml key, else the
        default."""
        if (value := env_value(name, env)) is not None or table is None:
            return name, value if value is not None else default
        return f"{config_path}: {key}", table.get(key.split()[-1], default)

    named_config = env_value("KB_CONFIG", env)
    home = Path(env_value("KB_HOME", env) or "data").expanduser()
    config_path = Path(named_config) if named_config else home / "kb.toml"
    file_settings: dict[str, Any] = {}
    if config_path.is_file():
        file_settings = _read_toml(config_path)
    elif named_config:
        raise ConfigError(f"{config_path}: settings file not found")
    named_sources = env_value("KB_SOURCES", env) or file_settings.get("sources")
    site = _table(file_settings, "site", config_path)
    alerts = file_settings.get("alert", [])
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise ConfigError(f"{config_path}: [[alert]] must be an array of tables")
    urls = [u.strip() for u in (env_value("KB_LLM_URL", env) or "").split(",") if u.strip()]
    for url in urls:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ConfigError("KB_LLM_URL: not an http(s) URL: "
                              f"{urlsplit(url).scheme}://{urlsplit(url).hostname or ''}")
    backend = (env_value("KB_EMBED_BACKEND", env) or EMBED_BACKENDS[0]).strip()
    if backend not in EMBED_BACKENDS:
        raise ConfigError(f"KB_EMBED_BACKEND must be one of {', '.join(EMBED_BACKENDS)}, "
                          f"not {backend!r}")
    site_dir, cache = env_value("KB_SITE_DIR", env), env_value("KB_MODEL_CACHE", env)
    return Settings(
        home=home,
        database_url=str(env_value("KB_DATABASE_URL", env) or file_settings.get("database_url")
                         or f"sqlite:///{(home / 'kb.db').as_posix()}"),
        sources_path=Path(named_sources or home / "sources.toml"),
        sources_named=bool(named_sources),
        raw_dir=Path(env_value("KB_RAW_DIR", env) or file_settings.get("raw_dir")
                     or home / "raw"),
        fetch=_table(file_settings, "fetch", config_path),
        lock_timeout=number_setting(*var("KB_LOCK_TIMEOUT", file_settings, "lock_timeout", 600),
                             float, 0),
        site_draft_days=number_setting(*var("KB_SITE_DRAFT_DAYS", site, "[site] draft_days", 90),
                                int, 0),
        site_dir=Path(site_dir) if site_dir else None,
        alerts=tuple(alerts),
        watch=_table(file_settings, "watch", config_path),
        config_path=config_path if config_path.is_file() else None,
        llm=LlmSettings(tuple(_completions_url(u) for u in urls),
                        env_value("KB_LLM_MODEL", env) or "default",
                        env_value("KB_LLM_API_KEY", env),
                        number_setting(*var("KB_LLM_TIMEOUT", default=60), float, 0, above=True),
                        number_setting(*var("KB_LLM_RETRIES", default=1), int, 0)),
        embed=EmbedSettings((env_value("KB_EMBED_MODEL", env) or EmbedSettings.model).strip(),
                            backend, Path(cache) if cache else None),
        signals=SignalSettings(env_value("KB_HN_API", env), env_value("KB_REDDIT_CLIENT_ID", env),
                               env_value("KB_REDDIT_CLIENT_SECRET", env)),
    )


def _completions_url(url: str) -> str:
    """A base such as http://host:8000/v1 with /chat/completions appended."""
    base = url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {str(exc).splitlines()[0]}") from None


def load_sources(path: Path) -> list[SourceConfig]:
    """The [[source]] entries of one sources.toml, validated (this file alone: a home's list
    over the packaged one is `load_source_list`)."""
    if not path.is_file():
        raise ConfigError(f"{path}: sources file not found (set KB_SOURCES or KB_HOME)")
    return _parse_sources(_read_toml(path), path)


def _parse_sources(data: Mapping[str, Any], path: Path) -> list[SourceConfig]:
    from scrapers.registry import PLATFORMS  # imports every scraper: only when sources are read

    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: [[source]] must be an array of tables")
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, 1):
        where = f"{path}: source #{index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: not a table")
        slug = entry.get("slug")
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise ConfigError(f"{where}: slug must be lower-case letters, digits and dashes")
        if slug in seen:
            raise ConfigError(f"{where}: duplicate slug {slug!r}")
        seen.add(slug)
        url = entry.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"{where} ({slug}): url must be an http(s) URL")
        platform = entry.get("platform", "statuspage")
        if platform not in PLATFORMS:
            known = ", ".join(sorted(PLATFORMS))
            raise ConfigError(f"{where} ({slug}): unknown platform {platform!r} (known: {known})")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigError(f"{where} ({slug}): aliases must be a list of strings")
        sources.append(
            SourceConfig(
                slug=slug,
                name=str(entry.get("name") or slug),
                url=url.rstrip("/"),
                platform=platform,
                aliases=tuple(aliases),
                enabled=bool(entry.get("enabled", True)),
            )
        )
    return sources


# The followed pages and signal terms are product data: shipped inside the package, so a new
# KB home names providers exactly as every other home does (a home without a list used to
# guess slugs from hosts: one provider's JSON and feed stored under two names).
PACKAGED_SOURCES = Path(__file__).resolve().parent / "data" / "sources.toml"


@dataclass(frozen=True)
class SourceList:
    """The sources in use: the packaged list, extended or replaced by the home's own file.

    `signals` is the merged `[signals]` table (read by kb.signals.config); `path` the file
    to name in its error messages."""

    sources: tuple[SourceConfig, ...]
    signals: Mapping[str, Any]
    path: Path
    own_file: Path | None = None  # the home's file, when one is in use
    replaced: bool = False  # `replace = true`: the home's file is the whole list
    packaged: int = 0  # pages in the packaged list
    added: tuple[str, ...] = ()
    overridden: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the run summary: which list is in use."""
        if self.own_file is None:
            return f"sources: packaged list ({_pages(self.packaged)})"
        if self.replaced:
            return (f"sources: {self.own_file} only ({_pages(len(self.sources))}; "
                    "replace = true, the packaged list is not used)")
        return (f"sources: packaged list ({_pages(self.packaged)}) + {self.own_file} "
                f"({len(self.added)} added, {len(self.overridden)} overridden)")


def _pages(count: int) -> str:
    return f"{count} page{'s' if count != 1 else ''}"


def load_source_list(settings: Settings) -> SourceList:
    """The packaged sources list, extended by the home's sources.toml (KB_SOURCES, kb.toml
    `sources`, else $KB_HOME/sources.toml when present), or replaced by it when that file
    says `replace = true`.

    Extending: a [[source]] with a new slug is added, one with a packaged slug replaces that
    entry whole; `[signals]` scalars and `[signals.match.<slug>]` / `[signals.reddit]` tables
    of the home win, its `[[signals.feed]]`s are added (same url: the home's entry wins)."""
    base_data = _read_toml(PACKAGED_SOURCES)
    base = _parse_sources(base_data, PACKAGED_SOURCES)
    base_signals = _signals_table(base_data, PACKAGED_SOURCES)
    packaged = SourceList(tuple(base), base_signals, PACKAGED_SOURCES, packaged=len(base))
    path = settings.sources_path
    if not path.is_file():
        if settings.sources_named:
            raise ConfigError(f"{path}: sources file not found (named by KB_SOURCES or "
                              "kb.toml `sources`)")
        return packaged
    if path.resolve() == PACKAGED_SOURCES:
        return packaged
    data = _read_toml(path)
    replace = data.get("replace", False)
    if not isinstance(replace, bool):
        raise ConfigError(f"{path}: replace must be true or false (a top-level key, before "
                          "any table)")
    own = _parse_sources(data, path)
    signals = _signals_table(data, path)
    if replace:
        return SourceList(tuple(own), signals, path, own_file=path, replaced=True,
                          packaged=len(base))
    mine = {s.slug: s for s in own}
    merged = [mine.get(s.slug, s) for s in base]
    known = {s.slug for s in base}
    added = tuple(s.slug for s in own if s.slug not in known)
    merged += [mine[slug] for slug in added]
    return SourceList(
        tuple(merged), _merge_signals(base_signals, signals), path, own_file=path,
        packaged=len(base), added=added,
        overridden=tuple(s.slug for s in own if s.slug in known),
    )


def signals_table(path: Path) -> dict[str, Any]:
    """The [signals] table of one sources file (a list over others: `load_source_list`)."""
    return _signals_table(_read_toml(path), path)


def _signals_table(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    table = data.get("signals", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [signals] must be a table")
    return table


def _merge_signals(base: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """The home's [signals] over the packaged one (see `load_source_list`); values of the
    wrong type are kept as the home wrote them, for kb.signals.config to refuse by name."""
    merged = dict(base)
    for key, value in own.items():
        if key == "match" and isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        elif key == "feed" and isinstance(value, list) and isinstance(base.get(key), list):
            urls = {f.get("url") for f in value if isinstance(f, dict)}
            merged[key] = [f for f in base[key]
                           if not (isinstance(f, dict) and f.get("url") in urls)] + value
        else:
            merged[key] = value
    return merged


def valid_slug(slug: object) -> bool:
    """Whether `slug` may name a provider: lower-case letters, digits and dashes (it becomes
    part of incident keys, page paths and file names, so `../../x` never passes)."""
    return isinstance(slug, str) and _SLUG.match(slug) is not None


def check_slug(slug: str, where: str) -> str:
    """`slug` if valid, else a ConfigError naming where it came from."""
    if not valid_slug(slug):
        raise ConfigError(f"{where}: provider slug {slug!r} must be lower-case letters, "
                          "digits and dashes")
    return slug


# Labels that say "this is a status page", not whose: dropped when naming a provider.
_STATUS_WORDS = frozenset({"www", "status", "statuspage", "health", "uptime"})
# Hosted status-page platforms: <customer>.<platform> names the customer, not the platform.
_HOSTED = frozenset({"statuspage.io", "instatus.com", "betteruptime.com", "incident.io",
                     "status.io", "statuspal.io", "hund.io", "freshstatus.io"})
# Two-label public suffixes common enough to matter (no public-suffix list is bundled).
_TWO_LABEL_SUFFIXES = frozenset({"co.uk", "org.uk", "ac.uk", "com.au", "net.au", "co.jp",
                                 "com.br", "co.nz", "co.in", "com.cn", "com.mx", "co.za"})


def guess_slug(host: str) -> str | None:
    """A provider slug for a status page host sources.toml does not name, after its most
    specific labels, so product pages of one company stay apart:

    status.acme.com → acme, api.status.acme.com → acme-api, acmestatus.com → acme,
    www.githubstatus.com → github, jira-software.status.atlassian.com →
    atlassian-jira-software, status.us-west-1.saucelabs.com → saucelabs-us-west-1,
    acme.statuspage.io → acme, azure.status.microsoft → azure.

    The company (registrable label, with a trailing "status" dropped) comes first, then the
    other labels from the general to the specific, leaving out words that only say "status
    page". None when nothing usable is left. A guess is only a name: the caller must check
    it does not collide with a configured provider or one stored from another host."""
    bare = host.lower().rsplit(":", 1)[0] if host.count(":") == 1 else host.lower()
    labels = [label for label in bare.strip("[].").split(".") if label]
    if not labels or ":" in bare or all(label.isdigit() for label in labels):
        return None  # an IP address names no one
    cut = 3 if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES else 2
    registrable, below = labels[-cut:], labels[:-cut]
    if len(labels) < 2:
        registrable, below = labels, []
    company = None if ".".join(registrable) in _HOSTED else _core(registrable[0])
    parts = [company] if company else []
    parts += [core for core in map(_core, reversed(below)) if core]
    slug = re.sub(r"-{2,}", "-", "-".join(parts)).strip("-")[:63].strip("-")
    return slug if valid_slug(slug) else None


def _core(label: str) -> str:
    """A host label without the words that only say "status page" (githubstatus → github)."""
    label = re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-")
    if label in _STATUS_WORDS:
        return ""
    for word in ("status", "statuspage"):
        if label.endswith(word) and len(label) > len(word):
            label = label[: -len(word)].rstrip("-")
    return label


def slug_for_host(host: str) -> str:
    """The company behind a status page host, from its second-level label (used to tell
    whether two providers are one vendor; provider slugs come from `guess_slug`):
    status.streamyard.com → streamyard, www.githubstatus.com → github."""
    labels = [label for label in host.lower().split(":")[0].split(".") if label]
    core = labels[-2] if len(labels) >= 2 else (labels[0] if labels else "unknown")
    if core.endswith("status") and len(core) > len("status"):
        core = core[: -len("status")]
    core = re.sub(r"[^a-z0-9-]+", "-", core).strip("-")
    return core or "unknown"
