"""Reliability figures: interval arithmetic on constructed edge cases, per-incident figures,
period figures with honest coverage, and hand-checked figures on real recorded incidents."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kb.analysis.coverage import Coverage, coverage_from_payloads
from kb.analysis.intervals import (
    Weighted,
    clip,
    intersect,
    subtract,
    total,
    union,
    weighted_total,
    weighted_union,
)
from kb.analysis.metrics import incident_figures, incident_weight, severity_label
from kb.analysis.periods import Period, calendar_months, parse_period
from kb.analysis.reliability import group_figures, percentile
from kb.analysis.report import nines_text, uptime_text
from kb.config import PACKAGED_SOURCES, load_sources
from kb.errors import ConfigError
from kb.model import (
    Component,
    ImpactWindow,
    Incident,
    Kind,
    Lifecycle,
    Phase,
    Severity,
    StatusChange,
    Update,
)
from kb.pipeline import Line, ingest, reparse
from kb.store import Store
from kb.store.analysis import PayloadSpan, last_seen, payload_spans
from scrapers.archive import Archive
from tests.conftest import invoke_kb as kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "analysis"
CORPUS = ROOT.parent / "shared" / "corpus"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make(native_id: str = "a", *, provider: str = "p", first: float | None = 0,
         resolved: float | None = 60, window: tuple[float, float | None] | None = None,
         impact: str | None = "major", kind: Kind = Kind.INCIDENT,
         components: tuple[Component, ...] = (), updates: tuple[float, ...] | None = None,
         severity: Severity | None = None, identified: float | None = None) -> Incident:
    stamps = updates if updates is not None else tuple(
        x for x in (first, resolved) if x is not None)
    return Incident(
        provider=provider, native_id=native_id, title=f"incident {native_id}", kind=kind,
        status="resolved" if resolved is not None else "investigating",
        severity=severity or (Severity(impact) if impact in ("minor", "major", "critical")
                              else Severity.NONE),
        impact=impact, components=components,
        lifecycle=Lifecycle(first_post_at=t(first) if first is not None else None,
                            identified_at=t(identified) if identified is not None else None,
                            resolved_at=t(resolved) if resolved is not None else None),
        impact_window=ImpactWindow(t(window[0]), t(window[1]) if window[1] is not None
                                   else None, "stated") if window else None,
        updates=tuple(Update(t(m), Phase.INVESTIGATING, "investigating", "x", "x")
                      for m in stamps),
    )


def comp(name: str, *changes: tuple[float, str, str]) -> Component:
    return Component(name, changes=tuple(StatusChange(t(m), a, b) for m, a, b in changes))


# -- intervals --------------------------------------------------------------------------------


def test_union_joins_nested_overlapping_and_adjacent_intervals() -> None:
    nested = [(t(0), t(100)), (t(10), t(20))]
    assert union(nested) == [(t(0), t(100))]
    adjacent = [(t(0), t(10)), (t(10), t(20))]  # half-open: they touch, 20 min in all
    assert union(adjacent) == [(t(0), t(20))] and total(union(adjacent)) == 20 * MIN
    apart = [(t(30), t(40)), (t(0), t(10))]
    assert union(apart) == [(t(0), t(10)), (t(30), t(40))]
    assert union([(t(5), t(5)), (t(9), t(3))]) == []  # empty and reversed carry no time


def test_clip_intersect_subtract() -> None:
    spans = [(t(0), t(10)), (t(20), t(40))]
    assert clip(spans, t(5), t(25)) == [(t(5), t(10)), (t(20), t(25))]
    assert intersect(spans, [(t(8), t(22))]) == [(t(8), t(10)), (t(20), t(22))]
    assert subtract([(t(0), t(60))], spans) == [(t(10), t(20)), (t(40), t(60))]
    assert subtract(spans, []) == spans


def test_weighted_union_counts_each_minute_once_at_its_highest_weight() -> None:
    pieces = weighted_union([
        Weighted(t(0), t(60), 0.3),     # partial outage for an hour
        Weighted(t(20), t(30), 1.0),    # a major outage nested inside it
        Weighted(t(25), t(35), 1.0),    # another major one overlapping the first
        Weighted(t(60), t(70), 0.3),    # adjacent, same weight: joined
        Weighted(t(80), t(90), 0.0),    # maintenance: no downtime
    ])
    assert [(p.start, p.end, p.weight) for p in pieces] == [
        (t(0), t(20), 0.3), (t(20), t(35), 1.0), (t(35), t(70), 0.3)]
    # 20×0.3 + 15×1.0 + 35×0.3 = 31.5 minutes; the nested major time is not counted twice.
    assert weighted_total(pieces) == 31.5 * MIN


def test_intervals_in_other_utc_offsets_are_the_same_instants() -> None:
    pacific = timezone(timedelta(hours=-7))
    a = (datetime(2026, 3, 1, 5, 0, tzinfo=pacific), datetime(2026, 3, 1, 6, 0, tzinfo=pacific))
    b = (datetime(2026, 3, 1, 12, 30, tzinfo=UTC), datetime(2026, 3, 1, 14, 0, tzinfo=UTC))
    # 05:00-06:00 PDT is 12:00-13:00 UTC: half an hour shared with b
    assert total(intersect(union([a]), union([b]))) == 30 * MIN
    assert total(union([a, b])) == 120 * MIN


# -- periods ----------------------------------------------------------------------------------


def test_periods_rolling_months_and_years() -> None:
    end = datetime(2026, 3, 15, 2, 0, tzinfo=timezone(timedelta(hours=2)))  # 00:00 UTC
    (rolling,) = parse_period("30d", end=end)
    assert rolling.start == datetime(2026, 2, 13, tzinfo=UTC) and rolling.end == end
    (feb,) = parse_period("2024-02", end=end)
    assert (feb.start, feb.end) == (datetime(2024, 2, 1, tzinfo=UTC),
                                    datetime(2024, 3, 1, tzinfo=UTC))  # leap year: 29 days
    assert feb.days == 29
    months = calendar_months(datetime(2025, 11, 20, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert [m.label for m in months] == ["2025-11", "2025-12", "2026-01"]
    assert parse_period("months", end=end) == []  # nothing covered: no months to list
    for bad in ("0d", "2026-13", "fortnight"):
        with pytest.raises(ConfigError):
            parse_period(bad, end=end)


# -- per incident -----------------------------------------------------------------------------


def test_impact_source_order_prose_components_lifecycle() -> None:
    prose = incident_figures(make(window=(-30, 20), first=0, resolved=60))
    assert (prose.source, prose.impact_minutes, prose.detection_minutes) == ("prose", 50, 30)
    components = incident_figures(make(components=(
        comp("API", (5, "operational", "major_outage"), (25, "major_outage", "operational")),)))
    assert (components.source, components.impact_minutes) == ("components", 20)
    lifecycle = incident_figures(make())
    assert (lifecycle.source, lifecycle.impact_minutes, lifecycle.detection_minutes) == (
        "lifecycle", 60, None)
    start_only = incident_figures(make(window=(-10, None), components=(
        comp("API", (0, "operational", "partial_outage"), (40, "partial_outage", "operational")),)))
    assert (start_only.source, start_only.impact_minutes) == ("prose+components", 50)
    start_then_resolved = incident_figures(make(window=(-10, None)))
    assert (start_then_resolved.source, start_then_resolved.impact_minutes) == (
        "prose+lifecycle", 70)


def test_open_posted_resolved_and_cadence() -> None:
    still_open = incident_figures(make(resolved=None, updates=(0, 10, 40)))
    assert still_open.open and still_open.impact_minutes is None
    assert still_open.last_seen == t(40)
    assert incident_figures(make(resolved=None), seen=t(500)).last_seen == t(500)
    posted = incident_figures(make(first=0, resolved=0, updates=(0,)))
    assert posted.source == "posted-resolved" and not posted.open
    assert posted.impact_minutes is None and posted.resolve_minutes is None
    cadence = incident_figures(make(updates=(0, 10, 40, 60), identified=10))
    assert (cadence.cadence_minutes, cadence.longest_silence_minutes) == (20, 30)
    assert cadence.identified_minutes == 10


def test_weights_follow_the_published_convention() -> None:
    assert incident_weight(make(kind=Kind.MAINTENANCE)) == (0.0, "maintenance")
    assert incident_weight(make(impact="critical")) == (1.0, "impact")
    assert incident_weight(make(impact="minor")) == (0.3, "impact")
    assert incident_weight(make(impact="none")) == (0.0, "impact")
    partial = comp("API", (0, "operational", "partial_outage"))
    # components say how much was down: "major" on the page, partial_outage on the part
    assert incident_weight(make(impact="major", components=(partial,))) == (0.3, "components")
    worst = comp("Web", (0, "degraded_performance", "major_outage"))
    assert incident_weight(make(impact="minor", components=(partial, worst))) == (
        1.0, "components")
    assert incident_weight(make(impact=None)) == (0.3, "assumed")
    assert severity_label(make(impact=None)) == "unknown"
    calm = comp("API", (0, "operational", "operational"))
    assert incident_weight(make(impact=None, components=(calm,))) == (0.0, "components")


# -- per period -------------------------------------------------------------------------------


def cover(*spans: tuple[float, float], provider: str = "p") -> Coverage:
    return Coverage(provider, tuple(union((t(a), t(b)) for a, b in spans)), "test")


def test_overlapping_incidents_are_not_counted_twice() -> None:
    figures = [incident_figures(make("a", first=0, resolved=60)),
               incident_figures(make("b", first=30, resolved=90)),
               incident_figures(make("c", first=40, resolved=50, impact="minor"))]
    g = group_figures(figures, cover((0, 1000)), Period("x", t(0), t(1000)), provider="p")
    assert g.outage_minutes == 90 and g.downtime_minutes == 90
    assert g.uptime == pytest.approx(100 * (1 - 90 / 1000))
    assert g.nines == pytest.approx(-math.log10(0.09))
    assert (g.incidents, g.by_severity, g.status, g.coverage) == (3, {"major": 2, "minor": 1},
                                                                  "known", 1.0)


def test_window_crossing_a_period_boundary_is_split_exactly() -> None:
    figures = [incident_figures(make(first=-20, resolved=40))]  # 11:40 → 12:40 UTC
    whole = cover((-1000, 1000))
    before = group_figures(figures, whole, Period("a", t(-1000), t(0)), provider="p")
    after = group_figures(figures, whole, Period("b", t(0), t(1000)), provider="p")
    assert (before.downtime_minutes, after.downtime_minutes) == (20, 40)
    assert (before.incidents, after.incidents) == (1, 0)  # counted where it starts


def test_calendar_month_boundary_in_another_time_zone() -> None:
    # 23:30 on Aug 31 in UTC-7 is 06:30 UTC on Sep 1: a September incident
    pdt = timezone(timedelta(hours=-7))
    start = datetime(2026, 8, 31, 23, 30, tzinfo=pdt)
    inc = Incident("p", "tz", "tz", Kind.INCIDENT, "resolved", Severity.MAJOR, "major",
                   lifecycle=Lifecycle(first_post_at=start, resolved_at=start + 60 * MIN))
    f = [incident_figures(inc)]
    span = Coverage("p", ((datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),),
                    "test")
    aug, sep = (group_figures(f, span, m, provider="p") for m in calendar_months(
        datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)))
    assert (aug.incidents, sep.incidents) == (0, 1)
    assert (aug.downtime_minutes, sep.downtime_minutes) == (0, 60)


def test_open_incident_is_down_until_its_last_update_then_unknown_never_now() -> None:
    # Updates at 0 and 30, still listed open by a payload of minute 100: down 0..30 by the
    # vendor's word, 30..100 unknown (not down, not up), nothing after 100.
    figures = [incident_figures(make(resolved=None, updates=(0, 30)), seen=t(100))]
    assert (figures[0].unknown_start, figures[0].unknown_end) == (t(30), t(100))
    g = group_figures(figures, cover((0, 10_000)), Period("x", t(0), t(10_000)), provider="p")
    assert g.open_incidents == 1 and g.downtime_minutes == 30 and g.unknown_minutes == 70
    assert g.uptime == pytest.approx(100 * (1 - 30 / 10_000))  # the unknown not counted
    assert g.uptime_if_down == pytest.approx(100 * (1 - 100 / 10_000))
    text = uptime_text(g)
    assert "(measured); 70m unknown" in text and "99.000% if down" in text


def test_feed_entry_seen_only_resolved_has_unknown_impact_bounded_by_its_resolution() -> None:
    # OpenAI's FedRAMP entry: published, then only its "resolved" update 265 h later; the
    # feed keeps only the latest update, so when impact ended is unknown.
    entry = replace(make(first=0, resolved=265 * 60, updates=(265 * 60,), impact=None),
                    updates_complete=False)
    f = incident_figures(entry)
    assert (f.source, f.impact_minutes, f.open) == ("bounded", None, False)
    assert (f.unknown_start, f.unknown_end) == (t(0), t(265 * 60))
    g = group_figures([f], cover((0, 365 * 24 * 60)), Period("x", t(0), t(365 * 24 * 60)),
                      provider="p")
    assert g.downtime_minutes == 0 and g.unknown_minutes == 265 * 60 and g.unmeasured == 0
    # alone it leaves nothing measured: unknown, not "100.000% (measured)"
    assert g.uptime is None and uptime_text(g).startswith("unknown (no impact time measured")
    # beside a measured hour down: the measured figure and the one counting it as down
    hour = incident_figures(make("b", first=300 * 60, resolved=301 * 60, impact="major"))
    g = group_figures([f, hour], cover((0, 365 * 24 * 60)), Period("x", t(0), t(365 * 24 * 60)),
                      provider="p")
    year = 365 * 24 * 60
    assert g.uptime == pytest.approx(100 * (1 - 60 / year)) and g.uptime_if_down == (
        pytest.approx(100 * (1 - (60 + 0.3 * 265 * 60) / year)))  # no impact: assumed weight
    assert uptime_text(g).startswith("99.988% (measured); 265.0h unknown")  # floored


def test_mostly_unmeasured_period_has_unknown_uptime_not_no_downtime() -> None:
    # GitHub 2013: every incident posted once, already resolved: no duration to measure.
    posted = [incident_figures(make(str(i), first=i * 100, resolved=i * 100, updates=(i * 100,),
                                    impact="minor")) for i in range(10)]
    period = Period("x", t(0), t(10_000))
    g = group_figures(posted, cover((0, 10_000)), period, provider="p")
    assert g.unmeasured == 10 and g.uptime is None and g.nines is None
    assert uptime_text(g) == "unknown (10 of 10 incidents have no measurable duration)"
    assert nines_text(g) == "unknown"
    # at the threshold (20 %) the figure stands as an upper bound ...
    measured = [incident_figures(make(f"m{i}", first=i * 100 + 50, resolved=i * 100 + 60,
                                      impact="minor")) for i in range(8)]
    g = group_figures(posted[:2] + measured, cover((0, 10_000)), period, provider="p")
    assert g.uptime is not None and uptime_text(g).startswith("≤ ")
    # ... above it, or with one major incident unmeasured, it is unknown
    g = group_figures(posted[:3] + measured, cover((0, 10_000)), period, provider="p")
    assert g.uptime is None and "3 of 11" in (g.uptime_note or "")
    major = incident_figures(make("M", first=5, resolved=5, updates=(5,), impact="major"))
    g = group_figures([major, *measured], cover((0, 10_000)), period, provider="p")
    assert g.uptime is None and "1 major/critical" in (g.uptime_note or "")


def test_uncovered_period_is_unknown_and_partial_coverage_says_so() -> None:
    figures = [incident_figures(make(first=0, resolved=10))]
    nothing = group_figures(figures, cover((0, 100)), Period("x", t(500), t(600)), provider="p")
    assert (nothing.status, nothing.uptime, nothing.nines, nothing.coverage) == (
        "unknown", None, None, 0.0)
    no_data = group_figures([], None, Period("x", t(0), t(100)), provider="p")
    assert no_data.status == "unknown" and no_data.uptime is None
    half = group_figures(figures, cover((0, 50)), Period("x", t(0), t(100)), provider="p")
    assert half.status == "partial" and half.coverage == 0.5
    assert half.uptime == pytest.approx(100 * (1 - 10 / 50))  # of the covered 50 minutes
    quiet = group_figures([], cover((0, 100)), Period("x", t(0), t(100)), provider="p")
    assert quiet.uptime == 100.0 and quiet.nines is None  # known quiet: no downtime recorded


def test_unmeasured_incidents_are_counted_and_flagged() -> None:
    figures = [incident_figures(make("a", first=0, resolved=0, updates=(0,))),
               incident_figures(make("b", first=10, resolved=20))]
    g = group_figures(figures, cover((0, 100)), Period("x", t(0), t(100)), provider="p")
    assert (g.incidents, g.unmeasured, g.downtime_minutes) == (2, 1, 10)
    assert g.impact_sources == {"lifecycle": 1, "posted-resolved": 1}


def test_component_figures_use_their_own_status_windows() -> None:
    inc = make(components=(
        comp("API", (0, "operational", "major_outage"), (10, "major_outage", "operational")),
        comp("Web", (0, "operational", "degraded_performance"),
             (50, "degraded_performance", "operational"))))
    f = [incident_figures(inc)]
    api = group_figures(f, cover((0, 100)), Period("x", t(0), t(100)), provider="p",
                        component="API")
    web = group_figures(f, cover((0, 100)), Period("x", t(0), t(100)), provider="p",
                        component="Web")
    assert (api.downtime_minutes, web.downtime_minutes) == (10, pytest.approx(15))


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.5 and percentile(values, 0.9) == pytest.approx(9.1)
    assert percentile([7.0], 0.9) == 7.0 and percentile([], 0.5) is None


# -- coverage ---------------------------------------------------------------------------------


def span(provider: str, oldest: datetime, as_of: datetime, entries: int,
         incidents: int | None = None, end: datetime | None = None) -> PayloadSpan:
    return PayloadSpan(provider, f"{provider}{oldest}{entries}", as_of, entries,
                       entries if incidents is None else incidents, oldest, end or oldest)


def test_coverage_from_payloads() -> None:
    day = timedelta(days=1)
    spans = [
        span("feed", T0, T0 + 20 * day, 25),                      # a listing: all of it
        span("feed", T0 + 100 * day, T0 + 120 * day, 25),         # a later snapshot: a hole
        span("maint", T0, T0 + 300 * day, 2, incidents=0),        # maintenances only: nothing
        span("archive", T0, T0, 1, end=T0 + day),                 # per-incident payloads,
        span("archive", T0 + 10 * day, T0, 1, end=T0 + 11 * day),  # bridged if ≤ 30 d apart
        span("archive", T0 + 70 * day, T0, 1, end=T0 + 71 * day),
    ]
    got = coverage_from_payloads(spans)
    assert got["feed"].spans == ((T0, T0 + 20 * day), (T0 + 100 * day, T0 + 120 * day))
    assert got["feed"].fraction(T0 + 40 * day, T0 + 60 * day) == 0.0  # the hole is unknown
    assert "maint" not in got
    assert got["archive"].spans == ((T0, T0 + 11 * day), (T0 + 70 * day, T0 + 71 * day))


# -- real incidents, hand-checked ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The analysis fixtures (verbatim GitHub incident JSON, slices of the Claude feed and the
    OpenAI incidents.json: tests/fixtures/analysis/ORIGIN.md) imported through the pipeline."""
    home = tmp_path_factory.mktemp("analysis")
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    sources = load_sources(PACKAGED_SOURCES)
    report = ingest(Line(store, Archive(home / "raw"), sources),
                    [FIX / "github", FIX / "openai_slice.json", FIX / "claude_slice.atom"])
    assert not report.failures
    return store


