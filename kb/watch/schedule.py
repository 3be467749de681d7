"""When each source is polled next: its own interval, jittered, backing off after errors.

kb.toml:

```toml
[watch]
interval = 120          # seconds between two polls of a source (default 120, at least 30)
jitter = 0.1            # each wait is the interval ± this share, so sources do not align
max_backoff = 3600      # after n failed polls in a row: interval × 2^n, at most this
refresh = true          # after a round that changed something, run the later stages
                        # (link, embed, analysis, site) as `kb update` does
lease = 900             # seconds: a claim on an outbox row older than this, taken on another
                        # host, is in doubt (a sender renews its claims while it sends)

[watch.intervals]       # per source, seconds
github = 300
```

`kb watch --once` polls every chosen source regardless of schedule (the timer that runs it
is the interval); the long-running `kb watch` polls each when it is due.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kb.errors import ConfigError

MIN_INTERVAL = 30.0
MIN_LEASE = 10.0  # a sender renews its claims every third of the lease (kb.alerts.send)


@dataclass(frozen=True)
class WatchSettings:
    interval: float = 120.0
    jitter: float = 0.1
    max_backoff: float = 3600.0
    refresh: bool = True
    lease: timedelta = timedelta(minutes=15)  # a claim older than this (other host): in doubt
    intervals: Mapping[str, float] = field(default_factory=dict)

    def interval_of(self, slug: str) -> float:
        return self.intervals.get(slug, self.interval)

    def next_due(self, slug: str, now: datetime, failures: int,
                 rng: random.Random | None = None) -> datetime:
        """When to poll `slug` again, after a poll with `failures` failures in a row."""
        base = self.interval_of(slug)
        if failures:
            base = min(self.max_backoff, base * 2 ** min(failures, 20))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return now + timedelta(seconds=base * (1 + spread))


def watch_settings(table: Mapping[str, Any], path: Path | None) -> WatchSettings:
    """The [watch] table, validated (one-line ConfigError naming the file)."""
    where = f"{path or 'kb.toml'}: [watch]"
    known = {"interval", "jitter", "max_backoff", "refresh", "intervals", "lease"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    interval = _seconds(table.get("interval", 120.0), f"{where} interval")
    jitter = table.get("jitter", 0.1)
    if not isinstance(jitter, int | float) or isinstance(jitter, bool) or not 0 <= jitter < 1:
        raise ConfigError(f"{where} jitter must be a number from 0 to below 1, not {jitter!r}")
    backoff = _seconds(table.get("max_backoff", 3600.0), f"{where} max_backoff")
    refresh = table.get("refresh", True)
    if not isinstance(refresh, bool):
        raise ConfigError(f"{where} refresh must be true or false")
    lease = table.get("lease", 900)
    if not isinstance(lease, int | float) or isinstance(lease, bool) or lease < MIN_LEASE:
        raise ConfigError(f"{where} lease must be a number of seconds, at least "
                          f"{MIN_LEASE:g}, not {lease!r}")
    intervals = table.get("intervals", {})
    if not isinstance(intervals, dict):
        raise ConfigError(f"{where}.intervals must be a table of slug = seconds")
    return WatchSettings(
        interval=interval, jitter=float(jitter), max_backoff=max(backoff, interval),
        refresh=refresh, lease=timedelta(seconds=float(lease)),
        intervals={slug: _seconds(v, f"{where}.intervals {slug}") for slug, v in
                   intervals.items()},
    )


def _seconds(value: object, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < MIN_INTERVAL:
        raise ConfigError(f"{where} must be a number of seconds, at least {MIN_INTERVAL:g}, "
                          f"not {value!r}")
    return float(value)
