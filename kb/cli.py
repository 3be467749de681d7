"""`kb`: a thin command line over the library. Commands parse arguments, call one function,
format the output, and turn the documented errors (kb.errors) into one-line messages.

Heavy modules are imported inside the commands that need them so `kb --help` stays instant.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kb.errors import ConfigError, KbError, NotFound, SourceFailed
from kb.terminal import SafeConsole, escape_line

if TYPE_CHECKING:
    from kb.config import Settings
    from kb.pipeline import Line
    from kb.stage import RunReport

# Every byte the CLI prints goes through one of these: no markup, controls escaped (kb.terminal).
out = SafeConsole(soft_wrap=True)
err = SafeConsole(stderr=True, soft_wrap=True)  # a message is one line, even in a log

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
db_app = typer.Typer(help="Database schema: status and explicit upgrades.", no_args_is_help=True)
app.add_typer(db_app, name="db")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
EmbedFlag = Annotated[
    bool, typer.Option("--embed", help="Embed new or changed incidents at the end (kb embed).")
]


def parse_date(value: str | None, option: str) -> datetime | None:
    """A --since/--until style option as an aware UTC datetime; ConfigError if unreadable."""
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option}: not a date (use YYYY-MM-DD or ISO 8601): {value!r}") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def check_providers(names: Iterable[str | None], known: Iterable[str], where: str) -> None:
    """NotFound (exit 3, one line) for the first name not among `known`, with its close
    matches: the one check of every command that takes a provider slug. `where` says where
    slugs were looked for ("stored or in sources.toml")."""
    import difflib

    slugs = sorted(set(known))
    for name in names:
        if not name or name in slugs:
            continue
        # "google" → google-cloud, google-workspace: a slug's parts count as close, then
        # spelling (difflib) catches typos ("githb")
        parts = [s for s in slugs if name in s.split("-") or s.startswith(name)]
        close = parts + [s for s in difflib.get_close_matches(name, slugs, n=5, cutoff=0.6)
                         if s not in parts]
        hint = (f"; close matches: {', '.join(close[:5])}" if close
                else f"; known: {', '.join(slugs[:12])}{' …' if len(slugs) > 12 else ''}"
                if slugs else "; none are known yet (run `kb update` or `kb ingest`)")
        raise NotFound(f"no such provider: {name!r} (not {where}){hint}")


def known_providers(store: Any) -> set[str]:
    """Slugs a reading command accepts: every stored provider and every configured one."""
    from kb.config import load_settings, load_source_list

    configured = {s.slug for s in load_source_list(load_settings()).sources}
    return set(store.provider_pages()) | configured


@contextmanager
def open_writer():  # type: ignore[no-untyped-def]
    """(store, settings) for a command that writes: the KB_HOME writer lock is held, the
    schema created or upgraded (said on stderr), the store closed on exit."""
    from kb.config import load_settings
    from kb.lock import writer_lock
    from kb.store import Store

    settings = load_settings()
    with writer_lock(settings.home, timeout=settings.lock_timeout,
                     on_wait=lambda message: err.print(f"kb: {message}")):
        store, note = Store.open(settings.database_url, write=True)
        try:
            if note:
                err.print(f"kb: {note}")
            yield store, settings
        finally:
            store.close()


@contextmanager
def open_line(*, write: bool = True):  # type: ignore[no-untyped-def]
    """The configured store, archive and sources wired into a pipeline Line, with a progress
    bar on stderr. Writers hold the KB_HOME writer lock for the whole block."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from kb.config import load_source_list
    from kb.pipeline import Line
    from scrapers.archive import Archive

    with ExitStack() as stack:
        if write:
            store, settings = stack.enter_context(open_writer())
        else:
            store = stack.enter_context(open_store())
            from kb.config import load_settings

            settings = load_settings()
        listed = load_source_list(settings)
        progress = stack.enter_context(Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[label]}", style="dim", markup=False), console=err,
            transient=True,
            disable=not err.is_terminal,
        ))
        task = progress.add_task("payloads", total=None, label="")

        def advance(label: str) -> None:
            progress.update(task, advance=1, label=label[-60:])

        line = Line(store, Archive(settings.raw_dir), listed.sources, progress=advance)
        line.report.sources_in_use = listed.line()
        yield line, settings


