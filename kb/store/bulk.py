"""Bulk INSERT of many rows straight through the database driver's executemany.

An import writes tens of thousands of rows a batch (incidents, their updates, components,
sources, records). Through `conn.execute(insert(table), rows)` SQLAlchemy builds and
processes every row's parameters in Python, which cost about as much as the database's own
work (issue 19). Here the statement is compiled once, each column's bind processing is the
column type's own (SQLAlchemy's `bind_processor` for that dialect), taken once per column,
and the rows go to the driver as plain tuples or dicts: the same values stored, fewer Python
calls per row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection, Dialect

from kb.store.tables import UTCDateTime

Processor = Callable[[Any], Any]


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` (mappings with the same keys, the table's column names) into `table`, in
    one executemany. Values are bound exactly as `conn.execute(insert(table), rows)` binds
    them (tests/test_ingest_speed_equivalence.py compares both)."""
    if not rows:
        return
    dialect = conn.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=list(rows[0]))
    # the statement's parameters in its own order (the table's column order, positional
    # drivers) or by name; a mismatch with the rows' keys is a programming error
    keys = list(compiled.positiontup or ()) if compiled.positional else list(compiled.params)
    if set(keys) != set(rows[0]):
        raise ValueError(f"INSERT into {table.name}: parameters {keys} for keys {list(rows[0])}")
    processors = [_processor(table.c[key].type, dialect) for key in keys]
    if compiled.positional:
        get = itemgetter(*keys)
        single = len(keys) == 1
        params: list[Any] = [(get(row),) if single else get(row) for row in rows]
        converted = [(i, p) for i, p in enumerate(processors) if p is not None]
        if converted:
            for n, values in enumerate(params):
                values = list(values)
                for i, p in converted:
                    values[i] = p(values[i])
                params[n] = tuple(values)
    else:
        named = [(k, p) for k, p in zip(keys, processors, strict=True) if p is not None]
        params = [dict(row, **{k: p(row[k]) for k, p in named}) for row in rows]
    conn.exec_driver_sql(compiled.string, params)


def _processor(column_type: Any, dialect: Dialect) -> Processor | None:
    """The bind processor SQLAlchemy applies to this column type on this dialect, or None.
    UTCDateTime on SQLite gets an equivalent that does in C what the generic one does in
    Python (the naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff"); tests compare the two."""
    if isinstance(column_type, UTCDateTime) and dialect.name == "sqlite":
        return sqlite_utc_text
    return column_type.dialect_impl(dialect).bind_processor(dialect)


# The last time sqlite_utc_text formatted, and its text: consecutive rows often hold the very
# same datetime object (the batch's `now` in every incident row, a payload's fetched_at in
# each of its incidents' source and record rows), about a third of a 10k import's calls. The
# tuple holds the object, so an `is` match can only be that object: datetimes are immutable.
_last: tuple[datetime | None, str | None] = (None, None)


def sqlite_utc_text(value: datetime | None) -> str | None:
    """What UTCDateTime binds on SQLite: the UTC time as naive "YYYY-MM-DD HH:MM:SS.ffffff"."""
    global _last
    if value is None:
        return None
    last = _last
    if value is last[0]:
        return last[1]
    text = (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat(
        " ", "microseconds")[:26]
    _last = (value, text)
    return text
