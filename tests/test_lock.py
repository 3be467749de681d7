"""Two writers at once: the second waits its turn, or gives up with exit 6 and a clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES
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
                   KB_SOURCES=str(PACKAGED_SOURCES))
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


@pytest.mark.slow
def test_readers_work_while_a_writer_writes(tmp_path: Path) -> None:
    """WAL: `kb incidents`, `kb search` and `kb site build` answer while `kb ingest` of a large
    import is in the middle of writing (it holds the writer lock throughout)."""
    corpus = ROOT.parent / "shared" / "corpus"
    if not corpus.is_dir():
        pytest.skip("../shared/corpus is absent: no import long enough to overlap")
    env = dict(os.environ, KB_HOME=str(tmp_path), KB_SOURCES=str(PACKAGED_SOURCES),
               KB_EMBED_MODEL="fake-hash", KB_SITE_DIR=str(tmp_path / "build"))

    def kb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True,
                              text=True, env=env, timeout=300, cwd=ROOT)

    seeded = kb("ingest", str(ROOT / "tests" / "fixtures" / "statuspage"), "--embed")
    assert seeded.returncode == 0, seeded.stderr
    writer = subprocess.Popen(
        [sys.executable, "-m", "kb", "ingest", str(corpus / "statuspage_incident_json")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        time.sleep(1.0)
        assert writer.poll() is None, "the writer finished before the readers ran"
        listed = kb("incidents", "--provider", "anthropic", "--json")
        overlapped = writer.poll() is None  # the read ran entirely inside the write
        searched = kb("search", "spend limits", "--mode", "keyword", "--json")
        built = kb("site", "build")
    finally:
        writer.wait(timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert searched.returncode == 0, searched.stderr
    assert built.returncode == 0, built.stderr
    assert overlapped
    assert writer.returncode == 0, writer.stderr[-2000:]
