"""Unknown is a value at every exit (issue 14): the JSON of an unknown uptime, components whose
time is all unknown, the CSV's bounded ends and the drafts' unknown ends. Each test failed on
the code before its fix."""

from __future__ import annotations

import json
from dataclasses import replace

from kb.analysis.audit import check_uptime
from kb.analysis.metrics import incident_figures
from kb.analysis.report import downtime_text, group_dict, uptime_text
from kb.model import Lifecycle, Severity
from tests.test_acceptance_14 import _group, incident, posted_once, t


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