def finish_run(report: RunReport, as_json: bool) -> None:
    """Print the run summary; exit 5 when any source failed."""
    if as_json:
        import json

        out.print_json(json.dumps({
            "sources": {name: vars(s) for name, s in sorted(report.sources.items())},
            "sources_in_use": report.sources_in_use,
            "stage_seconds": report.timings,
            "ignored": report.ignored,
            "notes": report.notes,
        }))
    else:
        from kb.present import print_run_summary

        print_run_summary(out, report)
        for note in report.notes:
            err.print(f"kb: {escape_line(note)}")
        if report.ignored:
            err.print(f"kb: ignored {len(report.ignored)} file(s) that are no status payload, "
                      f"e.g. {escape_line(str(report.ignored[0]))}")
        for name, s in sorted(report.sources.items()):
            for warning in s.warnings[:5]:
                err.print(f"warning: {escape_line(warning)}")
            if len(s.warnings) > 5:
                err.print(f"warning: {name}: {len(s.warnings) - 5} more warnings")
    for line in report.failures:
        err.print(f"error: {escape_line(line)}", style="red")
    if report.failures:
        raise SourceFailed(f"{len(report.failures)} source(s) failed; the others completed")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of recorded payloads.")],
    provider: Annotated[str | None, typer.Option(help="Provider slug when the payload's host is not in sources.toml.")] = None,  # noqa: E501
    embed: EmbedFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Import recorded payloads (Statuspage JSON, Atom/RSS feeds, archiver wrappers).

    Formats are detected by content. Re-importing the same files changes nothing.

    Example: kb ingest ../shared/corpus/statuspage_json/anthropic --embed
    """
    from kb.pipeline import ingest as run

    with open_line() as (line, settings):
        report = run(line, paths, provider=provider)
        _embed_after(line, settings, report, embed)
    finish_run(report, as_json)


def _embed_after(line: Line, settings: Settings, report: RunReport, embed: bool) -> None:
    """Run the embed stage after storing, when --embed asked for it."""
    if embed:
        from kb.pipeline import run_later_stages
        from kb.stage import StageContext

        run_later_stages(StageContext(line.store, settings, report), only=["embed"])


ShardOption = Annotated[str | None, typer.Option(
    "--shard", metavar="K/N",
    help="Scrape only share K of N of the pages (sha1 of the slug mod N): N workers, "
         "one database.")]


@app.command()
def scrape(
    providers: Annotated[list[str] | None, typer.Argument(help="Provider slugs (default: all enabled).")] = None,  # noqa: E501
    embed: EmbedFlag = False,
    shard: ShardOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Fetch the configured status pages (conditional GET, retries, politeness) and store them.

    Example: kb scrape anthropic openai --embed
    Example: kb scrape --shard 2/3
    """
    from kb.pipeline import parse_shard

    part = parse_shard(shard) if shard is not None else None
    with open_line() as (line, settings):
        report = _scrape(line, settings, providers or [], part)
        _embed_after(line, settings, report, embed)
    finish_run(report, as_json)


def _scrape(line: Line, settings: Settings, providers: list[str],
            shard: tuple[int, int] | None = None) -> RunReport:
    from kb.pipeline import in_shard
    from kb.pipeline import scrape as run
    from scrapers.fetch import Fetcher, FetchSettings

    chosen = [s for s in line.sources if (s.slug in providers if providers else s.enabled)]
    if shard is not None:
        every = len(chosen)
        chosen = [s for s in chosen if in_shard(s.slug, shard)]
        line.report.notes.append(f"shard {shard[0]}/{shard[1]}: {len(chosen)} of {every} "
                                 "page(s)")
    check_providers(providers, {s.slug for s in line.sources},
                    f"in the packaged list or {settings.sources_path}")
    bad = sorted(set(settings.fetch) - set(FetchSettings.__dataclass_fields__))
    if bad:
        raise ConfigError(f"unknown [fetch] settings: {', '.join(bad)}")
    with Fetcher(FetchSettings(**settings.fetch)) as fetcher:
        return run(line, fetcher, chosen)


