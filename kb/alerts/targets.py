"""Alert targets from kb.toml's `[[alert]]` tables, validated with one-line errors.

```toml
[[alert]]
kind = "slack"            # slack | pagerduty | webhook
url = "https://hooks.slack.com/services/..."   # pagerduty: the Events API v2 endpoint
routing_key = "..."       # pagerduty only (required there)
name = "team-slack"       # optional: how `kb alerts` names it (default: kind + a url hash)
providers = ["anthropic", "openai"]   # optional filters
components = ["Claude API"]           # any component name, any case
min_severity = "major"                # none | minor | major | critical
timeout = 10              # seconds per request (connect, read and the whole exchange)
retries = 3               # extra attempts on a timeout, 429 or 5xx, within one round
min_interval = 300        # seconds between two notifications about one incident
max_per_hour = 30         # notifications per hour to this target
early_warning = false     # also "unconfirmed" alerts from community signals (kb.watch.early)
```

The rate limits are what keep a page that flaps between two states from becoming an alert
storm: a change held back by them stays pending and is sent when allowed, unless a newer
change of the same incident was recorded meanwhile (that one is sent instead; the held one
becomes "superseded"). Nothing is dropped silently: `kb alerts` lists every row.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kb.errors import ConfigError
from kb.model import SEVERITY_UNKNOWN, Severity

KINDS = ("slack", "pagerduty", "webhook")
_SEVERITY_RANK = {s.value: n for n, s in enumerate(Severity)}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
_KEYS = frozenset({"kind", "url", "routing_key", "name", "providers", "components",
                   "min_severity", "timeout", "retries", "min_interval", "max_per_hour",
                   "early_warning"})


@dataclass(frozen=True)
class Target:
    """One place alerts go."""

    name: str
    kind: str
    url: str
    routing_key: str | None = None
    providers: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    min_severity: str | None = None
    timeout: float = 10.0
    retries: int = 3
    min_interval: float = 300.0
    max_per_hour: int = 30
    early_warning: bool = False

    @property
    def shown(self) -> str:
        """Name and host only: webhook paths and routing keys are secrets."""
        return f"{self.name} ({self.kind}, {urlsplit(self.url).hostname or '?'})"

    @property
    def deduplicating(self) -> bool:
        """Whether the receiver collapses a repeated notification: PagerDuty by dedup_key,
        a webhook receiver by the documented `event_id` (docs/alerts.md). A notification
        whose delivery is in doubt after a crash is resent only to these."""
        return self.kind in ("pagerduty", "webhook")

    def wants(self, provider: str, components: Sequence[str], severity: str) -> bool:
        """Whether an incident passes this target's filters. An incident listing no
        components passes a components filter, and one of unknown severity passes a
        min_severity filter: not knowing is no reason to stay silent."""
        if self.providers and provider not in self.providers:
            return False
        if self.components and components:
            wanted = {c.casefold() for c in self.components}
            if not any(c.casefold() in wanted for c in components):
                return False
        return not (self.min_severity and severity != SEVERITY_UNKNOWN
                    and _SEVERITY_RANK.get(severity, 0) < _SEVERITY_RANK[self.min_severity])


def load_targets(entries: Sequence[Mapping[str, Any]], path: Path | None) -> list[Target]:
    """Validate the `[[alert]]` tables; ConfigError naming the file and entry otherwise."""
    where_file = str(path) if path is not None else "kb.toml"
    targets: list[Target] = []
    names: set[str] = set()
    for index, entry in enumerate(entries, 1):
        kind = entry.get("kind")
        where = f"{where_file}: alert #{index}" + (f" ({kind})" if isinstance(kind, str) else "")
        target = _target(entry, where)
        if target.name in names:
            raise ConfigError(f"{where}: duplicate name {target.name!r}")
        names.add(target.name)
        targets.append(target)
    return targets


def _target(entry: Mapping[str, Any], where: str) -> Target:
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(_KEYS))})")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    url = entry.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        shown = (url.split("?")[0][:60] if isinstance(url, str) else url)
        raise ConfigError(f"{where}: url must be an http(s) URL with a host, not {shown!r}")
    routing_key = entry.get("routing_key")
    if kind == "pagerduty":
        if not isinstance(routing_key, str) or not routing_key.strip():
            raise ConfigError(f"{where}: routing_key is required for pagerduty (the "
                              "integration key of an Events API v2 service)")
    elif routing_key is not None:
        raise ConfigError(f"{where}: routing_key is for pagerduty targets only")
    name = entry.get("name")
    if name is None:
        name = f"{kind}-{hashlib.sha256((url + (routing_key or '')).encode()).hexdigest()[:8]}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: name must be letters, digits, '.', '_' or '-' "
                          f"(at most 63), not {name!r}")
    severity = entry.get("min_severity")
    if severity is not None and severity not in _SEVERITY_RANK:
        raise ConfigError(f"{where}: min_severity must be one of "
                          f"{', '.join(_SEVERITY_RANK)}, not {severity!r}")
    early = entry.get("early_warning", False)
    if not isinstance(early, bool):
        raise ConfigError(f"{where}: early_warning must be true or false")
    return Target(
        name=name, kind=kind, url=url, routing_key=routing_key,
        providers=_strings(entry, "providers", where),
        components=_strings(entry, "components", where),
        min_severity=severity,
        timeout=_number(entry, "timeout", 10.0, where, low=0.1, high=120),
        retries=int(_number(entry, "retries", 3, where, low=0, high=10, whole=True)),
        min_interval=_number(entry, "min_interval", 300.0, where, low=0, high=86400),
        max_per_hour=int(_number(entry, "max_per_hour", 30, where, low=1, high=3600,
                                 whole=True)),
        early_warning=early,
    )


def _strings(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {key} must be a list of names")
    return tuple(value)


def _number(entry: Mapping[str, Any], key: str, default: float, where: str, *, low: float,
            high: float, whole: bool = False) -> float:
    value = entry.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and whole and not float(value).is_integer():
        ok = False
    if not ok or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{where}: {key} must be {kind} from {low:g} to {high:g}, "
                          f"not {value!r}")
    return float(value)
