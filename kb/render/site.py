"""The database rendered into the Markdown pages, feeds and export of the site's docs folder.

`render_site` reads every incident once, renders each page with jinja2 (templates under
site/templates) and writes it only when its bytes change. mkdocs turns the folder into HTML
afterwards (kb.render.build).
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kb.model import Incident, Kind
from kb.render import feeds, figures, paths, svg
from kb.render.output import Output
from kb.render.pages import Known, make_env, render
from kb.render.sections import BuildContext, Registry, Section, discover

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

    from kb.analysis.coverage import Coverage
    from kb.config import Settings
    from kb.render.history import History
    from kb.store import Store

RECENT = 30  # incidents listed on the home page
LATEST = 100  # incidents listed on the incidents index
LATEST_ON_PROVIDER = 20  # a provider page lists its newest; each year has its own page
ONGOING_DAYS = 7  # an unresolved incident older than this is stale data, not "ongoing"
# A provider no stored payload covers for this many days before the as-of date is "last
# observed on <day>", with the bars of its last observed days beside today's.
STALE_DAYS = 7
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Progress = Callable[[int, int], None]  # (done, total) pages


@dataclass
class RenderReport:
    """What one render did to the docs folder."""

    incidents: int = 0
    pages: int = 0
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line each (broken sections)
    sections: list[str] = field(default_factory=list)  # names of the sections plugged in
    digest: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # process CPU time: the figure that holds on a noisy machine


def _newest(items: Sequence[Incident]) -> list[Incident]:
    return sorted(items, key=lambda i: (figures.first_post(i) or EPOCH, i.key), reverse=True)


def render_site(
    store: Store,
    docs: Path,
    source: Path,
    *,
    as_of: date | None = None,
    extra_sections: Sequence[Section] = (),
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> RenderReport:
    """Render the whole site into `docs` from the templates, assets and pages under `source`
    (the repository's site/ folder). `as_of` is the last day of the 90-day bars and of the
    sections' periods (default: today, UTC); `settings` (default: loaded from the environment
    when a section asks) reach the sections through their BuildContext."""
    started, cpu = time.perf_counter(), time.process_time()
    as_of = as_of or datetime.now(UTC).date()
    report = RenderReport()
    incidents = _newest(list(store.incidents()))
    report.incidents = len(incidents)
    names = store.provider_names()
    by_provider: dict[str, list[Incident]] = defaultdict(list)
    for incident in incidents:
        by_provider[incident.provider].append(incident)
    providers = sorted(by_provider, key=lambda p: ((names.get(p) or p).lower(), p))

    known = {
        i.key: Known(i.provider, i.title, paths.incident_doc(i.provider, i.native_id),
                     figures.first_post(i))
        for i in incidents
    }
    registry: Registry = discover(extra_sections)
    build = BuildContext(store, as_of, incidents=incidents, settings=settings)
    registry.prepare(store, build)
    report.sections = [f"{s.scope}:{s.name}" for s in registry.sections]
    env = make_env(source / "templates", names, known.get, registry.has_page)
    out = Output(docs)
    total = len(incidents) + len(providers) + 8
    tick = progress or (lambda _done, _total: None)

    for done, incident in enumerate(incidents, 1):
        doc = paths.incident_doc(incident.provider, incident.native_id)
        marks = registry.marks(incident)
        out.write(doc, render(
            env, "incident.md.j2", doc, incident=incident, marks=marks,
            picture=svg.timeline(incident, marks),
            sections=registry.blocks("incident", incident),
            # A vendor edit needs two payloads of one channel: with one source there is none
            # (and this skips a query per incident: 10,000 round trips on a large site).
            revisions=store.revisions(incident.key) if len(incident.sources) > 1 else [],
        ))
        if done % 200 == 0:
            tick(done, total)

    bars = {p: svg.days(by_provider[p], as_of, watched=_watched(build.coverage.get(p)),
                        interval=_touched) for p in providers}
    observed = {p: _observed(by_provider[p], build.coverage.get(p), as_of, names.get(p) or p)
                for p in providers}
    from kb.render.history import history

    years = history(build, by_provider)
    registry.failures.extend(years.failures)
    compared = _compare_page(env, out, build, providers, years, names)
    for provider in providers:
        _provider_pages(env, out, registry, provider, by_provider[provider], bars[provider],
                        names.get(provider) or provider, years, observed[provider], compared)
    tick(len(incidents) + len(providers), total)
    _collections(env, out, registry)
    _index_pages(env, out, incidents, providers, by_provider, bars, observed, as_of,
                 [(c.name, c.title) for c in registry.collections]
                 + ([("compare", "Compare providers")] if compared else []))
    _feeds_and_export(out, incidents, providers, by_provider, names)
    out.copy_tree(source / "assets", "assets/kb/")
    out.copy_tree(source / "pages")
    out.prune()
    tick(total, total)

    report.pages = sum(1 for p in out.produced if p.endswith(".md"))
    report.written, report.unchanged, report.removed = out.written, out.unchanged, out.removed
    report.failures = registry.failures
    report.digest = out.digest()
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = time.process_time() - cpu
    return report


@dataclass(frozen=True)
class Observed:
    """When the KB last held data for a provider, and, for one it stopped observing, the
    bars of its last observed days: a provider last seen months ago would otherwise show
    only grey days, as if "now" were known."""

    last: date | None  # the last day a stored payload covers; None: no payload covers any
    stale: bool  # `last` is more than STALE_DAYS before the as-of date (or never observed)
    cells: list[svg.Day] | None = None  # the SPAN days up to `last`, when stale
    bars: Markup | None = None


def _observed(items: list[Incident], coverage: Coverage | None, as_of: date,
              name: str) -> Observed:
    end = coverage.end if coverage is not None else None
    if end is None:
        return Observed(None, True)
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    if last >= as_of - timedelta(days=STALE_DAYS):
        return Observed(min(last, as_of), False)
    cells = svg.days(items, last, watched=_watched(coverage), interval=_touched)
    label = f"{name}: the last {len(cells)} days observed, up to {last.isoformat()}"
    return Observed(last, True, cells, svg.day_bars(cells, label))


def _touched(incident: Incident) -> tuple[datetime, datetime] | None:
    """The days an incident touched in the day bars: kb.analysis.metrics' impact interval
    (what `kb metrics` and the reliability tables measure); an end that is not known runs
    to its last update, never to the build day."""
    from kb.analysis.metrics import impact_interval

    start, end, _source = impact_interval(incident)
    if start is None:
        return None
    last = max([start, *(u.at for u in incident.updates if u.at >= start)])
    return start, max(start, end or last)


def _watched(coverage: Coverage | None) -> Callable[[date], float]:
    """Share of a UTC day the KB holds data for (kb.analysis.coverage: the stored payloads'
    spans). A provider no payload covers is unknown every day, as in its reliability table."""

    def share(day: date) -> float:
        if coverage is None:
            return 0.0
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        return coverage.fraction(start, start + timedelta(days=1))

    return share


def _provider_pages(env: Environment, out: Output, registry: Registry, provider: str,
                    items: list[Incident], cells: list[svg.Day], name: str,
                    history: History, observed: Observed, compared: bool) -> None:
    doc = paths.provider_doc(provider)
    periods = figures.by_year(items)
    by_component: dict[str, list[Incident]] = defaultdict(list)
    for incident in items:
        for component in {c.name for c in incident.components}:
            by_component[component].append(incident)
    years: dict[int | None, list[Incident]] = defaultdict(list)
    for incident in items:
        years[figures.year_of(incident)].append(incident)
    dated = {y: listed for y, listed in years.items() if y is not None}
    figures_of = history.years.get(provider, {})
    for year, listed in dated.items():
        page = paths.provider_year_doc(provider, year)
        out.write(page, render(
            env, "provider_year.md.j2", page, provider=provider, name=name, year=year,
            incidents=listed, counts=figures.by_year(listed), figures=figures_of.get(year),
            columns=history.columns, causes=history.causes,
            years=sorted(dated), facets=_facets(listed, history.causes),
        ))
    out.write(doc, render(
        env, "provider.md.j2", doc, provider=provider, name=name, incidents=items,
        periods=periods, whole=figures.total(periods), latest=items[:LATEST_ON_PROVIDER],
        components=figures.components(items), years=years, year_figures=figures_of,
        columns=history.columns,
        bars=svg.day_bars(cells, f"{name}: the last {len(cells)} days"), cells=cells,
        observed=observed, compared=compared,
        sections=registry.blocks("provider", provider),
        feed=paths.feed_file(provider),
    ))
    for component, listed in by_component.items():
        page = paths.component_doc(provider, component)
        out.write(page, render(env, "component.md.j2", page, provider=provider, name=name,
                               component=component, incidents=listed))


def _compare_page(env: Environment, out: Output, build: BuildContext, providers: list[str],
                  history: History, names: dict[str, str | None]) -> bool:
    """/compare/: `kb compare` of the site's providers per period (kb.render.compare); False
    when there is nothing to compare or it failed (one warning line; the rest stands)."""
    from kb.render import compare

    try:
        views = compare.comparisons(build, providers, history.figures, names)
    except Exception as exc:
        build.warn(f"compare page: {' '.join(str(exc).split())[:300] or type(exc).__name__}")
        return False
    if not views:
        return False
    out.write(compare.DOC, render(env, "compare.md.j2", compare.DOC, views=views,
                                  providers=providers, as_of=build.as_of))
    return True


def _facets(items: list[Incident], causes: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """The values the year page's filter offers: what its incidents carry, sorted."""
    from kb.render.safe import one_line

    found: dict[str, set[str]] = {"component": set(), "severity": set(), "cause": set()}
    for incident in items:
        found["component"].update(one_line(c.name, 80) for c in incident.components)
        found["severity"].add(one_line(incident.stated_severity, 30))
        found["cause"].update(causes.get(incident.key, ()))
    return {name: sorted(values) for name, values in found.items()}