@app.command()
def update(
    from_dir: Annotated[Path | None, typer.Option("--from", help="Run on recorded payloads in this folder instead of the network.")] = None,  # noqa: E501
    shard: ShardOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the whole job: scrape (or import --from DIR), normalize, store, then every later
    stage (embedding, linking, site, ...), holding the writer lock throughout.

    Example: kb update --from data/samples
    """
    from kb.pipeline import ingest, parse_shard, run_later_stages
    from kb.stage import StageContext

    part = parse_shard(shard) if shard is not None else None
    if part is not None and from_dir is not None:
        raise ConfigError("--shard splits the pages scraped; it has no meaning with --from")
    with open_line() as (line, settings):
        report = (ingest(line, [from_dir]) if from_dir is not None
                  else _scrape(line, settings, [], part))
        run_later_stages(StageContext(line.store, settings, report))
    finish_run(report, as_json)


@app.command()
def reparse(as_json: JsonFlag = False) -> None:
    """Rebuild the normalized tables from the raw archive alone (offline)."""
    from kb.pipeline import reparse as run

    with open_line() as (line, _settings):
        report = run(line)
    finish_run(report, as_json)


@contextmanager
def open_store():  # type: ignore[no-untyped-def]
    """The configured store for reading (an old schema asks for `kb db upgrade`)."""
    from kb.config import load_settings
    from kb.store import Store

    store, _ = Store.open(load_settings().database_url, write=False)
    try:
        yield store
    finally:
        store.close()


@app.command()
def incidents(
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    since: Annotated[str | None, typer.Option(help="First post on/after this date (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="First post before this date (UTC).")] = None,
    kind: Annotated[str | None, typer.Option(help="incident or maintenance.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many, newest first.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List incidents, newest first.

    Example: kb incidents --provider github --since 2023-01-01 --limit 20
    """
    from kb.present import incident_rows, print_incident_table

    with open_store() as store:
        check_providers([provider], known_providers(store), "stored or in sources.toml")
        found = list(store.incidents(provider=provider, since=parse_date(since, "--since"),
                                     until=parse_date(until, "--until"), kind=kind,
                                     newest_first=True, limit=limit))
    if as_json:
        import json

        out.print_json(json.dumps(incident_rows(found)))
    else:
        print_incident_table(out, found)


@app.command()
def show(
    key: Annotated[str, typer.Argument(help="PROVIDER/ID, e.g. anthropic/6304r9jjhj34")],
    as_json: JsonFlag = False,
) -> None:
    """Show one incident's timeline, with the news and forum threads linked to it.

    Example: kb show github/zzm4nczlpjyy --json
    """
    from kb.present import print_incident, public_dict
    from kb.signals.figures import incident_signals, print_signals, signals_json

    with open_store() as store:
        incident = store.get(key)
        revisions = store.revisions(key)
        linked = incident_signals(store, incident)
    if as_json:
        import json

        data = {**public_dict(incident), **signals_json(linked)}
        out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False)
    else:
        print_incident(out, incident, revisions)
        print_signals(out, linked)


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File (default stdout).")] = None,  # noqa: E501
) -> None:
    """Export every incident in a stable order (two exports of the same data are identical).

    Example: kb export --format csv -o incidents.csv
    """
    from kb.present import write_export

    if fmt not in ("jsonl", "csv"):
        raise ConfigError(f"--format must be jsonl or csv, not {fmt!r}")
    with open_store() as store:
        if output is None:
            write_export(store.incidents(), fmt, sys.stdout)
        else:
            tmp = output.with_name(output.name + ".tmp")
            with tmp.open("w", encoding="utf-8", newline="") as handle:
                count = write_export(store.incidents(), fmt, handle)
            tmp.replace(output)
            err.print(f"kb: wrote {count} incidents to {output}")


@app.command()
def stats(as_json: JsonFlag = False) -> None:
    """Incidents per provider, date range, phase coverage, sources and last fetch."""
    from kb.present import print_stats, stats_rows

    with open_store() as store:
        rows = store.stats()
    if as_json:
        import json

        out.print_json(json.dumps(stats_rows(rows)))
    else:
        print_stats(out, rows)


@db_app.command("status")
def db_status() -> None:
    """Print the database URL and its schema revision against this program's."""
    from kb.config import load_settings
    from kb.store.db import current_revisions, head_revisions, make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url)
    current = ", ".join(sorted(current_revisions(engine))) or "none (empty)"
    out.print(f"database: {engine.url.render_as_string(hide_password=True)}")
    out.print(f"schema:   {current}; this program: {', '.join(sorted(head_revisions()))}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade an older one in place (SQLite: after a backup copy)."""
    from kb.config import load_settings
    from kb.store.db import ensure_schema, make_engine

    note = ensure_schema(make_engine(load_settings().database_url), upgrade=True)
    out.print(f"kb: {note or 'schema already current'}")


def _register_feature_commands() -> None:
    """Feature packages add their commands in kb/commands/<feature>.py, each module exposing
    `register(app)`. Those modules import their heavy dependencies inside the commands."""
    import importlib
    import pkgutil

    import kb.commands

    for info in sorted(pkgutil.iter_modules(kb.commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"kb.commands.{info.name}").register(app)


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


_register_feature_commands()
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
