"""Alembic environment: runs on the connection kb.store.db hands over (no alembic.ini)."""

from alembic import context
from sqlmodel import SQLModel

import kb.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through kb.store.db.ensure_schema")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
)
with context.begin_transaction():
    context.run_migrations()
