"""`kb watch` beside other writers and other watchers: the KB writer lock is not held while
sending, a slow sender keeps its claims alive past the lease, two watchers on one PostgreSQL
send one message per change in total. Local servers only (pytest-httpserver on 127.0.0.1);
the status page and receivers are those of tests/test_watch.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from kb.alerts.send import SendReport, send_due
from kb.alerts.targets import Target
from kb.store import outbox
from tests.conftest import sqlite_store
from tests.test_watch import KEY, Receiver, StatusPage, ok_pd, ok_slack, write_home


def kb_env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "KB_HOME": str(home), "KB_EMBED_MODEL": "fake-hash", **extra}
    env.pop("KB_SOURCES", None)
    return env


@pytest.fixture
def slow_server() -> Any:
    """A threaded server: a receiver that hangs there does not stall the others."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def wait_for(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow  # two kb processes and a 25 s hang: ~30-40 s
def test_a_hanging_target_does_not_block_a_concurrent_scrape(
        kb_home: Path, httpserver: HTTPServer, slow_server: HTTPServer) -> None:
    """While the watcher waits on a target that hangs (25 s, within its 30 s timeout), a
    `kb scrape` of the same home, allowed to wait 3 s for the writer lock, runs and ends."""
    StatusPage(httpserver)
    hook = Receiver(slow_server, "/hang", Response("{}", status=200), delay=25.0)
    write_home(kb_home, httpserver,
               f"[[alert]]\nkind = \"webhook\"\nname = \"hang\"\n"
               f"url = \"{slow_server.url_for('/hang')}\"\ntimeout = 30\nretries = 0\n"
               "min_interval = 0\n")
    watcher = subprocess.Popen([sys.executable, "-m", "kb", "watch", "--once", "--no-refresh"],
                               env=kb_env(kb_home), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: bool(hook.got) or watcher.poll() is not None, 60,
                 "the watcher's notification")
        assert hook.got, watcher.communicate()[1]
        started = time.monotonic()
        scrape = subprocess.run([sys.executable, "-m", "kb", "scrape"], capture_output=True,
                                text=True, timeout=60,
                                env=kb_env(kb_home, KB_LOCK_TIMEOUT="3"))
        took = time.monotonic() - started
        assert scrape.returncode == 0, scrape.stderr
        assert "waiting for another kb process" not in scrape.stderr
        # the scrape ended while the watcher still waited on the hanging target
        assert watcher.poll() is None, f"the watcher ended first (scrape took {took:.1f} s)"
        out, errors = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, errors
    assert "1 sent" in out and len(hook.got) == 1


@pytest.mark.parametrize("heartbeat", [True, False], ids=["renewed", "control-not-renewed"])
def test_a_busy_sender_keeps_its_rows_past_the_lease(
        tmp_path: Path, slow_server: HTTPServer, monkeypatch: pytest.MonkeyPatch,
        heartbeat: bool) -> None:
    """Sender A waits 3 s on a slow webhook with a 0.6 s lease; a second sender looks for
    rows in doubt 1.5 s in. A's claim was renewed, so B leaves the row alone: one POST,
    state "sent". The control (renewals switched off) shows the test can fail: B then takes
    the row for a dead sender's and resends it."""
    import kb.alerts.send as send_module

    if not heartbeat:
        monkeypatch.setattr(send_module._Heartbeat, "beat", lambda self: None)
    hook = Receiver(slow_server, "/slow", Response("{}", status=200), delay=3.0)
    target = Target("slow", "webhook", slow_server.url_for("/slow"), retries=0, timeout=10,
                    min_interval=0)
    lease = timedelta(seconds=0.6)
    store_a, store_b = sqlite_store(tmp_path), sqlite_store(tmp_path)
    now = datetime.now(UTC)
    facts = {"schema": "outage-kb.alert/1",
             "change": {"kind": "new", "id": "", "summary": "s", "detected_at": now.isoformat(),
                        "unconfirmed": False},
             "incident": {"key": KEY, "kind": "incident"}}
    outbox.enqueue(store_a, [outbox.Intent("slow", KEY, "new", "", facts)], now)
    first: dict[str, SendReport] = {}
    sender = threading.Thread(target=lambda: first.setdefault(
        "a", send_due(store_a, [target], now=now, lease=lease)))
    sender.start()
    wait_for(lambda: bool(hook.got), 10, "the first POST")
    time.sleep(1.5)  # past the lease
    second = send_due(store_b, [target], now=datetime.now(UTC), lease=lease)
    sender.join(timeout=30)
    wait_for(lambda: len(hook.got) >= (1 if heartbeat else 2), 10, "the POSTs")
    [row] = outbox.items(store_a)
    if heartbeat:
        assert second.resent_in_doubt == 0 and second.sent == []
        assert len(hook.got) == 1 and first["a"].sent == [f"slow: new {KEY}"]
        assert row.state == "sent" and row.attempts == 1
    else:
        assert second.resent_in_doubt == 1 and len(hook.got) == 2
        assert row.state == "sent" and row.attempts == 1  # B's; A no longer held the row
    store_a.close()
    store_b.close()


