"""`kb metrics`, `kb clusters`, `kb compare`, `kb causes`: the analysis of stored timelines.

Everything here only reads, except `kb causes --refresh`, which takes the writer lock (as
`kb update` does when it runs the "analysis" stage). Heavy imports live inside the commands.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

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
    progress_bar,
)
from kb.present import print_table

if TYPE_CHECKING:
    from kb.store import Store

PeriodOpt = Annotated[str, typer.Option(
    "--period", help="30d, 90d, 365d (any Nd, ending at --end), YYYY-MM, YYYY, months, all; "
                     "several comma-separated.")]
EndOpt = Annotated[str | None, typer.Option(
    "--end", help="End of rolling periods (UTC date or ISO time; default: now).")]


def _periods(text: str, end: datetime, span: tuple[datetime, datetime] | None):  # type: ignore[no-untyped-def]
    from kb.analysis.periods import parse_period

    return [p for part in text.split(",") if part.strip()
            for p in parse_period(part, end=end, span=span)]


def _span(coverage, figures):  # type: ignore[no-untyped-def]
    """The span `all` and `months` cover: the provider's coverage, from the earliest impact
    start if a stated window begins before the first post that starts the coverage (AWS's
    first incident, 19:15-19:21 stated, posted 19:53, was left out of `all`: 60 of 61)."""
    if coverage is None or not coverage.start or not coverage.end:
        return None
    starts = [f.start for f in figures if f.start is not None and f.start < coverage.end]
    return min([coverage.start, *starts]), coverage.end


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
    from kb.analysis.reliability import group_figures, reliability_table
    from kb.analysis.report import (
        group_dict,
        incident_dict,
        print_incident_figures,
        print_metrics,
    )
    from kb.errors import NotFound

    stop = parse_date(end, "--end") or datetime.now(UTC)
    with open_store() as store:
        check_known(store, [provider])
        if incident is not None:
            chosen = store.get(incident)
            data = dataset.load(store, [chosen.provider], keep_incidents=False)
            figures = data.by_key[incident]
            tags = data.causes.get(incident, [])
            if as_json:
                print_json(incident_dict(figures, tags))
            else:
                print_incident_figures(out, figures, tags)
            return
        data = dataset.load(store, [provider] if provider else None, with_causes=False,
                            keep_incidents=False)
    if provider and provider not in data.figures and provider not in data.coverages:
        raise NotFound(f"no incidents of provider {provider!r} in the KB (see `kb stats`)")
    periods_for = {p: _periods(period, stop, _span(data.coverages.get(p), data.figures[p]))
                   for p in data.figures}
    if component:
        rows = [group_figures(data.figures[p], data.coverages.get(p), per, provider=p,
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
        print_json({"coverage_basis": {p: c.basis for p, c in data.coverages.items()},
                     "rows": [group_dict(r) for r in rows]})
    else:
        print_metrics(out, rows, {p: c.basis for p, c in data.coverages.items()
                                  if p in data.figures})


def clusters(
    since: Annotated[str | None, typer.Option(help="Only incidents ending on/after this date.")] = None,  # noqa: E501
    until: Annotated[str | None, typer.Option(help="Only incidents starting before this date.")] = None,  # noqa: E501
    coincidences: Annotated[bool, typer.Option("--coincidences", help="Also list the pairs that only overlap in time (with --json: as entries of kind \"coincidence\").")] = False,  # noqa: E501
    as_json: JsonFlag = False,
) -> None:
    """Incidents of different providers that overlap in time and are shown to be one event:
    one names the other and states a dependency on it, both name the same upstream (a vendor,
    or a cloud's region on that cloud's own page), the same region and failure kind, or a
    community thread linked to both. Each link shows its evidence; pairs that only overlap
    (or share only a tag) are coincidences, counted apart. Also: the same outage posted on
    two pages of one vendor.

    Example: kb clusters --since 2026-07-01 --json
    """
    from kb.analysis import dataset
    from kb.analysis.clusters import cluster_report
    from kb.analysis.report import cluster_dict, coincidence_dict, print_clusters
    from kb.store.stream import iter_incidents

    with open_store() as store:
        # figures and tags are kept; the timelines are read a second time, a batch at a
        # time, and only what linking compares (kb.analysis.clusters.Side) is kept of them
        data = dataset.load(store, keep_incidents=False)
        names = _provider_names()
        linked = _signal_links(store)
        found = cluster_report(iter_incidents(store), data.by_key, data.causes,
                               since=parse_date(since, "--since"),
                               until=parse_date(until, "--until"), vendors=data.vendors,
                               aliases=data.aliases, names=names, signals=linked)
    if as_json:
        # one entry at a time (the same bytes as print_json): at 100k synthetic incidents
        # the list was 176 MB of JSON, held as objects, as one string and as rich's text
        print_json_list(itertools.chain(
            (cluster_dict(c) for c in found.clusters),
            (coincidence_dict(x, found.members) for x in found.coincidences)
            if coincidences else ()))
    else:
        print_clusters(out, found.clusters, found.coincidences, found.members,
                       show_coincidences=coincidences)


def _provider_names() -> dict[str, tuple[str, ...]]:
    """provider → the names and products other pages call it by (sources.toml's
    [signals.match] tables); none when the settings have no sources file."""
    from kb.config import load_settings
    from kb.signals.stage import config_for

    try:
        config = config_for(load_settings())
    except Exception:  # a broken [signals] table must not cost the clusters: names are extra
        return {}
    return {p.slug: p.aliases for p in config.providers}


def _signal_links(store: Store) -> dict[str, list[str]]:
    """incident key → ids of the community signals linked to it (none before `kb signals`)."""
    from kb.store.signals import links

    try:
        found = links(store)
    except Exception:  # a database without signal tables: no signal evidence
        return {}
    out: dict[str, list[str]] = {}
    for item in found:
        out.setdefault(item.incident_key, []).append(item.signal_id)
    return out


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
    from kb.errors import ConfigError

    if len(providers) < 2:
        raise ConfigError("compare needs at least two providers")
    if period.strip().lower() in ("months", "all") or "," in period:
        raise ConfigError("--period for compare is one period: Nd, YYYY-MM or YYYY")
    chosen = _periods(period, parse_date(end, "--end") or datetime.now(UTC), None)[0]
    with open_store() as store:
        check_known(store, providers)
        data = dataset.load(store, providers, keep_incidents=False)
    result = run(providers, data.figures, data.coverages, data.causes, chosen, data.names)
    if as_json:
        print_json(comparison_dict(result))
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

    if refresh:
        _refresh(embedding)
    with open_store() as store:
        check_known(store, [provider])
        if key is not None:
            _one(store, key, as_json)
            return
        from kb.analysis.causes import LABELS, Cause
        from kb.analysis.stage import cause_summary

        summary = cause_summary(store, provider)
    live, by_provider, symptoms = summary.computed_now, summary.by_provider, summary.symptoms
    if as_json:
        print_json({"incidents": summary.incidents, "computed_now": live,
                     "by_provider": by_provider, "symptoms_by_provider": symptoms})
        return
    from rich.table import Table

    table = Table(title=f"Cause tags of {summary.incidents} incidents: stated as the cause / "
                        "only as a symptom", title_justify="left")
    table.add_column("provider")
    shown = [c for c in Cause if c is not Cause.UNKNOWN and any(
        c.value in v for v in (*by_provider.values(), *symptoms.values()))]
    for c in shown:
        table.add_column(LABELS[c], justify="right")
    for slug, tally in by_provider.items():
        table.add_row(slug, *(f"{tally.get(c.value, 0)} / {symptoms[slug].get(c.value, 0)}"
                              for c in shown))
    print_table(out, table)
    out.print("A tag is a stated cause where a sentence says so (\"caused by an expired "
              "certificate\"), a symptom where it only says what failed (\"users may see "
              "authentication errors\"); `kb causes KEY` shows the sentence.", markup=False,
              style="dim")
    if live:
        err.print(f"kb: {live} incident(s) had no stored tags; tagged now by the rules "
                  "(run `kb causes --refresh` or `kb update` to store them)", markup=False)


def _one(store: Store, key: str, as_json: bool) -> None:
    from rich.text import Text

    from kb.analysis.metrics import incident_figures
    from kb.analysis.report import print_tags, tag_dict
    from kb.analysis.stage import causes_for
    from kb.terminal import plain

    incident = store.get(key)
    tags = causes_for(store, [incident])[key]
    if as_json:
        print_json({"key": key, "causes": [tag_dict(t) for t in tags]})
        return
    out.print(Text.assemble(plain(incident.title, "bold"), f"  ({key}) · impact from "
                            f"{incident_figures(incident).source}"))
    print_tags(out, tags)


def _refresh(embedding: bool) -> None:
    from kb.analysis.stage import refresh
    from kb.config import load_settings

    settings = load_settings()
    with open_store(settings, write=True) as store, progress_bar("cause tags") as bar:
        done, why = refresh(store, settings.home, use_embedding=embedding, progress=bar)
    err.print(f"kb: tagged {done} incident(s); {why}", markup=False)


def audit(
    drafts: Annotated[int, typer.Option(help="Render the reliability and fallback sections of "
                                             "this many drafts (newest incidents) and check "
                                             "their figures; 0: none.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Recompute every published figure from the stored timelines and check its invariants:
    no negative duration; coverage only where payloads prove it; uptime unknown where too
    many incidents are unmeasured (docs/analysis.md); severity "none" only where a source
    says so; site and draft figures equal to kb metrics'. Prints each failure with its key;
    exit 1 when any fails.

    Example: kb audit --json
    """
    from kb.analysis import dataset
    from kb.analysis.audit import audit as run_audit
    from kb.analysis.audit import check_draft
    from kb.drafts.citations import Citations
    from kb.drafts.integrations import fallback, reliability
    from kb.store.analysis import payload_spans
    from kb.store.stream import incident_batches

    with open_store() as store:
        # streamed: the figures are kept, the timelines one batch at a time
        data = dataset.load(store, None, with_causes=False, keep_incidents=False)
        latest: list[tuple[datetime, str]] = []  # the newest `drafts`, as (first post, key)
        count = max(drafts, 0)

        def noting_newest(batches):  # type: ignore[no-untyped-def]
            for batch in batches:
                for i in batch:
                    if i.first_posted is not None and count:
                        heapq.heappush(latest, (i.first_posted, i.key))
                        if len(latest) > count:
                            heapq.heappop(latest)
                yield batch

        report = run_audit(store, data, payload_spans(store),
                           batches=noting_newest(incident_batches(store)))
        newest = [store.get(key) for _at, key in sorted(latest, reverse=True)]
        for incident in newest:
            cite = Citations(incident)
            facts = {extra.name: [f.text for f in extra.facts]
                     for extra in (reliability(store, incident, cite),
                                   fallback(store, incident, cite))}
            report.add("draft", 1, check_draft(incident, facts, data))
    if as_json:
        print_json(report.to_dict())
    else:
        for f in report.failures:
            out.print(f"FAIL {f.check} {f.key}: {f.message}", markup=False, highlight=False)
        checked = ", ".join(f"{name} {n}" for name, n in report.checked.items())
        out.print(f"kb audit: {len(report.failures)} failure(s); checked {checked}",
                  markup=False, highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `kb metrics`, `kb clusters`, `kb compare`, `kb causes` and `kb audit` to the CLI."""
    app.command()(metrics)
    app.command()(clusters)
    app.command()(compare)
    app.command()(causes)
    app.command()(audit)
