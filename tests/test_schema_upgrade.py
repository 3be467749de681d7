"""A database created by an earlier schema (revision 0001 alone, as the first release wrote
it) is upgraded in place to every current head without losing a row, after a backup copy."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from alembic import command

from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.present import write_export
from kb.store import Store
from kb.store.db import _config, head_revisions, make_engine
from scrapers.archive import Archive

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "statuspage"


def export(store: Store) -> str:
    buffer = io.StringIO()
    write_export(store.incidents(), "jsonl", buffer)
    return buffer.getvalue()


def test_old_database_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "kb.db"
    engine = make_engine(f"sqlite:///{db}")
    # Data written by today's line (which writes columns later revisions added), then the
    # schema taken back to exactly what revision 0001 created, rows kept.
    current = Store.open(f"sqlite:///{db}", write=True)[0]
    ingest(Line(current, Archive(tmp_path / "raw"),
                load_sources(PACKAGED_SOURCES)), [FIX])
    current.close()
    with engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    old = Store(engine)
    before = export(old)
    old.close()
    assert before.count("\n") == 8

    store, note = Store.open(f"sqlite:///{db}", write=True)
    assert note is not None and note.startswith("upgraded database schema 0001 → ")
    backup = db.with_name("kb.db.before-0001")
    assert backup.exists() and f"(backup: {backup})" in note
    assert export(store) == before
    with sqlite3.connect(db) as conn:
        versions = {row[0] for row in conn.execute("select version_num from alembic_version")}
    assert versions == set(head_revisions())
    with sqlite3.connect(backup) as conn:  # the backup is the old database, whole
        assert conn.execute("select count(*) from incidents").fetchone() == (8,)
        assert [r[0] for r in conn.execute("select version_num from alembic_version")] == ["0001"]
    assert Store.open(f"sqlite:///{db}", write=True)[1] is None  # nothing left to do


def test_readers_ask_for_an_explicit_upgrade(tmp_path: Path) -> None:
    import pytest

    from kb.errors import SchemaError

    db = tmp_path / "kb.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    if head_revisions() == {"0001"}:
        pytest.skip("no later revision exists yet")
    with pytest.raises(SchemaError, match="run `kb db upgrade`"):
        Store.open(f"sqlite:///{db}", write=False)
