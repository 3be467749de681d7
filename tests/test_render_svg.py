"""Pictures made at build time (kb/render/svg.py): the incident timeline and the 90-day bars."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

from kb.model import ImpactWindow, Incident, Kind, Lifecycle, Phase, Severity, Update
from kb.render import svg
from kb.render.sections import Mark

NS = {"s": "http://www.w3.org/2000/svg"}
T0 = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def update(minutes: int, phase: Phase, label: str = "", text: str = "x") -> Update:
    return Update(at=T0 + timedelta(minutes=minutes), phase=phase, label=label or phase.value,
                  body=text, text=text)


def incident(updates: tuple[Update, ...], **kw) -> Incident:  # type: ignore[no-untyped-def]
    life = Lifecycle(first_post_at=updates[0].at if updates else None,
                     resolved_at=next((u.at for u in updates if u.phase is Phase.RESOLVED), None))
    values = {"provider": "p", "native_id": "i1", "title": "t", "kind": Kind.INCIDENT,
              "status": "resolved", "severity": Severity.MAJOR, "lifecycle": life,
              "updates": updates}
    values.update(kw)
    return Incident(**values)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_timeline_draws_a_band_per_phase_segment_and_a_tick_per_update() -> None:
    inc = incident((update(0, Phase.INVESTIGATING), update(30, Phase.IDENTIFIED),
                    update(60, Phase.MONITORING), update(120, Phase.RESOLVED)))
    root = parse(svg.timeline(inc))
    bands = root.findall("s:rect", NS)
    assert [b.get("class") for b in bands] == [
        "kb-phase kb-ph-investigating", "kb-phase kb-ph-identified", "kb-phase kb-ph-monitoring"
    ]
    widths = [float(b.get("width") or 0) for b in bands]
    # 30, 30 and 60 minutes (to the rounding of the coordinates)
    assert abs(widths[0] - widths[1]) <= 0.2 and abs(widths[2] - 2 * widths[0]) <= 0.3
    assert len(root.findall("s:line", NS)) == 4
    assert root.find("s:rect[@class='kb-impact']", NS) is None


def test_open_incident_band_runs_to_the_end_and_impact_window_is_its_own_bar() -> None:
    window = ImpactWindow(T0 - timedelta(minutes=20), T0 + timedelta(minutes=10), "from 09:40")
    inc = incident((update(0, Phase.INVESTIGATING),), status="investigating",
                   impact_window=window)
    root = parse(svg.timeline(inc))
    band = root.find("s:rect[@class='kb-phase kb-ph-investigating']", NS)
    impact = root.find("s:rect[@class='kb-impact']", NS)
    assert band is not None and impact is not None
    # The window starts before the first post: its bar starts left of the band.
    assert float(impact.get("x") or 0) < float(band.get("x") or 0)
    assert "from 09:40" in (impact.findtext("s:title", namespaces=NS) or "")


def test_marks_are_drawn_and_every_text_is_escaped() -> None:
    hostile = '<script>alert(1)</script>" onload="alert(2)'
    inc = incident((update(0, Phase.INVESTIGATING, label=hostile), update(60, Phase.RESOLVED)))
    marks = [Mark(T0 + timedelta(minutes=5), hostile, kind='x" onclick="y')]
    markup = str(svg.timeline(inc, marks))
    root = parse(markup)  # still well-formed XML
    circle = root.find("s:circle", NS)
    assert circle is not None and circle.get("class") == "kb-mark kb-mark-xonclicky"
    assert "<script>" not in markup and 'onload="' not in markup and "onclick=" not in markup
    assert hostile in (circle.findtext("s:title", namespaces=NS) or "")


def test_days_buckets_incidents_by_worst_severity() -> None:
    as_of = date(2026, 9, 10)
    a = incident((update(0, Phase.INVESTIGATING), update(60 * 30, Phase.RESOLVED)),
                 severity=Severity.MINOR)  # 2026-09-01 10:00 → 09-02 16:00
    b = incident((update(60, Phase.INVESTIGATING), update(120, Phase.RESOLVED)),
                 native_id="i2", severity=Severity.CRITICAL)
    m = incident((update(0, Phase.SCHEDULED),), native_id="m", kind=Kind.MAINTENANCE)
    old = incident((Update(T0 - timedelta(days=400), Phase.RESOLVED, "r", "x", "x"),),
                   native_id="old")
    cells = svg.days([a, b, m, old], as_of)
    assert len(cells) == svg.SPAN and cells[-1].day == as_of
    by_day = {c.day: c for c in cells}
    assert by_day[date(2026, 9, 1)].worst is Severity.CRITICAL
    assert by_day[date(2026, 9, 1)].count == 2
    assert by_day[date(2026, 9, 2)].worst is Severity.MINOR
    assert by_day[date(2026, 9, 3)].count == 0 and by_day[date(2026, 9, 3)].worst is None


def test_day_bars_one_rect_per_day_coloured_by_severity() -> None:
    cells = [svg.Day(date(2026, 1, 1) + timedelta(days=i),
                     Severity.MAJOR if i == 3 else None, 1 if i == 3 else 0) for i in range(90)]
    root = parse(svg.day_bars(cells, 'GitHub <b>"x"</b>'))
    rects = root.findall("s:rect", NS)
    assert len(rects) == 90
    assert rects[3].get("fill") == svg.SEVERITY_COLOURS[Severity.MAJOR]
    assert rects[0].get("fill") == svg.SEVERITY_COLOURS[None]
    assert root.get("aria-label") == 'GitHub <b>"x"</b>'  # escaped in the markup, intact here


def test_a_day_without_data_is_grey_not_green() -> None:
    as_of = date(2026, 9, 10)
    a = incident((update(0, Phase.INVESTIGATING), update(60, Phase.RESOLVED)),
                 severity=Severity.MINOR)  # 2026-09-01
    watched = {date(2026, 9, 1): 0.0, date(2026, 9, 2): 0.25, date(2026, 9, 3): 1.0}
    cells = svg.days([a], as_of, watched=lambda day: watched.get(day, 0.0))
    by_day = {c.day: c for c in cells}
    assert [by_day[date(2026, 9, d)].watched for d in (1, 2, 3, 4)] == [0.0, 0.25, 1.0, 0.0]
    root = parse(svg.day_bars(cells, "acme"))
    fills = {c.day: (r.get("fill"), r.findtext("s:title", namespaces=NS))
             for c, r in zip(cells, root.findall("s:rect", NS), strict=True)}
    # An incident is data: its day is coloured even where no listing covers it.
    assert fills[date(2026, 9, 1)] == (svg.SEVERITY_COLOURS[Severity.MINOR],
                                       "2026-09-01: 1 incident(s), worst minor")
    assert fills[date(2026, 9, 2)] == (svg.SEVERITY_COLOURS[None], "2026-09-02: no incident "
                                       "recorded (data covers 25% of the day)")
    assert fills[date(2026, 9, 3)] == (svg.SEVERITY_COLOURS[None],
                                       "2026-09-03: no incident recorded")
    assert fills[date(2026, 9, 4)] == (svg.NO_DATA_COLOUR, "2026-09-04: no data (no stored "
                                       "status-page payload covers this day)")


def test_an_incident_without_any_time_gets_a_plain_note() -> None:
    inc = incident((), lifecycle=Lifecycle())
    root = parse(svg.timeline(inc))
    assert root.findtext("s:text", namespaces=NS) == "no timestamps published"
    assert root.find("s:rect", NS) is None
