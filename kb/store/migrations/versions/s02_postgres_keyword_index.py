"""search: a PostgreSQL full-text keyword index (tsvector + GIN), kept current by triggers

Revision ID: s02
Revises: s01
Create Date: 2026-11-24

Written by hand. PostgreSQL only; on SQLite (where s01's FTS5 index serves the same purpose)
this revision does nothing.

`incident_search` holds one tsvector per incident ('english' configuration): the title with
weight A, the component names B, the updates' text C, read from `incidents.doc_json` by
`kb_search_document()`, and its length in tokens; `incident_search_totals` holds the number of
documents and of tokens, which BM25 needs on every query (kb.store.keyword ranks with it). As
on SQLite, triggers on `incidents` alone keep both current: the store UPDATEs an incident row
in place with a new `doc_json` whenever anything about it changed, and `doc_json` holds the
components and the updates, so the child tables need no triggers.

Why a table and triggers rather than a generated column on `incidents`: the spine's table stays
exactly as revision 0001 made it (other features read and copy it), and the index can be
dropped or rebuilt without rewriting every incident row.

Hostile text must never make an incident unstorable: each part is cut to a length whose
tsvector stays under PostgreSQL's 1 MB limit (4 bytes per character at worst), and a
`doc_json` that PostgreSQL's jsonb cannot read (a \\u0000 escape) indexes the title alone.
"""
from alembic import op

revision = "s02"
down_revision = "s01"
branch_labels = None
depends_on = None

# Characters of each part that are indexed: 4 bytes each at worst, 880 KB in all, under the
# 1 MB a tsvector may hold. A status-page title or component list never comes near.
TITLE_CHARS = 10_000
COMPONENT_CHARS = 10_000
BODY_CHARS = 200_000

_DOCUMENT = f"""
CREATE FUNCTION kb_search_document(title text, doc text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parsed jsonb;
    components text := '';
    body text := '';
    head tsvector := setweight(
        to_tsvector('english'::regconfig, left(coalesce(title, ''), {TITLE_CHARS})), 'A');
BEGIN
    BEGIN
        parsed := doc::jsonb;
        SELECT coalesce(string_agg(c.value ->> 'name', ' '), '') INTO components
            FROM jsonb_array_elements(CASE jsonb_typeof(parsed -> 'components')
                WHEN 'array' THEN parsed -> 'components' ELSE '[]'::jsonb END) AS c
            WHERE jsonb_typeof(c.value) = 'object';
        SELECT coalesce(string_agg(u.value ->> 'text', ' '), '') INTO body
            FROM jsonb_array_elements(CASE jsonb_typeof(parsed -> 'updates')
                WHEN 'array' THEN parsed -> 'updates' ELSE '[]'::jsonb END) AS u
            WHERE jsonb_typeof(u.value) = 'object';
        RETURN head
            || setweight(to_tsvector('english'::regconfig,
                                     left(components, {COMPONENT_CHARS})), 'B')
            || setweight(to_tsvector('english'::regconfig, left(body, {BODY_CHARS})), 'C');
    EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
        -- Unreadable JSON (jsonb refuses \\u0000) or a tsvector over the limit: the title
        -- alone is still searchable, and the incident's write must not fail over its index.
        RETURN head;
    END;
END $$
"""

# Tokens (positions) a tsvector holds: the document length of BM25.
_TOKENS = """
CREATE FUNCTION kb_search_tokens(document tsvector) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(sum(coalesce(array_length(positions, 1), 1)), 0)::integer
    FROM unnest(document)
$$
"""

_SYNC = """
CREATE FUNCTION kb_incident_search_sync() RETURNS trigger
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
    made := kb_search_document(NEW.title, NEW.doc_json);
    size := kb_search_tokens(made);
    INSERT INTO incident_search (incident_key, document, tokens) VALUES (NEW.key, made, size);
    UPDATE incident_search_totals SET docs = docs + 1, tokens = tokens + size;
    RETURN NULL;
END $$
"""

_CLEAR = """
CREATE FUNCTION kb_incident_search_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE incident_search;
    UPDATE incident_search_totals SET docs = 0, tokens = 0;
    RETURN NULL;
END $$
"""

_TRIGGERS = (
    "CREATE TRIGGER incidents_search_insert AFTER INSERT ON incidents "
    "FOR EACH ROW EXECUTE FUNCTION kb_incident_search_sync()",
    # Only when what is indexed changed: other features may UPDATE other columns.
    "CREATE TRIGGER incidents_search_update AFTER UPDATE ON incidents FOR EACH ROW "
    "WHEN (OLD.key IS DISTINCT FROM NEW.key OR OLD.title IS DISTINCT FROM NEW.title "
    "OR OLD.doc_json IS DISTINCT FROM NEW.doc_json) "
    "EXECUTE FUNCTION kb_incident_search_sync()",
    "CREATE TRIGGER incidents_search_delete AFTER DELETE ON incidents "
    "FOR EACH ROW EXECUTE FUNCTION kb_incident_search_sync()",
    "CREATE TRIGGER incidents_search_truncate AFTER TRUNCATE ON incidents "
    "FOR EACH STATEMENT EXECUTE FUNCTION kb_incident_search_clear()",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE incident_search (incident_key TEXT PRIMARY KEY, "
        "document tsvector NOT NULL, tokens integer NOT NULL)"
    )
    # BM25 needs the number of documents and their average length on every query; one row
    # kept by the triggers answers that without scanning the index (FTS5 keeps the same).
    op.execute(
        "CREATE TABLE incident_search_totals (id smallint PRIMARY KEY CHECK (id = 1), "
        "docs bigint NOT NULL, tokens bigint NOT NULL)"
    )
    for function in (_DOCUMENT, _TOKENS, _SYNC, _CLEAR):
        op.execute(function)
    # A database upgraded in place: index what it already holds, before the GIN index is
    # built (one bulk build is faster than growing it row by row).
    op.execute(
        "INSERT INTO incident_search (incident_key, document, tokens) "
        "SELECT key, d, kb_search_tokens(d) FROM ("
        "SELECT key, kb_search_document(title, doc_json) AS d FROM incidents) AS made"
    )
    op.execute(
        "INSERT INTO incident_search_totals (id, docs, tokens) "
        "SELECT 1, count(*), coalesce(sum(tokens), 0) FROM incident_search"
    )
    op.execute(
        "CREATE INDEX ix_incident_search_document ON incident_search USING gin (document)"
    )
    for statement in _TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger in ("incidents_search_insert", "incidents_search_update",
                    "incidents_search_delete", "incidents_search_truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON incidents")
    op.execute("DROP TABLE IF EXISTS incident_search")
    op.execute("DROP TABLE IF EXISTS incident_search_totals")
    for function in ("kb_incident_search_sync()", "kb_incident_search_clear()",
                     "kb_search_document(text, text)", "kb_search_tokens(tsvector)"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
