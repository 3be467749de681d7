"""One alert's facts (kb.alerts.message) as each kind of target wants them.

Every string in the facts came from a vendor's status page: it is escaped for each exit.
Slack mrkdwn: `&`, `<`, `>` escaped (Slack's rule; a `<` would otherwise open a link or a
mention such as `<!channel>`), links only to http(s) URLs, `|` kept out of link labels.
PagerDuty and the webhook are JSON, which `json.dumps` escapes; PagerDuty's summary is
clipped to its 1,024-character limit.
"""

from __future__ import annotations

import hashlib
from typing import Any

from kb.alerts.targets import Target

PD_SEVERITY = {"critical": "critical", "major": "error", "minor": "warning", "none": "info",
               # not stated (a feed-only incident) is not known to be harmless
               "unknown": "warning"}
_KIND_LABEL = {"new": "New incident", "reopened": "Reopened", "resolved": "Resolved",
               "maintenance_start": "Maintenance started", "phase": "Phase change",
               "update": "New update", "unconfirmed": "UNCONFIRMED: users report problems",
               "all_clear": "All clear (unconfirmed report not followed by an incident)",
               "test": "Test", "withdrawn": "Withdrawn by the vendor"}
SLACK_TEXT_LIMIT = 2900  # a section block's text holds 3,000 characters


