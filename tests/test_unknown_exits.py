"""Unknown is a value at every exit (issue 14): the JSON of an unknown uptime, components whose
time is all unknown, the CSV's bounded ends and the drafts' unknown ends. Each test failed on
the code before its fix."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

from kb.analysis.audit import check_uptime
from kb.analysis.coverage import Coverage
from kb.analysis.metrics import incident_figures
from kb.analysis.periods import Period
from kb.analysis.reliability import group_figures, reliability_table
from kb.analysis.report import downtime_text, group_dict, major_text, uptime_text
from kb.drafts import draft_from_incident, render_draft
from kb.drafts.citations import uncited_sentences
from kb.model import Component, Incident, Kind, Lifecycle, Phase, Severity, Update
from kb.present import write_export
from tests.conftest import invoke_kb as kb
from tests.test_acceptance_14 import _group, incident, posted_once, t

SNAPSHOTS = (Path(__file__).resolve().parent / "fixtures" / "statuspage_summary"
             / "cloudflare")  # recorded Cloudflare snapshots (its ORIGIN.md)


def test_json_downtime_of_an_unknown_uptime_is_null_with_the_measured_bound_apart() -> None:
    """`kb metrics --json` gave `weighted_downtime_minutes: 0.0` beside `uptime_percent: null`
    (GitHub 2013: 232 incidents, none measurable) while the table said "unknown"."""
    g = _group([posted_once(100), posted_once(500)])
    data = json.loads(json.dumps(group_dict(g)))
    assert data["uptime_percent"] is None
    assert data["weighted_downtime_minutes"] is None and data["outage_minutes"] is None
    assert data["weighted_downtime_minutes_measured"] == 0.0
    assert data["downtime_bound"] == "unknown" and data["downtime_text"] == "unknown"
    # measured, all of it: the figure and "exact"; one unmeasured: a lower bound, both ways
    measured = [incident_figures(replace(
        incident(resolved=s + 60, updates=(s, s + 60)), native_id=f"m{s}", impact="minor",
        severity=Severity.MINOR, lifecycle=Lifecycle(first_post_at=t(s), resolved_at=t(s + 60))))
        for s in range(0, 9000, 1000)]
    exact = group_dict(_group(measured))
    assert exact["outage_minutes"] == 540.0 and exact["downtime_bound"] == "exact"
    bound = group_dict(_group([*measured, posted_once(9500, "minor")]))
    assert bound["outage_minutes"] == 540.0 and bound["downtime_bound"] == "lower bound"
    assert bound["downtime_text"].startswith("≥ ")


def test_a_group_with_only_unknown_time_has_an_unknown_uptime() -> None:
    """OpenAI's feed-only components (all incidents without a known impact time) read
    "100.000% (measured); 38.7h unknown": a figure over no measured minute."""
    # a feed entry: published, resolved 10 h later, no update between (source "bounded")
    feed_only = incident_figures(replace(incident(resolved=600, updates=(0,)),
                                         updates_complete=False))
    assert feed_only.source == "bounded" and feed_only.unknown_minutes == 600
    g = _group([feed_only])
    assert g.unknown_minutes == 600 and g.outage_minutes == 0
    assert g.uptime is None and g.nines is None
    assert uptime_text(g) == ("unknown (no impact time measured, 10.0h unknown: ends the data "
                              "does not show)")
    assert downtime_text(g, g.outage_minutes) == "unknown"
    # some time measured down beside it: the measured figure and the one counting it as down
    open_one = incident_figures(incident(resolved=None, updates=(0, 30)), seen=t(600))
    g = _group([open_one])
    assert g.uptime is not None and g.outage_minutes == 30 and "(measured)" in uptime_text(g)
    # kb audit flags a published uptime over only unknown time
    published = replace(_group([feed_only]), uptime=100.0, uptime_note=None)
    _, failures = check_uptime([published], {"p": [feed_only]})
    assert [f.check for f in failures] == ["uptime-unmeasured"]


def test_csv_and_incidents_json_carry_a_snapshot_archives_bounded_end(tmp_path: Path) -> None:
    """The CSV export had no column for a bounded end, so an incident that dropped out of a
    snapshot archive read as open (empty resolved_at); `kb incidents --json` likewise."""
    home = tmp_path / "home"
    assert kb(home, "ingest", str(SNAPSHOTS)).returncode == 0
    result = kb(home, "export", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    ended, still = rows["cloudflare/14rjb6jf7mwh"], rows["cloudflare/x4v5d51wpcnr"]
    assert ended["resolved_at"] == ""
    assert (ended["end_not_before"], ended["end_not_after"]) == (
        "2021-04-08T17:56:46.383Z", "2021-04-08T18:55:18.664Z")
    assert ended["end"] == ("ended between 2021-04-08T17:56:46.383Z and "
                            "2021-04-08T18:55:18.664Z (gone from the next snapshot of the "
                            "open-incident list)")
    assert (still["end_not_before"], still["end_not_after"]) == ("2021-04-08T18:55:18.664Z", "")
    assert still["end"].startswith("still listed as open in the newest snapshot")
    listed = json.loads(kb(home, "incidents", "--json").stdout)
    by_key = {r["key"]: r for r in listed}
    assert by_key["cloudflare/14rjb6jf7mwh"]["end_not_after"] == "2021-04-08T18:55:18.664Z"
    assert by_key["cloudflare/x4v5d51wpcnr"]["end_not_after"] is None


def test_the_end_column_is_formula_safe() -> None:
    """Every cell of the new columns goes through csv_cell like the rest."""
    hostile = Incident(provider="p", native_id="=1+1", title="-2+3", kind=Kind.INCIDENT,
                       status="investigating", severity=Severity.MAJOR,
                       lifecycle=Lifecycle(first_post_at=t(0), end_not_before=t(10),
                                           end_not_after=t(20)))
    out = io.StringIO()
    assert write_export([hostile], "csv", out) == 1
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["title"] == "'-2+3" and row["native_id"] == "'=1+1"
    assert row["end_not_before"] == "2026-03-01T12:10:00Z"
    assert row["end"].startswith("ended between 2026-03-01T12:10:00Z and ")


def test_a_draft_says_an_end_no_source_states_is_unknown_or_bounded() -> None:
    """Vultr's alerts (vultr_alerts/) never publish an end: the draft of such an incident said
    when it was first posted and nothing of its end. A snapshot archive's bound is said as
    `kb show` says it."""
    open_one = Incident(provider="vultr", native_id="x", title="Tokyo Degraded Network",
                        kind=Kind.INCIDENT, status="ongoing", severity=Severity.MINOR,
                        lifecycle=Lifecycle(first_post_at=t(0)),
                        updates=(Update(t(0), Phase.INVESTIGATING, "ongoing", "Degraded.",
                                        "Degraded."),))
    md = render_draft(draft_from_incident(open_one))
    assert ("No stored update says it ended, so when it ended is not known (the draft does "
            "not take it as still going on now).[^page]") in md
    bounded = replace(open_one, lifecycle=Lifecycle(first_post_at=t(0), end_not_before=t(50),
                                                    end_not_after=t(110)))
    md = render_draft(draft_from_incident(bounded))
    assert ("No stored update says when it ended: ended between 2026-03-01 12:50 UTC and "
            "2026-03-01 13:50 UTC (gone from the next snapshot of the open-incident list)."
            "[^page]") in md
    assert uncited_sentences(md) == []
    # a status that says resolved with no time for it (Vultr's alerts)
    said = replace(open_one, status="resolved")
    assert ("The provider marks it resolved but publishes no time for that, so when it ended "
            "is not known.[^page]") in render_draft(draft_from_incident(said))
    # resolved: nothing about an unknown end
    done = replace(open_one, lifecycle=Lifecycle(first_post_at=t(0), resolved_at=t(60)),
                   updates=(*open_one.updates, Update(t(60), Phase.RESOLVED, "resolved",
                                                      "Resolved.", "Resolved.")))
    assert "No stored update says" not in render_draft(draft_from_incident(done))


def test_an_uptime_with_measured_downtime_never_reads_100_percent() -> None:
    """AWS "Amazon Elastic Compute Cloud (Ohio)", all: 2m down, printed "100.000%" beside
    nines 5.33; the percentage is rounded down as the coverage is."""
    two = incident_figures(replace(
        incident(resolved=2, updates=(0, 2)), impact="major",
        lifecycle=Lifecycle(first_post_at=t(0), resolved_at=t(2))))
    g = _group([two], length=365 * 24 * 60)
    assert g.uptime is not None and g.uptime > 99.9995
    assert uptime_text(g) == "99.999%"
    assert uptime_text(_group([], length=1000)) == "100.000%"  # nothing down: exact


def test_a_components_uptime_beside_incidents_naming_no_component() -> None:
    """GitHub 365d: its 75 incidents are feed entries naming no component, and every
    component row read "100.000%, no downtime". All unnamed: unknown; some: an upper bound."""
    named = incident_figures(replace(
        incident(resolved=60, updates=(0, 60)), native_id="n", impact="minor",
        severity=Severity.MINOR, lifecycle=Lifecycle(first_post_at=t(0), resolved_at=t(60)),
        components=(Component("API", "api"),)))
    unnamed = incident_figures(replace(incident(resolved=60, updates=(0, 60)), native_id="u",
                                       lifecycle=Lifecycle(first_post_at=t(2000),
                                                           resolved_at=t(2060))))
    span = Coverage("p", ((t(0), t(10_000)),), "test")
    period = Period("x", t(0), t(10_000))
    g = group_figures([unnamed], span, period, provider="p", component="API")
    assert g.uptime is None and uptime_text(g) == (
        "unknown (all 1 incidents of p in the period name no component)")
    g = group_figures([named, unnamed], span, period, provider="p", component="API")
    assert g.uptime is not None and g.unattributed == 1 and uptime_text(g).startswith("≤ ")
    assert group_dict(g)["downtime_bound"] == "lower bound"
    # the table's precomputed counts give the same rows
    rows = reliability_table({"p": [named, unnamed]}, {"p": span}, {"p": [period]},
                             components=True)
    assert [uptime_text(r) for r in rows if r.component] == [uptime_text(g)]
    # a provider row is not a component's: no "≤" for naming none
    whole = group_figures([named], span, period, provider="p")
    assert whole.unattributed == 0 and not uptime_text(whole).startswith("≤")


def test_compare_does_not_count_unknown_severity_as_not_major() -> None:
    """`kb compare … github --period 365d`: "major/critical 0" beside 75 incidents all of
    unknown severity (feed entries)."""
    feed = incident_figures(replace(incident(resolved=60, updates=(0, 60)), impact=None,
                                    severity=Severity.NONE))
    g = _group([feed])
    assert g.by_severity == {"unknown": 1}
    assert major_text(g) == "≥ 0 (1 of unknown severity)"
    stated = incident_figures(incident(resolved=60, updates=(0, 60)))
    assert major_text(_group([stated])) == "1"


def test_a_draft_of_a_feed_entry_does_not_take_its_one_update_for_the_first_post() -> None:
    """OpenAI's FedRAMP entry (history.atom keeps only the latest update): published
    2026-06-15 22:12, its one stored update "resolved" 06-26 23:07. The draft said it was
    opened on 06-26 and "the first public post … already said it was resolved"."""
    entry = Incident(provider="openai", native_id="f", title="FedRAMP degraded",
                     kind=Kind.INCIDENT, status="resolved", severity=Severity.NONE,
                     lifecycle=Lifecycle(first_post_at=t(0), resolved_at=t(600)),
                     updates=(Update(t(600), Phase.RESOLVED, "Resolved", "Recovered.",
                                     "Recovered."),), updates_complete=False)
    md = render_draft(draft_from_incident(entry))
    assert "On 2026-03-01, openai opened this incident" in md
    assert ("It was first published at 2026-03-01 12:00 UTC; the feed keeps only its latest "
            "update, posted at 22:00 UTC, which says it was resolved; when its impact ended is "
            "not known.[^page][^u1]") in md
    assert "already said" not in md and uncited_sentences(md) == []
