"""`kb show` and `kb postmortems` through the real CLI (a subprocess), third-party text
escaped for the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.postmortems.stage import relink
from kb.signals.config import load_signal_config
from kb.store import Store

FIX = Path(__file__).parent / "fixtures" / "postmortems"
SOURCES = load_sources(PACKAGED_SOURCES)
TERMS = list(load_signal_config(PACKAGED_SOURCES, SOURCES).providers)


def kb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(PACKAGED_SOURCES), COLUMNS="220")
    env.pop("KB_DATABASE_URL", None)
    env.pop("KB_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True, text=True,
                          env=env, timeout=180)


def _relink(home: Path) -> None:
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    relink(store, TERMS)
    store.close()


@pytest.mark.slow  # ~25 s: imports AWS's data.json through the CLI
def test_show_lists_linked_postmortem(tmp_path: Path, corpus: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = kb(home, "ingest", str(corpus / "aws_health_json"), str(FIX))
    assert done.returncode == 0, done.stderr
    _relink(home)
    shown = kb(home, "show", "aws/management-console_1638894176", "--json")
    assert shown.returncode == 0, shown.stderr
    (written,) = json.loads(shown.stdout)["postmortems"]
    assert written["url"] == "https://aws.amazon.com/message/12721/"
    assert written["confidence"] == "high" and written["evidence"]["why"]
    table = kb(home, "show", "aws/management-console_1638894176")
    assert "Published postmortems" in table.stdout and "message/12721" in table.stdout


def test_listing_escapes_hostile_titles_and_says_why_unlinked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    hostile = tmp_path / "evil.md"
    hostile.write_bytes(b"---\nuuid: evil-1\nurl: https://evil.example/pm\n"
                        b"title: \"\\e]0;pwned\\a [red]Amazon[/red] outage\"\n"
                        b"company: Amazon\nproduct: EC2\n---\nThe outage.\n")
    assert kb(home, "ingest", str(hostile), str(FIX)).returncode == 0
    _relink(home)
    listed = kb(home, "postmortems", "--provider", "aws")
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert "[red]Amazon[/red]" in listed.stdout  # shown as text, never as markup
    rows = json.loads(kb(home, "postmortems", "--unlinked", "--json").stdout)
    evil = next(r for r in rows if r["url"] == "https://evil.example/pm")
    assert evil["incidents"] == [] and evil["status"] == "undated" and evil["reason"]


def test_bad_document_fails_alone_with_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "broken.md").write_bytes(b"---\nuuid: x\nurl: [\ncompany: A\n---\nbody\n")
    (inbox / "aws.md").write_bytes((FIX / "icco" / "adc3b69d-9cb8-40d7-941c-f63316a72eb6.md")
                                   .read_bytes())
    done = kb(home, "ingest", str(inbox))
    assert done.returncode == 5, done.stdout + done.stderr  # some sources failed
    lines = [line for line in done.stderr.splitlines() if "broken.md" in line]
    assert len(lines) == 1 and "front matter is not YAML" in lines[0]
    again = kb(home, "ingest", str(inbox))  # the good one is stored once; rerun changes nothing
    assert "aws.md" not in again.stderr
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=False)
    from kb.store.postmortems import load_items

    assert [i.record.url for i in load_items(store)] == ["https://aws.amazon.com/message/12721/"]
    store.close()


def test_unknown_provider_is_not_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert kb(home, "ingest", str(FIX / "icco")).returncode == 0
    done = kb(home, "postmortems", "--provider", "awz")
    assert done.returncode == 3 and "awz" in done.stderr