def event_id(target: str, incident_key: str, change_kind: str, change_id: str) -> str:
    """The notification's identity, the same on every resend: a receiver deduplicates on it."""
    text = "\x1f".join((target, incident_key, change_kind, change_id))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def slack_escape(text: str) -> str:
    """Text for Slack mrkdwn: its three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _http(url: str | None) -> bool:
    return bool(url) and url.startswith(("https://", "http://"))  # type: ignore[union-attr]


def _slack_link(url: str | None, label: str) -> str:
    label = slack_escape(label).replace("|", "¦")
    if not _http(url):
        return label
    return f"<{slack_escape(url).replace('|', '%7C')}|{label}>"


def duration_text(minutes: float | None) -> str:
    """Minutes as "2 h 05 min", or "unknown" (never 0 for a duration not known)."""
    if minutes is None:
        return "unknown"
    total = round(minutes)
    hours, mins = divmod(total, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


def _hours_text(hours: float | None) -> str:
    return "unknown" if hours is None else f"{hours:g} h"


def _together(fallback: dict[str, Any]) -> str:
    """"down together 0 h of 50.9 h both covered": the figure and what it was measured over
    (the last 365 days, only where the KB covers both); unknown where either side's downtime
    is (kb compare's rule), never a reassuring 0 h."""
    if fallback["both_down_hours"] is None:
        return (f"time down together unknown ({fallback['both_covered_hours']:g} h both "
                "covered)")
    return (f"down together {_hours_text(fallback['both_down_hours'])} of "
            f"{fallback['both_covered_hours']:g} h both covered")


def headline(facts: dict[str, Any]) -> str:
    """One plain line: kind, provider, title (no markup; callers escape for their exit)."""
    inc, change = facts["incident"], facts["change"]
    label = _KIND_LABEL.get(change["kind"], change["kind"])
    return f"{label}: {inc['provider_name']} — {inc['title']}"


def slack(facts: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: a fallback `text` and blocks."""
    inc = facts["incident"]
    comps = ", ".join(inc["components"]) or "none listed"
    lines = [
        f"*{slack_escape(headline(facts))}*",
        f"*Phase:* {slack_escape(inc['phase'])}   *Severity:* {slack_escape(inc['severity'])}",
        f"*Components:* {slack_escape(comps)}",
        f"*First post:* {slack_escape(inc['first_post_at'] or 'unknown')}   "
        f"*Link:* {_slack_link(inc['url'], 'status page') if _http(inc['url']) else 'none'}",
    ]
    if facts["change"]["kind"] == "unconfirmed":
        lines.insert(1, "_Unconfirmed: community reports only; the status page says nothing "
                        "yet._")
    if facts["change"]["kind"] == "withdrawn":
        lines.insert(1, "_The status page no longer lists this incident; the KB keeps it as "
                        "last seen. It was not resolved on the page._")
    if inc.get("latest_update"):
        lines.append(f">{slack_escape(inc['latest_update']['text'][:400])}")
    blocks: list[dict[str, Any]] = [_section("\n".join(lines))]
    like = [f"• {_slack_link(s['url'], s['title'][:100])} ({slack_escape(s['provider'])}, "
            f"{slack_escape((s['first_post_at'] or 'unknown')[:10])}): "
            f"{duration_text(s['duration_minutes'])}" for s in facts["similar"]]
    typical = duration_text(facts["typical_duration_minutes"])
    if facts["typical_duration_minutes"] is not None:
        typical += f" (median of {facts['typical_duration_of']} similar incidents)"
    blocks.append(_section("*Like this before:*\n" + ("\n".join(like) if like else
                                                        "unknown (no similar incident found)")
                           + f"\n*Typical duration:* {typical}"))
    if facts["fallbacks"]:
        ranked = [f"{n}. {slack_escape(f['name'])}: {_together(f)}"
                  for n, f in enumerate(facts["fallbacks"], 1)]
        blocks.append(_section("*Fallback (up now, rarest shared downtime first):*\n"
                               + "\n".join(ranked)))
    else:
        blocks.append(_section("*Fallback:* unknown (no other followed provider with data "
                               "is up now)"))
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": slack_escape(f"outage-kb · {inc['key']} · "
                                                f"{facts['change']['kind']}")}]})
    return {"text": slack_escape(headline(facts))[:SLACK_TEXT_LIMIT], "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[:SLACK_TEXT_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def pagerduty_action(facts: dict[str, Any]) -> str | None:
    """"trigger" while the incident is open, "resolve" once it is not; None for changes that
    page nobody (maintenance, tests are triggers: a test must reach the service)."""
    kind = facts["change"]["kind"]
    if kind == "test":
        return "trigger"
    if kind == "all_clear":
        return "resolve"
    if kind == "withdrawn":  # not a resolution: whoever is paged decides, not a deletion
        return None
    if facts["incident"]["kind"] == "maintenance":
        return None
    return "trigger" if facts["incident"]["open"] else "resolve"


def pagerduty(facts: dict[str, Any], target: Target) -> dict[str, Any] | None:
    """A PagerDuty Events API v2 event; dedup_key = the incident key, so the resolve closes
    the alert the trigger opened. None when this change pages nobody (a maintenance)."""
    action = pagerduty_action(facts)
    if action is None:
        return None
    inc = facts["incident"]
    event: dict[str, Any] = {"routing_key": target.routing_key, "event_action": action,
                             "dedup_key": inc["key"]}
    if action == "resolve":
        return event
    event["payload"] = {
        "summary": headline(facts)[:1024],
        "source": inc["provider"],
        "severity": PD_SEVERITY.get(inc["severity"], "warning"),
        "timestamp": inc["first_post_at"] or facts["change"]["detected_at"],
        "component": ", ".join(inc["components"])[:255] or None,
        "class": facts["change"]["kind"],
        "custom_details": {
            "phase": inc["phase"], "components": inc["components"],
            "first_post_at": inc["first_post_at"],
            "latest_update": (inc["latest_update"] or {}).get("text"),
            "unconfirmed": facts["change"].get("unconfirmed", False),
            "like_this_before": [
                f"{s['title']} ({s['first_post_at'] or 'unknown'}): "
                f"{duration_text(s['duration_minutes'])}" for s in facts["similar"]],
            "typical_duration": duration_text(facts["typical_duration_minutes"]),
            "fallbacks": [f"{f['name']}: {_together(f)}" for f in facts["fallbacks"]],
        },
    }
    if (inc["url"] or "").startswith(("https://", "http://")):
        event["links"] = [{"href": inc["url"], "text": "Status page"}]
    event["client"] = "outage-kb"
    return event


def webhook(facts: dict[str, Any], ident: str) -> dict[str, Any]:
    """The documented JSON object (docs/alerts.md): the facts and the event id."""
    return {"event_id": ident, **facts}


def render(target: Target, facts: dict[str, Any], ident: str) -> dict[str, Any] | None:
    """The body to POST to `target`, or None when this change is not for its kind."""
    if target.kind == "slack":
        return slack(facts)
    if target.kind == "pagerduty":
        return pagerduty(facts, target)
    return webhook(facts, ident)
