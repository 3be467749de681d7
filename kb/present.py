"""Formatting incidents for people (rich tables) and for files (JSONL, CSV exports)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.measure import Measurement
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

from kb.model import CONTRADICTING_TIMES, LIFECYCLE_TIMES, Incident, contradicts
from kb.normalize.snapshots import describe_end
from kb.serialize import incident_to_dict, stamp
from kb.terminal import escape_controls, plain
from kb.timefmt import clock

if TYPE_CHECKING:
    from kb.stage import RunReport

CSV_COLUMNS = (
    "key", "provider", "native_id", "title", "url", "kind", "status", "impact", "severity",
    "components", *LIFECYCLE_TIMES, "impact_start", "impact_end", "impact_evidence", "updates",
    # A snapshot archive's bounded end (Lifecycle.end_not_before / end_not_after), last so the
    # columns before keep their places: empty `resolved_at` with these set is an end known
    # only between two times, never "open"; `end` says it in words (`describe_end`).
    "end_not_before", "end_not_after", "end",
)


def _short(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def duration(start: datetime | None, end: datetime | None) -> str:
    if contradicts(start, end):
        return CONTRADICTING_TIMES  # never a negative duration
    if not start or not end:
        return "-"
    return clock(int((end - start).total_seconds() // 60))


def _to_resolve(incident: Incident) -> str:
    """First post → resolved for `kb show`: a first post that already said resolved measures
    no time ("posted resolved", not "0m", as kb metrics and the site count it)."""
    life = incident.lifecycle
    if (incident.time_to_resolve is None and life.first_post_at and life.resolved_at
            and life.resolved_at == life.first_post_at):
        return "posted resolved"
    return duration(life.first_post_at, life.resolved_at)


def incident_row(i: Incident) -> dict[str, Any]:
    """One incident's entry in `kb incidents --json`."""
    return {
        "key": i.key, "title": i.title, "kind": i.kind.value, "status": i.status,
        "severity": i.stated_severity, "first_post_at": stamp(i.lifecycle.first_post_at),
        "resolved_at": stamp(i.lifecycle.resolved_at),
        # a snapshot archive's bounded end: resolved_at null is then no "open"
        "end_not_before": stamp(i.lifecycle.end_not_before),
        "end_not_after": stamp(i.lifecycle.end_not_after), "updates": len(i.updates),
        "url": i.url,
    }


def print_table(console: Console, table: Table) -> None:
    """Print a table to fit a terminal; whole where the output is no terminal.

    A pipe or a cron log has no width to fit, and rich would cut every table to 80 columns
    there ("github/9fk4…": a key nobody can use), so it is printed at its natural width, up
    to `PIPE_WIDTH` columns (long texts wrap beyond that)."""
    if console.is_terminal:
        console.print(table)
        return
    natural = Measurement.get(console, console.options.update_width(PIPE_WIDTH), table).maximum
    width = min(max(console.width, natural), PIPE_WIDTH)
    # Laid out at that width and printed uncropped through the same console, so a
    # recording or capturing console (tests, --json wrappers) still sees the table.
    console.print(Segments(console.render(table, console.options.update_width(width))),
                  crop=False)


PIPE_WIDTH = 240  # columns of a table printed to a pipe or file


def print_incident_table(console: Console, incidents: Sequence[Incident]) -> None:
    table = Table(title=f"{len(incidents)} incidents", title_justify="left")
    for column in ("first post (UTC)", "key", "title", "severity", "status", "duration"):
        # Keys fold rather than end in "…": a cut key cannot be passed to kb show.
        table.add_column(column, overflow="fold" if column == "key" else "ellipsis")
    for i in incidents:
        ttr = i.time_to_resolve
        table.add_row(_short(i.lifecycle.first_post_at), i.key, i.title, i.stated_severity,
                      i.status, duration(i.lifecycle.first_post_at, i.lifecycle.resolved_at)
                      if ttr is not None else "-")
    print_table(console, table)