def _index_pages(env: Environment, out: Output, incidents: list[Incident], providers: list[str],
                 by_provider: dict[str, list[Incident]], bars: dict[str, list[svg.Day]],
                 observed: dict[str, Observed],
                 as_of: date, more: list[tuple[str, str]]) -> None:
    recent_from = datetime.combine(as_of - timedelta(days=ONGOING_DAYS), datetime.min.time(),
                                   tzinfo=UTC)
    ongoing = [
        i for i in incidents
        if i.kind is Kind.INCIDENT and figures.is_open(i)
        and (figures.first_post(i) or EPOCH) >= recent_from
    ]
    summary = []
    for provider in providers:
        periods = figures.by_year(by_provider[provider])
        cells = bars[provider]
        summary.append({
            "slug": provider, "whole": figures.total(periods),
            "first": min((p for i in by_provider[provider] if (p := figures.first_post(i))),
                         default=None),
            "last": max((p for i in by_provider[provider] if (p := figures.first_post(i))),
                        default=None),
            "bars": svg.day_bars(cells, f"{provider}: the last {len(cells)} days"),
            "days_hit": sum(1 for c in cells if c.count),
            "days_unknown": sum(1 for c in cells if not c.count and c.watched <= 0),
            "observed": observed[provider],
        })
    out.write("index.md", render(
        env, "home.md.j2", "index.md", ongoing=ongoing, recent=incidents[:RECENT],
        summary=summary, as_of=as_of, total=len(incidents), span=svg.SPAN, more=more,
    ))
    out.write("incidents/index.md", render(
        env, "incidents.md.j2", "incidents/index.md", latest=incidents[:LATEST],
        total=len(incidents), providers=providers,
    ))
    out.write("providers/index.md", render(
        env, "providers.md.j2", "providers/index.md", summary=summary, as_of=as_of,
        span=svg.SPAN,
    ))
    by_year: dict[int, list[Incident]] = defaultdict(list)
    for incident in incidents:
        year = figures.year_of(incident)
        if year is not None:
            by_year[year].append(incident)
    for year, listed in by_year.items():
        page = paths.year_doc(year)
        out.write(page, render(env, "year.md.j2", page, year=year, incidents=listed,
                               periods=figures.by_year(listed)))
    out.write("years/index.md", render(
        env, "years.md.j2", "years/index.md",
        years=figures.by_year(incidents), whole=figures.total(figures.by_year(incidents)),
    ))
    components = {p: figures.components(by_provider[p]) for p in providers}
    out.write("components/index.md", render(
        env, "components.md.j2", "components/index.md", providers=providers,
        components=components,
    ))
    out.write("data.md", render(
        env, "data.md.j2", "data.md", providers=providers, total=len(incidents),
    ))


