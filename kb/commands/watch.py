"""`kb watch` (poll, store, notify; `--once` for one round), `kb alerts` (what was sent,
pending, failed) and `kb alerts test` (a sample to every target)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kb.commands.common import (
    JsonFlag,
    check_providers,
    err,
    fetch_settings,
    open_line,
    open_store,
    out,
    progress_bar,
)

if TYPE_CHECKING:
    from kb.watch.round import RoundReport

alerts_app = typer.Typer(
    help="Alerts: list what was sent, pending and failed; `kb alerts test` sends a sample.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add `kb watch` and `kb alerts` to the CLI."""
    app.command()(watch)
    app.add_typer(alerts_app, name="alerts")


def _targets(settings: Any) -> list[Any]:
    from kb.alerts.targets import load_targets

    return load_targets(settings.alerts, settings.config_path)


def watch(
    providers: Annotated[list[str] | None, typer.Argument(help="Provider slugs (default: all enabled).")] = None,  # noqa: E501
    once: Annotated[bool, typer.Option("--once", help="Poll every chosen source once, notify, and exit (for cron, timers, CI).")] = False,  # noqa: E501
    refresh: Annotated[bool | None, typer.Option("--refresh/--no-refresh", help="After a round that changed something, run the later stages (site, ...). Default: [watch] refresh, true.")] = None,  # noqa: E501
    as_json: JsonFlag = False,
) -> None:
    """Watch the status pages: poll each source at its interval (conditional GET, jitter,
    backoff on errors), store what they say as `kb scrape` does, and notify the [[alert]]
    targets of kb.toml of each new incident, phase change, new update, resolution, reopening
    and maintenance start — once per change, also across restarts. The first round on a new
    KB notifies only incidents still open. See docs/alerts.md.

    Example: kb watch --once
    Example: kb watch anthropic openai
    """
    import time

    from kb.config import load_settings, load_source_list
    from kb.errors import DatabaseBusy, SourceFailed
    from kb.terminal import escape_line
    from kb.watch.schedule import watch_settings

    settings = load_settings()
    targets = _targets(settings)
    config = watch_settings(settings.watch, settings.config_path)
    listed = load_source_list(settings).sources
    check_providers(providers or [], {s.slug for s in listed},
                    f"in the packaged list or {settings.sources_path}")
    chosen = [s for s in listed if (s.slug in providers if providers else s.enabled)]
    failed_any = False
    while True:
        try:
            report = _one_round(config, targets, chosen, once, refresh)
        except (DatabaseBusy, SourceFailed) as exc:
            if once:
                raise
            # the loop outlives a busy database (another writer's long run): next round
            err.print(f"kb watch: round skipped: {escape_line(str(exc))}", style="red")
            time.sleep(config.interval)
            continue
        failed_any = _print_round(report, as_json) or failed_any
        if once:
            break
        from kb.store.outbox import sources as schedule

        with open_store() as store:
            due = [s.next_due for slug, s in schedule(store).items()
                   if slug in {c.slug for c in chosen}]
        wait = (min(due) - datetime.now(UTC)).total_seconds() if due else config.interval
        time.sleep(min(max(wait, 1.0), config.max_backoff))  # until the next source is due
    if failed_any:
        raise SourceFailed("some sources or notifications failed; see above (failed "
                           "notifications are retried on the next round)")


def _one_round(config: Any, targets: list[Any], chosen: list[Any], once: bool,
               refresh: bool | None) -> RoundReport:
    """One round in three phases. The KB writer lock is held while the round fetches,
    stores and records its notifications, and again while it refreshes the later stages —
    never while it sends: a target that hangs must not block `kb scrape`/`kb update` of
    this home for its whole timeout. Sending needs no lock: the outbox rows are recorded
    and committed before, and a sender claims the rows it sends (kb.alerts.send)."""
    from kb.errors import DatabaseBusy
    from kb.watch.round import deliver, due_sources, observe, refresh_site, wants_refresh
    from scrapers.fetch import Fetcher

    now = datetime.now(UTC)
    with open_line() as (line, settings):
        polled = chosen if once else due_sources(line.store, chosen, now)
        with Fetcher(fetch_settings(settings)) as fetcher:
            report = observe(line, fetcher, settings, config, targets, polled,
                             followed=[s.slug for s in chosen], now=now)
    with open_store(settings) as store:  # no writer lock while sending
        deliver(store, targets, report, now=now, lease=config.lease)
    if wants_refresh(report, config, refresh):
        try:
            with open_store(settings, write=True) as store, \
                    progress_bar("later stages") as bar:
                refresh_site(store, settings, report.run, bar)
        except DatabaseBusy as exc:  # what was sent stays reported; the next round retries
            report.run.source("stage:refresh").failed.append(
                f"refresh skipped: {exc}; the next changing round or `kb update` does it")
    return report


