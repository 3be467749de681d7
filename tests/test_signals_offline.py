"""Offline, `kb signals fetch` fails fast: a host that does not resolve (`.invalid` never leaves
the machine, RFC 6761) is one line and exit 5 within seconds, not a minute of DNS retries."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES
from scrapers.errors import FetchError
from scrapers.fetch import Fetcher, FetchSettings

ROOT = Path(__file__).resolve().parents[1]
UNRESOLVABLE = "https://hn.algolia.invalid/api/v1"


def test_a_name_lookup_failure_is_not_retried() -> None:
    sleeps: list[float] = []
    settings = FetchSettings(retries=5, backoff_base=30.0, politeness_delay=0)
    started = time.monotonic()
    with Fetcher(settings, sleep=sleeps.append) as fetcher, pytest.raises(FetchError) as error:
        fetcher.get(UNRESOLVABLE + "/search_by_date")
    assert time.monotonic() - started < 5
    assert sleeps == []  # no back-off: one attempt
    assert "name not resolved" in str(error.value) and "\n" not in str(error.value)


def test_signals_fetch_offline_is_one_line_exit_5(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        (PACKAGED_SOURCES).read_text().split("[[signals.feed]]")[0]
        .replace('hn_api = "https://hn.algolia.com/api/v1"', f'hn_api = "{UNRESOLVABLE}"'),
        encoding="utf-8")
    assert UNRESOLVABLE in sources.read_text()
    env = dict(os.environ, KB_HOME=str(tmp_path / "home"), KB_SOURCES=str(sources))
    for name in ("KB_DATABASE_URL", "KB_CONFIG", "KB_HN_API"):
        env.pop(name, None)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "kb", "signals", "fetch", "--source", "hn",
                             "--source", "news"], capture_output=True, text=True, env=env,
                            timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 5, result.stderr + result.stdout
    lines = [line for line in result.stderr.strip().splitlines()
             if not line.startswith("kb: created database schema")]  # a new home's first run
    assert len(lines) == 1 and "no network" in lines[0] and "hn.algolia.invalid" in lines[0]
    assert elapsed < 20  # interpreter start and imports included; it was 59 s of retries
