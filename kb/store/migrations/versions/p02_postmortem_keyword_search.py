"""postmortems: linked write-ups' text in the incidents' keyword index; write-ups searchable

Revision ID: p02
Revises: p01, s02 (a merge: it feeds the keyword indexes of s01 and s02; as a dependency
only, alembic would leave s02 out of the stored heads, and `kb` would call the schema old)
Create Date: 2026-12-07

Written by hand.
- incident_writeups: per incident, the text of the postmortems linked to it (title, summary,
  keywords, the start of the body), written by the postmortem stage (kb.store.postmortems
  .replace_derived). The keyword index appends it to the incident's updates' text (the
  lowest-weighted part: title 4, components 2, updates and write-ups 1), so a query in the
  write-up's words ("thundering herd after a config push") finds the incident in keyword and
  hybrid mode. The query path (kb.store.keyword) is unchanged.
  SQLite: s01's triggers on `incidents` are recreated with that body, and triggers on
  `incident_writeups` re-index the one incident a changed row is about.
  PostgreSQL: s02's kb_incident_search_sync() is replaced by one that adds the write-ups'
  text (weight C), and a trigger on `incident_writeups` re-indexes the incident (totals kept).
- postmortem_fts (SQLite, FTS5) / postmortem_search (PostgreSQL, tsvector + GIN): one row per
  postmortem document (title; summary, keywords and text), written with the documents, so
  `kb search --kind postmortem` finds write-ups linked to no incident too.
The postmortem tables are derived: they are emptied here (and the stage's fingerprint
dropped) so the next `kb update` rebuilds them with the new tables filled.
"""
import sqlalchemy as sa
from alembic import op

revision = "p02"
down_revision = ("p01", "s02")
branch_labels = None
depends_on = None

WRITEUP_CHARS = 20_000  # per incident, in every index: a tsvector stays far under 1 MB

# -- SQLite -------------------------------------------------------------------------------------

_UPDATES = (
    "(SELECT coalesce(group_concat(json_extract(u.value, '$.text'), ' '), '') "
    "FROM json_each(NEW.doc_json, '$.updates') AS u)"
)
_WRITEUPS = (
    "coalesce(' ' || (SELECT substr(w.text, 1, " + str(WRITEUP_CHARS) + ") "
    "FROM incident_writeups AS w WHERE w.incident_key = NEW.key), '')"
)
_BODY = f"({_UPDATES} || {_WRITEUPS})"
_COMPONENTS = (
    "(SELECT coalesce(group_concat(json_extract(c.value, '$.name'), ' '), '') "
    "FROM json_each(NEW.doc_json, '$.components') AS c)"
)


def _insert_fts(body: str) -> str:
    return f"""
    INSERT INTO search_docs (incident_key) VALUES (NEW.key)
        ON CONFLICT (incident_key) DO NOTHING;
    INSERT INTO incident_fts (rowid, title, components, body)
        VALUES ((SELECT id FROM search_docs WHERE incident_key = NEW.key),
                NEW.title, {_COMPONENTS}, {body});
"""


_DELETE_FTS = """
    DELETE FROM incident_fts
        WHERE rowid = (SELECT id FROM search_docs WHERE incident_key = OLD.key);
"""


def _reindex(ref: str) -> str:
    """Statements re-indexing the incident `ref` (NEW.incident_key or OLD.incident_key)
    names, when it is stored and indexed."""
    row = f"(SELECT id FROM search_docs WHERE incident_key = {ref})"
    return (
        f"DELETE FROM incident_fts WHERE rowid = {row}; "
        "INSERT INTO incident_fts (rowid, title, components, body) "
        "SELECT d.id, i.title, " + _COMPONENTS.replace("NEW.", "i.") + ", "
        + _BODY.replace("NEW.", "i.")
        + f" FROM incidents AS i JOIN search_docs AS d ON d.incident_key = i.key "
          f"WHERE i.key = {ref};"
    )


_SQLITE_INCIDENT_TRIGGERS = ("incidents_fts_insert", "incidents_fts_update")
_SQLITE_WRITEUP_TRIGGERS = ("incident_writeups_fts_insert", "incident_writeups_fts_update",
                            "incident_writeups_fts_delete")


def _sqlite_incident_triggers(body: str) -> list[str]:
    return [
        f"CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN "
        f"{_insert_fts(body)} END",
        f"CREATE TRIGGER incidents_fts_update AFTER UPDATE ON incidents BEGIN "
        f"{_DELETE_FTS} {_insert_fts(body)} END",
    ]


