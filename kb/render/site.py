"""The database rendered into the Markdown pages, feeds and export of the site's docs folder.

`render_site` reads every incident once, renders each page with jinja2 (templates under
site/templates) and writes it only when its bytes change. mkdocs turns the folder into HTML
afterwards (kb.render.build).

Given the keys of the incidents that changed since the last build (`changed`), it renders
only the pages they affect (their incident pages; their providers' pages, year pages,
component pages and feeds; the home page and the other index pages, the all-incidents feed
and the export) and leaves every other file of the docs folder as it is: no prune, and the
sections prepare for those subjects only (kb.render.sections.Scope). Such a render reads
whole only the incidents of the changed incidents' providers; the listings of every other
incident (home page, indexes, the year page, links' titles, the feed, other providers' day
bars) come from kb.store.listings' queries, and the export is patched as a stream. What
such a render does not refresh is listed in docs/site.md ("Incremental builds"); a full
render fixes it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from kb.errors import exception_line
from kb.model import Incident, Kind
from kb.render import feeds, figures, paths, svg
from kb.render.output import Output
from kb.render.pages import Known, make_env, render
from kb.render.sections import (
    RESERVED_COLLECTIONS,
    BuildContext,
    Registry,
    Scope,
    Section,
    discover,
)
from kb.render.sections import Collection as SiteCollection

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

    from kb.analysis.coverage import Coverage
    from kb.config import Settings
    from kb.render.history import History
    from kb.store import Store
    from kb.store.listings import Listed

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
    digest: str = ""  # of every file produced; "" after a changed-keys render (not all are)
    scoped: bool = False  # True: only the pages of the changed incidents were rendered
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # process CPU time: the figure that holds on a noisy machine


_Row = TypeVar("_Row", "Incident", "Listed")


def _newest(items: Sequence[_Row]) -> list[_Row]:
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
    changed: Collection[str] | None = None,
) -> RenderReport:
    """Render the whole site into `docs` from the templates, assets and pages under `source`
    (the repository's site/ folder). `as_of` is the last day of the 90-day bars and of the
    sections' periods (default: today, UTC); `settings` (default: loaded from the environment
    when a section asks) reach the sections through their BuildContext.

    `changed`: the keys of the incidents changed since `docs` was last rendered in full.
    When given, and every one of them is still in the store, only the pages they affect are
    rendered (`report.scoped`; see the module's docstring); a key the store no longer holds
    (a removed incident) makes the render a full one."""
    started, cpu = time.perf_counter(), time.process_time()
    as_of = as_of or datetime.now(UTC).date()
    report = RenderReport()
    scope = None
    if changed is not None and len(set(changed)) <= SCOPED_MAX:
        # The listings of every incident from the incidents table's columns (kb.store.
        # listings): decoding every stored document was most of a changed-keys render.
        from kb.store.listings import listed as listed_rows

        shown: list[Incident] | list[Listed] = _newest(listed_rows(store))
        scope = _scope(shown, changed)
    if scope is None:
        incidents = _newest(list(store.incidents()))
        shown = incidents
    else:  # the full incidents of the changed incidents' providers only
        incidents = _newest([i for p in sorted(scope.providers)
                             for i in store.incidents(provider=p)])
    report.incidents = len(shown)
    report.scoped = scope is not None
    names = store.provider_names()
    by_provider: dict[str, list[Incident]] = defaultdict(list)
    for incident in incidents:
        by_provider[incident.provider].append(incident)
    listed_by: dict[str, list[Incident] | list[Listed]] = by_provider  # type: ignore[assignment]
    if scope is not None:
        listed_by = defaultdict(list)
        for row in shown:
            listed_by[row.provider].append(row)  # type: ignore[arg-type]
    providers = sorted(listed_by, key=lambda p: ((names.get(p) or p).lower(), p))

    by_key = {i.key: i for i in shown}
    known_cache: dict[str, Known | None] = {}

    def known(key: str) -> Known | None:
        """An incident linked from a page, made when a page asks (at 100k incidents making
        every one took seconds; a page links a few)."""
        if key not in known_cache:
            i = by_key.get(key)
            known_cache[key] = None if i is None else Known(
                i.provider, i.title, paths.incident_doc(i.provider, i.native_id),
                figures.first_post(i))  # type: ignore[arg-type]
        return known_cache[key]

    registry: Registry = discover(extra_sections)
    offered = list(registry.collections)  # before prepare drops the ones without pages
    build = BuildContext(store, as_of, incidents=incidents, settings=settings, scope=scope)
    registry.prepare(store, build)
    report.sections = [f"{s.scope}:{s.name}" for s in registry.sections]
    has_page = registry.has_page
    if scope is not None:
        # A collection's pages outside the scope are not made again: the ones the last full
        # build wrote are still there, and still linked.
        def has_page(collection: str, slug: str) -> bool:
            return (registry.has_page(collection, slug)
                    or (docs / paths.collection_doc(collection, slug)).is_file())
    env = make_env(source / "templates", names, known, has_page)
    out = Output(docs)
    rendered = incidents if scope is None else [i for i in incidents if scope.has(i)]
    listed = providers if scope is None else [p for p in providers if p in scope.providers]
    total = len(rendered) + len(listed) + 8
    tick = progress or (lambda _done, _total: None)

    for done, incident in enumerate(rendered, 1):
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

    drawn = by_provider if scope is None else _touching(store, build, shown, scope, as_of)
    bars = {p: svg.days(drawn.get(p, ()), as_of, watched=_watched(build.coverage.get(p)),
                        interval=_touched) for p in providers}
    observed = {p: _observed(drawn.get(p, []), build.coverage.get(p), as_of,
                             names.get(p) or p)
                for p in providers}
    from kb.render.history import history

    years = history(build, {p: by_provider[p] for p in listed})
    registry.failures.extend(years.failures)
    if scope is None:
        compared = _compare_page(env, out, build, providers, years, names)
    else:  # an aggregate of every provider: as the last full build left it
        from kb.render.compare import DOC

        compared = (docs / DOC).is_file()
    for provider in listed:
        _provider_pages(env, out, registry, provider, by_provider[provider], bars[provider],
                        names.get(provider) or provider, years, observed[provider], compared)
    tick(len(rendered) + len(listed), total)
    _collections(env, out, registry, indexes=scope is None)
    linked = registry.collections if scope is None else _linked_collections(
        offered, registry, docs)
    if scope is None:
        components = {p: figures.components(by_provider[p]) for p in providers}
    else:
        from kb.store.listings import component_counts

        counted = component_counts(store)
        components = {p: counted.get(p, []) for p in providers}
    _index_pages(env, out, shown, providers, listed_by, bars, observed, as_of,
                 [(c.name, c.title) for c in linked]
                 + ([("compare", "Compare providers")] if compared else []),
                 components, years=None if scope is None else {
                     figures.year_of(i) for i in rendered})
    _feeds_and_export(out, store, shown, listed, by_provider, names,
                      patch=None if scope is None else rendered)
    out.copy_tree(source / "assets", "assets/kb/")
    out.copy_tree(source / "pages")
    if scope is None:
        out.prune()
    tick(total, total)

    report.pages = sum(1 for p in out.produced if p.endswith(".md"))
    report.written, report.unchanged, report.removed = out.written, out.unchanged, out.removed
    report.failures = registry.failures
    report.digest = out.digest() if scope is None else ""
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = time.process_time() - cpu
    return report


# More changed incidents than this and a changed-keys render costs about what a full one does.
SCOPED_MAX = 200


def _scope(incidents: Sequence[Incident] | Sequence[Listed],
           changed: Collection[str] | None) -> Scope | None:
    """The scope of a changed-keys render, or None for a full one: no keys given, too many,
    or one the store no longer holds (its pages must go: only a full render prunes)."""
    if changed is None or len(set(changed)) > SCOPED_MAX:
        return None
    keys = frozenset(changed)
    found = {i.key: i.provider for i in incidents if i.key in keys}
    if len(found) != len(keys):
        return None
    return Scope(keys, frozenset(found.values()))


def _touching(store: Store, build: BuildContext, shown: Sequence[Listed], scope: Scope,
              as_of: date) -> dict[str, list[Incident]]:
    """For a changed-keys render's day bars: the full incidents of the scope's providers
    (build.incidents), and of every other provider those that can touch its bars (its last
    SPAN days up to the as-of date, or up to its last observed day when earlier): those whose
    `Listed.reach` (latest update, first post, resolution or stated impact window) is not
    before the first such day. A day bar counts an incident from its impact start to its
    end, and that end is one of those times or a component's status change, which
    statuspage publishes with an update (so not after the latest one)."""
    from kb.store.listings import active_since, incidents_by_keys

    found: dict[str, list[Incident]] = defaultdict(list)
    for incident in build.incidents:
        found[incident.provider].append(incident)
    since: dict[datetime, set[str]] = defaultdict(set)  # first day → providers
    for provider in {row.provider for row in shown} - scope.providers:
        coverage = build.coverage.get(provider)
        last = as_of
        if coverage is not None and coverage.end is not None:
            last = min(last, (coverage.end - timedelta(microseconds=1)).astimezone(UTC).date())
        day = last - timedelta(days=svg.SPAN)  # a day early: nothing is lost at the edge
        since[datetime.combine(day, datetime.min.time(), tzinfo=UTC)].add(provider)
    wanted = set().union(*(active_since(store, first, providers)
                           for first, providers in since.items()))
    for incident in _newest(list(incidents_by_keys(store, wanted))):
        found[incident.provider].append(incident)
    return found


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
        build.warn(f"compare page: {exception_line(exc)}")
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
                 as_of: date, more: list[tuple[str, str]],
                 components: dict[str, list[tuple[str, int]]],
                 years: set[int | None] | None = None) -> None:
    """The home page, the incidents, providers, years and components indexes, data.md, and
    the page of each year (of `years` only, when given: a changed-keys render)."""
    recent_from = datetime.combine(as_of - timedelta(days=ONGOING_DAYS), datetime.min.time(),
                                   tzinfo=UTC)
    ongoing = [
        i for i in incidents
        if i.kind is Kind.INCIDENT and figures.is_open(i)
        and (figures.first_post(i) or EPOCH) >= recent_from
    ]
    summary = []
    merged: dict[str, figures.Period] = {}  # every provider's years together
    for provider in providers:
        periods = figures.by_year(by_provider[provider])
        for period in periods:
            into = merged.setdefault(period.label, figures.Period(period.label))
            into.incidents += period.incidents
            into.maintenances += period.maintenances
            into.resolve_times.extend(period.resolve_times)  # a median: order is not shown
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
        if years is not None and year not in years:
            continue
        page = paths.year_doc(year)
        out.write(page, render(env, "year.md.j2", page, year=year, incidents=listed,
                               periods=figures.by_year(listed)))
    years_all = [merged[y] for y in sorted(merged, key=int, reverse=True)]
    out.write("years/index.md", render(
        env, "years.md.j2", "years/index.md", years=years_all, whole=figures.total(years_all),
    ))
    out.write("components/index.md", render(
        env, "components.md.j2", "components/index.md", providers=providers,
        components=components,
    ))
    out.write("data.md", render(
        env, "data.md.j2", "data.md", providers=providers, total=len(incidents),
    ))


def _linked_collections(offered: Sequence[SiteCollection], registry: Registry,
                        docs: Path) -> list[SiteCollection]:
    """The collections the home page links in a changed-keys render: those with pages in the
    scope, and those whose index page the last full build wrote, in discovery order."""
    kept = {c.name for c in registry.collections}
    shown: list[SiteCollection] = []
    for collection in offered:
        if collection.name in RESERVED_COLLECTIONS or any(
                c.name == collection.name for c in shown):
            continue
        if collection.name in kept or (docs / paths.collection_doc(collection.name)).is_file():
            shown.append(collection)
    return shown


def _collections(env: Environment, out: Output, registry: Registry, *,
                 indexes: bool = True) -> None:
    """The pages features add (kb.render.sections.Collection), each with its index page
    (unless not `indexes`: a changed-keys render has only the scope's pages of each)."""
    for collection in registry.collections:
        pages = registry.pages[collection.name]
        index = paths.collection_doc(collection.name)
        if indexes:
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


def _feeds_and_export(out: Output, store: Store, shown: Sequence[Incident] | Sequence[Listed],
                      providers: list[str], by_provider: dict[str, list[Incident]],
                      names: dict[str, str | None],
                      patch: Sequence[Incident] | None = None) -> None:
    """The all-incidents feed, the feed of each of `providers`, and the export (`shown`: every
    incident, full or as listed); with `patch` (a changed-keys render), the last export with
    the lines of those incidents replaced, streamed from the old file to the new one."""
    from kb.present import write_export
    from kb.store.listings import Listed, incidents_by_keys

    def page_from_feed(incident: Incident) -> str:
        target = paths.incident_doc(incident.provider, incident.native_id)
        return paths.link(paths.feed_file(None), target)

    newest: Sequence[Incident] = shown  # type: ignore[assignment]
    if shown and isinstance(shown[0], Listed):  # the feed's entries, read whole
        newest = list(incidents_by_keys(store, _feed_candidates(store, shown)))
    out.write(paths.feed_file(None), feeds.atom(
        newest, name="all", title="Outage knowledge base: all incidents",
        page_url=paths.link(paths.feed_file(None), "incidents/index.md"), page_path=page_from_feed,
    ))
    for provider in providers:
        out.write(paths.feed_file(provider), feeds.atom(
            by_provider[provider], name=provider,
            title=f"Outage knowledge base: {names.get(provider) or provider}",
            page_url=paths.link(paths.feed_file(None), paths.provider_doc(provider)),
            page_path=page_from_feed,
        ))
    if patch is not None and _patch_export(out, patch):
        return
    everything: Sequence[Incident] = (
        newest if len(newest) == len(shown) else list(store.incidents()))
    with out.streamed(paths.EXPORT_FILE) as sink:
        write_export(sorted(map(_published, everything), key=lambda i: i.key), "jsonl", sink)


def _feed_candidates(store: Store, shown: Sequence[Listed]) -> Collection[str]:
    """Keys that hold the feed's `feeds.ENTRIES` newest by last activity (the latest of an
    incident's updates, first post and resolution). With L the ENTRIES-th latest of the first
    posts and resolutions, ENTRIES incidents were active at L or later, so an incident last
    active before L is not among them: the candidates are the incidents active since L."""
    from kb.store.listings import active_since

    stamps = sorted((max(t for t in (r.lifecycle.first_post_at, r.lifecycle.resolved_at) if t)
                     for r in shown if r.lifecycle.first_post_at or r.lifecycle.resolved_at),
                    reverse=True)
    if len(stamps) < feeds.ENTRIES:
        return [r.key for r in shown]
    return active_since(store, stamps[feeds.ENTRIES - 1], windows=False)


class _NotOurs(Exception):
    """The last export is not what `_feeds_and_export` writes: write it whole again."""


def _line_key(decoder: json.JSONDecoder, line: bytes) -> object:
    """The key a line of the export starts with; only the line's head is decoded (decoding
    every 2 KB line of a 230 MB export was a second of a changed-keys render)."""
    for head in (line[:512], line):
        try:
            return decoder.raw_decode(head.decode("utf-8", "ignore" if head is not line
                                                  else "strict"), len('{"key":'))[0]
        except ValueError:  # cut inside the key (a key longer than the head), or not JSON
            if head is line:
                raise _NotOurs from None
    raise _NotOurs


def _patch_export(out: Output, incidents: Sequence[Incident]) -> bool:
    """The last export in `out` (one JSON line per incident, sorted by key, each starting
    with its key: what `_feeds_and_export` writes) with the lines of `incidents` replaced or
    added in key order, as the full export of the same incidents would read. Streamed line
    by line (at 100k incidents the export is 230 MB). False, and nothing written, when the
    file is missing or not such an export. Why: serialising every incident again was a third
    of a changed-keys render at 10k incidents."""
    from kb.present import write_export

    fresh: dict[str, str] = {}
    for incident in incidents:
        buffer = io.StringIO()
        write_export([_published(incident)], "jsonl", buffer)
        fresh[incident.key] = buffer.getvalue()
    pending = sorted(fresh)
    decoder = json.JSONDecoder()
    try:
        with (out.root / paths.EXPORT_FILE).open("rb") as old, \
                out.streamed(paths.EXPORT_FILE) as sink:
            at, previous, kept = 0, None, []
            for raw in old:  # JSON escapes a line break inside a string: "\n" only ends lines
                if not raw.endswith(b"\n") or not raw.startswith(b'{"key":"'):
                    raise _NotOurs
                key = _line_key(decoder, raw)
                if not isinstance(key, str) or (previous is not None and key <= previous):
                    raise _NotOurs
                previous = key
                while at < len(pending) and pending[at] <= key:
                    kept.append(fresh[pending[at]].encode("utf-8"))
                    at += 1
                if at and pending[at - 1] == key:
                    continue  # replaced by its new line
                kept.append(raw)  # the old line's bytes as they are (it was written by us)
                if len(kept) >= 1000:  # a write per line was a second at 100k
                    sink.write_bytes(b"".join(kept))
                    kept.clear()
            if previous is None:
                raise _NotOurs
            kept.extend(fresh[key].encode("utf-8") for key in pending[at:])
            sink.write_bytes(b"".join(kept))
    except (_NotOurs, OSError):
        return False
    return True
