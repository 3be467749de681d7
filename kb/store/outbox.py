"""The alert outbox and what `kb watch` last saw (revision n01). Plain functions over a Store.

Exactly-once, as far as a network allows: a change is first recorded as an intent (one row
per target, incident, change kind and change identity — the unique key, so finding the same
change twice, in two rounds or by two watchers, never makes a second row); a sender claims
due rows with one UPDATE (on PostgreSQL the rows are picked with FOR UPDATE SKIP LOCKED, so
two watchers never claim one row), sends, then marks each row sent or failed. A row left
"sending" by a process that died is *in doubt*: it may or may not have reached its target.
`in_doubt` finds those; the caller decides (kb.alerts.outbox: resend where the receiver
deduplicates, else mark the delivery unknown).

States: pending → sending → sent | failed (retried later) | unknown (in doubt, not resent)
| superseded (a newer change of the same incident for the same target was sent instead).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from kb.store.payloads import incidents_of_payloads
from kb.store.repo import T_FETCH, T_INCIDENTS, Store
from kb.store.tables import UTCDateTime, canonical_json, chunks

_META = MetaData()

T_OUTBOX = Table(
    "alert_outbox", _META,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target", String, nullable=False),
    Column("incident_key", String, nullable=False),
    Column("change_kind", String, nullable=False),
    Column("change_id", String, nullable=False),
    Column("payload_json", Text, nullable=False),
    Column("state", String, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try", UTCDateTime(), nullable=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("claimed_at", UTCDateTime()),
    Column("claim_token", String),
    Column("sent_at", UTCDateTime()),
    UniqueConstraint("target", "incident_key", "change_kind", "change_id",
                     name="uq_alert_outbox_change"),
)
Index("ix_alert_outbox_state", T_OUTBOX.c.state, T_OUTBOX.c.next_try)
Index("ix_alert_outbox_incident", T_OUTBOX.c.target, T_OUTBOX.c.incident_key)

T_WATCHED = Table(
    "watch_incidents", _META,
    Column("incident_key", String, primary_key=True),
    Column("provider", String, nullable=False, index=True),
    Column("content_hash", String, nullable=False),
    Column("state_json", Text, nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
)

T_SOURCES = Table(
    "watch_sources", _META,
    Column("provider", String, primary_key=True),
    Column("next_due", UTCDateTime(), nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_checked", UTCDateTime()),
    Column("watched_since", UTCDateTime(), nullable=False),
)

STATES = ("pending", "sending", "sent", "failed", "unknown", "superseded")
DUE_STATES = ("pending", "failed")


@dataclass(frozen=True)
class Intent:
    """A notification to send: one change of one incident for one target."""

    target: str
    incident_key: str
    change_kind: str
    change_id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class OutboxItem:
    """One outbox row."""

    id: int
    target: str
    incident_key: str
    change_kind: str
    change_id: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_try: datetime
    last_error: str | None
    created_at: datetime
    claimed_at: datetime | None
    claim_token: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class Watched:
    """What the watcher last saw of one incident."""

    incident_key: str
    provider: str
    content_hash: str
    state: dict[str, Any]


@dataclass(frozen=True)
class SourceState:
    """One watched source's schedule."""

    provider: str
    next_due: datetime
    failures: int
    last_error: str | None
    last_checked: datetime | None
    watched_since: datetime


def claim_token() -> str:
    """A token naming this process: host and pid, so a later process on the same host can
    tell a claim left by a dead process (see `in_doubt`)."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _token_dead(token: str | None) -> bool:
    """Whether `token` was taken by a process of this host that no longer runs."""
    if not token:
        return True
    host, _, rest = token.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _item(row: Any) -> OutboxItem:
    """An outbox row as an OutboxItem: its columns, the payload read from its JSON."""
    values = dict(row._mapping)
    return OutboxItem(payload=json.loads(values.pop("payload_json")), **values)


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]],
                   keys: Sequence[str]) -> int:
    """Insert rows, skipping those whose unique key is held; the count inserted."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    else:  # pragma: no cover - the two tested backends are above
        raise NotImplementedError(f"outbox on {dialect}")
    statement = statement.returning(table.c[keys[0]])
    inserted = 0
    for row in rows:  # per row, counting what RETURNING gives: rowcount is -1 on psycopg
        inserted += len(conn.execute(statement, row).all())
    return inserted


# -- what the watcher saw ------------------------------------------------------------------


def incident_hashes(store: Store, providers: Iterable[str]) -> dict[str, str]:
    """key → content hash of every stored incident of `providers`."""
    wanted = sorted(set(providers))
    found: dict[str, str] = {}
    with store.engine.connect() as conn:
        for chunk in chunks(wanted):
            query = select(T_INCIDENTS.c.key, T_INCIDENTS.c.content_hash).where(
                T_INCIDENTS.c.provider.in_(chunk))
            found.update({row.key: row.content_hash for row in conn.execute(query)})
    return found


