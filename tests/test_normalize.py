"""Normalization: phases, lifecycle, severity, components and the JSON + feed merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.model import Kind, Phase, Severity, SourcedRecord, SourceRef
from kb.normalize import normalize_incident
from kb.normalize.merge import select_current
from kb.normalize.vocabulary import phase_for_label, severity_for
from scrapers.records import ComponentChange, IncidentRecord, UpdateRecord

T0 = datetime(2026, 4, 28, 17, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sourced(record: IncidentRecord, fetched_min: float = 0, as_of: datetime | None = None,
            sha: str = "a") -> SourcedRecord:
    ref = SourceRef(f"https://x.test/{sha}", at(fetched_min), sha * 64, record.channel)
    return SourcedRecord(record, ref, as_of)


def json_record(updates: list[tuple[float, str, str]], **extra) -> IncidentRecord:
    """Updates newest first, as the API lists them: (minute, status, body)."""
    fields = dict(native_id="abc123", title="Elevated errors", channel="statuspage_json",
                  status=updates[0][1], impact="minor")
    fields.update(extra)
    return IncidentRecord(
        updates=tuple(UpdateRecord(at=at(m) + timedelta(seconds=17), label=s, body=b,
                                   native_id=f"u{m}") for m, s, b in updates),
        **fields,
    )


def feed_record(updates: list[tuple[float, str, str]]) -> IncidentRecord:
    return IncidentRecord(
        native_id="abc123", title="Elevated errors", channel="statuspage_feed",
        status=updates[0][1].lower(),
        updates=tuple(UpdateRecord(at=at(m), label=s, body=b, body_format="html",
                                   at_precision="minute") for m, s, b in updates),
    )


def test_label_vocabulary() -> None:
    assert phase_for_label("Investigating") is Phase.INVESTIGATING
    assert phase_for_label("fixing") is Phase.IDENTIFIED
    assert phase_for_label("In progress") is Phase.IN_PROGRESS
    assert phase_for_label("Postmortem") is Phase.POSTMORTEM
    assert phase_for_label("Update") is None
    assert phase_for_label("Required Action") is None


def test_severity_takes_the_worse_of_impact_and_components() -> None:
    assert severity_for("none", ["operational"]) is Severity.NONE
    assert severity_for("none", ["partial_outage"]) is Severity.MAJOR
    assert severity_for("minor", ["major_outage"]) is Severity.CRITICAL
    assert severity_for("critical", []) is Severity.CRITICAL
    assert severity_for(None, ["degraded_performance"]) is Severity.MINOR


def test_json_timeline_phases_and_lifecycle() -> None:
    record = json_record(
        [(78, "resolved", "This incident has been resolved."),
         (60, "monitoring", "A fix has been implemented."),
         (20, "identified", "The issue has been identified."),
         (7, "investigating", "We are investigating.")],
        created_at=at(7), started_at=at(0), resolved_at=at(78),
    )
    incident = normalize_incident("anthropic", [sourced(record)])
    assert incident.key == "anthropic/abc123"
    assert [u.phase for u in incident.updates] == [
        Phase.INVESTIGATING, Phase.IDENTIFIED, Phase.MONITORING, Phase.RESOLVED]
    life = incident.lifecycle
    assert life.first_post_at == at(7) + timedelta(seconds=17)
    assert life.identified_at == at(20) + timedelta(seconds=17)
    assert life.monitoring_at == at(60) + timedelta(seconds=17)
    assert life.resolved_at == at(78) + timedelta(seconds=17)
    assert (life.vendor_created_at, life.vendor_started_at, life.vendor_resolved_at) == (
        at(7), at(0), at(78))
    assert incident.severity is Severity.MINOR and incident.kind is Kind.INCIDENT


def test_reopened_incident_resolves_at_its_final_resolution() -> None:
    # OpenAI 01M2D1CZG0862JB4JHVW56QF89's shape: resolved → monitoring → resolved (issue 14: the
    # first "resolved" made a draft say "resolved -667 min after the stated end of impact")
    record = json_record([(90, "resolved", "c"), (30, "monitoring", "b"), (28, "resolved", "a"),
                          (5, "investigating", "start")])
    incident = normalize_incident("openai", [sourced(record)])
    assert [u.phase.value for u in incident.updates] == [
        "investigating", "resolved", "monitoring", "resolved"]
    assert incident.lifecycle.resolved_at == at(90) + timedelta(seconds=17)
    assert incident.lifecycle.monitoring_at == at(30) + timedelta(seconds=17)
    assert [(r.at, r.from_phase, r.to_phase) for r in incident.reopened] == [
        (at(30) + timedelta(seconds=17), Phase.RESOLVED, Phase.MONITORING)]
    assert incident.time_to_resolve == timedelta(minutes=85)


def test_reopened_and_still_open_has_no_resolution() -> None:
    record = json_record([(30, "monitoring", "b"), (28, "resolved", "a"),
                          (5, "investigating", "start")])
    incident = normalize_incident("openai", [sourced(record)])
    assert incident.lifecycle.resolved_at is None
    assert incident.time_to_resolve is None
    assert len(incident.reopened) == 1


def test_postmortem_after_resolution_is_not_a_reopening() -> None:
    record = json_record([(300, "postmortem", "report"), (60, "resolved", "a"),
                          (5, "investigating", "start")])
    incident = normalize_incident("openai", [sourced(record)])
    assert incident.reopened == ()
    assert incident.lifecycle.resolved_at == at(60) + timedelta(seconds=17)


def test_reopenings_survive_the_json_round_trip() -> None:
    from kb.serialize import incident_from_dict, incident_to_dict

    record = json_record([(90, "resolved", "c"), (30, "identified", "b"), (28, "resolved", "a"),
                          (5, "investigating", "start")])
    incident = normalize_incident("openai", [sourced(record)])
    data = incident_to_dict(incident)
    assert data["lifecycle"]["reopened"] == [
        {"at": "2026-04-28T17:30:17Z", "from_phase": "resolved", "to_phase": "identified",
         "inferred": False}]
    assert incident_from_dict(data) == incident


def test_an_open_update_at_the_moment_of_resolution_does_not_reopen() -> None:
    # GitHub 9zq8p50p7tkh: "Resolved" and "Investigating - ... operating normally" at 19:03
    record = json_record([(30.5, "investigating", "X is operating normally."),
                          (30, "resolved", "This incident has been resolved."),
                          (5, "investigating", "start")])
    incident = normalize_incident("github", [sourced(record)])
    assert incident.reopened == ()
    assert incident.lifecycle.resolved_at == at(30) + timedelta(seconds=17)


def test_no_published_duration_is_negative() -> None:
    from kb.model import CONTRADICTING_TIMES, contradicts, elapsed
    from kb.present import duration

    assert elapsed(at(10), at(5)) is None and contradicts(at(10), at(5))
    assert elapsed(at(5), at(10)) == timedelta(minutes=5) and not contradicts(at(5), at(10))
    assert elapsed(None, at(5)) is None and not contradicts(None, at(5))
    assert duration(at(10), at(5)) == CONTRADICTING_TIMES
    assert duration(None, at(5)) == "-"


def test_update_label_carries_the_previous_phase() -> None:
    record = feed_record([(50, "Resolved", "done"), (40, "Update", "still working"),
                          (30, "Identified", "found it"), (10, "Update", "first words")])
    incident = normalize_incident("p", [sourced(record)])
    phases = [(u.phase.value, u.label, u.phase_inferred) for u in incident.updates]
    assert phases == [
        ("investigating", "Update", True),  # nothing stated yet: the default, flagged
        ("identified", "Identified", False),
        ("identified", "Update", False),
        ("resolved", "Resolved", False),
    ]


def test_json_and_feed_merge_without_duplicates() -> None:
    json_rec = json_record([(60, "monitoring", "Fix deployed.\nWatching."),
                            (20, "identified", "Found it."),
                            (7, "investigating", "Looking.")])
    feed_rec = feed_record([(95, "Resolved", "All good now."),  # newer than the JSON snapshot
                            (60, "Monitoring", "Fix deployed.<br />Watching."),
                            (20, "Update", "Found it."),  # the feed says "Update" here
                            (7, "Investigating", "Looking.")])
    incident = normalize_incident("p", [sourced(feed_rec, sha="f"), sourced(json_rec, sha="j")])
    assert [(u.phase.value, u.label) for u in incident.updates] == [
        ("investigating", "investigating"),
        ("identified", "identified"),
        ("monitoring", "monitoring"),
        ("resolved", "Resolved"),
    ]
    assert [u.channels for u in incident.updates] == [
        ("statuspage_feed", "statuspage_json")] * 3 + [("statuspage_feed",)]
    assert incident.updates[2].text == "Fix deployed.\nWatching."
    assert incident.status == "resolved"  # the feed saw the later state
    assert len(incident.sources) == 2


def test_unmatched_feed_update_inside_json_period_is_not_added() -> None:
    json_rec = json_record([(60, "resolved", "Done."), (7, "investigating", "Looking.")])
    feed_rec = feed_record([(30, "Update", "Text the vendor later removed.")])
    incident = normalize_incident("p", [sourced(json_rec, sha="j"), sourced(feed_rec, sha="f")])
    assert [u.text for u in incident.updates] == ["Looking.", "Done."]


def test_result_does_not_depend_on_record_order() -> None:
    records = [
        sourced(json_record([(20, "identified", "x"), (7, "investigating", "y")]), sha="j"),
        sourced(feed_record([(30, "Resolved", "z"), (20, "Identified", "x")]), sha="f"),
        sourced(feed_record([(20, "Identified", "x")]), fetched_min=-60, sha="o"),
    ]
    assert normalize_incident("p", records) == normalize_incident("p", records[::-1])


def test_newer_snapshot_of_a_channel_supersedes_older() -> None:
    old = sourced(feed_record([(20, "Identified", "x")]), as_of=at(25), sha="o")
    new = sourced(feed_record([(40, "Resolved", "y"), (20, "Identified", "x")]), as_of=at(45),
                  sha="n")
    js = sourced(json_record([(20, "identified", "x")]), as_of=at(21), sha="j")
    current = select_current([new, js, old])
    assert [c.source.sha256[0] for c in current] == ["j", "n"]  # JSON first, newest feed


def test_latest_state_feed_alone_is_marked_partial() -> None:
    record = IncidentRecord(
        native_id="01M2EWYR55J47M2BPG9WC76VEG", title="Elevated error rates",
        channel="incidentio_feed", status="resolved", created_at=at(-30),
        updates=(UpdateRecord(at=at(60), label="Resolved", body="Recovered.", body_format="html"),),
        updates_complete=False,
    )
    incident = normalize_incident("openai", [sourced(record)])
    assert not incident.updates_complete
    assert incident.lifecycle.first_post_at == at(-30)
    assert incident.lifecycle.resolved_at == at(60)


def test_components_collect_status_changes_and_raise_severity() -> None:
    record = IncidentRecord(
        native_id="c1", title="API down", channel="statuspage_json", impact="none",
        updates=(
            UpdateRecord(at=at(30), label="resolved", body="ok", components=(
                ComponentChange("API", "k1", "partial_outage", "operational"),)),
            UpdateRecord(at=at(0), label="investigating", body="bad", components=(
                ComponentChange("API", "k1", "operational", "partial_outage"),)),
        ),
    )
    incident = normalize_incident("p", [sourced(record)])
    (api,) = incident.components
    assert [(c.at, c.old_status, c.new_status) for c in api.changes] == [
        (at(0), "operational", "partial_outage"), (at(30), "partial_outage", "operational")]
    assert incident.severity is Severity.MAJOR  # vendor said none; components say otherwise


def test_maintenance_defaults_and_severity() -> None:
    record = IncidentRecord(
        native_id="m1", title="DB upgrade", channel="statuspage_feed", kind="maintenance",
        updates=(UpdateRecord(at=at(60), label="Completed", body="done"),
                 UpdateRecord(at=at(0), label="Update", body="THIS IS A SCHEDULED EVENT")),
    )
    incident = normalize_incident("p", [sourced(record)])
    assert incident.kind is Kind.MAINTENANCE and incident.severity is Severity.NONE
    assert [u.phase for u in incident.updates] == [Phase.SCHEDULED, Phase.COMPLETED]
    assert incident.lifecycle.resolved_at == at(60)
    assert incident.impact_window is None
