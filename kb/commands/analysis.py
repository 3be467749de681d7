"""`kb metrics`, `kb clusters`, `kb compare`, `kb causes`: the analysis of stored timelines.

Everything here only reads, except `kb causes --refresh`, which takes the writer lock (as
`kb update` does when it runs the "analysis" stage). Heavy imports live inside the commands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from kb.present import print_table

if TYPE_CHECKING:
    from kb.store import Store

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PeriodOpt = Annotated[str, typer.Option(
    "--period", help="30d, 90d, 365d (any Nd, ending at --end), YYYY-MM, YYYY, months, all; "
                     "several comma-separated.")]
EndOpt = Annotated[str | None, typer.Option(
    "--end", help="End of rolling periods (UTC date or ISO time; default: now).")]


def _print_json(data: object) -> None:
    import json

    from kb.cli import out

    out.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)


def _periods(text: str, end: datetime, span: tuple[datetime, datetime] | None):  # type: ignore[no-untyped-def]
    from kb.analysis.periods import parse_period

    return [p for part in text.split(",") if part.strip()
            for p in parse_period(part, end=end, span=span)]


def metrics(
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    period: PeriodOpt = "90d",
    end: EndOpt = None,
    component: Annotated[str | None, typer.Option(help="Only this component (exact name).")] = None,
    components: Annotated[bool, typer.Option("--components", help="Add a row per component.")] = False,  # noqa: E501
    incident: Annotated[str | None, typer.Option(help="Figures of one incident (PROVIDER/ID).")] = None,  # noqa: E501
    as_json: JsonFlag = False,
) -> None:
    """Reliability figures per provider and period: incidents by severity, impact and
    resolution times (median and 90th percentile), uptime recomputed from impact windows
    (major 1.0, partial/minor 0.3, maintenance 0; overlaps counted once) as % and nines.
    Time the KB holds no data for is reported as unknown, never as up.

    Example: kb metrics --provider github --period 30d,90d,365d --end 2023-10-01
    """
    from kb.analysis import dataset
    from kb.analysis.reliability import component_figures, group_figures, reliability_table
    from kb.analysis.report import (
        group_dict,
        incident_dict,
        print_incident_figures,
        print_metrics,
    )
    from kb.cli import open_store, out, parse_date
    from kb.errors import NotFound

    stop = parse_date(end, "--end") or datetime.now(UTC)
    with open_store() as store:
        if incident is not None:
            chosen = store.get(incident)
            data = dataset.load(store, [chosen.provider])
            figures = data.by_key[incident]
            tags = data.causes.get(incident, [])
            if as_json:
                _print_json(incident_dict(figures, tags))
            else:
                print_incident_figures(out, figures, tags)
            return
        data = dataset.load(store, [provider] if provider else None, with_causes=False)
    if provider and provider not in data.figures and provider not in data.coverages:
        raise NotFound(f"no incidents of provider {provider!r} in the KB (see `kb stats`)")
    periods_for = {p: _periods(period, stop, (c.start, c.end) if (c := data.coverages.get(p))
                               and c.start and c.end else None) for p in data.figures}
    if component:
        rows = [component_figures(data.figures[p], data.coverages.get(p), per, provider=p,
                                  component=component)
                for p in sorted(data.figures) for per in periods_for[p]]
        rows = [r for r in rows if r.incidents or r.status != "unknown"]
    else:
        rows = reliability_table(data.figures, data.coverages, periods_for,
                                 components=components)
    if not rows and provider:
        rows = [group_figures([], None, per, provider=provider)
                for per in _periods(period, stop, None)]
    if as_json:
        _print_json({"coverage_basis": {p: c.basis for p, c in data.coverages.items()},
                     "rows": [group_dict(r) for r in rows]})
    else:
        print_metrics(out, rows, {p: c.basis for p, c in data.coverages.items()
                                  if p in data.figures})


def clusters(
    since: Annotated[str | None, typer.Option(help="Only incidents ending on/after this date.")] = None,  # noqa: E501
    until: Annotated[str | None, typer.Option(help="Only incidents starting before this date.")] = None,  # noqa: E501
    as_json: JsonFlag = False,
) -> None:
    """Incidents of different providers that overlap in time and share evidence (a region
    like "us-east-1", a vendor name, one naming the other, a cause), and the same outage
    posted on two pages of one vendor. Each link shows its evidence.

    Example: kb clusters --since 2026-07-01 --json
    """
    from kb.analysis import dataset
    from kb.analysis.clusters import find_clusters
    from kb.analysis.report import cluster_dict, print_clusters
    from kb.cli import open_store, out, parse_date

    with open_store() as store:
        data = dataset.load(store)
    found = find_clusters(data.incidents, data.by_key, data.causes,
                          since=parse_date(since, "--since"), until=parse_date(until, "--until"),
                          vendors=data.vendors, aliases=data.aliases)
    if as_json:
        _print_json([cluster_dict(c) for c in found])
    else:
        print_clusters(out, found)


def compare(
    providers: Annotated[list[str], typer.Argument(help="Two or more provider slugs.")],
    period: Annotated[str, typer.Option(help="30d, 90d, 365d (any Nd), YYYY-MM or YYYY.")] = "90d",
    end: EndOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Providers side by side: incidents, impact time, uptime and nines, time to resolve,
    most common causes, and the hours two of them were down at once (a fallback that fails
    together is no fallback). A provider the KB has no data for shows as unknown.

    Example: kb compare anthropic openai google --period 90d
    """
    from kb.analysis import dataset
    from kb.analysis.compare import compare as run
    from kb.analysis.report import comparison_dict, print_comparison
    from kb.cli import open_store, out, parse_date
    from kb.errors import ConfigError

    if len(providers) < 2:
        raise ConfigError("compare needs at least two providers")
    if period.strip().lower() in ("months", "all") or "," in period:
        raise ConfigError("--period for compare is one period: Nd, YYYY-MM or YYYY")
    chosen = _periods(period, parse_date(end, "--end") or datetime.now(UTC), None)[0]
    with open_store() as store:
        data = dataset.load(store, providers)
    result = run(providers, data.figures, data.coverages, data.causes, chosen, data.names)
    if as_json:
        _print_json(comparison_dict(result))
    else:
        print_comparison(out, result)


