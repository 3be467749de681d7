"""What every command shares: the two consoles, the store (one way to open it), the options
used by many commands, the progress bar, the fetch settings and the run summary.

Commands import from here, never from kb.cli (which only assembles the app). Heavy modules
load inside the functions, so `kb --help` stays instant.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kb.errors import ConfigError, NotFound, SourceFailed
from kb.terminal import SafeConsole, escape_line

if TYPE_CHECKING:
    from kb.config import Settings
    from kb.pipeline import Line
    from kb.stage import RunReport
    from kb.store import Store
    from scrapers.fetch import FetchSettings

# Every byte the CLI prints goes through one of these: no markup, controls escaped (kb.terminal).
out = SafeConsole(soft_wrap=True)
err = SafeConsole(stderr=True, soft_wrap=True)  # a message is one line, even in a log

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


def check_known(store: Any, names: Iterable[str | None]) -> None:
    """check_providers for a reading command: it accepts every stored provider and every
    configured one."""
    from kb.config import load_settings, load_source_list

    configured = {s.slug for s in load_source_list(load_settings()).sources}
    check_providers(names, set(store.provider_pages()) | configured, "stored or in sources.toml")


@contextmanager
def open_store(settings: Settings | None = None, *, write: bool = False) -> Iterator[Store]:
    """The configured store (settings: `load_settings()` unless given), closed on exit.

    Reading, an old schema asks for `kb db upgrade`. Writing (`write=True`), the KB_HOME
    writer lock is held for the whole block and the schema created or upgraded (said on
    stderr). The one way a command opens the store."""
    from kb.config import load_settings
    from kb.lock import writer_lock
    from kb.store import Store

    settings = settings or load_settings()
    with ExitStack() as stack:
        if write:
            stack.enter_context(writer_lock(
                settings.home, timeout=settings.lock_timeout,
                on_wait=lambda message: err.print(f"kb: {message}")))
        store, note = Store.open(settings.database_url, write=write)
        stack.callback(store.close)
        if note:
            err.print(f"kb: {note}")
        yield store


class Bar:
    """The run's progress on stderr, in the shapes the library's progress callbacks take:
    `bar(done, total)`, `bar.start(total)` + `bar.advance(n)`, `bar.step(label)` for one item
    done, and `bar.begin(stage)` as a later stage starts (kb.stage.StageProgress).

    On a terminal it is a rich bar naming the current stage. Piped (cron, CI, `| tee`) a bar
    would print nothing until the end, so it writes a plain line as each stage starts, one
    every PIPED_EVERY seconds while it works (stage, done/total, rate), and one as it ends."""

    PIPED_EVERY = 5.0

    def __init__(self, progress: Any, title: str, *, piped: bool) -> None:
        self._progress = progress
        self._task = progress.add_task(title, total=None, label="")
        self._piped = piped
        self._stage = title
        self._done = 0
        self._total: int | None = None
        self._began = self._said = time.monotonic()

    def __call__(self, done: int, total: int | None) -> None:
        self._progress.update(self._task, completed=done, total=total)
        self._done, self._total = done, total
        self._tick()

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)
        self._total = total
        self._tick()

    def advance(self, done: int = 1) -> None:
        self._progress.advance(self._task, done)
        self._done += done
        self._tick()

    def step(self, label: str) -> None:
        self._progress.update(self._task, advance=1, label=label[-60:])
        self._done += 1
        self._tick()

    def begin(self, stage: str) -> None:
        """A new stage: the bar restarts under its name (it no longer sits on the last file)."""
        self.finish()
        self._progress.update(self._task, description=stage, completed=0, total=None, label="")
        self._stage, self._done, self._total = stage, 0, None
        self._began = self._said = time.monotonic()
        if self._piped:
            err.print(f"kb: {escape_line(stage)} …")

    def finish(self) -> None:
        """The current stage's last line (piped only, and only when it counted something)."""
        if self._piped and self._done:
            self._say()

    def _tick(self) -> None:
        if self._piped and time.monotonic() - self._said >= self.PIPED_EVERY:
            self._say()

    def _say(self) -> None:
        now = time.monotonic()
        elapsed = max(now - self._began, 1e-9)
        of = f"/{self._total}" if self._total is not None else ""
        err.print(f"kb: {escape_line(self._stage)}: {self._done}{of} "
                  f"({self._done / elapsed:.1f}/s, {elapsed:.0f} s)")
        self._said = now


