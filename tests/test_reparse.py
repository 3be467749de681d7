"""`kb reparse` rebuilds beside the live tables and swaps in one transaction (issue #15 item 6).

Through the real CLI: the same payload imported under two providers survives a reparse under
both (SQLite, and PostgreSQL where KB_TEST_POSTGRES_URL names a server); a reparse SIGKILLed at
a random moment (SQLite and PostgreSQL) leaves the export byte-identical to before, and readers
polling meanwhile never see fewer incidents; an incident the archive cannot rebuild is kept
and reported, with its key.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import invoke_kb, kb_env

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "statuspage"
PAYLOAD = FIX / "github_zzm4nczlpjyy.json"
PG_URL = os.environ.get("KB_TEST_POSTGRES_URL")


def env_for(home: Path, database_url: str | None = None) -> dict[str, str]:
    return kb_env(home, KB_DATABASE_URL=database_url or None)


def kb(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def in_process(home: Path, database: str | None, *args: str
               ) -> subprocess.CompletedProcess[str]:
    """`kb ARGS` in this process (no kill involved: a new process is not the point)."""
    return invoke_kb(home, *args, KB_DATABASE_URL=database)


def exported(home: Path, database: str | None) -> str:
    result = in_process(home, database, "export")
    assert result.returncode == 0 and result.stdout, result.stderr
    return result.stdout


def export(env: dict[str, str]) -> str:
    result = kb(env, "export")
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite under KB_HOME), or a fresh PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    if not PG_URL:
        pytest.skip("KB_TEST_POSTGRES_URL not set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(PG_URL)
    name = f"kb_reparse_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_payload_under_two_providers_survives_reparse_under_both(
        tmp_path: Path, database: str | None) -> None:
    home = tmp_path / "home"
    for slug in ("github", "mirror-a"):
        result = in_process(home, database, "ingest", str(PAYLOAD), "--provider", slug)
        assert result.returncode == 0, result.stderr
    before = exported(home, database)
    assert "github/zzm4nczlpjyy" in before and "mirror-a/zzm4nczlpjyy" in before
    result = in_process(home, database, "reparse", "--json")
    assert result.returncode == 0, result.stderr
    assert exported(home, database) == before
    counted = json.loads(result.stdout)["sources"]  # against the live store, per provider
    for slug in ("github", "mirror-a"):
        assert (counted[slug]["new"], counted[slug]["updated"], counted[slug]["unchanged"],
                counted[slug]["revisions"]) == (0, 0, 1, 0)


def test_reparse_keeps_and_reports_an_incident_its_archive_cannot_rebuild(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert in_process(home, None, "ingest", str(FIX)).returncode == 0
    before = exported(home, None)
    # Lose one payload's blob (disk damage): its incidents cannot be rebuilt.
    blob = next((home / "raw" / "objects").glob("*/*"))
    blob.unlink()
    result = in_process(home, None, "reparse")
    assert result.returncode == 0, result.stderr
    assert exported(home, None) == before  # nothing lost
    said = " ".join(result.stderr.split())
    assert "could not be rebuilt from the archive and were kept as stored" in said
    assert "github/zzm4nczlpjyy (payload" in said and "was not parsed again" in said


def count_incidents(home: Path, database: str | None) -> int:
    """What a reader sees right now, on its own connection."""
    if database is None:
        with sqlite3.connect(f"file:{home / 'kb.db'}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute("select count(*) from incidents").fetchone()[0]
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from incidents")).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("run", range(int(os.environ.get("KB_CRASH_RUNS", "3"))))
def test_reparse_killed_at_a_random_moment_leaves_the_kb_as_it_was(
        tmp_path: Path, run: int, database: str | None) -> None:
    corpus = ROOT.parent / "shared" / "corpus" / "statuspage_incident_json"
    source = corpus if corpus.is_dir() else ROOT / "data" / "samples"
    home = tmp_path / "home"
    env = env_for(home, database)
    assert kb(env, "ingest", str(source)).returncode == 0
    before = export(env)
    count = count_incidents(home, database)
    assert count > 0
    start = time.monotonic()
    assert kb(env, "reparse").returncode == 0
    elapsed = time.monotonic() - start
    assert export(env) == before  # an uninterrupted reparse changes nothing either

    rng = random.Random(run)
    process = subprocess.Popen([sys.executable, "-m", "kb", "reparse"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + rng.uniform(0.3, max(0.5, elapsed * 0.95))
    seen = []
    while time.monotonic() < deadline:  # a reader meanwhile sees the whole KB, every time
        seen.append(count_incidents(home, database))
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert seen and set(seen) == {count}
    if database is None:
        with sqlite3.connect(home / "kb.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert export(env) == before
