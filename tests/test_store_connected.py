"""kb.store.db.connected: a lock timeout becomes DatabaseBusy; any other database error keeps
the driver's error chained, so a traceback still says what failed."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kb.errors import DatabaseBusy
from kb.store.db import connected, make_engine


def test_other_errors_keep_the_driver_error_chained(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    with pytest.raises(OperationalError) as caught, connected(engine) as conn:
        conn.execute(text("select * from no_such_table"))
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert "no_such_table" in str(caught.value.__cause__)


def test_a_lock_timeout_reads_as_busy(tmp_path: Path) -> None:
    path = tmp_path / "kb.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("create table t (x)")
    holder.execute("begin exclusive")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(DatabaseBusy, match="locked by another kb process") as caught, \
                connected(engine, write=True) as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout = 50")  # not the engine's 30 s
            conn.execute(text("insert into t values (1)"))
        assert caught.value.__suppress_context__  # one clear line, not the driver's chain
    finally:
        holder.execute("rollback")
        holder.close()
