"""Issue 14: a reopened incident's draft uses the final resolution, names the reopening, and
never prints a negative duration (a resolution before the stated end of impact reads as
contradicting vendor times)."""

from __future__ import annotations

import re
from dataclasses import replace

from kb.drafts import draft_from_incident, render_draft
from kb.drafts.citations import uncited_sentences
from kb.model import CONTRADICTING_TIMES, ImpactWindow, Phase
from tests.test_drafts import at, incident, update


def _reopened():  # type: ignore[no-untyped-def]
    # resolved at 18:00, back to monitoring at 18:20, resolved for good at 19:02; the stated
    # impact ended at 18:52 (the old draft said "resolved -52 min after the stated end")
    return incident(updates=(
        update("2026-04-28 17:41:30", Phase.INVESTIGATING, "We are investigating errors."),
        update("2026-04-28 18:00", Phase.RESOLVED, "This incident has been resolved."),
        update("2026-04-28 18:20", Phase.MONITORING, "Errors returned; we are monitoring."),
        update("2026-04-28 19:02", Phase.RESOLVED,
               "This is resolved. Impact occurred from 17:34 to 18:52 UTC."),
    ))


def test_a_reopened_incident_is_resolved_at_its_final_resolution() -> None:
    draft = draft_from_incident(_reopened())
    assert draft.figures.lifecycle_minutes == 81  # 17:41 → 19:02, not → 18:00
    assert draft.figures.resolve_lag_minutes == 10  # 18:52 → 19:02
    md = render_draft(draft)
    assert "It was reopened at 18:20 UTC (resolved → monitoring)" in md
    assert not re.search(r"(?<![\w:])-\d+ min", md)
    assert not uncited_sentences(md)


def test_a_resolution_before_the_stated_end_is_not_a_negative_lag() -> None:
    late = ImpactWindow(at("2026-04-28 19:30"), at("2026-04-28 19:40"), "Impact 19:30-19:40.")
    base = incident()
    resolved = replace(base.updates[2], at=at("2026-04-28 19:35"))
    draft = draft_from_incident(replace(base, impact_window=late,
                                        updates=(*base.updates[:2], resolved)))
    assert draft.figures.resolve_lag_minutes is None
    md = render_draft(draft)
    assert CONTRADICTING_TIMES in md
    assert not re.search(r"(?<![\w:])-\d+ min", md)
