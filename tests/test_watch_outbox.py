"""The alert outbox (kb.store.outbox) on SQLite and, with KB_TEST_POSTGRES_URL, PostgreSQL:
one row per change however often it is found, two senders never claim one row, a claim left
by a dead process is found in doubt."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kb.store import Store, outbox
from kb.store.outbox import Intent
from tests.conftest import reset_postgres

PG = os.environ.get("KB_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgresql":
        if not PG:
            pytest.skip("KB_TEST_POSTGRES_URL not set")
        reset_postgres(PG)
        url = PG
    else:
        url = f"sqlite:///{tmp_path / 'kb.db'}"
    opened, _ = Store.open(url, write=True)
    yield opened
    opened.close()


def intents(n: int, target: str = "hook") -> list[Intent]:
    return [Intent(target, f"acme/{i}", "new", "", {"n": i}) for i in range(n)]


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_the_same_change_is_one_row(store: Store) -> None:
    assert outbox.record_round(store, [], intents(3), NOW) == 3
    # found again (the next round, another watcher): nothing new
    assert outbox.record_round(store, [], intents(3), NOW + timedelta(minutes=2)) == 0
    assert outbox.counts(store) == {"pending": 3}
    # another target, or another identity of the change, is another row
    assert outbox.record_round(store, [], intents(1, "slack"), NOW) == 1
    assert outbox.enqueue(store, [Intent("hook", "acme/0", "resolved", "t1", {})], NOW) == 1


def test_two_senders_never_claim_one_row(store: Store) -> None:
    outbox.record_round(store, [], intents(200), NOW)
    claimed: list[list[int]] = []
    start = threading.Barrier(4)

    def sender() -> None:
        token = outbox.claim_token()
        start.wait()
        mine: list[int] = []
        while True:
            batch = outbox.claim(store, token, NOW, targets=["hook"], limit=7)
            if not batch:
                break
            mine += [item.id for item in batch]
            for item in batch:
                assert outbox.finish(store, item.id, token, state="sent", now=NOW)
        claimed.append(mine)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in claimed for i in ids]
    assert len(every) == len(set(every)) == 200
    assert outbox.counts(store) == {"sent": 200}


def test_only_the_claimant_records_the_result(store: Store) -> None:
    outbox.record_round(store, [], intents(1), NOW)
    [item] = outbox.claim(store, "me:1:x", NOW, targets=["hook"])
    assert not outbox.finish(store, item.id, "someone-else", state="sent", now=NOW)
    assert outbox.finish(store, item.id, "me:1:x", state="failed", now=NOW, error="HTTP 503",
                         next_try=NOW + timedelta(minutes=1))
    assert outbox.claim(store, "me:1:x", NOW, targets=["hook"]) == []  # not due yet
    [again] = outbox.claim(store, "me:1:y", NOW + timedelta(minutes=1), targets=["hook"])
    assert again.attempts == 1 and again.last_error == "HTTP 503"


def test_a_dead_claimant_leaves_its_rows_in_doubt(store: Store) -> None:
    outbox.record_round(store, [], intents(2), NOW)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{gone.stdout.strip()}:0000"
    [first] = outbox.claim(store, dead, NOW, targets=["hook"], limit=1)
    live = outbox.claim_token()
    [second] = outbox.claim(store, live, NOW, targets=["hook"], limit=1)
    doubtful = outbox.in_doubt(store, stale_before=NOW - timedelta(minutes=15))
    assert [i.id for i in doubtful] == [first.id]  # the live claim is not in doubt
    assert outbox.settle_doubt(store, doubtful[0], state="unknown", now=NOW, note="x")
    assert not outbox.settle_doubt(store, doubtful[0], state="pending", now=NOW, note="x")
    assert outbox.counts(store) == {"unknown": 1, "sending": 1}
    assert second.claim_token == live