def watched(store: Store, providers: Iterable[str]) -> dict[str, Watched]:
    """key → what the watcher last saw, for every incident of `providers` it has seen."""
    wanted = sorted(set(providers))
    found: dict[str, Watched] = {}
    with store.engine.connect() as conn:
        for chunk in chunks(wanted):
            for row in conn.execute(select(T_WATCHED).where(T_WATCHED.c.provider.in_(chunk))):
                found[row.incident_key] = Watched(row.incident_key, row.provider,
                                                  row.content_hash, json.loads(row.state_json))
    return found


def listed_unchanged(store: Store, provider: str, since: datetime) -> tuple[set[str], bool]:
    """The incidents that `provider`'s endpoints answering 304 since `since` still list:
    those of each such URL's last fetched payload (the fetch log says which), and whether
    that is known for every such URL (False: one was never fetched in full, or its payload
    is gone)."""
    c = T_FETCH.c
    with store.engine.connect() as conn:
        urls = sorted(conn.execute(select(c.url).distinct().where(
            c.provider == provider, c.outcome == "not_modified", c.fetched_at >= since)).scalars())
        shas = [conn.execute(select(c.sha256).where(
            c.provider == provider, c.url == url, c.outcome == "fetched", c.sha256.is_not(None))
            .order_by(c.fetched_at.desc(), c.id.desc()).limit(1)).scalar_one_or_none()
            for url in urls]
    known = [sha for sha in shas if sha]
    held = incidents_of_payloads(store, known) if known else {}
    listed = {key for sha in known for key in held.get(sha, ())}
    return listed, len(known) == len(urls)


def sources(store: Store) -> dict[str, SourceState]:
    """provider → schedule of every source the watcher has polled."""
    with store.engine.connect() as conn:
        return {row.provider: SourceState(**row._mapping)
                for row in conn.execute(select(T_SOURCES))}


def save_sources(store: Store, states: Sequence[SourceState]) -> None:
    """Write the schedule of the given sources (replacing their rows)."""
    if not states:
        return
    with store.engine.begin() as conn:
        conn.execute(delete(T_SOURCES).where(
            T_SOURCES.c.provider.in_([s.provider for s in states])))
        conn.execute(insert(T_SOURCES), [vars(s) for s in states])


def record_round(store: Store, seen: Sequence[Watched], intents: Sequence[Intent],
                 now: datetime) -> int:
    """In one transaction: remember what was seen and record the intents (each once: an
    intent whose unique key is held already is skipped). Returns the intents recorded.

    A crash before this commits leaves both undone: the next round finds the same changes
    (the incidents still differ from what was seen) and records the same intents."""
    with store.engine.begin() as conn:
        keys = [w.incident_key for w in seen]
        for chunk in chunks(keys):
            conn.execute(delete(T_WATCHED).where(T_WATCHED.c.incident_key.in_(chunk)))
        if seen:
            conn.execute(insert(T_WATCHED), [
                {"incident_key": w.incident_key, "provider": w.provider,
                 "content_hash": w.content_hash, "seen_at": now,
                 "state_json": canonical_json(w.state)}
                for w in seen])
        return _insert_ignore(conn, T_OUTBOX, [
            {"target": i.target, "incident_key": i.incident_key, "change_kind": i.change_kind,
             "change_id": i.change_id, "state": "pending", "attempts": 0, "next_try": now,
             "created_at": now,
             "payload_json": canonical_json(i.payload)}
            for i in intents], ("target", "incident_key", "change_kind", "change_id"))


# -- the outbox ----------------------------------------------------------------------------


def enqueue(store: Store, intents: Sequence[Intent], now: datetime) -> int:
    """Record intents outside a round (`kb alerts test`); the count recorded."""
    return record_round(store, [], intents, now)


def claim(store: Store, token: str, now: datetime, *, targets: Sequence[str],
          limit: int = 200, change_kind: str | None = None) -> list[OutboxItem]:
    """Claim the due rows (pending, or failed whose next try has come) of `targets`, oldest
    first, for this sender: one UPDATE whose rows are chosen with FOR UPDATE SKIP LOCKED on
    PostgreSQL, so two watchers never hold one row. Claimed rows are "sending"."""
    if not targets:
        return []
    due = (select(T_OUTBOX.c.id)
           .where(T_OUTBOX.c.state.in_(DUE_STATES), T_OUTBOX.c.next_try <= now,
                  T_OUTBOX.c.target.in_(list(targets)))
           .order_by(T_OUTBOX.c.id).limit(limit))
    if change_kind is not None:
        due = due.where(T_OUTBOX.c.change_kind == change_kind)
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        conn.execute(update(T_OUTBOX)
                     .where(T_OUTBOX.c.id.in_(due.scalar_subquery()),
                            T_OUTBOX.c.state.in_(DUE_STATES))
                     .values(state="sending", claim_token=token, claimed_at=now))
        rows = conn.execute(select(T_OUTBOX).where(T_OUTBOX.c.claim_token == token,
                                                   T_OUTBOX.c.state == "sending")
                            .order_by(T_OUTBOX.c.id)).all()
    return [_item(r) for r in rows]


