"""The provider pages' "Reliability" and "Causes" sections (kb/analysis/site_sections.py) on a
fixture KB whose figures can be computed by hand (tests/fixtures/site_sections/ORIGIN.md).

The listing payload covers 2026-09-01 10:00 (its oldest first post) to 2026-09-10 00:00 (its
own time): 8 days 14 h = 12,360 min. Down: 60 min at weight 1.0 (major) plus 120 min at 0.3
(minor) = 96 weighted min, so uptime = 1 − 96 / 12,360 = 99.2233 % and nines =
−log10(96 / 12,360) = 2.11. The last 30 days before the end of 2026-09-14 are 43,200 min, of
which 12,360 are covered: 28.6 %, "partial, 28% covered". Impact minutes 60 and 120: median
90 min, p90 60 + 0.9 × 60 = 114 min.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from kb.analysis import site_sections
from kb.analysis.site_sections import period_end, provider_periods
from kb.analysis.stage import RULES_ID
from kb.render.sections import Block, BuildContext, Table, Text, discover
from kb.render.site import render_site
from kb.store import Store
from kb.store.analysis import CauseRecord, incident_hashes, write_causes
from tests.conftest import ingested_store

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "site_sections"
COLUMNS = ("period", "incidents (by severity)", "uptime (coverage)", "nines",
           "impact, median / p90", "first post → resolved, median", "unmeasured")


def acme_store(tmp_path: Path) -> Store:
    """A KB of the hand-written acme fixtures (also used by tests/test_site_causes.py)."""
    return ingested_store(tmp_path, [FIX])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return acme_store(tmp_path)


def provider_tables(store: Store, as_of: date) -> dict[str, list[Block]]:
    registry = discover(site_sections.SECTIONS, scan=False)
    registry.prepare(store, BuildContext(store, as_of))
    assert registry.failures == []
    return {section.name: blocks  # type: ignore[misc]
            for section, blocks in registry.blocks("provider", "acme")}


def rows_by_period(table: Block) -> dict[str, dict[str, str]]:
    assert isinstance(table, Table)
    return {row[0]: dict(zip(table.columns, row, strict=True)) for row in table.rows}


def test_reliability_per_period_matches_the_hand_computed_figures(store: Store) -> None:
    tables = provider_tables(store, date(2026, 9, 14))
    reliability, how = tables["reliability"][0], tables["reliability"][-1]
    assert isinstance(reliability, Table) and tuple(reliability.columns) == COLUMNS
    rows = rows_by_period(reliability)
    # Rolling windows first, then each year with data, newest first; this year stops at as-of.
    assert list(rows) == ["last 30 days", "last 90 days", "last 365 days",
                          "2026 (to 2026-09-14)", "2025"]
    month = rows["last 30 days"]
    assert month == {
        "period": "last 30 days", "incidents (by severity)": "2 (1 major, 1 minor)",
        "uptime (coverage)": "99.223% (partial, 28% covered)", "nines": "2.11",
        "impact, median / p90": "1h30m / 1h54m", "first post → resolved, median": "1h30m",
        "unmeasured": "0",
    }
    # The same downtime over a longer, less covered window: same uptime, smaller coverage
    # (12,360 of 129,600 min).
    assert rows["last 90 days"]["uptime (coverage)"] == "99.223% (partial, 9% covered)"
    # 2025 is covered only by its one incident's own hour, during which it was down.
    assert rows["2025"]["incidents (by severity)"] == "1 (1 major)"
    assert rows["2025"]["uptime (coverage)"] == "0.000% (partial, under 1% covered)"
    assert rows["2025"]["nines"] == "0.00"
    assert isinstance(how, Text) and "never 100%" in how.text
    assert "per-incident payloads" in how.text  # the coverage basis


def test_a_period_the_kb_holds_no_data_for_is_unknown_not_up(store: Store) -> None:
    rows = rows_by_period(provider_tables(store, date(2027, 6, 30))["reliability"][0])
    for label in ("last 30 days", "last 90 days"):
        assert rows[label]["uptime (coverage)"] == "unknown (no data)"
        assert rows[label]["incidents (by severity)"] == "unknown"  # not 0: nothing watched
        assert rows[label]["nines"] == "unknown"
        assert rows[label]["impact, median / p90"] == "–"
    assert rows["last 365 days"]["uptime (coverage)"].startswith("99.223% (partial")
    assert "2027" not in rows  # no incident and no coverage in 2027: no row, not "unknown"
    assert rows["2026"]["period"] == "2026"  # a whole past year keeps its plain label


def test_provider_periods_follow_the_as_of_date() -> None:
    end = period_end(date(2026, 9, 14))
    labels = [p.label for p in provider_periods([], None, end)]
    assert labels == ["30d", "90d", "365d"]  # nothing known: only the rolling windows
    assert end.isoformat() == "2026-09-15T00:00:00+00:00"


def test_causes_count_incidents_per_tag_leaving_out_unknown(store: Store) -> None:
    hashes = incident_hashes(store)

    def tags(*names: str) -> list[CauseRecord]:
        return [CauseRecord(name, "rule", "a sentence", "test", "cause") for name in names]

    write_causes(store, {  # as the current rules store them: other rules' tags are not read
        "acme/acme0000001": (hashes["acme/acme0000001"], RULES_ID, tags("config-deploy",
                                                                         "network")),
        "acme/acme0000002": (hashes["acme/acme0000002"], RULES_ID,
                             tags("config-deploy", "database-storage", "unknown")),
        "acme/acme0000000": (hashes["acme/acme0000000"], RULES_ID, tags("dns")),
    })
    causes = provider_tables(store, date(2026, 9, 14))["causes"][0]
    assert isinstance(causes, Table)
    assert tuple(causes.columns) == (
        "cause", "stated as the cause, last 365 days", "stated as the cause, all time",
        "only as a symptom or suspected, all time")
    assert [tuple(row) for row in causes.rows] == [
        ("configuration change/deploy", "2", "2", "0"),
        ("database/storage", "1", "1", "0"),
        ("network", "1", "1", "0"),
        ("DNS", "0", "1", "0"),  # 2025-03-01 is more than 365 days before 2026-09-14
    ]
    assert "2 of 2 incidents of the last 365 days and 3 of 3 overall" in (causes.caption or "")


def test_no_cause_tags_leaves_the_causes_section_out(store: Store) -> None:
    assert "causes" not in provider_tables(store, date(2026, 9, 14))


def test_the_provider_page_shows_the_table_before_the_plain_counts(
    store: Store, tmp_path: Path,
) -> None:
    report = render_site(store, tmp_path / "docs", ROOT / "site", as_of=date(2026, 9, 14))
    assert not [line for line in report.failures if "reliability" in line]
    assert "provider:reliability" in report.sections
    page = BeautifulSoup((tmp_path / "docs/providers/acme.md").read_text(), "lxml")
    section = page.select_one(".kb-section-reliability")
    assert section is not None
    cells = [[td.get_text() for td in tr.select("td")] for tr in section.select("tbody tr")]
    assert cells[0][:4] == ["last 30 days", "2 (1 major, 1 minor)",
                            "99.223% (partial, 28% covered)", "2.11"]
    # The reliability slot (order 10) comes before the site's own per-year counts.
    text = str(page)
    assert text.index('id="reliability"') < text.index('id="per-year"')


def test_the_day_bars_follow_the_coverage_not_the_calendar(store: Store, tmp_path: Path) -> None:
    # The listing covers 2026-09-01 10:00 → 2026-09-10 00:00; the 2025 incident only its hour.
    render_site(store, tmp_path / "docs", ROOT / "site", as_of=date(2026, 9, 14))
    page = BeautifulSoup((tmp_path / "docs/providers/acme.md").read_text(), "lxml")
    tips = {t.get_text().split(": ", 1)[0]: t.get_text().split(": ", 1)[1]
            for t in page.select("svg.kb-bars rect title")}
    assert len(tips) == 90
    assert tips["2026-09-14"].startswith("no data") and tips["2026-09-10"].startswith("no data")
    assert tips["2026-09-09"] == "no incident recorded"
    assert tips["2026-09-01"] == "1 incident(s), worst major"
    assert tips["2026-09-05"] == "1 incident(s), worst minor"
    assert tips["2026-08-31"].startswith("no data")  # before the oldest listed entry
    home = BeautifulSoup((tmp_path / "docs/index.md").read_text(), "lxml")
    row = home.select_one(".kb-bars-table tr")
    assert row is not None and "2 day(s) with incidents; no data for 81" in row.get_text()
