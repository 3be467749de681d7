"""search: the incidents' FTS5 keyword index refreshed by the store per batch, not per row

Revision ID: i01
Revises: p02
Create Date: 2026-12-08

Written by hand. SQLite only; on PostgreSQL this revision does nothing (its tsvector triggers
stay: the work there is the server's; see kb.store.keyword_index).

Drops s01's per-row triggers on `incidents` (insert and update as p02 recreated them, and
delete): every writer of incidents now calls kb.store.keyword_index.refresh with the keys it
wrote, in the same transaction, which indexes them in a few set-wise statements (an import
of 10,000 incidents spent about 1.4 s of CPU in the triggers; issue 19). The index's tables,
contents and the write-ups' triggers (p02) are unchanged: a database upgraded in place keeps
its index as it is, and it is exact for every incident stored so far.

The downgrade recreates p02's incident triggers (the same SQL) and re-indexes every incident,
so a database downgraded after writes through this revision's code is exact too.
"""
from alembic import op

revision = "i01"
down_revision = "p02"
branch_labels = None
depends_on = None

_TRIGGERS = ("incidents_fts_insert", "incidents_fts_update", "incidents_fts_delete")

# p02's indexed text of incident NEW (copied: a migration is frozen).
_UPDATES = (
    "(SELECT coalesce(group_concat(json_extract(u.value, '$.text'), ' '), '') "
    "FROM json_each(NEW.doc_json, '$.updates') AS u)"
)
_WRITEUPS = (
    "coalesce(' ' || (SELECT substr(w.text, 1, 20000) "
    "FROM incident_writeups AS w WHERE w.incident_key = NEW.key), '')"
)
_BODY = f"({_UPDATES} || {_WRITEUPS})"
_COMPONENTS = (
    "(SELECT coalesce(group_concat(json_extract(c.value, '$.name'), ' '), '') "
    "FROM json_each(NEW.doc_json, '$.components') AS c)"
)
_INSERT_FTS = f"""
    INSERT INTO search_docs (incident_key) VALUES (NEW.key)
        ON CONFLICT (incident_key) DO NOTHING;
    INSERT INTO incident_fts (rowid, title, components, body)
        VALUES ((SELECT id FROM search_docs WHERE incident_key = NEW.key),
                NEW.title, {_COMPONENTS}, {_BODY});
"""
_DELETE_FTS = """
    DELETE FROM incident_fts
        WHERE rowid = (SELECT id FROM search_docs WHERE incident_key = OLD.key);
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN "
               f"{_INSERT_FTS} END")
    op.execute(f"CREATE TRIGGER incidents_fts_update AFTER UPDATE ON incidents BEGIN "
               f"{_DELETE_FTS} {_INSERT_FTS} END")
    op.execute(f"CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents BEGIN "
               f"{_DELETE_FTS} DELETE FROM search_docs WHERE incident_key = OLD.key; END")
    # the store kept the index per batch until now: made whole again from what is stored
    op.execute("DELETE FROM incident_fts")
    op.execute("DELETE FROM search_docs WHERE incident_key NOT IN (SELECT key FROM incidents)")
    op.execute("INSERT INTO search_docs (incident_key) SELECT key FROM incidents WHERE true "
               "ORDER BY key "
               "ON CONFLICT (incident_key) DO NOTHING")
    op.execute(
        "INSERT INTO incident_fts (rowid, title, components, body) "
        "SELECT d.id, i.title, " + _COMPONENTS.replace("NEW.", "i.") + ", "
        + _BODY.replace("NEW.", "i.")
        + " FROM incidents AS i JOIN search_docs AS d ON d.incident_key = i.key"
    )