def causes(
    key: Annotated[str | None, typer.Argument(help="PROVIDER/ID: one incident's tags.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Tag new and changed incidents and store the tags (takes the writer lock).")] = False,  # noqa: E501
    embedding: Annotated[bool, typer.Option("--embedding/--no-embedding", help="With --refresh: use the embedding step when a model is available.")] = True,  # noqa: E501
    as_json: JsonFlag = False,
) -> None:
    """Contributing-factor tags (auth, DNS, TLS, config/deploy, capacity, dependency,
    network, database/storage, data loss, security, hardware/power, rate limiting, model
    quality, unknown), each with the sentence it was read from and how it was made.

    Example: kb causes github/zzm4nczlpjyy
    """
    from kb.cli import err, open_store, out

    if refresh:
        _refresh(embedding)
    with open_store() as store:
        if key is not None:
            _one(store, key, as_json)
            return
        from kb.analysis.causes import LABELS, Cause, counts
        from kb.analysis.stage import causes_for
        from kb.store.analysis import stored_causes

        incidents = [i for i in store.incidents(provider=provider) if i.kind.value == "incident"]
        stored = stored_causes(store, provider=provider)
        tags = causes_for(store, incidents)
    live = sum(1 for i in incidents if i.key not in stored)
    by_provider: dict[str, dict[str, int]] = {}
    for slug in sorted({i.provider for i in incidents}):
        by_provider[slug] = counts(tags[i.key] for i in incidents if i.provider == slug)
    if as_json:
        _print_json({"incidents": len(incidents), "computed_now": live,
                     "by_provider": by_provider})
        return
    from rich.table import Table

    table = Table(title=f"Cause tags of {len(incidents)} incidents", title_justify="left")
    table.add_column("provider")
    shown = [c for c in Cause if any(c.value in v for v in by_provider.values())]
    for c in shown:
        table.add_column(LABELS[c], justify="right")
    for slug, tally in by_provider.items():
        table.add_row(slug, *(str(tally.get(c.value, 0)) for c in shown))
    print_table(out, table)
    if live:
        err.print(f"kb: {live} incident(s) had no stored tags; tagged now by the rules "
                  "(run `kb causes --refresh` or `kb update` to store them)", markup=False)


def _one(store: Store, key: str, as_json: bool) -> None:
    from rich.text import Text

    from kb.analysis.metrics import incident_figures
    from kb.analysis.report import print_tags, tag_dict
    from kb.analysis.stage import causes_for
    from kb.cli import out
    from kb.terminal import plain

    incident = store.get(key)
    tags = causes_for(store, [incident])[key]
    if as_json:
        _print_json({"key": key, "causes": [tag_dict(t) for t in tags]})
        return
    out.print(Text.assemble(plain(incident.title, "bold"), f"  ({key}) · impact from "
                            f"{incident_figures(incident).source}"))
    print_tags(out, tags)


def _refresh(embedding: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from kb.analysis.stage import refresh
    from kb.cli import err, open_writer

    with open_writer() as (store, settings), Progress(
        TextColumn("cause tags"), BarColumn(), MofNCompleteColumn(), console=err,
        transient=True, disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("tags", total=None)
        done, why = refresh(store, settings.home, use_embedding=embedding,
                            progress=lambda n, of: bar.update(task, completed=n, total=of))
    err.print(f"kb: tagged {done} incident(s); {why}", markup=False)


def register(app: typer.Typer) -> None:
    """Add `kb metrics`, `kb clusters`, `kb compare` and `kb causes` to the CLI."""
    app.command()(metrics)
    app.command()(clusters)
    app.command()(compare)
    app.command()(causes)