def test_the_lease_is_a_setting() -> None:
    from kb.errors import ConfigError
    from kb.watch.schedule import watch_settings

    assert watch_settings({}, None).lease == timedelta(minutes=15)
    assert watch_settings({"lease": 60}, None).lease == timedelta(seconds=60)
    with pytest.raises(ConfigError, match="lease must be a number of seconds, at least 10"):
        watch_settings({"lease": 1}, Path("kb.toml"))


WITHOUT_SITE = ("import sys, kb.pipeline as p; "
                "p.LATER_STAGES[:] = [s for s in p.LATER_STAGES if s[0] != 'site']; "
                "sys.argv[0] = 'kb'; from kb.cli import main; main()")


@pytest.mark.slow  # four kb processes on PostgreSQL: ~30-60 s
@pytest.mark.skipif(not os.environ.get("KB_TEST_POSTGRES_URL"),
                    reason="KB_TEST_POSTGRES_URL not set")
def test_two_watchers_on_one_postgres_send_one_message_per_change(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    """Two watchers (two homes, as on two machines) on one PostgreSQL database and one status
    page, started together, twice: each change reaches each target once in total, and the
    later stages they run (link, embed, analysis: the site is left out here, it is each
    home's own) embed each incident once between them."""
    from tests.conftest import reset_postgres
    from tests.test_watch import targets_toml

    url = os.environ["KB_TEST_POSTGRES_URL"]
    reset_postgres(url)
    status = StatusPage(httpserver)
    slack = Receiver(httpserver, "/slack", ok_slack())
    pd = Receiver(httpserver, "/pd", ok_pd())
    hook = Receiver(httpserver, "/hook", Response("{}", status=200))
    homes = [tmp_path / "one", tmp_path / "two"]
    for home in homes:
        home.mkdir()
        write_home(home, httpserver, targets_toml(httpserver))

    def both() -> list[subprocess.CompletedProcess[str]]:
        procs = [subprocess.Popen([sys.executable, "-c", WITHOUT_SITE, "watch", "--once",
                                   "--refresh", "--json"],
                                  env=kb_env(home, KB_DATABASE_URL=url),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for home in homes]
        done = []
        for proc in procs:
            out, errors = proc.communicate(timeout=240)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, errors))
        return done

    def embedded(runs: list[subprocess.CompletedProcess[str]]) -> int:
        total = 0
        for run in runs:  # a watcher that found nothing new to it runs no later stage
            for note in json.loads(run.stdout)["notes"]:
                if note.startswith("embed: embedded "):
                    total += int(note.split()[2])
        return total

    first = both()
    for run in first:
        assert run.returncode == 0, run.stderr
    assert embedded(first) == 2  # the slice's two incidents, once between the two watchers
    status.stage = "resolved"
    second = both()
    for run in second:
        assert run.returncode == 0, run.stderr
    changes = [c["kind"] for run in first + second for c in json.loads(run.stdout)["changes"]]
    # both may find a change (they diff at once), the outbox's unique key records it once
    assert set(changes) == {"new", "resolved"}
    assert [m["change"]["kind"] for m in hook.got] == ["new", "resolved"]
    assert [(e["event_action"], e["dedup_key"]) for e in pd.got] == [
        ("trigger", KEY), ("resolve", KEY)]
    assert len(slack.got) == 2
    assert embedded(second) == 1  # the resolved incident's text changed: once again


@pytest.mark.slow  # waits one 30 s interval (the shortest allowed): ~40-50 s
def test_the_long_running_watch_polls_again_when_due(kb_home: Path,
                                                     httpserver: HTTPServer) -> None:
    """`kb watch` without --once: a round at start, the next when the source is due (30 s,
    no jitter), which finds the page's new update; one message per change."""
    status = StatusPage(httpserver)
    hook = Receiver(httpserver, "/hook", Response("{}", status=200))
    write_home(kb_home, httpserver,
               "[watch]\ninterval = 30\njitter = 0\nrefresh = false\n"
               f"[[alert]]\nkind = \"webhook\"\nname = \"hook\"\n"
               f"url = \"{httpserver.url_for('/hook')}\"\nmin_interval = 0\n")
    watcher = subprocess.Popen([sys.executable, "-u", "-m", "kb", "watch", "--json"],
                               env=kb_env(kb_home), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    rounds: list[dict[str, Any]] = []
    guard = threading.Timer(180, watcher.kill)  # a watcher that says nothing fails, not hangs
    guard.start()
    try:
        assert watcher.stdout is not None
        rounds.append(json.loads(watcher.stdout.readline()))
        first_done = time.monotonic()
        status.stage = "open2"
        rounds.append(json.loads(watcher.stdout.readline()))
        waited = time.monotonic() - first_done
    finally:
        guard.cancel()
        watcher.kill()
        watcher.communicate()
    assert [c["kind"] for c in rounds[0]["changes"]] == ["new"]
    assert [c["kind"] for c in rounds[1]["changes"]] == ["update"]
    assert rounds[1]["polled"] == ["anthropic"]
    assert 20 <= waited <= 90, waited  # the interval, not a busy loop
    assert [m["change"]["kind"] for m in hook.got] == ["new", "update"]
    assert status.requests == 2
