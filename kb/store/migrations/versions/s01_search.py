"""search: incident vectors, and an FTS5 keyword index kept current by triggers

Revision ID: s01
Revises: 0001
Create Date: 2026-11-23

Written by hand. On SQLite the keyword index is an FTS5 table with one row per incident
(title, component names, the updates' text), filled by triggers on `incidents` alone: the
store UPDATEs an incident row in place, with a new `doc_json`, whenever anything about the
incident changed, and `doc_json` already holds the components and the updates' text, so the
child tables (deleted and re-inserted on each change) need no triggers of their own.

FTS5 rowids are tied to incidents through `search_docs` (an explicit INTEGER PRIMARY KEY):
`incidents` has a text key, so its implicit rowid may be renumbered by VACUUM.

PostgreSQL gets the vectors table only; keyword search there is reported as unavailable.
"""
import sqlalchemy as sa
from alembic import op

revision = "s01"
down_revision = "0001"
branch_labels = ("search",)
depends_on = None

_BODY = (
    "(SELECT coalesce(group_concat(json_extract(u.value, '$.text'), ' '), '') "
    "FROM json_each(NEW.doc_json, '$.updates') AS u)"
)
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
    op.create_table(
        "incident_vectors",
        sa.Column("incident_key", sa.String(), nullable=False),
        sa.Column("model_id", sa.String(), nullable=False),
        sa.Column("recipe", sa.Integer(), nullable=False),
        sa.Column("doc_hash", sa.String(), nullable=False),
        sa.Column("source_hash", sa.String(), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_key"),
    )
    op.create_index("ix_incident_vectors_model_id", "incident_vectors", ["model_id"])
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TABLE search_docs (id INTEGER PRIMARY KEY, incident_key TEXT NOT NULL UNIQUE)"
    )
    op.execute(
        "CREATE VIRTUAL TABLE incident_fts USING fts5("
        "title, components, body, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    op.execute(f"CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN "
               f"{_INSERT_FTS} END")
    op.execute(f"CREATE TRIGGER incidents_fts_update AFTER UPDATE ON incidents BEGIN "
               f"{_DELETE_FTS} {_INSERT_FTS} END")
    op.execute(f"CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents BEGIN "
               f"{_DELETE_FTS} DELETE FROM search_docs WHERE incident_key = OLD.key; END")
    # A database upgraded in place: index what it already holds.
    op.execute("INSERT INTO search_docs (incident_key) SELECT key FROM incidents ORDER BY key")
    op.execute(
        "INSERT INTO incident_fts (rowid, title, components, body) "
        "SELECT d.id, i.title, "
        + _COMPONENTS.replace("NEW.", "i.") + ", " + _BODY.replace("NEW.", "i.")
        + " FROM incidents AS i JOIN search_docs AS d ON d.incident_key = i.key"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("incidents_fts_insert", "incidents_fts_update", "incidents_fts_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS incident_fts")
        op.execute("DROP TABLE IF EXISTS search_docs")
    op.drop_index("ix_incident_vectors_model_id", table_name="incident_vectors")
    op.drop_table("incident_vectors")