def test_real_incidents_hand_checked(fixture_store: Store) -> None:
    seen = last_seen(fixture_store)
    f = {i.key: incident_figures(i, seen.get(i.key)) for i in fixture_store.incidents()}
    # github/4ypqyv8zbrck.json: Pages operational→partial_outage in the update created
    # 17:10:40.978Z, partial_outage→operational in the resolved update 17:39:54.131Z.
    pages = f["github/4ypqyv8zbrck"]
    assert pages.source == "components" and pages.weight == 0.3
    assert pages.impact_minutes == pytest.approx(29 + 13.153 / 60)
    assert pages.resolve_minutes == pytest.approx(29 + 13.153 / 60)
    # its three updates at 17:10:40.978, 17:27:04.348, 17:39:54.131: gaps 16.39 and 12.83 min
    assert pages.cadence_minutes == pytest.approx((16.3895 + 12.8297) / 2, abs=1e-3)
    # github/6503rcn8s34s.json: Actions is still partial_outage in its last change
    # (14:01:44.897Z), so the components give no end: first post 13:12:53.885Z → resolved
    # 14:01:48.017Z. The 13:34 update names a datacenter power failure.
    power = f["github/6503rcn8s34s"]
    assert power.source == "lifecycle" and power.impact_minutes == pytest.approx(48.902, abs=1e-3)
    # github/01sqkcp7z62r.json: one update, created = resolved = 2011-07-28T03:06:00Z
    assert f["github/01sqkcp7z62r"].source == "posted-resolved"
    assert f["github/01sqkcp7z62r"].impact_minutes is None
    # claude_slice.atom, bhphxz3vr58g: "Impact occurred from 05:40 PT / 12:40 UTC to 06:10 PT
    # / 13:10 UTC"; Investigating posted Oct 5 13:05 UTC, Resolved 13:21 UTC.
    mythos = f["anthropic/bhphxz3vr58g"]
    assert (mythos.source, mythos.impact_minutes, mythos.detection_minutes,
            mythos.resolve_minutes) == ("prose", 30, 25, 16)
    assert (mythos.weight, mythos.weight_basis, mythos.severity) == (0.3, "assumed", "unknown")
    # wf2v8ms031sx: "From 17:00 PT on October 6 / 00:00 UTC on October 7 to 18:40 PT ... /
    # 01:40 UTC"; first post 01:20 UTC, resolved 02:33 UTC.
    usage = f["anthropic/wf2v8ms031sx"]
    assert (usage.impact_minutes, usage.detection_minutes, usage.resolve_minutes) == (100, 80, 73)
    # 4xvtc2gnq73l: "Impact occurred from 07:00 PT / 14:00 UTC to 07:59 PT / 14:59 UTC";
    # investigating 14:21 UTC, resolved 16:27 UTC.
    login = f["anthropic/4xvtc2gnq73l"]
    assert (login.impact_minutes, login.detection_minutes, login.resolve_minutes) == (59, 21, 126)
    # openai_slice.json, 01M2H3J1D6Y7RHAP49GRWGJAY0: first post 20:30:00Z says "Since 1:30 PM
    # Pacific Time on September 14" (PDT: 20:30 UTC) and states no end; resolved 23:39:21Z.
    agents = f["openai/01M2H3J1D6Y7RHAP49GRWGJAY0"]
    assert agents.source == "prose+lifecycle" and agents.start == utc("2026-09-14T20:30:00Z")
    assert agents.impact_minutes == pytest.approx(189.35)
    assert agents.detection_minutes is None  # the stated start is the first post itself


