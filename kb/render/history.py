"""A provider's history by year: the figures of each year (kb metrics' own, worded as the
Reliability table words them) and what each listed incident can be filtered by.

A provider page lists its years, each with its counts and figures, and links a page per year
(/providers/<provider>/<year>/) that lists that year's incidents: GitHub's single page of
1,513 incidents was 60,745 px tall and 0.5 MB. The year pages carry a client-side filter by
component, severity and stated cause (site/assets/kb.js), which needs these values per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.analysis.causes import Cause, cause_label
from kb.analysis.metrics import IncidentFigures
from kb.analysis.reliability import Series, group_figures
from kb.analysis.site_sections import COLUMNS, period_end, period_row, provider_periods
from kb.errors import exception_line
from kb.model import Incident

if TYPE_CHECKING:
    from datetime import datetime

    from kb.analysis.coverage import Coverage
    from kb.render.sections import BuildContext

UNKNOWN = "unknown"  # a filter value of its own: severity or cause not stated


@dataclass
class History:
    """Per provider and year, the Reliability row of that calendar year (COLUMNS); per
    incident, its stated causes (role "cause", labels). Empty where the figures failed:
    `failures` says why, and the pages show their counts alone."""

    columns: tuple[str, ...] = COLUMNS
    years: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=dict)
    causes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    figures: dict[str, list[IncidentFigures]] = field(default_factory=dict)  # per provider
    failures: list[str] = field(default_factory=list)


def history(build: BuildContext, by_provider: dict[str, list[Incident]]) -> History:
    """The year figures of every provider of `by_provider`, computed from the incidents the
    build read."""
    from kb.analysis.site_sections import scoped_tags

    found = History()
    try:
        # A changed-keys build: the tags and times of its providers' incidents only.
        stored, seen = scoped_tags(build.store, build.scope)
    except Exception as exc:  # a store without analysis tables: counts only
        found.failures.append(f"history by year: {exception_line(exc)}")
        return found
    for key, records in stored.items():
        stated = sorted({cause_label(r.tag) for r in records if r.stated_as == "cause"
                         and r.tag != Cause.UNKNOWN.value})
        found.causes[key] = tuple(stated)
    end = period_end(build.as_of)
    coverages = build.coverage
    for provider, incidents in by_provider.items():
        try:
            items = [build.incident_figures(i, seen.get(i.key)) for i in incidents]
            found.figures[provider] = items
            found.years[provider] = _years(provider, items, coverages.get(provider), end)
        except Exception as exc:  # one provider's odd data: its pages show counts only
            found.failures.append(f"history by year: {provider}: {exception_line(exc)}")
    return found


def _years(provider: str, items: Sequence[IncidentFigures], coverage: Coverage | None,
           end: datetime) -> dict[int, tuple[str, ...]]:
    """The Reliability table's row of each calendar year (its rolling periods left out)."""
    series = Series.of(items)
    rows: dict[int, tuple[str, ...]] = {}
    for period in provider_periods(items, coverage, end):
        if period.label.endswith("d"):  # the last 30 / 90 / 365 days
            continue
        g = group_figures(items, coverage, period, provider=provider, series=series)
        rows[period.start.year] = period_row(period, g)
    return rows