def print_incident(
    console: Console, incident: Incident, revisions: Sequence[tuple[datetime, str, str]] = ()
) -> None:
    life = incident.lifecycle
    console.print(Text.assemble(plain(incident.title, "bold"), f"  ({incident.key})"))
    console.print(f"{incident.kind.value} · severity {incident.stated_severity} "
                  f"(vendor impact: {incident.impact or '-'}) · status {incident.status}")
    if incident.url:
        console.print(incident.url, markup=False)
    if incident.components:
        console.print("components: " + ", ".join(c.name for c in incident.components),
                      markup=False)
    console.print(
        f"first post {_short(life.first_post_at)} · identified {_short(life.identified_at)} · "
        f"monitoring {_short(life.monitoring_at)} · resolved {_short(life.resolved_at)} "
        f"({_to_resolve(incident)})"
    )
    if bounded := describe_end(incident, lambda t: _short(t) + " UTC"):
        console.print(f"end: {bounded}", markup=False)
    console.print(f"vendor: created {_short(life.vendor_created_at)} · started "
                  f"{_short(life.vendor_started_at)} · resolved {_short(life.vendor_resolved_at)}")
    window = incident.impact_window
    if window:
        console.print(f"impact window {_short(window.start)} → {_short(window.end)} "
                      f"({duration(window.start, window.end)}): “{window.evidence}”", markup=False)
    table = Table(title="Timeline (UTC)", title_justify="left", show_lines=True)
    for column in ("at", "phase", "label", "text"):
        table.add_column(column, overflow="fold")
    for u in incident.updates:
        phase = u.phase.value + (" (inferred)" if u.phase_inferred else "")
        table.add_row(u.at.strftime("%Y-%m-%d %H:%M:%S"), phase, u.label, u.text)
    print_table(console, table)
    if incident.unplaced:  # kept and shown, but read by no figure (Incident.unplaced)
        early = Table(title="Not placed (dated over a day before the incident was created; "
                            "in no figure)", title_justify="left", show_lines=True)
        for column in ("at", "phase", "label", "text"):
            early.add_column(column, overflow="fold")
        for u in incident.unplaced:
            early.add_row(u.at.strftime("%Y-%m-%d %H:%M:%S"), u.phase.value, u.label, u.text)
        print_table(console, early)
    if not incident.updates_complete:
        console.print("note: only the latest state was published; the update list is partial")
    for seen, channel, summary in revisions:
        console.print(f"vendor edit seen {_short(seen)} in {channel}: {summary}", markup=False)
    for s in incident.sources:
        console.print(f"source: {s.url} (fetched {_short(s.fetched_at)}, {s.format}, "
                      f"sha256 {s.sha256[:12]})", markup=False)


def public_dict(incident: Incident) -> dict[str, Any]:
    """The incident as exports and `kb show --json` give it: the stored form, with severity
    "unknown" where no source stated one (Incident.stated_severity), never "none"."""
    return {**incident_to_dict(incident), "severity": incident.stated_severity}


def write_export(incidents: Iterable[Incident], fmt: str, handle: IO[str]) -> int:
    """Write every incident as JSONL (the `kb show --json` object) or CSV. Returns the count.

    JSONL: json.dumps escapes C0 controls; DEL, C1 controls, lone surrogates and bidi
    controls are escaped too (`escape_controls` writes them as `\\uXXXX`, the JSON escape of
    the same character), so a line is exact and safe to print. CSV: every text cell goes
    through `csv_cell` (controls made visible, formulas neutralised)."""
    count = 0
    if fmt == "jsonl":
        for incident in incidents:
            handle.write(escape_controls(json.dumps(public_dict(incident),
                                                    ensure_ascii=False,
                                                    separators=(",", ":"))) + "\n")
            count += 1
        return count
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i in incidents:
        d = public_dict(i)
        life, window = d["lifecycle"], d["impact_window"] or {}
        writer.writerow(csv_cell(value) for value in [
            d["key"], d["provider"], d["native_id"], d["title"], d["url"], d["kind"],
            d["status"], d["impact"], d["severity"], "; ".join(c["name"] for c in d["components"]),
            *(life[name] for name in LIFECYCLE_TIMES), window.get("start"), window.get("end"),
            window.get("evidence"), len(d["updates"]), life.get("end_not_before"),
            life.get("end_not_after"), describe_end(i, lambda t: stamp(t) or "") or "",
        ])
        count += 1
    return count