def finish(store: Store, item_id: int, token: str, *, state: str, now: datetime,
           error: str | None = None, next_try: datetime | None = None,
           attempted: bool = True) -> bool:
    """Mark a claimed row `state` (sent, failed, pending, superseded, unknown). Only the
    claimant may (`token`); False when the row is no longer its. `attempted=False`: the
    row was held back (rate limit) without a request, its attempts unchanged."""
    if state not in STATES:
        raise ValueError(f"unknown outbox state {state!r}")
    values: dict[str, Any] = {"state": state, "last_error": error, "claim_token": None}
    if attempted:
        values["attempts"] = T_OUTBOX.c.attempts + 1
    if state == "sent":
        values["sent_at"] = now
    if next_try is not None:
        values["next_try"] = next_try
    with store.engine.begin() as conn:
        done = conn.execute(update(T_OUTBOX)
                            .where(T_OUTBOX.c.id == item_id, T_OUTBOX.c.claim_token == token,
                                   T_OUTBOX.c.state == "sending")
                            .values(**values))
        return bool(done.rowcount)


def renew(store: Store, token: str, now: datetime) -> int:
    """Heartbeat: move the claim time of the rows `token` still holds ("sending") to `now`,
    so another watcher does not take them for a dead sender's while a slow target keeps this
    one busy past the lease. The count renewed."""
    with store.engine.begin() as conn:
        done = conn.execute(update(T_OUTBOX)
                            .where(T_OUTBOX.c.claim_token == token,
                                   T_OUTBOX.c.state == "sending")
                            .values(claimed_at=now))
        return int(done.rowcount or 0)


def in_doubt(store: Store, *, stale_before: datetime) -> list[OutboxItem]:
    """Rows left "sending" by a sender that is gone: its process on this host has exited,
    or (another host) it claimed them before `stale_before`."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(T_OUTBOX).where(T_OUTBOX.c.state == "sending")).all()
    return [_item(r) for r in rows
            if _token_dead(r.claim_token) or (r.claimed_at is not None
                                               and r.claimed_at < stale_before)]


def settle_doubt(store: Store, item: OutboxItem, *, state: str, now: datetime,
                 note: str) -> bool:
    """Move an in-doubt row (still held by the dead claim `item.claim_token`) to `state`
    ("pending": resend, "unknown": never resent) with `note` as its last error."""
    with store.engine.begin() as conn:
        done = conn.execute(update(T_OUTBOX)
                            .where(T_OUTBOX.c.id == item.id, T_OUTBOX.c.state == "sending",
                                   _same_token(item.claim_token))
                            .values(state=state, claim_token=None, last_error=note,
                                    next_try=now))
        return bool(done.rowcount)


def _same_token(token: str | None):  # type: ignore[no-untyped-def]
    return T_OUTBOX.c.claim_token.is_(None) if token is None else \
        T_OUTBOX.c.claim_token == token


def last_sent(store: Store, target: str, incident_key: str) -> datetime | None:
    """When `target` was last sent a notification about `incident_key`."""
    with store.engine.connect() as conn:
        return conn.execute(select(func.max(T_OUTBOX.c.sent_at)).where(
            T_OUTBOX.c.target == target, T_OUTBOX.c.incident_key == incident_key,
            T_OUTBOX.c.state == "sent")).scalar_one_or_none()


def sent_since(store: Store, target: str, since: datetime) -> int:
    """How many notifications `target` was sent since `since`."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(
            T_OUTBOX.c.target == target, T_OUTBOX.c.state == "sent",
            T_OUTBOX.c.sent_at >= since)).scalar_one())


def newer_of_incident(store: Store, item: OutboxItem) -> bool:
    """Whether a later change of the same incident for the same target is recorded (not
    superseded itself): `item` then need not be sent when it was held back."""
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).where(and_(
            T_OUTBOX.c.target == item.target, T_OUTBOX.c.incident_key == item.incident_key,
            T_OUTBOX.c.id > item.id, T_OUTBOX.c.state != "superseded"))).scalar_one() > 0


def items(store: Store, *, states: Sequence[str] | None = None,
          limit: int | None = None) -> list[OutboxItem]:
    """Outbox rows, newest first, optionally of some states only."""
    query = select(T_OUTBOX).order_by(T_OUTBOX.c.id.desc())
    if states:
        query = query.where(T_OUTBOX.c.state.in_(list(states)))
    if limit:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        return [_item(r) for r in conn.execute(query)]


def counts(store: Store) -> dict[str, int]:
    """state → rows in that state."""
    with store.engine.connect() as conn:
        return {row[0]: int(row[1]) for row in conn.execute(
            select(T_OUTBOX.c.state, func.count()).group_by(T_OUTBOX.c.state))}


def recorded_of_kind(store: Store, change_kind: str) -> list[tuple[str, str, str]]:
    """(target, incident key, change id) of every row of one change kind, any state."""
    with store.engine.connect() as conn:
        return [(r.target, r.incident_key, r.change_id) for r in conn.execute(
            select(T_OUTBOX.c.target, T_OUTBOX.c.incident_key, T_OUTBOX.c.change_id)
            .where(T_OUTBOX.c.change_kind == change_kind))]