def test_real_coverage_and_uptime_hand_checked(fixture_store: Store) -> None:
    cov = coverage_from_payloads(payload_spans(fixture_store))
    # The feed slice lists 4xvtc2gnq73l (first post Sep 29 14:21 UTC) as its oldest entry;
    # the feed's <updated> is 2026-10-08T02:59:46Z.
    assert cov["anthropic"].spans == ((utc("2026-09-29T14:21:00Z"),
                                       utc("2026-10-08T02:59:46Z")),)
    # The OpenAI slice: oldest first post 2026-09-14T15:58:48Z, _meta retrieved_at
    # 2026-09-15T12:22:09Z.
    assert cov["openai"].spans == ((utc("2026-09-14T15:58:48Z"), utc("2026-09-15T12:22:09Z")),)
    seen = last_seen(fixture_store)
    figures = [incident_figures(i, seen.get(i.key))
               for i in fixture_store.incidents(provider="anthropic")]
    period = Period("x", utc("2026-10-05T00:00:00Z"), utc("2026-10-08T00:00:00Z"))
    g = group_figures(figures, cov["anthropic"], period, provider="anthropic")
    # 72 h covered; bhphxz3vr58g 30 min and wf2v8ms031sx 100 min, both weighted 0.3 (the
    # feed states no impact): 39 weighted minutes of 4320.
    assert g.downtime_minutes == pytest.approx(39)
    assert g.uptime == pytest.approx(100 * (1 - 39 / 4320))
    assert g.nines == pytest.approx(-math.log10(39 / 4320))
    # Sep 28 00:00 → Sep 30 00:00: only the 33 h 39 min after 14:21 on the 29th are covered
    early = group_figures(figures, cov["anthropic"], Period("y", utc("2026-09-28T00:00:00Z"),
                                                           utc("2026-09-30T00:00:00Z")),
                          provider="anthropic")
    assert early.status == "partial" and early.coverage == pytest.approx((9 * 60 + 39) / 2880)


