"""Crash safety: `kb ingest` killed with SIGKILL at random points, then run again.

After each kill: SQLite's integrity_check is ok, no half-written incident is visible (every
stored incident's child rows match its document), and rerunning converges to an export
byte-identical to an uninterrupted run; `kb reparse` from the raw archive too. The number of
kills is KB_CRASH_RUNS (default 3 in CI; the long mode runs 50 with KB_CRASH_RUNS=50).
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
from pathlib import Path

import pytest

from tests.conftest import kb_env, run_kb

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
RUNS = int(os.environ.get("KB_CRASH_RUNS", "3"))


def inputs() -> list[Path]:
    if CORPUS.is_dir():  # big enough that a kill lands mid-run
        return [CORPUS / "statuspage_incident_json", CORPUS / "statuspage_atom"]
    return [ROOT / "data" / "samples"]




def export(home: Path) -> str:
    result = run_kb(home, "export")
    assert result.returncode == 0, result.stderr
    return result.stdout


def check_consistent(db: Path) -> int:
    """integrity_check ok and every incident row agrees with its child rows."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute(
            "SELECT i.key, i.updates_count, i.doc_json, "
            "(SELECT count(*) FROM incident_updates u WHERE u.incident_key = i.key) "
            "FROM incidents i"
        ).fetchall()
    for key, count, doc, children in rows:
        assert count == children == len(json.loads(doc)["updates"]), key
    return len(rows)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, float]:
    home = tmp_path_factory.mktemp("reference")
    start = time.monotonic()
    result = run_kb(home, "ingest", *map(str, inputs()))
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    return export(home), elapsed


@pytest.mark.slow
@pytest.mark.parametrize("run", range(RUNS))
def test_kill_at_a_random_point_then_converge(reference: tuple[str, float], tmp_path: Path,
                                              run: int) -> None:
    expected, elapsed = reference
    rng = random.Random(run)
    home = tmp_path / "home"
    process = subprocess.Popen([sys.executable, "-m", "kb", "ingest", *map(str, inputs())],
                               env=kb_env(home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.05, max(0.2, elapsed * 0.9)))
    process.send_signal(signal.SIGKILL)
    process.wait()
    if (home / "kb.db").exists():
        check_consistent(home / "kb.db")
    rerun = run_kb(home, "ingest", *map(str, inputs()))
    assert rerun.returncode == 0, rerun.stderr
    assert check_consistent(home / "kb.db") > 0
    assert export(home) == expected
    if run == 0:  # the archive alone rebuilds the same knowledge base
        assert run_kb(home, "reparse").returncode == 0
        assert export(home) == expected
