"""Provider comparison: side-by-side figures and the hours two providers were down at once,
counted only where the KB covers both."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kb.analysis.causes import Cause, CauseTag
from kb.analysis.compare import compare, top_causes
from kb.analysis.coverage import Coverage
from kb.analysis.metrics import incident_figures
from kb.analysis.periods import Period
from kb.analysis.report import pair_text
from kb.model import Incident, Kind, Lifecycle, Severity
from tests.conftest import invoke_kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "analysis"
T0 = datetime(2026, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def h(hours: float) -> datetime:
    return T0 + hours * HOUR


def make(provider: str, key: str, start: float, end: float | None,
         impact: str = "major") -> Incident:
    return Incident(provider, key, key, Kind.INCIDENT, "resolved", Severity(impact), impact,
                    lifecycle=Lifecycle(first_post_at=h(start),
                                        resolved_at=h(end) if end is not None else None))


def cover(provider: str, start: float, end: float) -> Coverage:
    return Coverage(provider, ((h(start), h(end)),), "test")


def test_hours_down_together_only_where_both_are_covered() -> None:
    incidents = {
        "a": [make("a", "a1", 0, 10), make("a", "a2", 20, 30, "minor")],
        "b": [make("b", "b1", 5, 25), make("b", "b2", 100, 110)],
    }
    figures = {p: [incident_figures(i) for i in v] for p, v in incidents.items()}
    coverages = {"a": cover("a", 0, 200), "b": cover("b", 0, 50)}  # b unknown after 50 h
    period = Period("x", h(0), h(200))
    result = compare(["a", "b", "c"], figures, coverages, {}, period)
    ab = next(p for p in result.pairs if (p.a, p.b) == ("a", "b"))
    # a1 ∩ b1 = 5..10 (5 h, both major), a2 ∩ b1 = 20..25 (5 h, a2 minor)
    assert ab.both_down_hours == pytest.approx(10)
    assert ab.both_major_hours == pytest.approx(5)
    assert ab.both_covered_hours == pytest.approx(50)
    assert [(e.start, e.end, e.a_keys, e.b_keys) for e in ab.episodes] == [
        (h(5), h(10), ("a/a1",), ("b/b1",)), (h(20), h(25), ("a/a2",), ("b/b1",))]
    ac = next(p for p in result.pairs if (p.a, p.b) == ("a", "c"))
    assert ac.both_down_hours is None  # c has no data at all: unknown, not "never together"
    c_side = next(s for s in result.sides if s.provider == "c")
    assert c_side.figures.status == "unknown" and c_side.figures.uptime is None
    a_side = result.sides[0]
    # a: 10 h major + 10 h × 0.3 minor over 200 covered hours
    assert a_side.figures.uptime == pytest.approx(100 * (1 - 13 / 200))


def test_open_incident_is_unknown_shared_time_until_last_seen_never_down() -> None:
    # No update after its first post, still listed open at 8 h: 0..8 h is unknown for a;
    # b is down 6..12 h, so 2 h are "maybe together", none known together.
    still_open = incident_figures(make("a", "open", 0, None), seen=h(8))
    other = incident_figures(make("b", "b1", 6, 12))
    # a's hour measured down apart from them: a's uptime is known (time only unknown is not)
    measured = incident_figures(make("a", "a2", 14, 15))
    result = compare(["a", "b"], {"a": [still_open, measured], "b": [other]},
                     {"a": cover("a", 0, 24), "b": cover("b", 0, 24)}, {},
                     Period("x", h(0), h(24)))
    pair = result.pairs[0]
    assert pair.both_down_hours == pytest.approx(0)
    assert pair.both_unknown_hours == pytest.approx(2)
    assert pair_text(pair) == ("down together 0.0 h (0.0 h major) of 24 h both covered, in 0 "
                               "episode(s); 2.0 h more where either's state is unknown")


def test_pair_is_unknown_when_either_uptime_is() -> None:
    # every incident of a posted once, already resolved: "both down 0.0 h" would advise a
    posted = [incident_figures(make("a", f"p{i}", i, i)) for i in range(3)]
    other = incident_figures(make("b", "b1", 0, 2))
    result = compare(["a", "b"], {"a": posted, "b": [other]},
                     {"a": cover("a", 0, 24), "b": cover("b", 0, 24)}, {},
                     Period("x", h(0), h(24)))
    pair = result.pairs[0]
    assert pair.both_down_hours is None and pair.both_covered_hours == pytest.approx(24)
    assert pair_text(pair) == ("unknown (a: 3 of 3 incidents have no measurable duration "
                               "(3 major/critical))")


def test_top_causes_count_incidents_not_tags() -> None:
    tag = CauseTag(Cause.DNS, "rule", "e", "d", "cause")
    causes = {"p/1": [tag, tag], "p/2": [tag, CauseTag(Cause.NETWORK, "rule", "e", "d", "cause")],
              "p/3": [CauseTag(Cause.UNKNOWN, "none", "", "")]}
    assert top_causes(["p/1", "p/2", "p/3"], causes) == (("dns", 2), ("network", 1))


def test_top_causes_count_stated_causes_and_symptoms_apart() -> None:
    """"users may see authentication errors" is a symptom: it is no top cause."""
    causes = {"p/1": [CauseTag(Cause.AUTH, "rule", "Users may see authentication errors.", "d",
                               "symptom"),
                      CauseTag(Cause.TLS, "rule", "Caused by an expired certificate.", "d",
                               "cause")],
              "p/2": [CauseTag(Cause.AUTH, "rule", "Unable to log in.", "d", "symptom")],
              "p/3": [CauseTag(Cause.DNS, "embedding", "DNS lookups slow.", "d", "unknown")]}
    keys = ["p/1", "p/2", "p/3"]
    assert top_causes(keys, causes) == (("tls", 1),)
    assert top_causes(keys, causes, role="symptom") == (("auth", 2),)


def test_cli_compare_reports_unknown_providers(tmp_path: Path) -> None:
    def kb(*args: str) -> subprocess.CompletedProcess[str]:
        return invoke_kb(tmp_path, *args)

    assert kb("ingest", str(FIX / "claude_slice.atom"), str(FIX / "openai_slice.json")
              ).returncode == 0
    # a provider followed but without data is unknown; a name no provider has is refused
    # (issue #18: "google" is no provider; google-cloud and google-workspace are)
    refused = kb("compare", "anthropic", "openai", "google")
    assert refused.returncode == 3 and "google-cloud, google-workspace" in refused.stderr
    result = kb("compare", "anthropic", "openai", "google-cloud", "--period", "30d", "--end",
                "2026-10-08", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    sides = {s["provider"]: s for s in data["providers"]}
    assert sides["google-cloud"]["status"] == "unknown"
    assert sides["google-cloud"]["uptime_percent"] is None
    assert sides["anthropic"]["incidents"] == 3
    # the slice's sign-in outage and unsaved messages are what users saw, not stated causes
    assert sides["anthropic"]["top_symptoms"][0]["tag"] in {"auth", "data-loss"}
    assert not {"auth", "data-loss"} & {t["tag"] for t in sides["anthropic"]["top_causes"]}
    pair = next(p for p in data["pairs"] if {p["a"], p["b"]} == {"anthropic", "openai"})
    # the two slices never cover the same time (Sep 14-15 vs Sep 29-Oct 8)
    assert pair["both_down_hours"] is None
    text = kb("compare", "anthropic", "openai", "--period", "30d", "--end", "2026-10-08")
    assert "unknown (the KB never covers both" in text.stdout
    assert kb("compare", "anthropic").returncode == 2


def test_major_hours_together_are_a_lower_bound_where_severity_is_unknown() -> None:
    # b's feed entry states no severity: the 2 h both were down may have been major for it
    unstated = Incident("b", "b1", "b1", Kind.INCIDENT, "resolved", Severity.NONE, None,
                        lifecycle=Lifecycle(first_post_at=h(0), resolved_at=h(2)))
    a = [incident_figures(make("a", "a1", 0, 2, "minor")),
         incident_figures(make("a", "a2", 5, 6, "major"))]
    b = [incident_figures(unstated), incident_figures(make("b", "b2", 5, 6))]
    assert b[0].severity == "unknown"
    result = compare(["a", "b"], {"a": a, "b": b},
                     {"a": cover("a", 0, 24), "b": cover("b", 0, 24)}, {},
                     Period("x", h(0), h(24)))
    pair = result.pairs[0]
    assert pair.major_lower_bound and pair.both_down_hours == pytest.approx(3)
    assert pair_text(pair) == ("down together 3.0 h (≥ 1.0 h major) of 24 h both covered, "
                               "in 2 episode(s)")
