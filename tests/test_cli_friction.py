"""First-hour CLI friction (issue #18), through the real CLI: an unknown provider is one line,
exit 3, with close matches, on every command that takes one; an empty signals table says why
and what to run; `--help` shows each example on its own line."""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path

import pytest
import typer

from kb.cli import app
from tests.conftest import invoke_kb as kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "signals"




def messages(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines()
            if not line.startswith("kb: created database schema")]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("friction")
    result = kb(home, "ingest", str(FIX / "anthropic_incidents_slice.json"))
    assert result.returncode == 0, result.stderr
    return home


def test_compare_names_no_such_provider_with_close_matches(home: Path) -> None:
    result = kb(home, "compare", "anthropic", "openai", "google")
    assert result.returncode == 3, result.stdout + result.stderr
    (line,) = messages(result)
    assert "no such provider: 'google'" in line
    assert "google-cloud" in line and "google-workspace" in line
    assert result.stdout == ""


@pytest.mark.parametrize("args", [
    ("incidents", "--provider", "githb"),
    ("metrics", "--provider", "githb"),
    ("causes", "--provider", "githb"),
    ("signals", "--provider", "githb"),
    ("signals", "fetch", "githb"),
    ("scrape", "githb"),
    ("backfill", "githb"),
    ("compare", "github", "githb"),
])
def test_every_provider_taking_command_refuses_an_unknown_one(home: Path,
                                                              args: tuple[str, ...]) -> None:
    result = kb(home, *args)
    assert result.returncode == 3, (args, result.stdout, result.stderr)
    (line,) = messages(result)
    assert "no such provider: 'githb'" in line and "close matches: github" in line


def test_empty_signals_table_says_why_and_what_to_run(home: Path, tmp_path: Path) -> None:
    result = kb(home, "signals", "--provider", "github")
    assert result.returncode == 0, result.stderr
    assert "0 signals" in result.stdout
    (line,) = messages(result)
    assert "no signals stored" in line and "kb ingest" in line and "kb signals fetch" in line
    # signals stored and linked, none about GitHub
    assert kb(home, "ingest", str(FIX / "corpus_news_items_slice.jsonl")).returncode == 0
    assert kb(home, "link").returncode == 0
    result = kb(home, "signals", "--provider", "github")
    (line,) = messages(result)
    assert "names or is linked to 'github'" in line and "kb link --force" in line
    listed = kb(home, "signals")
    assert listed.returncode == 0 and not messages(listed)  # rows: no hint


def commands(group, path: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    """Every command and group under `group` (typer's bundled click: duck-typed)."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))


def test_help_shows_each_example_on_its_own_line() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    checked = 0
    for path, command in commands(root):
        examples = [line.strip() for line in inspect.cleandoc(command.help or "").splitlines()
                    if line.strip().startswith("Example:")]
        if not examples:
            continue
        with root.context_class(command, info_name=" ".join(("kb", *path)),
                           terminal_width=80, max_content_width=80) as ctx:
            shown = [line.strip() for line in command.get_help(ctx).splitlines()]
        for example in examples:
            assert example in shown, (path, example, shown)
        checked += 1
    assert checked >= 20


def test_help_through_the_cli_keeps_search_examples_apart(tmp_path: Path) -> None:
    result = kb(tmp_path, "search", "--help")
    assert result.returncode == 0
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert sum(1 for line in lines if line.startswith("Example: kb search")) == 2
    assert not any("-k 5 Example:" in line for line in lines)
