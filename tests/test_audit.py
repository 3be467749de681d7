"""`kb audit` and the invariants behind every published figure (issue 14): each check is
shown to fail on the broken figure it guards against, then to pass on real data."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kb.analysis.audit import (
    check_coverage,
    check_draft,
    check_durations,
    check_uptime,
)
from kb.analysis.coverage import coverage_from_payloads
from kb.analysis.dataset import Dataset
from kb.analysis.metrics import incident_figures
from kb.analysis.periods import Period
from kb.analysis.reliability import group_figures
from kb.analysis.report import uptime_text
from kb.model import (
    SEVERITY_UNKNOWN,
    Component,
    Incident,
    Kind,
    Lifecycle,
    Phase,
    Severity,
    StatusChange,
    Update,
)
from kb.render.pages import _row
from kb.render.svg import SEVERITY_COLOURS, day_bars, days
from kb.store.analysis import PayloadSpan
from tests.conftest import invoke_kb as kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "analysis"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(native_id: str = "a", *, first: float = 0, resolved: float | None = 60,
             impact: str | None = "major", updates: tuple[float, ...] = (0, 60),
             components: tuple[Component, ...] = ()) -> Incident:
    return Incident(
        provider="p", native_id=native_id, title=f"incident {native_id}", kind=Kind.INCIDENT,
        status="resolved", severity=Severity(impact) if impact in ("minor", "major")
        else Severity.NONE, impact=impact, components=components,
        lifecycle=Lifecycle(first_post_at=t(first),
                            resolved_at=None if resolved is None else t(resolved)),
        updates=tuple(Update(t(u), Phase.INVESTIGATING, "x", "b", "b") for u in updates))


# -- severity -----------------------------------------------------------------------------


def test_unknown_severity_is_its_own_value_distinct_from_a_stated_none() -> None:
    feed_only = incident(impact=None)  # an Atom/RSS entry: no impact field at all
    stated_none = incident(impact="none")  # Statuspage JSON "impact": "none"
    operational = incident(impact=None, components=(
        Component("API", changes=(StatusChange(t(0), "operational", "operational"),)),))
    assert feed_only.stated_severity == SEVERITY_UNKNOWN
    assert stated_none.stated_severity == "none"
    assert operational.stated_severity == "none"  # the vendor said the component was fine
    assert incident(impact="major").stated_severity == "major"
    # the site's badge is neutral grey, not green "none"
    row = _row(feed_only, "/", False, "p")
    assert 'class="kb-sev kb-sev-unknown">unknown<' in row and "kb-sev-none" not in row
    # a day whose only incident states no severity is grey in the bars, not green
    (cell,) = days([feed_only], t(0).date(), span=1)
    assert cell.worst == SEVERITY_UNKNOWN
    assert f'fill="{SEVERITY_COLOURS[SEVERITY_UNKNOWN]}"' in str(day_bars([cell], "p"))
    assert SEVERITY_COLOURS[SEVERITY_UNKNOWN] not in (SEVERITY_COLOURS[None],
                                                      SEVERITY_COLOURS[Severity.NONE])


# -- each check fails on what it guards against ------------------------------------------


def test_durations_check_reports_backwards_lifecycles_with_their_key() -> None:
    good = incident("good")
    bad = replace(incident("bad"), lifecycle=Lifecycle(first_post_at=t(60), resolved_at=t(0)))
    failures = check_durations([good, bad], {})
    assert [(f.check, f.key) for f in failures] == [("negative-duration", "p/bad")]
    assert "-60 min" in failures[0].message


def test_coverage_check_catches_coverage_from_the_import_clock() -> None:
    # What the old code did with an imported AWS data.json: the span ran to the day of import.
    now = datetime(2026, 12, 7, tzinfo=UTC)
    old = PayloadSpan("aws", "ab" * 32, as_of=now, entries=86, incidents=61,
                      oldest=datetime(2021, 6, 24, tzinfo=UTC),
                      newest_end=datetime(2022, 6, 16, tzinfo=UTC), fetched_at=now,
                      stored_as_of=None)
    failures = check_coverage([old], coverage_from_payloads([old]), now)
    assert [(f.check, f.key) for f in failures] == [("coverage", "aws")]
    assert "beyond the newest time its payloads prove (2022-06-16" in failures[0].message
    fixed = replace(old, as_of=datetime(2022, 6, 16, tzinfo=UTC))
    assert check_coverage([fixed], coverage_from_payloads([fixed]), now) == []
    future = replace(fixed, as_of=now + timedelta(days=3), stored_as_of=now + timedelta(days=3))
    keys = {f.key for f in check_coverage([future], coverage_from_payloads([future]), now)}
    assert keys == {"aws", f"aws/payload:{'ab' * 6}"}  # in the future, after its fetch


def test_uptime_check_catches_no_downtime_from_unmeasured_incidents() -> None:
    # GitHub 2013: incidents posted once, already resolved; an uptime there is invented.
    posted = [incident_figures(incident(str(i), first=i * 100, resolved=i * 100,
                                        updates=(i * 100,), impact="minor")) for i in range(5)]
    period = Period("2013", t(0), t(1000))
    from kb.analysis.coverage import Coverage

    g = group_figures(posted, Coverage("p", ((t(0), t(1000)),), "test"), period, provider="p")
    assert g.uptime is None
    count, failures = check_uptime([g], {"p": posted})
    assert (count, failures) == (1, [])
    invented = replace(g, uptime=100.0, uptime_note=None)  # what the old code published
    _, failures = check_uptime([invented], {"p": posted})
    assert [(f.check, f.key) for f in failures] == [("uptime-unmeasured", "p@2013")]
    assert "5 of 5 incidents" in failures[0].message


def test_draft_check_compares_each_cited_figure_with_kb_metrics() -> None:
    figures = [incident_figures(incident("x", first=-600, resolved=-540))]
    from kb.analysis.coverage import Coverage

    cover = Coverage("p", ((t(-90 * 24 * 60), t(0)),), "test")
    data = Dataset([], {"p": figures}, {"p": cover}, {}, {}, {})
    subject = incident("now", first=0)
    g = group_figures(figures, cover, Period("90d", t(-90 * 24 * 60), t(0)), provider="p")
    right = f"Uptime recomputed from impact windows: {uptime_text(g)} (known coverage)."
    assert check_draft(subject, {"reliability": [right]}, data) == []
    wrong = "Uptime recomputed from impact windows: 100.000% (known coverage)."
    failures = check_draft(subject, {"reliability": [wrong]}, data)
    assert [(f.check, f.key) for f in failures] == [("draft", "p/now")]


# -- through the real CLI ------------------------------------------------------------------




def test_cli_audit_passes_on_real_payloads_and_names_what_breaks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = kb(home, "ingest", str(FIX / "github"), str(FIX / "openai_slice.json"),
              str(FIX / "claude_slice.atom"))
    assert done.returncode == 0, done.stderr
    # feed-only Claude incidents state no impact: unknown, in lists and on kb show
    listed = json.loads(kb(home, "incidents", "--provider", "anthropic", "--json").stdout)
    assert listed and {row["severity"] for row in listed} == {SEVERITY_UNKNOWN}
    shown = kb(home, "show", listed[0]["key"])
    assert "severity unknown" in shown.stdout and "severity none" not in shown.stdout
    audit = kb(home, "audit", "--json", "--drafts", "2")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    report = json.loads(audit.stdout)
    assert report["ok"] and report["failures"] == []
    assert report["checked"]["severity-none"] > 0 and report["checked"]["coverage"] > 0
    assert report["checked"]["site"] > 0 and report["checked"]["draft"] == 2
    # a stored payload claiming a time a week after it was fetched: named, exit 1
    with sqlite3.connect(home / "kb.db") as conn:
        sha, fetched = conn.execute(
            "SELECT sha256, fetched_at FROM docs WHERE provider = 'anthropic'").fetchone()
        later = datetime.fromisoformat(fetched).replace(tzinfo=UTC) + timedelta(days=7)
        conn.execute("UPDATE docs SET as_of = ? WHERE sha256 = ?",
                     (later.replace(tzinfo=None).isoformat(sep=" "), sha))
    broken = kb(home, "audit", "--drafts", "0")
    assert broken.returncode == 1
    assert f"FAIL coverage anthropic/payload:{sha[:12]}: proves" in broken.stdout
    assert "failure(s)" in broken.stdout


@pytest.mark.slow
@pytest.mark.corpus
def test_audit_of_the_whole_corpus(corpus: Path, tmp_path: Path) -> None:
    """Every figure of the recorded corpus recomputed and checked (and the three headline
    cases of issue 14: AWS's imported data.json, GitHub 2013, OpenAI's open-ended entries)."""
    home = tmp_path / "home"
    home.mkdir()
    done = kb(home, "ingest", str(corpus))
    assert done.returncode == 0, done.stderr[-2000:]
    audit = kb(home, "audit", "--json", "--drafts", "3")
    report = json.loads(audit.stdout)
    assert audit.returncode == 0 and report["ok"], report["failures"][:20]
    rows = {}
    for provider, period in (("aws", "365d"), ("github", "2013"), ("openai", "365d")):
        out = kb(home, "metrics", "--provider", provider, "--period", period,
                 "--end", "2026-12-07", "--json")
        rows[provider] = json.loads(out.stdout)["rows"][0]
    assert rows["aws"]["status"] == "unknown" and rows["aws"]["uptime_percent"] is None
    assert rows["github"]["uptime_percent"] is None
    assert rows["github"]["uptime_text"].startswith("unknown (232 of 232 incidents")
    assert rows["openai"]["unknown_minutes"] > 265 * 60  # the FedRAMP entry alone is 265 h
    assert rows["openai"]["uptime_percent"] > 95


def test_seen_until_is_what_the_payload_proves_never_the_import_clock() -> None:
    from kb.pipeline import seen_until
    from scrapers.records import IncidentRecord, ParsedDoc, RawDoc, UpdateRecord

    fetched = datetime(2026, 12, 7, 15, 44, tzinfo=UTC)
    doc = RawDoc(body=b"{}", url="file:///corpus/aws/data.json", fetched_at=fetched)
    record = IncidentRecord(native_id="x", title="t", channel="c", created_at=t(0), updates=(
        UpdateRecord(at=t(30), label="resolved", body="b"),))
    own = ParsedDoc(format="f", incidents=(record,), as_of=t(45))
    undated = ParsedDoc(format="f", incidents=(record,))
    assert seen_until(own, doc, fetch_proven=False) == t(45)  # the payload's own time
    assert seen_until(undated, doc, fetch_proven=True) == fetched  # a live fetch
    assert seen_until(undated, doc, fetch_proven=False) == t(30)  # its newest timestamp
    assert seen_until(ParsedDoc(format="f"), doc, fetch_proven=False) is None
    early = RawDoc(body=b"{}", url="file:///x", fetched_at=t(10))
    assert seen_until(undated, early, fetch_proven=False) == t(10)  # not after the bytes


def test_day_bars_mark_the_days_kb_metrics_measures() -> None:
    # First post on day 0, resolved on day 4; the component was degraded only on days 1..2.
    from kb.analysis.metrics import impact_interval
    from kb.render.site import _touched

    day = 24 * 60
    degraded = Component("API", changes=(
        StatusChange(t(day + 60), "operational", "degraded_performance"),
        StatusChange(t(2 * day + 60), "degraded_performance", "operational")))
    subject = incident(first=0, resolved=4 * day, updates=(0, 4 * day),
                       components=(degraded,))
    start, end, source = impact_interval(subject)
    assert source == "components" and _touched(subject) == (start, end)
    cells = days([subject], t(4 * day).date(), span=5, interval=_touched)
    assert [c.count for c in cells] == [0, 1, 1, 0, 0]
    # an open incident's unknown end runs to its last update, not to the build day
    still_open = incident(first=0, resolved=None, updates=(0, day))
    cells = days([still_open], t(4 * day).date(), span=5, interval=_touched)
    assert [c.count for c in cells] == [1, 1, 0, 0, 0]
