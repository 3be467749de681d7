"""`kb db status` and `kb db upgrade`: the database schema."""

from __future__ import annotations

import typer

from kb.commands.common import out


def register(app: typer.Typer) -> None:
    """Add the `kb db` group (status, upgrade) to the CLI."""
    db_app = typer.Typer(help="Database schema: status and explicit upgrades.",
                         no_args_is_help=True)
    db_app.command("status")(db_status)
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")


def db_status() -> None:
    """Print the database URL and its schema revision against this program's."""
    from kb.config import load_settings
    from kb.store.db import current_revisions, head_revisions, make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url)
    current = ", ".join(sorted(current_revisions(engine))) or "none (empty)"
    out.print(f"database: {engine.url.render_as_string(hide_password=True)}")
    out.print(f"schema:   {current}; this program: {', '.join(sorted(head_revisions()))}")


def db_upgrade() -> None:
    """Create the schema, or upgrade an older one in place (SQLite: after a backup copy)."""
    from kb.config import load_settings
    from kb.store.db import ensure_schema, make_engine

    note = ensure_schema(make_engine(load_settings().database_url), upgrade=True)
    out.print(f"kb: {note or 'schema already current'}")