def _sqlite_upgrade() -> None:
    for trigger in _SQLITE_INCIDENT_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in _sqlite_incident_triggers(_BODY):
        op.execute(statement)
    op.execute("CREATE TRIGGER incident_writeups_fts_insert AFTER INSERT ON incident_writeups "
               f"BEGIN {_reindex('NEW.incident_key')} END")
    op.execute("CREATE TRIGGER incident_writeups_fts_update AFTER UPDATE ON incident_writeups "
               f"BEGIN {_reindex('OLD.incident_key')} {_reindex('NEW.incident_key')} END")
    op.execute("CREATE TRIGGER incident_writeups_fts_delete AFTER DELETE ON incident_writeups "
               f"BEGIN {_reindex('OLD.incident_key')} END")
    op.execute("CREATE VIRTUAL TABLE postmortem_fts USING fts5(postmortem_id UNINDEXED, title, "
               "body, tokenize = 'porter unicode61 remove_diacritics 2')")


def _sqlite_downgrade() -> None:
    for trigger in (*_SQLITE_INCIDENT_TRIGGERS, *_SQLITE_WRITEUP_TRIGGERS):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in _sqlite_incident_triggers(_UPDATES):  # s01's triggers again
        op.execute(statement)
    op.execute("DROP TABLE IF EXISTS postmortem_fts")


# -- PostgreSQL ---------------------------------------------------------------------------------


def _sync(with_writeups: bool) -> str:
    extra = (
        " || setweight(to_tsvector('english'::regconfig, left(coalesce((SELECT w.text FROM "
        f"incident_writeups AS w WHERE w.incident_key = NEW.key), ''), {WRITEUP_CHARS})), 'C')"
        if with_writeups else "")
    return f"""
CREATE OR REPLACE FUNCTION kb_incident_search_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    gone integer;
    made tsvector;
    size integer;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM incident_search WHERE incident_key = OLD.key RETURNING tokens INTO gone;
        IF FOUND THEN
            UPDATE incident_search_totals SET docs = docs - 1, tokens = tokens - gone;
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN NULL;
    END IF;
    made := kb_search_document(NEW.title, NEW.doc_json){extra};
    size := kb_search_tokens(made);
    INSERT INTO incident_search (incident_key, document, tokens) VALUES (NEW.key, made, size);
    UPDATE incident_search_totals SET docs = docs + 1, tokens = tokens + size;
    RETURN NULL;
END $$
"""


# A changed write-up row re-indexes its incident: the same steps as the sync above, for the
# incident row the write-up names (none when that incident is not stored).
_WRITEUP_SYNC = f"""
CREATE FUNCTION kb_writeup_search_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    wanted text;
    gone integer;
    made tsvector;
    size integer;
    found_row incidents%ROWTYPE;
BEGIN
    FOREACH wanted IN ARRAY (CASE TG_OP
            WHEN 'INSERT' THEN ARRAY[NEW.incident_key]
            WHEN 'DELETE' THEN ARRAY[OLD.incident_key]
            ELSE ARRAY[OLD.incident_key, NEW.incident_key] END) LOOP
        DELETE FROM incident_search WHERE incident_key = wanted RETURNING tokens INTO gone;
        IF FOUND THEN
            UPDATE incident_search_totals SET docs = docs - 1, tokens = tokens - gone;
        END IF;
        SELECT * INTO found_row FROM incidents WHERE key = wanted;
        IF FOUND THEN
            made := kb_search_document(found_row.title, found_row.doc_json)
                || setweight(to_tsvector('english'::regconfig, left(coalesce((
                    SELECT w.text FROM incident_writeups AS w WHERE w.incident_key = wanted),
                    ''), {WRITEUP_CHARS})), 'C');
            size := kb_search_tokens(made);
            INSERT INTO incident_search (incident_key, document, tokens)
                VALUES (wanted, made, size);
            UPDATE incident_search_totals SET docs = docs + 1, tokens = tokens + size;
        END IF;
    END LOOP;
    RETURN NULL;
END $$
"""


def _postgres_upgrade() -> None:
    op.execute(_sync(True))
    op.execute(_WRITEUP_SYNC)
    op.execute("CREATE TRIGGER incident_writeups_search AFTER INSERT OR UPDATE OR DELETE ON "
               "incident_writeups FOR EACH ROW EXECUTE FUNCTION kb_writeup_search_sync()")
    op.execute("CREATE TABLE postmortem_search (postmortem_id TEXT PRIMARY KEY, "
               "document tsvector NOT NULL)")
    op.execute("CREATE INDEX ix_postmortem_search_document ON postmortem_search "
               "USING gin (document)")


def _postgres_downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS incident_writeups_search ON incident_writeups")
    op.execute("DROP FUNCTION IF EXISTS kb_writeup_search_sync()")
    op.execute(_sync(False))  # s02's function again
    op.execute("DROP TABLE IF EXISTS postmortem_search")


def upgrade() -> None:
    op.create_table(
        "incident_writeups",
        sa.Column("incident_key", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("incident_key"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _postgres_upgrade()
    # derived: rebuilt (with the new tables) by the next postmortems stage
    op.execute("DELETE FROM postmortem_links")
    op.execute("DELETE FROM postmortems")
    op.execute("DELETE FROM postmortem_state")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_downgrade()
    elif dialect == "postgresql":
        _postgres_downgrade()
    op.drop_table("incident_writeups")
