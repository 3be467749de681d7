"""One writer at a time: an advisory lock file in KB_HOME held by every writing command.

Why a lock file on top of SQLite's own locking: SQLite serialises single transactions, but
two `kb update` runs interleaving their batches would each report the other's work and race
on the raw archive's manifest index; a whole-run lock makes a scheduled job that overlaps the
previous one wait its turn. Readers (kb show, kb search, kb site build) never take it: WAL
lets them read while a writer runs. The lock dies with its process (flock), so a killed run
never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kb.errors import DatabaseBusy

LOCK_NAME = "kb.lock"


@contextlib.contextmanager
def writer_lock(
    home: Path,
    *,
    timeout: float,
    on_wait: Callable[[str], None] = lambda _message: None,
    poll: float = 0.2,
) -> Iterator[None]:
    """Hold the writer lock of `home` for the duration of the block.

    Waits up to `timeout` seconds (calling `on_wait` once with a message naming the holder),
    then raises DatabaseBusy.
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
                if time.monotonic() >= deadline:
                    raise DatabaseBusy(
                        f"another kb process (pid {holder}) is writing to {home}; "
                        f"gave up after {timeout:g}s (set KB_LOCK_TIMEOUT to wait longer)"
                    ) from None
                if not told:
                    on_wait(f"waiting for another kb process (pid {holder}) to finish writing")
                    told = True
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # releases the flock
