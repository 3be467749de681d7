"""Two writers at once: the second waits its turn, or gives up with exit 6 and a clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.errors import DatabaseBusy
from kb.lock import writer_lock

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys, time
from pathlib import Path
from kb.lock import writer_lock
with writer_lock(Path(sys.argv[1]), timeout=5):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(home: Path, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(home), str(seconds)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_second_writer_gives_up_naming_the_holder(tmp_path: Path) -> None:
    holder = hold(tmp_path, 5)
    try:
        with pytest.raises(DatabaseBusy, match=rf"pid {holder.pid}\) is writing"), \
                writer_lock(tmp_path, timeout=0.3):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_second_writer_waits_then_proceeds(tmp_path: Path) -> None:
    holder = hold(tmp_path, 0.8)
    messages: list[str] = []
    start = time.monotonic()
    with writer_lock(tmp_path, timeout=10, on_wait=messages.append):
        waited = time.monotonic() - start
    holder.wait()
    assert waited > 0.3
    assert messages == [f"waiting for another kb process (pid {holder.pid}) to finish writing"]


def test_a_killed_writer_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = hold(tmp_path, 30)
    holder.kill()
    holder.wait()
    with writer_lock(tmp_path, timeout=0.5):
        pass


def test_cli_exits_6_while_another_writer_runs(tmp_path: Path) -> None:
    holder = hold(tmp_path, 10)
    try:
        env = dict(os.environ, KB_HOME=str(tmp_path), KB_LOCK_TIMEOUT="0.3",
                   KB_SOURCES=str(ROOT / "data" / "sources.toml"))
        result = subprocess.run(
            [sys.executable, "-m", "kb", "ingest", str(ROOT / "tests" / "fixtures" / "statuspage")],
            capture_output=True, text=True, env=env, timeout=60,
        )
        assert result.returncode == 6
        assert f"another kb process (pid {holder.pid}) is writing" in result.stderr
        reader = subprocess.run([sys.executable, "-m", "kb", "db", "status"], capture_output=True,
                                text=True, env=env, timeout=60)
        assert reader.returncode == 0  # readers never wait for the writer lock
    finally:
        holder.kill()
        holder.wait()
