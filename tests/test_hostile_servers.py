"""The hostile-server suite: `kb scrape` against misbehaving servers on 127.0.0.1.

For every misbehaviour, two sources are scraped in one run: a steady one and a hostile one.
Invariants checked each time: the exit status says whether anything failed; every error line
is one line naming a hostile URL (never the steady source); the steady source completes;
incidents stored earlier for the hostile provider are not lost or changed by a failing run;
the process's peak memory stays bounded; no traceback. Each behaviour adds its own expectation
(a reason in the error line, or success). docs/reliability.md lists them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import invoke_kb
from tests.hostile.server import HostileServer

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "fixtures" / "statuspage" / "openai_slice.json"
MAX_RSS_MB = 350
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child
# would report the (large) pytest parent's peak instead of its own.
RUN = """
import sys
from kb.cli import main
try:
    main()
finally:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
    print(f"maxrss_kb={hwm}", file=sys.stderr)
"""
FETCH = """
[fetch]
connect_timeout = 1.0
read_timeout = 1.0
total_timeout = 2.0
retries = 1
backoff_base = 0.05
max_retry_after = 5.0
politeness_delay = 0.0
max_bytes = 5_000_000
"""

# behaviour → "ok" (must succeed) or the text an error line must contain
EXPECT: dict[str, str] = {
    "slow_drip": "timed out",
    "stall_mid_body": "timed out",
    "reset": "gave up",
    "headers_then_close": "gave up",
    "retry_after_seconds": "HTTP 429",
    "retry_after_date": "HTTP 503",
    "retry_after_too_long": "more than max_retry_after",
    "storm_503": "HTTP 503",
    "error_500_html": "HTTP 500",
    "html_instead_of_json": "unknown format",
    "truncated_gzip": "gzip",
    "wrong_encoding": "gzip",
    "huge_body": "larger than 5000000 bytes",
    "gzip_bomb": "larger than 5000000 bytes",
    "utf16_bom": "ok",
    "utf16_no_bom": "ok",
    "invalid_utf8": "malformed JSON",
    "lying_charset": "ok",
    "billion_laughs": "unknown format",  # the JSON endpoints answer {}; the feed: no expansion
    "external_entity": "unknown format",
    "deep_json": "nested too deeply",
    "duplicate_keys": "ok",
    "nan_and_huge_numbers": "malformed JSON",
    "redirect_loop": "redirect",
    "redirect_elsewhere": "ok",
    "etag_churn": "ok",
    "not_modified_unasked": "304 without validators",
    "many_entries": "ok",
    "odd_dates": "ok",
    "empty_body": "empty body",
}


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    hostile = HostileServer()
    yield hostile
    hostile.close()


def configure(home: Path, steady: str, hostile: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "sources.toml").write_text(  # these two pages only: `kb scrape` fetches all
        f'replace = true\n\n[[source]]\nslug = "steady"\nname = "Steady"\nurl = "{steady}"\n\n'
        f'[[source]]\nslug = "hostile"\nname = "Hostile"\nurl = "{hostile}"\n'
    )
    (home / "kb.toml").write_text(FETCH)
    env = dict(os.environ, KB_HOME=str(home), COLUMNS="200")
    for name in ("KB_SOURCES", "KB_CONFIG", "KB_DATABASE_URL"):
        env.pop(name, None)
    return env


def kb(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    result = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                            env=env, timeout=180, cwd=ROOT)
    rss = [line for line in result.stderr.splitlines() if line.startswith("maxrss_kb=")]
    return result, int(rss[-1].split("=")[1]) / 1024 if rss else float("nan")


def in_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A command whose memory is not measured (seeding, export) runs in this process."""
    return invoke_kb(Path(env["KB_HOME"]), *args, KB_SOURCES=None)


def export(env: dict[str, str]) -> dict[str, dict]:
    result = in_process(env, "export")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {row["key"]: row for row in rows}


def run_against(server: HostileServer, tmp_path: Path, behaviour: str,
                hostile_url: str | None = None) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = configure(tmp_path / "home", server.url("good"), hostile_url or server.url(behaviour))
    seeded = in_process(env, "ingest", str(SEED), "--provider", "hostile")
    assert seeded.returncode == 0, seeded.stderr
    before = export(env)
    result, rss = kb(env, "scrape")
    after = export(env)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert rss < MAX_RSS_MB, f"peak memory {rss:.0f} MB"
    assert result.returncode == (5 if errors else 0), result.stderr[-2000:]
    base = hostile_url or server.url(behaviour)
    assert all(base in line or "hostile" in line for line in errors), errors
    assert not any(server.url("good") in line for line in errors)
    steady = {k for k in after if k.startswith("steady/")}
    assert len(steady) == 4, sorted(after)  # 2 in the JSON + 3 in the feed, 1 in both
    for key, row in before.items():  # nothing stored earlier is lost
        assert key in after
        if errors and key.startswith("hostile/"):
            assert after[key] == row  # a failing source changes nothing it held
    return result, {"errors": errors, "after": after, "before": before, "env": env}


@pytest.mark.parametrize("behaviour", sorted(EXPECT))
def test_misbehaving_server(server: HostileServer, tmp_path: Path, behaviour: str) -> None:
    _, seen = run_against(server, tmp_path, behaviour)
    expected = EXPECT[behaviour]
    if expected == "ok":
        assert seen["errors"] == [], seen["errors"]
    else:
        assert any(expected in line for line in seen["errors"]), seen["errors"]
    text = json.dumps(seen["after"])
    assert "root:x:0:0" not in text  # no external entity was ever resolved
    assert "lollollollol" not in text  # no entity expansion


def test_etag_that_changes_every_time_stores_nothing_twice(server: HostileServer,
                                                           tmp_path: Path) -> None:
    _, seen = run_against(server, tmp_path, "etag_churn")
    again, _ = kb(seen["env"], "scrape", "hostile", "--json")
    summary = json.loads(again.stdout)["sources"]["hostile"]
    assert (summary["new"], summary["updated"]) == (0, 0)
    assert summary["skipped_docs"] == summary["docs"] == 4  # same bytes: not parsed again


def test_many_entries_are_all_stored(server: HostileServer, tmp_path: Path) -> None:
    _, seen = run_against(server, tmp_path, "many_entries")
    hostile = [k for k in seen["after"] if k.startswith("hostile/inc")]
    assert len(hostile) == 5000


def test_connection_refused(server: HostileServer, tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    _, seen = run_against(server, tmp_path, "refused", f"http://127.0.0.1:{port}/x")
    assert seen["errors"] and all("gave up" in e for e in seen["errors"])


def test_connect_timeout(server: HostileServer, tmp_path: Path) -> None:
    # a listener whose accept queue is full: the kernel stops answering new handshakes
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        _, seen = run_against(server, tmp_path, "connect_timeout", f"http://127.0.0.1:{port}/x")
        assert seen["errors"]
        assert all("timed out" in e or "gave up" in e for e in seen["errors"])
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