def test_payload_without_own_date_covers_what_it_proves_never_the_import_clock(
        tmp_path: Path) -> None:
    """An AWS data.json states no time of its own. Imported from a file (no archiver
    sidecar), its file time is when it was copied: coverage ends at its newest entry, so the
    365 days before today are unknown, not 100 % up. With a sidecar naming when an archiver
    fetched it, that fetch time is proven; a reparse from the archive gives the same."""
    body = (ROOT / "tests" / "fixtures" / "aws" / "data_slice.json").read_bytes()
    newest = max(int(row["date"]) for row in json.loads(body)["archive"])
    plain = tmp_path / "plain" / "data.json"
    plain.parent.mkdir()
    plain.write_bytes(body)  # mtime: now
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES))
    ingest(line, [plain])
    (span,) = payload_spans(store, "aws")
    inside = max(s for i in store.incidents(provider="aws")
                 for s in (*(u.at for u in i.updates), i.lifecycle.resolved_at) if s)
    assert datetime.fromtimestamp(newest, UTC) <= inside < datetime(2022, 1, 1, tzinfo=UTC)
    assert span.as_of == inside  # its newest timestamp (an update posted that evening)
    cov = coverage_from_payloads([span])["aws"]
    assert cov.end == inside
    (year,) = parse_period("365d", end=datetime.now(UTC))
    g = group_figures([], cov, year, provider="aws")
    assert (g.status, g.uptime, g.coverage) == ("unknown", None, 0.0)
    # the same bytes with an archiver's sidecar: its fetch time is a recorded one
    fetched = datetime(2022, 7, 3, 12, 0, tzinfo=UTC)
    seen = tmp_path / "seen" / "data.json"
    seen.parent.mkdir()
    seen.write_bytes(body)
    seen.with_name("data.headers.json").write_text(json.dumps(
        {"fetchedAt": fetched.isoformat(), "url": "https://status.aws.amazon.com/data.json"}))
    store2, _ = Store.open(f"sqlite:///{tmp_path / 'kb2.db'}", write=True)
    ingest(Line(store2, Archive(tmp_path / "raw2"),
                load_sources(PACKAGED_SOURCES)), [seen])
    assert [s.as_of for s in payload_spans(store2, "aws")] == [fetched]
    # rows stored before the fix (docs.as_of empty) fall back to the newest entry too
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE docs SET as_of = NULL")
    assert [s.as_of for s in payload_spans(store, "aws")] == [
        max(i.lifecycle.resolved_at or i.lifecycle.first_post_at
            for i in store.incidents(provider="aws"))]
    # a reparse from the archive recomputes it from the payload, not the manifest's time
    reparse(Line(store, Archive(tmp_path / "raw"),
                 load_sources(PACKAGED_SOURCES)))
    assert [s.as_of for s in payload_spans(store, "aws")] == [inside]


