"""Many workers, one database: claims with an expiry and whole-stage locks.

Several `kb` processes on several machines may run against one PostgreSQL. Two mechanisms keep
them from doing one piece of work twice or overwriting each other, both PostgreSQL's own (no
file lock, no queue of ours):

- **Claims** (table `work_claims`, revision v01) for work split into items, such as the
  incidents `kb embed` encodes. A claim is an INSERT ... ON CONFLICT DO UPDATE that only
  succeeds where no other worker holds a live claim on the item: the unique key makes a second
  claimant wait for the first one's short transaction and then find the claim taken. A claim
  carries an expiry, renewed while the worker is busy; a worker killed while holding one
  (SIGKILL, a machine gone) leaves a row whose expiry passes, and the next worker takes it
  over. The database's clock decides expiry, so workers' clocks need not agree.
- **Stage locks** (session advisory locks) for whole-KB stages (linking, analysis): a second
  worker waits for the first to finish, then finds its work done (every stage is keyed by
  content hash). PostgreSQL releases the lock with the session, so a killed worker holds
  nothing. On SQLite one database has one home and `kb.lock`'s file lock already serialises
  writers; stage locks are then no-ops.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from kb.errors import ConfigError, DatabaseBusy
from kb.store.db import connected
from kb.store.repo import Store
from kb.store.tables import as_utc, chunks

_META = MetaData()
T_CLAIMS = Table(
    "work_claims",
    _META,
    Column("stage", String, primary_key=True),
    Column("item", String, primary_key=True),
    Column("owner", String, nullable=False),
    Column("detail", String, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

CLAIM_TTL = timedelta(minutes=10)  # a batch of 256 incidents encodes in well under a minute
MODEL_STAGE = "embed-model"  # one row per embedding worker: the model it writes with


class MixedModels(ConfigError):
    """Another live worker embeds with another model: both at once would mix vector spaces."""


def worker_id() -> str:
    """Who claims: host and process id (what an operator needs to find the holder)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _now(conn: Connection) -> datetime:
    """The database's clock (PostgreSQL), or this machine's in UTC (SQLite: one machine)."""
    if conn.dialect.name == "postgresql":
        return conn.execute(text("SELECT now()")).scalar_one()
    return datetime.now(UTC)


def _insert(conn: Connection):  # type: ignore[no-untyped-def]
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(T_CLAIMS)


def claim(store: Store, stage: str, items: Sequence[str], *, owner: str,
          ttl: timedelta = CLAIM_TTL, detail: str = "") -> list[str]:
    """Claim `items` of `stage` for `owner` until now + ttl. Returns the items now held by
    `owner` (new claims, expired ones taken over, and its own renewed), in the given order;
    the others are held by a live claim of another worker."""
    got: set[str] = set()
    with connected(store.engine, write=True) as conn:
        expires = _now(conn) + ttl
        now = expires - ttl
        for part in chunks(items):
            statement = _insert(conn).values([
                {"stage": stage, "item": item, "owner": owner, "detail": detail,
                 "expires_at": expires} for item in dict.fromkeys(part)])
            statement = statement.on_conflict_do_update(
                index_elements=["stage", "item"],
                set_={"owner": owner, "detail": detail, "expires_at": expires},
                where=(T_CLAIMS.c.expires_at <= now) | (T_CLAIMS.c.owner == owner),
            ).returning(T_CLAIMS.c.item)
            got.update(row[0] for row in conn.execute(statement))
    return [item for item in items if item in got]


def release(store: Store, stage: str, items: Sequence[str], *, owner: str) -> None:
    """Drop `owner`'s claims on `items` (work done, or given up)."""
    with connected(store.engine, write=True) as conn:
        for part in chunks(items):
            conn.execute(delete(T_CLAIMS).where(
                T_CLAIMS.c.stage == stage, T_CLAIMS.c.owner == owner,
                T_CLAIMS.c.item.in_(list(part))))


def live_claims(store: Store, stage: str) -> list[tuple[str, str, str, datetime]]:
    """(item, owner, detail, expires) of the unexpired claims of `stage`, by item."""
    c = T_CLAIMS.c
    with store.engine.connect() as conn:
        now = _now(conn)
        rows = conn.execute(select(c.item, c.owner, c.detail, c.expires_at)
                            .where(c.stage == stage).order_by(c.item)).all()
    held = [(i, o, d, as_utc(e)) for i, o, d, e in rows]  # SQLite may hand back text
    return [(i, o, d, e) for i, o, d, e in held if e is not None and e > now]


def hold_model(store: Store, model_id: str, *, owner: str,
               ttl: timedelta = CLAIM_TTL) -> None:
    """Say that `owner` embeds with `model_id` (renewing the claim), then refuse with
    MixedModels if another worker's live claim names another model. Registering before
    checking means two workers starting together cannot both miss each other: the later
    check sees the earlier row."""
    claim(store, MODEL_STAGE, [owner], owner=owner, ttl=ttl, detail=model_id)
    others = [(o, d, e) for _i, o, d, e in live_claims(store, MODEL_STAGE)
              if o != owner and d != model_id]
    if others:
        release(store, MODEL_STAGE, [owner], owner=owner)
        who, model, until = others[0]
        raise MixedModels(
            f"worker {who} is embedding into this database with {model} (claim until "
            f"{until:%Y-%m-%d %H:%M:%S} UTC), this one with {model_id}: two models at once "
            "would mix vector spaces; use the same KB_EMBED_MODEL / KB_EMBED_BACKEND on every "
            "worker, or stop the other one")


@contextlib.contextmanager
def stage_lock(store: Store, stage: str, *, timeout: float) -> Iterator[bool]:
    """Hold the PostgreSQL advisory lock of `stage` for the block, waiting up to `timeout`
    seconds (then DatabaseBusy). Yields whether it had to wait (another worker ran the stage
    meanwhile). A no-op on SQLite."""
    if store.engine.dialect.name != "postgresql":
        yield False
        return
    key = f"kb:stage:{stage}"
    with store.engine.connect() as conn:
        waited = not conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"),
                                  {"k": key}).scalar_one()
        conn.commit()
        if waited:
            try:
                # SET LOCAL: the pooled connection keeps no timeout of ours afterwards.
                conn.execute(text(f"SET LOCAL lock_timeout = '{max(1, int(timeout * 1000))}ms'"))
                conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": key})
                conn.commit()
            except OperationalError as exc:
                conn.rollback()
                raise DatabaseBusy(
                    f"another kb worker has been running the {stage} stage on this database "
                    f"for over {timeout:g}s (set KB_LOCK_TIMEOUT to wait longer)") from exc
        try:
            yield waited
        finally:
            with contextlib.suppress(OperationalError):  # a lost connection released it
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key})
                conn.commit()


