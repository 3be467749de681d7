"""Reporting periods: rolling windows (30d, 90d, 365d) ending at a chosen instant, calendar
months and years (UTC), or everything the KB covers. Half-open: [start, end)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kb.errors import ConfigError

_ROLLING = re.compile(r"^(\d{1,5})d$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)

    @property
    def words(self) -> str:
        """The label as the site and the drafts print it: "last 90 days" for "90d"."""
        days = self.label[:-1]
        return f"last {days} days" if self.label.endswith("d") and days.isdigit() else self.label


def month_start(stamp: datetime) -> datetime:
    stamp = stamp.astimezone(UTC)
    return datetime(stamp.year, stamp.month, 1, tzinfo=UTC)


def next_month(stamp: datetime) -> datetime:
    return datetime(stamp.year + stamp.month // 12, stamp.month % 12 + 1, 1, tzinfo=UTC)


def calendar_months(start: datetime, end: datetime) -> list[Period]:
    """Every UTC calendar month overlapping [start, end), oldest first."""
    out: list[Period] = []
    cursor = month_start(start)
    while cursor < end:
        following = next_month(cursor)
        out.append(Period(cursor.strftime("%Y-%m"), cursor, following))
        cursor = following
    return out


def parse_period(text: str, *, end: datetime, span: tuple[datetime, datetime] | None = None,
                 ) -> list[Period]:
    """Periods named by `text`:

    * ``30d``, ``90d``, ``365d`` (any N days): the N days before `end`;
    * ``2026-08``: that calendar month; ``2026``: that year (UTC);
    * ``months``: every calendar month of `span` (the KB's coverage);
    * ``all``: the whole of `span`.
    """
    value = text.strip().lower()
    end = end.astimezone(UTC)
    if m := _ROLLING.match(value):
        days = int(m.group(1))
        if days == 0:
            raise ConfigError("--period: 0 days is no period")
        return [Period(value, end - timedelta(days=days), end)]
    if m := _MONTH.match(value):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ConfigError(f"--period: no month {value!r}")
        start = datetime(year, month, 1, tzinfo=UTC)
        return [Period(value, start, next_month(start))]
    if m := _YEAR.match(value):
        year = int(m.group(1))
        return [Period(value, datetime(year, 1, 1, tzinfo=UTC),
                       datetime(year + 1, 1, 1, tzinfo=UTC))]
    if value in ("months", "all"):
        if span is None:
            return []
        if value == "all":
            return [Period("all", span[0], span[1])]
        return calendar_months(*span)
    raise ConfigError(
        f"--period: {text!r} is not one of 30d/90d/365d (any Nd), YYYY-MM, YYYY, months, all")
