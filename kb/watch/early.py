"""Early warning: an "unconfirmed" alert when community signals show a provider down before
its status page says so, for targets that opt in (`early_warning = true`).

The evidence is the link stage's unofficial incident candidates (kb.signals.unofficial: at
least two independent origins agreeing on an outage no official incident covers). Signals
reach the KB by `kb signals fetch` (run it on its own timer); a round that changed something
runs the link stage again (`[watch] refresh`). A candidate whose latest signal is at most
`RECENT` old is news: one "unconfirmed" alert per candidate and target. It is followed by
the official alert (the page posts: a `new` change as usual) or, when the candidate is still
unconfirmed `ALL_CLEAR_AFTER` after its last signal, by an "all_clear" to the same targets.
PagerDuty: the unconfirmed alert triggers and the all-clear resolves one dedup_key (the
candidate's key); the official incident is an alert of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from kb.alerts.changes import Change
from kb.alerts.message import FALLBACKS, SCHEMA, FactsContext, fallback_facts
from kb.alerts.targets import Target
from kb.serialize import stamp
from kb.store import outbox
from kb.store.outbox import Intent
from kb.store.signals import Unofficial, unofficial

RECENT = timedelta(hours=2)
ALL_CLEAR_AFTER = timedelta(hours=3)


def early_intents(context: FactsContext, targets: Sequence[Target], followed: Sequence[str],
                  now: datetime) -> tuple[list[Change], list[Intent]]:
    """The unconfirmed alerts and all-clears due now, for the opted-in targets."""
    wanting = [t for t in targets if t.early_warning]
    if not wanting:
        return [], []
    candidates = {u.key: u for u in unofficial(context.store) if u.provider in followed}
    alerted: dict[str, set[str]] = {}
    for target, key, _ident in outbox.recorded_of_kind(context.store, "unconfirmed"):
        alerted.setdefault(key, set()).add(target)
    cleared = {(target, key) for target, key, _ident
               in outbox.recorded_of_kind(context.store, "all_clear")}
    changes: list[Change] = []
    intents: list[Intent] = []
    for candidate in candidates.values():
        if now - candidate.end > RECENT:
            continue
        change = Change(candidate.key, "unconfirmed", candidate.key,
                        f"unconfirmed: {len(candidate.titles)} community report(s) of a "
                        f"{candidate.provider} outage")
        chosen = [t for t in wanting if t.wants(candidate.provider, [], "unknown")
                  and t.name not in alerted.get(candidate.key, set())]
        if chosen:
            facts = _facts(context, candidate, change, open_=True)
            changes.append(change)
            intents += [Intent(t.name, candidate.key, change.kind, change.change_id, facts)
                        for t in chosen]
    for key, names in sorted(alerted.items()):
        candidate = candidates.get(key)
        # gone from the candidates: an official incident now covers it (its own alert)
        if candidate is None or now - candidate.end < ALL_CLEAR_AFTER:
            continue
        change = Change(key, "all_clear", key,
                        f"all clear: no official incident followed the reports of a "
                        f"{candidate.provider} outage")
        chosen = [t for t in wanting if t.name in names and (t.name, key) not in cleared]
        if not chosen:
            continue
        facts = _facts(context, candidate, change, open_=False)
        changes.append(change)
        intents += [Intent(t.name, key, change.kind, change.change_id, facts) for t in chosen]
    return changes, intents


def _facts(context: FactsContext, candidate: Unofficial, change: Change, *,
           open_: bool) -> dict[str, Any]:
    titles = "; ".join(candidate.titles[:5])
    name = context.names.get(candidate.provider) or candidate.provider
    return {
        "schema": SCHEMA,
        "change": {"kind": change.kind, "id": change.change_id, "summary": change.summary,
                   "detected_at": stamp(context.now), "unconfirmed": True},
        "incident": {
            "key": candidate.key, "provider": candidate.provider, "provider_name": name,
            "title": f"Community reports of a {name} outage (unconfirmed)",
            "kind": "incident", "phase": "unconfirmed" if open_ else "all_clear",
            "status": "unconfirmed", "open": open_, "severity": "unknown", "components": [],
            "first_post_at": stamp(candidate.start), "resolved_at": None,
            "duration_minutes": None, "url": None,
            "latest_update": {"at": stamp(candidate.end), "phase": "unconfirmed",
                              "text": f"Reports from {', '.join(candidate.source_families)}: "
                                      f"{titles}"[:500]},
        },
        "similar": [], "similar_note": "an unconfirmed report has no timeline to compare",
        "typical_duration_minutes": None, "typical_duration_of": 0,
        "fallbacks": fallback_facts(context, candidate.provider)[:FALLBACKS] if open_ else [],
        "fallback_period_days": 365,
    }