def _collections(env: Environment, out: Output, registry: Registry) -> None:
    """The pages features add (kb.render.sections.Collection), each with its index page."""
    for collection in registry.collections:
        pages = registry.pages[collection.name]
        index = paths.collection_doc(collection.name)
        out.write(index, render(env, "collection.md.j2", index, collection=collection,
                                pages=pages))
        seen: set[str] = set()
        for page in pages:
            doc = paths.collection_doc(collection.name, page.slug)
            if doc in seen:
                registry.failures.append(f"collection {collection.name}: page {page.slug!r} "
                                         "given twice; the first one is used")
                continue
            seen.add(doc)
            out.write(doc, render(env, "page.md.j2", doc, collection=collection, page=page))


def _published(incident: Incident) -> Incident:
    """`incident` as the site's export shows it: an imported payload's url is its file name
    with "(imported)", never a path of this machine (kb export keeps the path)."""
    if not any(ref.imported for ref in incident.sources):
        return incident
    return dataclasses.replace(incident, sources=tuple(
        dataclasses.replace(ref, url=ref.shown) for ref in incident.sources))


def _feeds_and_export(out: Output, incidents: list[Incident], providers: list[str],
                      by_provider: dict[str, list[Incident]],
                      names: dict[str, str | None]) -> None:
    from kb.present import write_export

    def page_from_feed(incident: Incident) -> str:
        target = paths.incident_doc(incident.provider, incident.native_id)
        return paths.link(paths.feed_file(None), target)

    out.write(paths.feed_file(None), feeds.atom(
        incidents, name="all", title="Outage knowledge base: all incidents",
        page_url=paths.link(paths.feed_file(None), "incidents/index.md"), page_path=page_from_feed,
    ))
    for provider in providers:
        out.write(paths.feed_file(provider), feeds.atom(
            by_provider[provider], name=provider,
            title=f"Outage knowledge base: {names.get(provider) or provider}",
            page_url=paths.link(paths.feed_file(None), paths.provider_doc(provider)),
            page_path=page_from_feed,
        ))
    buffer = io.StringIO()
    write_export(sorted(map(_published, incidents), key=lambda i: i.key), "jsonl", buffer)
    out.write(paths.EXPORT_FILE, buffer.getvalue())
