"""kb.commands.common: the pieces every command shares, checked through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES


def kb(home: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(PACKAGED_SOURCES),
               KB_CONFIG=str(config), COLUMNS="200")
    env.pop("KB_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("args", [
    ("scrape", "anthropic"),
    ("backfill", "github"),
    ("signals", "fetch", "anthropic", "--source", "hn"),  # was a bare TypeError (issue #20)
])
def test_every_fetching_command_names_an_unknown_fetch_setting(tmp_path: Path,
                                                               args: tuple[str, ...]) -> None:
    config = tmp_path / "kb.toml"
    config.write_text("[fetch]\npoliteness_delay = 0\npolitness_delay = 1\n", encoding="utf-8")
    result = kb(tmp_path / "home", config, *args)
    assert result.returncode == 2, result.stderr
    # one line naming the key (after the schema note of a fresh home)
    assert result.stderr.splitlines()[-1] == "kb: unknown [fetch] settings: politness_delay"
    assert "Traceback" not in result.stderr
