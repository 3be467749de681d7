"""search: the incidents' FTS5 keyword index refreshed by the store per batch, not per row

Revision ID: i01
Revises: p02
Create Date: 2026-12-08

Written by hand.

Drops the per-row keyword-index triggers on `incidents`: on SQLite s01's FTS5 triggers
(insert and update as p02 recreated them, and delete), on PostgreSQL s02's tsvector ones
(insert, update, delete; the TRUNCATE one stays). Every writer of incidents now calls
kb.store.keyword_index.refresh with the keys it wrote, in the same transaction, which
indexes them in a few set-wise statements (issue 19: an import of 10,000 incidents spent
about 1.4 s of CPU in the SQLite triggers, and the PostgreSQL server 17 s). The index's
tables, contents and the write-ups' triggers (p02) are unchanged: a database upgraded in
place keeps its index as it is, and it is exact for every incident stored so far.

The downgrade recreates the triggers (p02's SQL; on PostgreSQL p02's function is still
there) and re-indexes every incident, so a database downgraded after writes through this
revision's code is exact too.
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


_PG_TRIGGERS = ("incidents_search_insert", "incidents_search_update", "incidents_search_delete")
# s02's statements, as they were
_PG_CREATE = (
    "CREATE TRIGGER incidents_search_insert AFTER INSERT ON incidents "
    "FOR EACH ROW EXECUTE FUNCTION kb_incident_search_sync()",
    "CREATE TRIGGER incidents_search_update AFTER UPDATE ON incidents FOR EACH ROW "
    "WHEN (OLD.key IS DISTINCT FROM NEW.key OR OLD.title IS DISTINCT FROM NEW.title "
    "OR OLD.doc_json IS DISTINCT FROM NEW.doc_json) "
    "EXECUTE FUNCTION kb_incident_search_sync()",
    "CREATE TRIGGER incidents_search_delete AFTER DELETE ON incidents "
    "FOR EACH ROW EXECUTE FUNCTION kb_incident_search_sync()",
)
_PG_DOCUMENT = (
    "kb_search_document(i.title, i.doc_json) || setweight(to_tsvector('english'::regconfig, "
    "left(coalesce((SELECT w.text FROM incident_writeups AS w WHERE w.incident_key = i.key), "
    "''), 20000)), 'C')"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for trigger in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON incidents")
    elif dialect == "sqlite":
        for trigger in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in _PG_CREATE:
            op.execute(statement)
        op.execute("DELETE FROM incident_search")
        op.execute(
            "INSERT INTO incident_search (incident_key, document, tokens) "
            f"SELECT key, d, kb_search_tokens(d) FROM (SELECT i.key, {_PG_DOCUMENT} AS d "
            "FROM incidents AS i) AS made")
        op.execute("UPDATE incident_search_totals SET docs = (SELECT count(*) FROM "
                   "incident_search), tokens = (SELECT coalesce(sum(tokens), 0) FROM "
                   "incident_search)")
        return
    if dialect != "sqlite":
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
