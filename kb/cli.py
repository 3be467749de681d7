"""`kb`: a thin command line over the library. Commands (kb/commands/, one module per
concept) parse arguments, call one function and format the output; this module assembles
them into the app and turns the documented errors (kb.errors) into one-line messages.

Heavy modules are imported inside the commands that need them so `kb --help` stays instant.
"""

from __future__ import annotations

import sys

import typer

from kb.commands import (
    analysis,
    backfill,
    browse,
    db,
    postmortem,
    postmortems,
    run,
    search,
    signals,
    site,
    watch,
)
from kb.commands.common import err
from kb.errors import KbError
from kb.terminal import escape_line

app = typer.Typer(
    name="kb",
    help="""Outage knowledge base: status pages → normalized incident timelines.

Examples:

  kb update --from data/samples      # offline: import the bundled sample

  kb scrape anthropic openai         # fetch live status pages

  kb ingest ../archive/ --provider github

  kb incidents --provider anthropic --since 2026-09-01

  kb show anthropic/6304r9jjhj34 --json

Settings: KB_HOME (default ./data), KB_DATABASE_URL, KB_SOURCES, KB_CONFIG (kb.toml).
Exit codes: 0 ok, 1 error, 2 config, 3 not found, 4 schema, 5 some sources failed, 6 busy.""",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# The command modules, in the order `kb --help` lists them. Each defines `register(app)`;
# a new command is a new module in kb/commands/ plus its name here (and in the import).
COMMANDS = (run, browse, db, analysis, backfill, postmortem, postmortems, search, signals, site,
            watch)
for _module in COMMANDS:
    _module.register(app)


def _examples_on_own_lines(typer_app: typer.Typer) -> None:
    """Mark each docstring's run of `Example:` lines with click's no-rewrap marker (a `\\b`
    line), so `--help` shows one example a line instead of joining them into one paragraph.
    Done once for every command and group, so a new command's examples need nothing."""
    import inspect

    def fix(callback: object) -> None:
        doc = inspect.getdoc(callback)
        if not doc or "Example:" not in doc or "\b" in doc.splitlines():
            return
        lines, previous = [], ""
        for line in doc.splitlines():
            if line.startswith("Example:") and not previous.startswith("Example:"):
                if lines and lines[-1].strip():
                    lines.append("")
                lines.append("\b")
            lines.append(line)
            previous = line
        callback.__doc__ = "\n".join(lines)  # type: ignore[attr-defined]

    for command in typer_app.registered_commands:
        fix(command.callback)
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            if sub.registered_callback is not None:
                fix(sub.registered_callback.callback)
            _examples_on_own_lines(sub)


_examples_on_own_lines(app)


def main() -> None:
    """Console entry point: run the app, mapping kb errors to one line and an exit code.

    Usage errors (an unknown option, a missing argument, `--limit abc`) are raised by the
    click that typer bundles (`typer._click`, subclasses of `typer.TyperException`), not by
    the `click` package: each becomes one line on stderr and exit 2, like a ConfigError."""
    try:
        code = app(standalone_mode=False, prog_name="kb")
    except KbError as exc:
        err.print(f"kb: {escape_line(str(exc))}", style="red")
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("kb: aborted")
        sys.exit(130)
    except typer.TyperException as exc:
        sys.exit(_usage_error(exc))
    except Exception as exc:
        from kb.store.db import database_lost

        lost = database_lost(exc)  # the server went away mid-run: one line, not a traceback
        if lost is None:
            raise
        err.print(f"kb: {escape_line(str(lost))}", style="red")
        sys.exit(lost.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: typer.TyperException) -> int:
    """Print a usage error as one line (`kb show: Missing argument 'KEY'. Try 'kb show
    --help'.`) and return its exit code: 2 for usage errors, click's own code otherwise.
    `kb` or `kb db` alone print their help, as click does, and exit 2."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        err.print(ctx.get_help())
        return 2
    where = ctx.command_path if ctx is not None else "kb"
    message = " ".join(exc.format_message().split())
    hint = f" Try '{where} --help'." if ctx is not None else ""
    err.print(f"{where}: {message}{hint}", style="red")
    return getattr(exc, "exit_code", 2) or 2