@pytest.mark.corpus
def test_feed_snapshots_leave_holes_that_are_unknown(tmp_path: Path) -> None:
    """Two GitHub history.atom snapshots four months apart (25 entries each) cover about a
    month each; the months between are unknown, not 100% up."""
    folder = CORPUS / "statuspage_atom" / "github"
    if not folder.is_dir():
        pytest.skip("../shared/corpus is absent")
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    ingest(Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES)),
           [folder / "githubstatus_history_20240201T042234Z.atom",
            folder / "githubstatus_history_20240601T042315Z.atom"])
    cov = coverage_from_payloads(payload_spans(store))["github"]
    assert len(cov.spans) == 2
    # The first snapshot's feed <updated> (read from the file) ends the first span.
    assert cov.spans[0][1] == utc("2024-02-01T04:21:40Z")
    (march,) = parse_period("2024-03", end=T0)
    figures = [incident_figures(i) for i in store.incidents()]
    g = group_figures(figures, cov, march, provider="github")
    assert g.status == "unknown" and g.uptime is None


# -- the command line ------------------------------------------------------------------------



def test_cli_metrics_json_and_errors(tmp_path: Path) -> None:
    assert kb(tmp_path, "ingest", str(FIX / "claude_slice.atom")).returncode == 0
    result = kb(tmp_path, "metrics", "--provider", "anthropic", "--period", "2026-10,2026-01",
                "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    october, january = rows
    assert october["period"]["label"] == "2026-10" and october["status"] == "partial"
    assert october["incidents"] == 2 and october["uptime_percent"] is not None
    assert january["status"] == "unknown" and january["uptime_percent"] is None
    one = kb(tmp_path, "metrics", "--incident", "anthropic/bhphxz3vr58g", "--json")
    assert json.loads(one.stdout)["impact_minutes"] == 30
    table = kb(tmp_path, "metrics", "--period", "2026-01")
    assert "unknown" in table.stdout and "100.000%" not in table.stdout
    assert kb(tmp_path, "metrics", "--provider", "nope").returncode == 3
    assert kb(tmp_path, "metrics", "--period", "soon").returncode == 2


def test_bounded_end_of_a_snapshot_series_is_unknown_between_its_bounds() -> None:
    # A summary.json series listed the incident open at minute 120 and no longer at 180
    # (kb.model.Lifecycle.end_not_before / end_not_after): down until 120, 120..180 unknown.
    base = make(resolved=None, updates=(0,))
    life = replace(base.lifecycle, end_not_before=t(120), end_not_after=t(180))
    f = incident_figures(replace(base, lifecycle=life), seen=t(120))
    # known to have ended (not open), though when between the bounds is unknown
    assert not f.open and (f.unknown_start, f.unknown_end) == (t(120), t(180))
    g = group_figures([f], cover((0, 1000)), Period("x", t(0), t(1000)), provider="p")
    assert (g.downtime_minutes, g.unknown_minutes) == (120, 60)
    assert g.uptime_if_down == pytest.approx(100 * (1 - 180 / 1000))