@contextmanager
def progress_bar(title: str, *, eta: bool = False, labels: bool = False) -> Iterator[Bar]:
    """The one progress display of the CLI: the stage's name, bar, done/total, then the time
    left (`eta`) or the current item's label (`labels`, shown dim and never parsed as
    markup); plain periodic lines instead when stderr is not a terminal (Bar)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [TextColumn("{task.description}", markup=False), BarColumn(),
                          MofNCompleteColumn()]
    if eta:
        columns.append(TimeRemainingColumn())
    if labels:
        columns.append(TextColumn("{task.fields[label]}", style="dim", markup=False))
    terminal = err.is_terminal
    with Progress(*columns, console=err, transient=True, disable=not terminal) as progress:
        bar = Bar(progress, title, piped=not terminal)
        yield bar
        bar.finish()


def fetch_settings(settings: Settings) -> FetchSettings:
    """kb.toml's [fetch] table as scrapers.fetch settings; ConfigError naming unknown keys."""
    from scrapers.fetch import FetchSettings

    bad = sorted(set(settings.fetch) - set(FetchSettings.__dataclass_fields__))
    if bad:
        raise ConfigError(f"unknown [fetch] settings: {', '.join(bad)}")
    for key, value in settings.fetch.items():
        default = FetchSettings.__dataclass_fields__[key].default
        whole = isinstance(default, int)
        number = (isinstance(value, int if whole else int | float)
                  and not isinstance(value, bool) and value >= 0)
        if not (number if isinstance(default, int | float) else isinstance(value, str)):
            kind = (f"{'a whole' if whole else 'a'} number of at least 0"
                    if isinstance(default, int | float) else "a string")
            raise ConfigError(f"{settings.config_path}: [fetch] {key} must be {kind}, "
                              f"not {value!r}")
    return FetchSettings(**settings.fetch)


@contextmanager
def open_line() -> Iterator[tuple[Line, Settings]]:
    """The configured store, archive and sources wired into a pipeline Line, with a progress
    bar on stderr, the KB_HOME writer lock held for the whole block."""
    from kb.config import load_settings, load_source_list
    from kb.pipeline import Line
    from scrapers.archive import Archive

    settings = load_settings()
    with open_store(settings, write=True) as store, \
            progress_bar("payloads", labels=True) as bar:
        listed = load_source_list(settings)
        line = Line(store, Archive(settings.raw_dir), listed.sources, progress=bar.step)
        line.stage_progress = bar
        line.report.sources_in_use = listed.line()
        yield line, settings


def finish_run(report: RunReport, as_json: bool) -> None:
    """Print the run summary; exit 5 when any source failed."""
    if as_json:

        print_json({
            "sources": {name: vars(s) for name, s in sorted(report.sources.items())},
            "sources_in_use": report.sources_in_use,
            "stage_seconds": report.timings,
            "ignored": report.ignored,
            "notes": report.notes,
        })
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


def print_json(data: object) -> None:
    """`data` as indented JSON on stdout, non-ASCII kept (vendor text), nothing highlighted."""
    import json

    out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)


def print_json_list(items: Iterable[object]) -> int:
    """A list as `print_json` prints it (the same bytes), one element at a time: a long
    listing is never held whole, as objects or as text. Returns the count."""
    import json

    count = 0
    for item in items:
        text = json.dumps(item, ensure_ascii=False, indent=2)
        # json.dumps escapes newlines inside strings, so each line of an element is a line of
        # its layout: indented by two, as inside the enclosing list
        out.print(("[\n" if count == 0 else ",\n") + "\n".join(
            "  " + line for line in text.split("\n")), end="", markup=False, highlight=False)
        count += 1
    out.print("\n]" if count else "[]", markup=False, highlight=False)
    return count

