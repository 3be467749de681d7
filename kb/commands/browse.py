"""`kb incidents`, `kb show`, `kb export`, `kb stats`: reading the stored timelines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kb.commands.common import (
    JsonFlag,
    check_known,
    err,
    open_store,
    out,
    parse_date,
    print_json,
    print_json_list,
)
from kb.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add `kb incidents`, `kb show`, `kb export` and `kb stats` to the CLI."""
    for command in (incidents, show, export, stats):
        app.command()(command)


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
    from kb.present import incident_row, print_incident_table

    with open_store() as store:
        check_known(store, [provider])
        found = store.incidents(provider=provider, since=parse_date(since, "--since"),
                                until=parse_date(until, "--until"), kind=kind,
                                newest_first=True, limit=limit)
        if as_json:  # streamed: the whole listing is never held (kb.store.stream's note)
            print_json_list(incident_row(i) for i in found)
            return
        chosen = list(found)
    print_incident_table(out, chosen)


def show(
    key: Annotated[str, typer.Argument(help="PROVIDER/ID, e.g. anthropic/6304r9jjhj34")],
    as_json: JsonFlag = False,
) -> None:
    """Show one incident's timeline, with the news, forum threads and published postmortems
    linked to it.

    Example: kb show github/zzm4nczlpjyy --json
    """
    from kb.postmortems.figures import incident_postmortems, postmortems_json, print_postmortems
    from kb.present import print_incident, public_dict
    from kb.signals.figures import incident_signals, print_signals, signals_json

    with open_store() as store:
        incident = store.get(key)
        revisions = store.revisions(key)
        linked = incident_signals(store, incident)
        written = incident_postmortems(store, key)
    if as_json:
        data = {**public_dict(incident), **signals_json(linked), **postmortems_json(written)}
        print_json(data)
    else:
        print_incident(out, incident, revisions)
        print_signals(out, linked)
        print_postmortems(out, written)


def export(
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File (default stdout).")] = None,  # noqa: E501
) -> None:
    """Export every incident in a stable order (two exports of the same data are identical).

    Example: kb export --format csv -o incidents.csv
    """
    from kb.present import write_export
    from kb.store.stream import iter_incidents

    if fmt not in ("jsonl", "csv"):
        raise ConfigError(f"--format must be jsonl or csv, not {fmt!r}")
    with open_store() as store:
        # in batches: the same key order as Store.incidents(), and never the whole result at
        # once (psycopg's default cursor would fetch it all; kb.store.stream)
        if output is None:
            write_export(iter_incidents(store), fmt, sys.stdout)
        else:
            tmp = output.with_name(output.name + ".tmp")
            with tmp.open("w", encoding="utf-8", newline="") as handle:
                count = write_export(iter_incidents(store), fmt, handle)
            tmp.replace(output)
            err.print(f"kb: wrote {count} incidents to {output}")


def stats(as_json: JsonFlag = False) -> None:
    """Incidents per provider, date range, phase coverage, sources and last fetch."""
    from kb.present import print_stats, stats_rows

    with open_store() as store:
        rows = store.stats()
    if as_json:
        print_json(stats_rows(rows))
    else:
        print_stats(out, rows)
