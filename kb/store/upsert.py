"""Upserting the item tables of the feature stores (postmortem and signal entries).

Both keep one row per (source, native_id) holding a record's canonical JSON and its hash,
and count what a batch did; this is the one loop that writes them, with the JSON form of
their records, the digest of their items and their name → value state tables. (kb.store.repo,
the incident store, has its own tuned write path.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select, update

from kb.serialize import stamp
from kb.store.repo import Store
from kb.store.tables import canonical_json, chunks

Key = tuple[str, str]  # (source, native_id)


@dataclass
class ItemCounts:
    """What one batch did to the stored items."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_items(store: Store, table: Table, keys: Sequence[Key], columns: Sequence[str],
                 values: Callable[[Key, Any], Mapping[str, Any]],
                 compare: Sequence[str] = ("record_hash",)) -> ItemCounts:
    """Insert or update one row per key, in key order, in one transaction.

    `values(key, held)` gives the row's values (`record_json` among them; `record_hash` is
    added here) from the stored row `held` (None when new; it has `columns`). A held row is
    updated only when one of the `compare` columns differs; a new one gets
    `first_stored_at`."""
    counts = ItemCounts()
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        held = _held(conn, table, keys, {*columns, *compare})
        for source, native_id in sorted(keys):
            row = held.get((source, native_id))
            new = dict(values((source, native_id), row))
            new["record_hash"] = hashlib.sha256(new["record_json"].encode()).hexdigest()
            if row is None:
                conn.execute(insert(table).values(source=source, native_id=native_id,
                                                  first_stored_at=now, **new))
                counts.new += 1
            elif any(getattr(row, name) != new[name] for name in compare):
                conn.execute(update(table).where(
                    table.c.source == source, table.c.native_id == native_id).values(**new))
                counts.updated += 1
            else:
                counts.unchanged += 1
    return counts


def _held(conn: Any, table: Table, keys: Sequence[Key], columns: set[str]) -> dict[Key, Any]:
    """Stored rows of these keys, a few queries per batch rather than one per item."""
    by_source: dict[str, list[str]] = {}
    for source, native_id in keys:
        by_source.setdefault(source, []).append(native_id)
    found: dict[Key, Any] = {}
    for source, ids in by_source.items():
        for chunk in chunks(ids):
            query = select(table.c.native_id, *(table.c[name] for name in sorted(columns))
                           ).where(table.c.source == source, table.c.native_id.in_(chunk))
            for row in conn.execute(query):
                found[(source, row.native_id)] = row
    return found


def record_json(record: Any, times: Sequence[str], lists: Sequence[str]) -> str:
    """A record (a dataclass) as stored: canonical JSON, its `times` stamped, `lists` lists."""
    data = {f.name: getattr(record, f.name) for f in fields(record)}
    for name in times:
        data[name] = stamp(data[name])
    for name in lists:
        data[name] = list(data[name])
    return canonical_json(data)


def restored(data: Mapping[str, Any], times: Sequence[str], tuples: Sequence[str]
             ) -> dict[str, Any]:
    """A copy of stored JSON values with `times` read back and `tuples` made tuples (absent
    ones empty): the arguments of the dataclass that was written."""
    values = dict(data)
    for name in times:
        values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
    for name in tuples:
        values[name] = tuple(values.get(name) or ())
    return values


def items_digest(store: Store, table: Table, columns: Sequence[str]) -> str:
    """A digest of the item table's `columns`, in key order: it changes whenever an item is
    added or one of them changes."""
    digest = hashlib.sha256()
    with store.engine.connect() as conn:
        query = select(*(table.c[name] for name in columns)).order_by(table.c.source,
                                                                       table.c.native_id)
        for row in conn.execute(query):
            digest.update(canonical_json(list(row)).encode())
    return digest.hexdigest()


def read_state(store: Store, table: Table, name: str) -> str | None:
    """The value stored under `name` in a name → value state table."""
    with store.engine.connect() as conn:
        return conn.execute(select(table.c.value).where(table.c.name == name)).scalar()


def write_state(conn: Any, table: Table, state: Mapping[str, str]) -> None:
    """Store each name → value of `state`, replacing what was stored under that name."""
    for name, value in state.items():
        conn.execute(delete(table).where(table.c.name == name))
        conn.execute(insert(table).values(name=name, value=value))