def _print_round(report: RoundReport, as_json: bool) -> bool:
    """Print one round; True when a source or a notification failed."""
    from kb.terminal import escape_line

    failures = report.run.failures
    if as_json:
        out.print(json.dumps({
            "polled": report.polled, "first_look": report.first_look,
            "changes": [vars(c) for c in report.changes], "recorded": report.recorded,
            "sent": report.send.sent, "failed": report.send.failed, "held": report.send.held,
            "superseded": report.send.superseded, "unknown": report.send.unknown,
            "resent_in_doubt": report.send.resent_in_doubt,
            "source_failures": failures, "errors": report.errors,
            "unlisted": report.unlisted,
            "notes": report.run.notes,
        }, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
    else:
        for change in report.changes:
            out.print(f"change: {change.kind} {change.incident_key}: {change.summary}")
        for line in report.send.sent:
            out.print(f"sent: {line}")
        if report.first_look:
            err.print(f"kb: first look at {', '.join(report.first_look)}: only incidents "
                      "still open are notified")
        out.print(
            f"kb watch: {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: polled "
            f"{len(report.polled)} source(s), {len(report.changes)} change(s), "
            f"{report.recorded} notification(s) recorded, {len(report.send.sent)} sent, "
            f"{len(report.send.failed)} failed, {report.send.held} held back by rate limits")
        for note in report.run.notes:
            err.print(f"kb: {escape_line(note)}")
    for line in failures:
        err.print(f"error: {escape_line(line)}", style="red")
    for line in report.send.failed:
        err.print(f"error: alert: {escape_line(line)}", style="red")
    for line in report.send.unknown:
        err.print(f"warning: alert in doubt, not resent: {escape_line(line)}")
    for line in report.errors + report.unlisted:
        err.print(f"warning: {escape_line(line)}")
    return bool(failures or report.send.failed)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="Only rows in this state: pending, sending, sent, failed, unknown, superseded.")] = None,  # noqa: E501
    limit: Annotated[int, typer.Option(help="At most this many rows, newest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List the notifications: sent, pending, failed (with the reason), in doubt.

    Example: kb alerts --state failed
    Example: kb alerts test
    """
    if ctx.invoked_subcommand is not None:
        return
    from kb.errors import ConfigError
    from kb.present import print_table
    from kb.store import outbox

    if state is not None and state not in outbox.STATES:
        raise ConfigError(f"--state must be one of {', '.join(outbox.STATES)}, not {state!r}")
    with open_store() as store:
        rows = outbox.items(store, states=[state] if state else None, limit=limit)
        totals = outbox.counts(store)
    if as_json:
        out.print(json.dumps({"counts": totals, "items": [_row(i) for i in rows]},
                             ensure_ascii=False, indent=2), markup=False, highlight=False)
        return
    from rich.table import Table

    table = Table("id", "state", "target", "change", "incident", "recorded", "sent",
                  "tries", "last error")
    for item in rows:
        table.add_row(str(item.id), item.state, item.target, item.change_kind,
                      item.incident_key, f"{item.created_at:%Y-%m-%d %H:%M}",
                      f"{item.sent_at:%Y-%m-%d %H:%M}" if item.sent_at else "-",
                      str(item.attempts), (item.last_error or "")[:80])
    print_table(out, table)
    out.print(", ".join(f"{n} {s}" for s, n in sorted(totals.items())) or "no notifications")


def _row(item: Any) -> dict[str, Any]:
    from kb.serialize import stamp

    return {"id": item.id, "state": item.state, "target": item.target,
            "incident": item.incident_key, "change": item.change_kind,
            "change_id": item.change_id, "attempts": item.attempts,
            "recorded_at": stamp(item.created_at),
            "sent_at": stamp(item.sent_at),
            "next_try": stamp(item.next_try), "last_error": item.last_error,
            "headline": item.payload.get("change", {}).get("summary")}


@alerts_app.command("test")
def alerts_test(
    target: Annotated[str | None, typer.Option(help="Only the target of this name.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send a sample alert, labelled as a test, to every [[alert]] target (or one).

    Example: kb alerts test --target team-slack
    """
    from kb.alerts.message import sample_facts
    from kb.alerts.send import send_due
    from kb.config import load_settings
    from kb.errors import ConfigError, SourceFailed
    from kb.store import outbox
    from kb.terminal import escape_line

    settings = load_settings()
    targets = _targets(settings)
    if target is not None:
        targets = [t for t in targets if t.name == target]
        if not targets:
            raise ConfigError(f"no [[alert]] target named {target!r}")
    if not targets:
        raise ConfigError("no [[alert]] targets in kb.toml (see docs/alerts.md)")
    now = datetime.now(UTC)
    facts = sample_facts(now)
    with open_store(settings, write=True) as store:
        outbox.enqueue(store, [outbox.Intent(t.name, "example/test", "test", now.isoformat(),
                                             facts) for t in targets], now)
    with open_store(settings) as store:  # as `kb watch`: no writer lock while sending
        report = send_due(store, targets, now=now, change_kind="test")
    if as_json:
        out.print(json.dumps({"sent": report.sent, "failed": report.failed}),
                  markup=False, highlight=False)
    else:
        for line in report.sent:
            out.print(f"sent: {line}")
    for line in report.failed:
        err.print(f"error: alert: {escape_line(line)}", style="red")
    if report.failed:
        raise SourceFailed(f"{len(report.failed)} target(s) failed the test")
