"""Engine, SQLite pragmas and the versioned schema (alembic migrations shipped in the package).

A new database is created at the head revision; an older one is upgraded in place after a
file backup (SQLite), never dropped; a database newer than this program is refused.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

from kb.errors import ConfigError, DatabaseBusy, KbError, SchemaError

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(database_url: str) -> Engine:
    """An engine; for SQLite: WAL, foreign keys on, a 30 s busy timeout, parent folder created."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError(f"invalid database URL {database_url!r}") from None
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


_GONE = ("server closed the connection", "terminating connection", "connection refused",
         "connection is bad", "connection to server",
         "could not connect", "the connection is closed", "the connection is lost",
         "recovery mode", "shutting down", "consuming input failed", "no connection to")


def as_busy(exc: OperationalError) -> Exception:
    """DatabaseBusy for a lock timeout, else the error itself."""
    if "locked" in str(exc.orig) or "busy" in str(exc.orig):
        return DatabaseBusy("database is locked by another kb process; try again")
    return exc


@contextmanager
def connected(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """A connection (a transaction with `write`) whose lock timeout reads as DatabaseBusy."""
    try:
        with engine.begin() if write else engine.connect() as conn:
            yield conn
    except OperationalError as exc:
        busy = as_busy(exc)
        if busy is exc:
            raise  # keep the driver's error chained: a traceback then shows what failed
        raise busy from None


def database_lost(exc: BaseException) -> KbError | None:
    """The one-line error for a database that stopped answering mid-run (a PostgreSQL server
    restarted or gone, a dropped connection), or None for any other exception. Every batch
    is written in its own transaction, so what was committed before stays; the interrupted
    batch left nothing, and a rerun does the rest (each stage is keyed by content hash)."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    reason = (str(exc.orig or exc).strip().splitlines() or ["connection lost"])[0]
    if not (exc.connection_invalidated or any(word in reason.lower() for word in _GONE)):
        return None  # a lock timeout, a missing table...: not this error
    return KbError(f"lost the database mid-run ({reason}): what was committed before is "
                   "kept; run the command again once the database is back")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revisions() -> frozenset[str]:
    """The heads this program knows. Each feature owns an alembic branch rooted at 0001, so
    features developed side by side never fight over one linear revision number."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    try:
        with engine.connect() as connection:
            return frozenset(MigrationContext.configure(connection).get_current_heads())
    except OperationalError as exc:
        raise SchemaError(f"cannot open database: {str(exc.orig).splitlines()[0]}") from None


def _label(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "none"


def ensure_schema(engine: Engine, *, upgrade: bool = True) -> str | None:
    """Bring the schema to the heads. Returns a one-line note when it created or upgraded it.

    With upgrade=False (readers) an old schema raises SchemaError asking for `kb db upgrade`.
    """
    heads = head_revisions()
    current = current_revisions(engine)
    if current == heads:
        return None
    script = ScriptDirectory.from_config(_config())
    unknown = [rev for rev in current if _known(script, rev) is False]
    if unknown:
        raise SchemaError(
            f"database schema {_label(frozenset(unknown))} is newer than this program "
            f"({_label(heads)}); upgrade kb"
        )
    if not current and inspect(engine).get_table_names():
        raise SchemaError("database has tables but no schema version; refusing to touch it")
    if current and not upgrade:
        raise SchemaError(
            f"database schema {_label(current)} is older than {_label(heads)}: run `kb db upgrade`"
        )
    note = f"created database schema {_label(heads)}"
    if current:
        backup = _backup_sqlite(engine, "-".join(sorted(current)))
        note = f"upgraded database schema {_label(current)} → {_label(heads)}" + (
            f" (backup: {backup})" if backup else ""
        )
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several workers may start against one database at an older schema: one
            # upgrades, the others wait here, then find nothing left to do.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('kb:schema'))")
            if frozenset(MigrationContext.configure(connection).get_current_heads()) == heads:
                return None
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    return note


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for unknown ids
        return False


def _backup_sqlite(engine: Engine, revision: str) -> Path | None:
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    source = Path(url.database)
    target = source.with_name(f"{source.name}.before-{revision}")
    with engine.connect() as connection:  # checkpoint the WAL so the copy is complete
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy2(source, target)
    return target