# What a spreadsheet reads as the start of a formula (OWASP "CSV injection"): = + - @, and
# tab / carriage return, which some spreadsheets skip before looking for one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """One CSV cell, safe to open in a spreadsheet.

    Text starting with a formula character gets a leading single quote (OWASP's advice), so
    `=HYPERLINK(...)` is shown as text and never evaluated; controls are made visible
    (`escape_controls`). Numbers and None are written as they are: the only numeric column,
    `updates`, is a count and never negative, and every time is ISO 8601 (starts with a
    digit). The cost: a title that is itself a negative number ("-1") reads "'-1"."""
    if not isinstance(value, str):
        return value
    text = escape_controls(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def stats_rows(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "provider": r.provider, "name": r.name, "incidents": r.incidents,
            "maintenances": r.maintenances, "first": stamp(r.first), "last": stamp(r.last),
            "phase_coverage": {
                "identified": r.with_identified, "monitoring": r.with_monitoring,
                "resolved": r.with_resolved, "impact_window": r.with_impact_window,
            },
            "complete_update_lists": r.complete_updates, "payloads": r.sources,
            "last_fetch": stamp(r.last_fetch), "last_fetch_outcome": r.last_fetch_outcome,
            "coverage": {
                "from": stamp(r.first), "to": stamp(r.last), "months": r.months_spanned,
                "gap_months": list(r.gap_months),
                "full_update_share": round(r.complete_share, 4),
            },
        }
        for r in rows
    ]


def print_stats(console: Console, rows: Sequence[Any]) -> None:
    table = Table(title="Knowledge base", title_justify="left")
    for column in ("provider", "incidents", "maint.", "from", "to", "months (gaps)",
                   "full updates", "identified", "monitoring", "resolved", "impact window",
                   "payloads", "last fetch"):
        table.add_column(column)

    def share(part: int, whole: int) -> str:
        return f"{part} ({100 * part // whole}%)" if whole else "0"

    for r in rows:
        total = r.incidents + r.maintenances
        table.add_row(
            r.provider, str(r.incidents), str(r.maintenances), _short(r.first)[:10],
            _short(r.last)[:10], _gaps(r.months_spanned, r.gap_months),
            share(r.complete_updates, total),
            share(r.with_identified, total), share(r.with_monitoring, total),
            share(r.with_resolved, total), share(r.with_impact_window, total), str(r.sources),
            f"{_short(r.last_fetch)} {r.last_fetch_outcome or ''}".strip(),
        )
    print_table(console, table)
    gapped = [r for r in rows if r.gap_months]
    for r in gapped:
        shown = ", ".join(r.gap_months[:12]) + (" …" if len(r.gap_months) > 12 else "")
        console.print(f"{r.provider}: months with nothing held: {shown}", markup=False)


def _gaps(months: int, gaps: Sequence[str]) -> str:
    """Months spanned from first to last post, and how many hold nothing: "43 (2 gaps)"."""
    if not months:
        return "-"
    return f"{months} ({len(gaps)} gap{'s' if len(gaps) != 1 else ''})" if gaps else str(months)


_RUN_COLUMNS = ("source", "payloads", "already stored", "304", "new", "updated", "unchanged",
                "edits", "failed")


def print_run_summary(console: Console, report: RunReport) -> None:
    """The run summary: one row per source; new / updated / unchanged count distinct
    incidents (see kb.stage.SourceReport).

    Printed whole where the output is no terminal (`print_table`); a narrow terminal folds
    source names rather than cutting them."""
    table = Table(title="Run summary", title_justify="left")
    for column in _RUN_COLUMNS:
        table.add_column(column, justify="left" if column == "source" else "right",
                         overflow="fold" if column == "source" else "ellipsis")
    for name, s in sorted(report.sources.items()):
        table.add_row(name, str(s.docs), str(s.skipped_docs), str(s.not_modified),
                      str(s.new), str(s.updated), str(s.unchanged), str(s.revisions),
                      str(len(s.failed)), style="red" if s.failed else None)
    print_table(console, table)
    if report.sources_in_use:
        console.print(Text(escape_controls(report.sources_in_use)), soft_wrap=True)
    if report.timings:
        console.print(Text(stage_times(report.timings)), soft_wrap=True)


def stage_times(timings: dict[str, float]) -> str:
    """One line with each stage's wall time in run order, and the total:
    "time: import 3.4 s, link 0.2 s, embed 12.1 s, site 30.5 s, total 46.2 s"."""
    parts = [f"{name} {_seconds(value)}" for name, value in timings.items()]
    return "time: " + ", ".join([*parts, f"total {_seconds(sum(timings.values()))}"])


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
