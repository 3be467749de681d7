"""Send what the outbox holds: claim due rows, apply each target's rate limits, POST them,
record each result as soon as it is known.

Targets are sent to concurrently (one thread each, its rows in order), so a target that
hangs delays no other beyond nothing: each thread is bounded by its target's timeout and
budget (kb.alerts.deliver), and results are recorded by this thread as they arrive.

A failed row is kept for a later round with a backoff (its Retry-After, else 1, 2, 4 ...
minutes, at most an hour). A row in doubt after a crash (claimed by a process that is gone)
is resent only to a target that deduplicates (PagerDuty's dedup_key, the webhook's
event_id); for Slack, which cannot, it becomes "unknown" — listed by `kb alerts`, never
sent twice.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from kb.alerts.deliver import Delivery, post
from kb.alerts.formats import event_id, render
from kb.alerts.targets import Target
from kb.store import outbox
from kb.store.outbox import OutboxItem
from kb.store.repo import Store

RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
CLAIM_LEASE = timedelta(minutes=15)  # a claim older than this, from another host, is in doubt

Poster = Callable[[httpx.Client, Target, dict, dict], Delivery]


@dataclass
class SendReport:
    """What one pass over the outbox did."""

    sent: list[str] = field(default_factory=list)  # "target: headline" lines
    failed: list[str] = field(default_factory=list)  # one line each, reason included
    held: int = 0  # held back by a rate limit, still pending
    superseded: int = 0
    resent_in_doubt: int = 0
    unknown: list[str] = field(default_factory=list)  # in doubt, not resent (Slack)
    skipped: int = 0  # not for this kind of target (a maintenance to PagerDuty)


def _default_post(client: httpx.Client, target: Target, body: dict, headers: dict) -> Delivery:
    return post(client, target, body, headers)


def settle_in_doubt(store: Store, targets: Sequence[Target], now: datetime,
                    report: SendReport, *, lease: timedelta = CLAIM_LEASE) -> None:
    """Rows a dead sender left "sending": resend where the receiver deduplicates. A claim
    of another host counts as dead once it is older than `lease` (its sender renews it
    every third of the lease while it works, see `_send_concurrently`)."""
    by_name = {t.name: t for t in targets}
    for item in outbox.in_doubt(store, stale_before=now - lease):
        target = by_name.get(item.target)
        if target is not None and target.deduplicating:
            if outbox.settle_doubt(store, item, state="pending", now=now,
                                   note="resent: the sender stopped mid-send (receiver "
                                        "deduplicates by event id)"):
                report.resent_in_doubt += 1
        elif outbox.settle_doubt(store, item, state="unknown", now=now,
                                 note="delivery unknown: the sender stopped mid-send; not "
                                      "resent, the target cannot deduplicate"):
            report.unknown.append(f"{item.target}: {item.incident_key} {item.change_kind}")


def send_due(store: Store, targets: Sequence[Target], *, now: datetime | None = None,
             poster: Poster = _default_post, change_kind: str | None = None,
             lease: timedelta = CLAIM_LEASE) -> SendReport:
    """One pass: settle rows in doubt, claim the due rows of `targets` (only those of
    `change_kind`, when given), send them, renewing the claims while sending so that no
    other sender settles them as in doubt (`lease`)."""
    now = now or datetime.now(UTC)
    report = SendReport()
    settle_in_doubt(store, targets, now, report, lease=lease)
    token = outbox.claim_token()
    claimed = outbox.claim(store, token, now, targets=[t.name for t in targets],
                           change_kind=change_kind)
    by_name = {t.name: t for t in targets}
    plans: dict[str, list[tuple[OutboxItem, dict, dict]]] = {}
    for item in claimed:
        target = by_name[item.target]
        decision = _admit(store, target, item, now)
        if decision == "superseded":
            outbox.finish(store, item.id, token, state="superseded", now=now, attempted=False,
                          error="a newer change of this incident was recorded")
            report.superseded += 1
            continue
        if isinstance(decision, datetime):
            outbox.finish(store, item.id, token, state="pending", now=now, attempted=False,
                          next_try=decision, error="held back by the target's rate limit")
            report.held += 1
            continue
        ident = event_id(item.target, item.incident_key, item.change_kind, item.change_id)
        body = render(target, item.payload, ident)
        if body is None:
            outbox.finish(store, item.id, token, state="superseded", now=now, attempted=False,
                          error=f"not sent: a {target.kind} target gets no {item.change_kind} "
                                f"of a {item.payload['incident']['kind']}")
            report.skipped += 1
            continue
        headers = {"Idempotency-Key": ident} if target.kind == "webhook" else {}
        plans.setdefault(item.target, []).append((item, body, headers))
    if plans:
        _send_concurrently(store, token, by_name, plans, poster, report,
                           heartbeat=_Heartbeat(store, token, now, lease / 3))
    return report


def _admit(store: Store, target: Target, item: OutboxItem, now: datetime
           ) -> str | datetime | None:
    """None: send now; "superseded": a newer change of the incident replaces it; a time:
    hold it back until then (rate limits, see kb.alerts.targets)."""
    if item.change_kind == "test":  # asked for by hand: never held back
        return None
    if outbox.newer_of_incident(store, item):
        return "superseded"
    last = outbox.last_sent(store, target.name, item.incident_key)
    if last is not None and now - last < timedelta(seconds=target.min_interval):
        return last + timedelta(seconds=target.min_interval)
    if outbox.sent_since(store, target.name, now - timedelta(hours=1)) >= target.max_per_hour:
        return now + timedelta(minutes=5)
    return None


def _send_concurrently(store: Store, token: str, targets: dict[str, Target],
                       plans: dict[str, list[tuple[OutboxItem, dict, dict]]],
                       poster: Poster, report: SendReport, *,
                       heartbeat: _Heartbeat | None = None) -> None:
    results: queue.Queue[tuple[OutboxItem, Delivery | None, str | None]] = queue.Queue()

    def run(name: str) -> None:
        target = targets[name]
        with httpx.Client() as client:
            for item, body, headers in plans[name]:
                try:
                    results.put((item, poster(client, target, body, headers), None))
                except Exception as exc:  # a bug must not leave the row claimed forever
                    results.put((item, None, f"{type(exc).__name__}: {exc}"))

    threads = [threading.Thread(target=run, args=(name,), daemon=True) for name in plans]
    for thread in threads:
        thread.start()
    expected = sum(len(rows) for rows in plans.values())
    for _ in range(expected):
        while True:
            try:
                item, delivery, crash = results.get(
                    timeout=heartbeat.every if heartbeat else None)
                break
            except queue.Empty:  # a slow target: show the other watchers we are alive
                if heartbeat:
                    heartbeat.beat()
        if heartbeat:
            heartbeat.beat_if_due()
        _record(store, token, targets[item.target], item, delivery, crash, report)
    for thread in threads:
        thread.join()


class _Heartbeat:
    """Renews a sender's claims (kb.store.outbox.renew) at most every `every` seconds. The
    claim time moves on from the round's `now` by the time spent, so a round run with a
    given `now` (tests, a late round) stays on its own clock."""

    def __init__(self, store: Store, token: str, now: datetime, every: timedelta) -> None:
        self.store, self.token, self.now = store, token, now
        self.every = max(every.total_seconds(), 0.05)
        self.started = self.last = time.monotonic()
        self.beats = 0

    def beat(self) -> None:
        self.last = time.monotonic()
        outbox.renew(self.store, self.token,
                     self.now + timedelta(seconds=self.last - self.started))
        self.beats += 1

    def beat_if_due(self) -> None:
        if time.monotonic() - self.last >= self.every:
            self.beat()


def _record(store: Store, token: str, target: Target, item: OutboxItem,
            delivery: Delivery | None, crash: str | None, report: SendReport) -> None:
    now = datetime.now(UTC)
    headline = f"{target.name}: {item.change_kind} {item.incident_key}"
    if delivery is not None and delivery.ok:
        outbox.finish(store, item.id, token, state="sent", now=now)
        report.sent.append(headline)
        return
    reason = crash or (delivery.error if delivery else None) or "unknown error"
    wait = RETRY_FIRST * 2 ** min(item.attempts, 6)
    if delivery is not None and delivery.retry_after:
        wait = max(wait, timedelta(seconds=delivery.retry_after))
    outbox.finish(store, item.id, token, state="failed", now=now, error=reason,
                  next_try=now + min(wait, RETRY_MAX))
    report.failed.append(f"{headline}: {reason}")
