"""Alert formats: each exit escaped for itself, unknown said as unknown, PagerDuty's fields
mapped (kb.alerts.formats), and the change diff's identities (kb.alerts.changes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from kb.alerts.formats import duration_text, event_id, pagerduty, slack, webhook
from kb.alerts.message import sample_facts
from kb.alerts.targets import Target

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PD = Target("pd", "pagerduty", "https://events.example/v2/enqueue", routing_key="R")


def hostile() -> dict:
    facts = sample_facts(NOW)
    facts["change"]["kind"] = "new"
    facts["incident"].update(
        title="API down <!channel> & <https://evil.example|click> " + "x" * 2000,
        url="javascript:alert(1)", severity="unknown",
        components=["A|B", "<@U123>"])
    facts["similar"] = [{"key": "acme/1", "title": "Old | thing >", "provider": "acme",
                         "first_post_at": None, "duration_minutes": None,
                         "url": "https://status.example/i/1?a=1&b=<2>"}]
    facts["fallbacks"] = [{"provider": "b", "name": "B <corp>", "both_down_hours": None,
                           "both_covered_hours": 0.0}]
    return facts


def test_slack_escapes_vendor_text_and_links_only_http() -> None:
    text = json.dumps(slack(hostile()), ensure_ascii=False)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example|click>" not in text
    assert "javascript:" not in text  # no link to a non-http(s) URL
    assert "<@U123>" not in text and "&lt;@U123&gt;" in text
    # the past incident's link: URL escaped, no "|" inside the label
    assert "<https://status.example/i/1?a=1&amp;b=&lt;2&gt;|Old ¦ thing &gt;>" in text
    assert "B &lt;corp&gt;: time down together unknown" in text
    for block in slack(hostile())["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 2900


def test_unknown_durations_are_unknown_never_zero() -> None:
    assert duration_text(None) == "unknown"
    assert duration_text(0.4) == "0 min"  # a measured zero is a measured zero
    assert duration_text(125) == "2 h 05 min" and duration_text(60 * 50) == "2 d 2 h"
    text = json.dumps(slack(hostile()))
    assert "Typical duration:* unknown" in text and "): unknown" in text


def test_pagerduty_event_fields() -> None:
    event = pagerduty(hostile(), PD)
    assert event is not None
    assert event["event_action"] == "trigger" and event["dedup_key"] == "example/test"
    assert event["routing_key"] == "R"
    assert event["payload"]["severity"] == "warning"  # unknown is not "info"
    assert len(event["payload"]["summary"]) == 1024
    assert "links" not in event  # javascript: URL left out
    resolved = hostile()
    resolved["incident"]["open"] = False
    assert pagerduty(resolved, PD) == {"routing_key": "R", "event_action": "resolve",
                                       "dedup_key": "example/test"}
    maintenance = hostile()
    maintenance["incident"]["kind"] = "maintenance"
    assert pagerduty(maintenance, PD) is None
    severities = {}
    for severity in ("critical", "major", "minor", "none"):
        facts = hostile()
        facts["incident"]["severity"] = severity
        severities[severity] = pagerduty(facts, PD)["payload"]["severity"]  # type: ignore[index]
    assert severities == {"critical": "critical", "major": "error", "minor": "warning",
                          "none": "info"}


def test_webhook_is_the_facts_with_a_stable_event_id() -> None:
    ident = event_id("hook", "acme/1", "resolved", "2026-12-07T12:00:00+00:00")
    assert ident == event_id("hook", "acme/1", "resolved", "2026-12-07T12:00:00+00:00")
    assert ident != event_id("hook2", "acme/1", "resolved", "2026-12-07T12:00:00+00:00")
    body = webhook(hostile(), ident)
    assert body["event_id"] == ident and body["schema"] == "outage-kb.alert/1"
    assert json.loads(json.dumps(body))["incident"]["title"].startswith("API down <!channel>")


def _incident(native: str, phases: list[str], first: datetime, resolved: bool) -> object:
    from datetime import timedelta

    from kb.model import Incident, Kind, Lifecycle, Phase, Severity, Update

    updates = tuple(Update(first + timedelta(minutes=10 * n), Phase(p), p, p, p)
                    for n, p in enumerate(phases))
    return Incident("acme", native, "Title", Kind.INCIDENT, phases[-1], Severity.MINOR,
                    lifecycle=Lifecycle(first_post_at=first,
                                        resolved_at=updates[-1].at if resolved else None),
                    updates=updates)


def test_history_is_silent_and_news_is_not() -> None:
    from datetime import timedelta

    from kb.alerts.changes import diff, state_of

    watched_since = NOW
    old_closed = _incident("old", ["investigating", "resolved"], NOW - timedelta(days=30), True)
    new_closed = _incident("quick", ["investigating", "resolved"], NOW + timedelta(hours=1),
                           True)
    still_open = _incident("open", ["investigating"], NOW - timedelta(days=2), False)
    # the first look at a provider: only what is still open
    assert diff(None, old_closed, first_look=True, watched_since=None) is None
    assert diff(None, still_open, first_look=True, watched_since=None).kind == "new"
    # later: a backfill of old closed history stays silent; an incident posted and closed
    # between two polls is news
    assert diff(None, old_closed, first_look=False, watched_since=watched_since) is None
    change = diff(None, new_closed, first_look=False, watched_since=watched_since)
    assert change is not None and change.kind == "new"
    # nothing changed: nothing to say; the same change has the same identity
    assert diff(state_of(still_open), still_open, first_look=False,
                watched_since=watched_since) is None
    resolved = _incident("open", ["investigating", "resolved"], NOW - timedelta(days=2), True)
    one = diff(state_of(still_open), resolved, first_look=False, watched_since=watched_since)
    two = diff(state_of(still_open), resolved, first_look=False, watched_since=watched_since)
    assert one == two and one is not None and one.kind == "resolved"


def test_schedule_jitters_and_backs_off() -> None:
    import random
    from datetime import timedelta

    import pytest

    from kb.errors import ConfigError
    from kb.watch.schedule import WatchSettings, watch_settings

    config = watch_settings({"interval": 120, "intervals": {"github": 300}}, None)
    rng = random.Random(7)
    waits = [(config.next_due("acme", NOW, 0, rng) - NOW).total_seconds() for _ in range(50)]
    assert all(108 <= w <= 132 for w in waits) and len(set(waits)) > 1  # 120 s ± 10 %
    assert (config.next_due("github", NOW, 0, rng) - NOW) >= timedelta(seconds=270)
    backed = [(config.next_due("acme", NOW, n, rng) - NOW).total_seconds() for n in (1, 3, 9)]
    assert 216 <= backed[0] <= 264 and 864 <= backed[1] <= 1056  # 2×, 8×
    assert backed[2] <= 3600 * 1.1  # capped at max_backoff
    assert WatchSettings().interval == 120
    for bad in ({"interval": 5}, {"jitter": 2}, {"refresh": "yes"}, {"every": 1}):
        with pytest.raises(ConfigError, match=r"kb.toml: \[watch\]"):
            watch_settings(bad, None)
