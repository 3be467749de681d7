"""The site's comparison page (/compare/): `kb compare` for the providers on the site, over
the last 30, 90 and 365 days up to the build's as-of date: each provider's figures (the rows
of `kb compare`'s table, kb.analysis.report.comparison_rows) and the hours two providers
were down at once (kb.analysis.report.pair_text), where the KB covers both.

With a few dozen providers `kb compare`'s one column per provider would not fit a screen, so
the page turns the table: a row per provider, a column per figure. The pairs list shows every
pair that was down together, most hours first, and counts the pairs that were not and those
that are unknown (the KB never covers both, or an uptime is unknown): unknown is never
"never together".
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from kb.analysis.compare import compare
from kb.analysis.periods import parse_period
from kb.analysis.report import comparison_rows, pair_text
from kb.analysis.site_sections import period_end

if TYPE_CHECKING:
    from kb.analysis.metrics import IncidentFigures
    from kb.render.sections import BuildContext

PERIODS = ("30d", "90d", "365d")
DOC = "compare/index.md"


@dataclass(frozen=True)
class PairRow:
    a: str
    b: str
    hours: float | None  # both down (None: unknown)
    text: str  # pair_text: what `kb compare` prints for the pair


@dataclass(frozen=True)
class PeriodView:
    """One period of the page."""

    label: str  # 30d, 90d, 365d
    start: str
    end: str
    command: str  # the `kb compare` call that prints the same figures
    columns: list[str]  # figure names (kb compare's row labels)
    rows: list[tuple[str, list[str]]]  # provider, its value per column
    together: list[PairRow]  # pairs down together, most hours first
    apart: int  # pairs covered together and never down at once
    unknown: int  # pairs whose shared downtime is unknown


def comparisons(build: BuildContext, providers: Sequence[str],
                figures: Mapping[str, list[IncidentFigures]],
                names: Mapping[str, str | None]) -> list[PeriodView]:
    """Every period's comparison of `providers` (two or more; else nothing to compare)."""
    if len(providers) < 2:
        return []
    from kb.analysis.stage import causes_for

    causes = causes_for(build.store, build.incidents)
    end = period_end(build.as_of)
    views = []
    for label in PERIODS:
        period = parse_period(label, end=end)[0]
        c = compare(list(providers), figures, build.coverage, causes, period, names)
        table = comparison_rows(c)
        columns = [name for name, _values in table]
        rows = [(side.provider, [values[i] for _name, values in table])
                for i, side in enumerate(c.sides)]
        together = sorted(
            (PairRow(p.a, p.b, p.both_down_hours, pair_text(p)) for p in c.pairs
             if p.both_down_hours),
            key=lambda r: (-(r.hours or 0.0), r.a, r.b))
        unknown = sum(1 for p in c.pairs if p.both_down_hours is None)
        views.append(PeriodView(
            label, _day(period.start), _day(period.end - timedelta(microseconds=1)),
            # Slugs are third-party text on a printed shell command: quoted for the shell.
            f"kb compare {' '.join(map(shlex.quote, providers))} --period {label} "
            f"--end {end.date().isoformat()}",
            columns, rows, together, len(c.pairs) - len(together) - unknown, unknown))
    return views


def _day(value: object) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, date) else str(value)
