"""The incidents' keyword index, write side: refreshed by the store once per write batch.

On SQLite the index is revision s01's FTS5 table `incident_fts` (one row per incident: title,
component names, the updates' text and, since p02, the linked write-ups' text), its rowids
tied to incident keys through `search_docs`. Until revision i01, per-row triggers on
`incidents` kept it current; an import of 10,000 incidents spent about 1.4 s of CPU in them
(issue 19). i01 dropped those triggers: every writer of `incidents` calls `refresh` with the
keys it wrote or deleted, in the same transaction, and the index is brought up to date for
those keys in a few set-wise statements (the same SQL expressions the triggers ran, so the
indexed text is the same: tests/test_keyword_index.py compares it with a rebuild).

The write-ups' triggers (p02, on `incident_writeups`) stay: the postmortem stage writes a
handful of rows, not a batch of thousands.

On PostgreSQL the index is s02's `incident_search` (a tsvector per incident, p02's document
with the write-ups' text) and `incident_search_totals`; i01 dropped its per-row triggers on
`incidents` too, which cost the server far more than the client (each row also UPDATEd the
one totals row: thousands of versions of one row in one transaction). `refresh` writes the
same documents per batch and moves the totals once; the totals row stays locked by the
writing transaction until it commits, as it was by the triggers, so concurrent writers
keep it exact. The TRUNCATE trigger stays.

The search side (kb.store.keyword) reads the same tables as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from kb.store.tables import chunks

# The indexed text of incident `i`, as revision p02's triggers made it (p02 imports nothing
# from here: a migration is frozen; these expressions must stay what it wrote).
WRITEUP_CHARS = 20_000
_COMPONENTS = (
    "(SELECT coalesce(group_concat(json_extract(c.value, '$.name'), ' '), '') "
    "FROM json_each(i.doc_json, '$.components') AS c)"
)
_UPDATES = (
    "(SELECT coalesce(group_concat(json_extract(u.value, '$.text'), ' '), '') "
    "FROM json_each(i.doc_json, '$.updates') AS u)"
)
_WRITEUPS = (
    f"coalesce(' ' || (SELECT substr(w.text, 1, {WRITEUP_CHARS}) "
    "FROM incident_writeups AS w WHERE w.incident_key = i.key), '')"
)
_TEXT = f"i.title, {_COMPONENTS}, ({_UPDATES} || {_WRITEUPS})"

_DROP_ROWS = text(
    "DELETE FROM incident_fts WHERE rowid IN "
    "(SELECT id FROM search_docs WHERE incident_key IN :keys)"
).bindparams(bindparam("keys", expanding=True))
_DROP_GONE = text(
    "DELETE FROM search_docs WHERE incident_key IN :keys "
    "AND NOT EXISTS (SELECT 1 FROM incidents WHERE key = search_docs.incident_key)"
).bindparams(bindparam("keys", expanding=True))
# One statement per key, in the order given: a new incident's rowid is the next free one in
# the order the writer stored them, as the per-row insert trigger numbered them.
_ADD_DOC = (
    "INSERT INTO search_docs (incident_key) SELECT ? "
    "WHERE EXISTS (SELECT 1 FROM incidents WHERE key = ?) "
    "ON CONFLICT (incident_key) DO NOTHING"
)
_ADD_ROWS = text(
    f"INSERT INTO incident_fts (rowid, title, components, body) SELECT d.id, {_TEXT} "
    "FROM incidents AS i JOIN search_docs AS d ON d.incident_key = i.key WHERE i.key IN :keys"
).bindparams(bindparam("keys", expanding=True))
_IDS = text(
    "SELECT incident_key, id FROM search_docs WHERE incident_key IN :keys"
).bindparams(bindparam("keys", expanding=True))
_WRITEUP_TEXT = text(
    f"SELECT incident_key, substr(text, 1, {WRITEUP_CHARS}) FROM incident_writeups "
    "WHERE incident_key IN :keys"
).bindparams(bindparam("keys", expanding=True))


# PostgreSQL: p02's kb_incident_search_sync() document of incident `i`, per batch.
_PG_DOCUMENT = (
    "kb_search_document(i.title, i.doc_json) || setweight(to_tsvector('english'::regconfig, "
    "left(coalesce((SELECT w.text FROM incident_writeups AS w WHERE w.incident_key = i.key), "
    f"''), {WRITEUP_CHARS})), 'C')"
)
_PG_DROP = text(
    "DELETE FROM incident_search WHERE incident_key IN :keys RETURNING tokens"
).bindparams(bindparam("keys", expanding=True))
_PG_ADD = text(
    "INSERT INTO incident_search (incident_key, document, tokens) "
    "SELECT key, d, kb_search_tokens(d) FROM "
    f"(SELECT i.key, {_PG_DOCUMENT} AS d FROM incidents AS i WHERE i.key IN :keys) AS made "
    "RETURNING tokens"
).bindparams(bindparam("keys", expanding=True))


def maintained_by_store(conn: Connection) -> bool:
    """Whether this database's incident keyword index is kept by `refresh` (SQLite and
    PostgreSQL at i01 or later) rather than by triggers."""
    return conn.dialect.name in ("sqlite", "postgresql")


def document_text(doc: Mapping[str, Any]) -> tuple[str, str] | None:
    """(components, updates' text) of an incident's JSON object (kb.serialize
    .incident_to_dict) as the index's SQL makes them from `doc_json` (group_concat of the
    names and texts, NULLs skipped, joined by one space), or None for a shape that SQL
    would read differently (a non-list, a non-text value): the index reads those itself."""
    parts = []
    for name, field in (("components", "name"), ("updates", "text")):
        items = doc.get(name)
        if items is None:
            items = []
        if not isinstance(items, list):
            return None
        values = []
        for item in items:
            value = item.get(field) if isinstance(item, dict) else None
            if value is None:
                if not isinstance(item, dict):
                    return None  # json_extract of a non-object: not worth mirroring
                continue
            if not isinstance(value, str) or "\x00" in value:
                return None  # SQLite's text functions may read a NUL as the end
            values.append(value)
        parts.append(" ".join(values))
    return parts[0], parts[1]


def refresh(conn: Connection, keys: Sequence[str],
            texts: Mapping[str, tuple[str | None, str, str] | None] | None = None) -> None:
    """Bring the index up to date for incidents `keys` after they were inserted, updated or
    deleted in this transaction: a stored one is (re-)indexed, a deleted one leaves the
    index. Keys of new incidents get index ids in the order given. Call it after the
    incidents' rows are written, in the same transaction.

    `texts`, where the writer has them: key → (title, components, updates' text) as stored
    (`document_text` of the doc it wrote); the index then takes them as they are instead of
    reading them back out of `doc_json` (the same text: tests compare with a rebuild). A key
    missing there, or None, is read from the stored row."""
    if not keys or not maintained_by_store(conn) or not _has_index(conn):
        return
    unique = list(dict.fromkeys(keys))
    if conn.dialect.name == "postgresql":
        _refresh_postgres(conn, unique)
        return
    for chunk in chunks(unique):
        conn.execute(_DROP_ROWS, {"keys": list(chunk)})
        conn.execute(_DROP_GONE, {"keys": list(chunk)})
    conn.exec_driver_sql(_ADD_DOC, [(key, key) for key in unique])
    texts = texts or {}
    given = [key for key in unique if texts.get(key) is not None]
    for chunk in chunks([key for key in unique if texts.get(key) is None]):
        conn.execute(_ADD_ROWS, {"keys": list(chunk)})
    rows = []
    for chunk in chunks(given):
        ids = dict(conn.execute(_IDS, {"keys": list(chunk)}).all())
        writeups = dict(conn.execute(_WRITEUP_TEXT, {"keys": list(chunk)}).all())
        for key in chunk:
            title, components, updates = texts[key]  # type: ignore[misc]
            extra = writeups.get(key)
            body = updates if extra is None else f"{updates} {extra}"
            rows.append((ids[key], title, components, body))
    if rows:
        conn.exec_driver_sql(
            "INSERT INTO incident_fts (rowid, title, components, body) VALUES (?, ?, ?, ?)",
            rows)


def _has_index(conn: Connection) -> bool:
    """Whether the database has the index at all: a store opened without upgrading (an
    older schema: PostgreSQL before s02, SQLite before s01) writes incidents without one.
    Before i01 its triggers are there too; a refresh on top of them changes nothing."""
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql(
            "SELECT to_regclass('incident_search') IS NOT NULL").scalar() is True
    return conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'incident_fts'").first() is not None


def _refresh_postgres(conn: Connection, keys: list[str]) -> None:
    """The tsvector index (s02/p02's incident_search and its totals) for `keys`: the same
    document p02's trigger function made, per batch. The per-row triggers cost the server
    17 s for 10,000 incidents under load (each row also UPDATEd the one totals row, twice
    on an update: thousands of versions of one row in one transaction); computing the same
    documents took 7 s of it."""
    gone_docs = gone_tokens = made_docs = made_tokens = 0
    for chunk in chunks(keys):
        gone = conn.execute(_PG_DROP, {"keys": list(chunk)}).scalars().all()
        made = conn.execute(_PG_ADD, {"keys": list(chunk)}).scalars().all()
        gone_docs, gone_tokens = gone_docs + len(gone), gone_tokens + sum(gone)
        made_docs, made_tokens = made_docs + len(made), made_tokens + sum(made)
    if (gone_docs, gone_tokens) != (made_docs, made_tokens):
        conn.execute(text("UPDATE incident_search_totals SET docs = docs + :docs, "
                          "tokens = tokens + :tokens"),
                     {"docs": made_docs - gone_docs, "tokens": made_tokens - gone_tokens})


def clear(conn: Connection) -> None:
    """Empty the index (every incident was deleted in this transaction)."""
    if not maintained_by_store(conn) or not _has_index(conn):
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DELETE FROM incident_fts")
        conn.exec_driver_sql("DELETE FROM search_docs")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DELETE FROM incident_search")
        conn.exec_driver_sql("UPDATE incident_search_totals SET docs = 0, tokens = 0")


def rebuild_rows(conn: Connection) -> list[tuple[str, str, str, str]]:
    """What a from-scratch index of the stored incidents holds: (key, title, components,
    body), sorted. tests/test_keyword_index.py compares the live index's `indexed_rows` with it
    (both kept here because they read the index through the same private SQL)."""
    if conn.dialect.name != "sqlite":
        raise ValueError("rebuild_rows: SQLite only")
    return sorted(tuple(r) for r in conn.exec_driver_sql(
        f"SELECT i.key, {_TEXT} FROM incidents AS i"))


def indexed_rows(conn: Connection) -> list[tuple[str, str, str, str]]:
    """What the live index holds: (key, title, components, body), sorted."""
    if conn.dialect.name != "sqlite":
        raise ValueError("indexed_rows: SQLite only")
    return sorted(tuple(r) for r in conn.exec_driver_sql(
        "SELECT d.incident_key, f.title, f.components, f.body FROM incident_fts AS f "
        "JOIN search_docs AS d ON d.id = f.rowid"))
