"""`kb signals` (list, fetch) and `kb link`: news and forum threads linked to incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from kb.commands.common import (
    JsonFlag,
    check_known,
    check_providers,
    err,
    fetch_settings,
    finish_run,
    open_line,
    open_store,
    out,
    parse_date,
    print_json,
)
from kb.present import print_table


def register(app: typer.Typer) -> None:
    """Add `kb signals` (with `kb signals fetch`) and `kb link` to the app."""
    signals_app = typer.Typer(invoke_without_command=True)
    signals_app.callback(invoke_without_command=True)(list_signals)
    signals_app.command("fetch")(fetch)
    app.add_typer(signals_app, name="signals")
    app.command("link")(link)


def list_signals(
    ctx: typer.Context,
    provider: Annotated[str | None, typer.Option(help="Only signals naming or linked to this provider.")] = None,  # noqa: E501
    since: Annotated[str | None, typer.Option(help="Only signals on/after this date (UTC).")] = None,  # noqa: E501
    unofficial: Annotated[bool, typer.Option("--unofficial", help="List unofficial incident candidates instead.")] = False,  # noqa: E501
    unlinked: Annotated[bool, typer.Option("--unlinked", help="List late and news items about an outage that link to no incident, with the incidents considered and why none.")] = False,  # noqa: E501
    limit: Annotated[int | None, typer.Option(help="At most this many, newest first.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List stored signals, newest first, with the incidents they are linked to.

    Example: kb signals --provider anthropic --since 2026-08-01 --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from kb.store.signals import get_state, links, signals
    from kb.store.signals import unofficial as candidates

    since_at = parse_date(since, "--since")
    with open_store() as store:
        check_known(store, [provider])
        if unofficial:
            _print_unofficial(candidates(store, provider=provider), as_json)
            return
        if unlinked:
            from kb.config import load_settings
            from kb.signals.stage import config_for, unlinked_late

            found_unlinked = unlinked_late(store, config_for(load_settings()), provider)
            _print_unlinked(found_unlinked[:limit] if limit else found_unlinked, as_json)
            return
        found = signals(store, since=since_at)
        stored = len(found) if since_at is None else len(signals(store))
        linked: dict[str, list] = {}
        for item in links(store):
            linked.setdefault(item.signal_id, []).append(item)
        never_linked = get_state(store, "link_inputs") is None
        stale = never_linked and bool(found)
    if provider:
        found = [s for s in found if provider in s.providers
                 or any(k.provider == provider for k in linked.get(s.id, []))]
    found = found[:limit] if limit else found
    if not found:
        err.print(f"kb: {_why_empty(stored, since, provider, never_linked)}")
    if as_json:
        from kb.store.signals import signal_to_dict

        rows = [dict(signal_to_dict(s), links=[
            {"incident": k.incident_key, "score": k.score, "confidence": k.confidence,
             "rule": k.rule, "evidence": k.evidence} for k in linked.get(s.id, [])])
            for s in found]
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title=f"{len(found)} signals", title_justify="left")
    for column in ("time (UTC)", "source", "kind", "title", "points", "comments", "linked to"):
        table.add_column(column, overflow="fold")
    for s in found:
        targets = ", ".join(f"{k.incident_key} ({k.confidence} {k.score:.2f})"
                            for k in linked.get(s.id, [])) or "-"
        table.add_row(s.created_at.strftime("%Y-%m-%d %H:%M") if s.created_at else "-",
                      "+".join(sorted({x.source for x in s.sources})), s.kind, s.title,
                      str(s.points if s.points is not None else "-"),
                      str(s.comments if s.comments is not None else "-"), targets)
    print_table(out, table)
    if stale and found:
        err.print("kb: signals were stored but never linked: run `kb link`")


def _why_empty(stored: int, since: str | None, provider: str | None,
               never_linked: bool) -> str:
    """Why `kb signals` lists nothing, and what to run (one line)."""
    if stored == 0:
        return ("no signals stored: import recorded dumps (`kb ingest ../shared/corpus/signals`"
                " or `kb update --from DIR`) or fetch them (`kb signals fetch`)")
    if since:
        return f"none of the {stored} stored signals is on/after {since}"
    if never_linked:
        return (f"{stored} signals stored but never linked to incidents: run `kb link`"
                f"{'' if provider is None else f' (then `kb signals --provider {provider}`)'}")
    return (f"none of the {stored} stored signals names or is linked to {provider!r}: "
            "`kb signals` lists them all; `kb link --force` relinks after new incidents")


def _print_unlinked(found: list, as_json: bool) -> None:
    """Late and news items left unlinked, with the incidents considered (kb.signals.stage)."""
    if as_json:
        from kb.store.signals import signal_to_dict

        print_json([dict(signal_to_dict(u.signal), provider=u.provider,
                         considered=list(u.considered)) for u in found])
        return
    from rich.table import Table

    from kb.terminal import plain  # third-party titles: text, never rich markup or controls

    table = Table(title=f"{len(found)} late or news items linked to no incident",
                  title_justify="left")
    for column in ("time (UTC)", "provider", "title", "considered", "why not linked"):
        table.add_column(column, overflow="fold")
    for u in found:
        for index, c in enumerate(u.considered):
            first = index == 0
            table.add_row(
                u.signal.created_at.strftime("%Y-%m-%d %H:%M") if first and u.signal.created_at
                else ("-" if first else ""), u.provider if first else "",
                plain(u.signal.title) if first else "", plain(str(c.get("incident_key") or "-")),
                plain(str(c.get("why", ""))))
    print_table(out, table)


def _print_unofficial(found: list, as_json: bool) -> None:

    if as_json:
        from kb.serialize import stamp

        print_json([
            {"key": u.key, "provider": u.provider, "start": stamp(u.start),
             "end": stamp(u.end), "signals": list(u.signal_ids), "titles": list(u.titles),
             "source_families": list(u.source_families), "score": u.score} for u in found])
        return
    from rich.table import Table

    table = Table(title=f"{len(found)} unofficial incident candidates (no official post)",
                  title_justify="left")
    for column in ("key", "from (UTC)", "to", "signals", "sources", "titles"):
        table.add_column(column, overflow="fold")
    for u in found:
        table.add_row(u.key, u.start.strftime("%Y-%m-%d %H:%M"), u.end.strftime("%H:%M"),
                      str(len(u.signal_ids)), ", ".join(u.source_families),
                      " | ".join(u.titles[:3]))
    print_table(out, table)


def fetch(
    providers: Annotated[list[str] | None, typer.Argument(help="Provider slugs (default: every enabled one).")] = None,  # noqa: E501
    source: Annotated[list[str] | None, typer.Option("--source", help="hn, news or reddit (repeatable; default all).")] = None,  # noqa: E501
    since: Annotated[str | None, typer.Option(help="Stories created on/after this date (default: 7 days ago).")] = None,  # noqa: E501
    until: Annotated[str | None, typer.Option(help="... and before this date (default: now).")] = None,  # noqa: E501
    articles: Annotated[bool, typer.Option("--articles/--no-articles", help="Fetch the article pages of news items.")] = True,  # noqa: E501
    as_json: JsonFlag = False,
) -> None:
    """Fetch Hacker News stories (Algolia API), news feeds with their articles and reddit,
    store them, and link them to incidents.

    Example: kb signals fetch anthropic --source hn --since 2026-08-01
    """
    from dataclasses import replace

    from kb.errors import ConfigError
    from kb.signals.fetch import SOURCES, FetchPlan, fetch_signals
    from kb.signals.stage import config_for, relink
    from scrapers.fetch import Fetcher

    chosen_sources = tuple(source or SOURCES)
    bad = sorted(set(chosen_sources) - set(SOURCES))
    if bad:
        raise ConfigError(f"--source: unknown {', '.join(bad)} (known: {', '.join(SOURCES)})")
    now = datetime.now(UTC)
    start = parse_date(since, "--since") or now - timedelta(days=7)
    end = parse_date(until, "--until") or now
    with open_line() as (line, settings):
        config = config_for(settings)
        check_providers(providers or [], {s.slug for s in line.sources},
                        f"in the packaged list or {settings.sources_path}")
        slugs = tuple(providers or [s.slug for s in line.sources if s.enabled])
        fetching = fetch_settings(settings)
        plan = FetchPlan(slugs, start, end, chosen_sources, articles)
        with Fetcher(fetching) as fetcher, Fetcher(
                replace(fetching, max_bytes=config.article_max_bytes),
                untrusted=True) as article_fetcher:  # links in feeds: third-party URLs
            fetch_signals(line, fetcher, article_fetcher, config, plan, fetching)
        line.report.notes.append("link: " + relink(line.store, config).line())
        report = line.report
    finish_run(report, as_json)


def link(
    force: Annotated[bool, typer.Option("--force", help="Relink even when nothing changed.")] = False,  # noqa: E501
    as_json: JsonFlag = False,
) -> None:
    """Re-run linking over stored signals and incidents (stories, links, unofficial
    incident candidates). Does nothing when no input changed since the last run.

    Example: kb link --force
    """
    from kb.signals.stage import config_for, relink

    with open_line() as (line, settings):
        report = relink(line.store, config_for(settings), force=force)
    if as_json:
        print_json({"signals": report.signals, "links": report.links,
                                   "by_confidence": report.by_confidence,
                                   "unofficial": report.unofficial,
                                   "skipped": report.skipped})
    else:
        out.print(f"kb link: {report.line()}")
