"""The analysis slots of the site's pages (kb.render.sections):

* incident pages: "Causes" (order 40), the stored cause tags with the sentence each came
  from, and "Metrics" (50), the incident's own measured figures;
* provider pages: "Reliability" (order 10), `kb metrics`' coverage-aware figures for the last
  30, 90 and 365 days and each calendar year, plus a per-component table of the last 365
  days; and "Causes" (40), how many incidents carry each cause tag;
* the "causes" collection: /causes/ and a page per cause tag at /causes/<tag>/ listing, per
  provider and per year, the incidents carrying it with the sentence each tag came from.

Everything is computed once per build in `_prepare` (one pass over the incidents the site
already loaded, grouped by provider); `provide` is a dictionary look-up. The figures are
kb.analysis.reliability's, formatted with kb.analysis.report's wording: nothing is
recomputed here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter

from kb.analysis.causes import Cause, cause_label
from kb.analysis.coverage import Coverage
from kb.analysis.metrics import IncidentFigures, incident_figures
from kb.analysis.periods import Period, parse_period
from kb.analysis.reliability import (
    SEVERITIES,
    GroupFigures,
    Series,
    Stat,
    group_figures,
)
from kb.analysis.report import nines_text, uptime_text
from kb.analysis.stage import RULES_ID
from kb.errors import exception_line
from kb.model import Incident, Kind
from kb.render.sections import (
    Block,
    BuildContext,
    Collection,
    Figures,
    IncidentLink,
    Links,
    Page,
    PageLink,
    Scope,
    Section,
    Table,
    Tags,
    Text,
)
from kb.store import Store
from kb.store.analysis import CauseRecord, last_seen, stored_causes

__all__ = ["CAUSE_PAGES", "COLLECTIONS", "COLUMNS", "SECTIONS", "period_end", "period_row",
           "provider_periods"]

ROLLING = (30, 90, 365)  # days before the build's as-of date
COLUMNS = ("period", "incidents (by severity)", "uptime (coverage)", "nines",
           "impact, median / p90", "first post → resolved, median", "unmeasured")
COMPONENTS_SHOWN = 30  # rows of the per-component table (the components with most incidents)
_UNKNOWN = Cause.UNKNOWN.value
CAUSE_PAGES = "causes"  # the collection: /causes/<tag>/
# Incidents listed on one cause page, newest first. A 10k-incident KB tags a few thousand
# with "capacity": listing them all would make a page of megabytes nobody scrolls.
LISTED_PER_CAUSE = 500


@dataclass(frozen=True)
class _State:
    causes: dict[str, list[CauseRecord]]  # incident key → stored tags
    seen: dict[str, datetime]  # incident key → newest payload time listing it
    figures: dict[str, IncidentFigures]  # incident key → its figures
    reliability: dict[str, list[Block]]  # provider → blocks of its "Reliability" section
    provider_causes: dict[str, list[Block]]  # provider → blocks of its "Causes" section
    cause_pages: list[Page]  # the "causes" collection, one page per tag in use


def _prepare(store: Store, build: BuildContext | None = None) -> _State:
    """Cause tags, last-seen times and every incident's figures, loaded once per build, and
    each provider's sections made from them. In a changed-keys build (`build.scope`) the
    figures of the scope's providers only, and no cause pages (they count every incident)."""
    build = build or BuildContext(store)
    scope = build.scope
    # Stored tags of these rules: an older version's roles mean other things, and `kb update`
    # re-tags (its analysis stage runs before the site's) before they are shown again.
    causes, seen = scoped_tags(store, scope)
    figures: dict[str, IncidentFigures] = {}
    by_provider: dict[str, list[IncidentFigures]] = {}
    for incident in build.incidents:
        if scope is not None and incident.provider not in scope.providers:
            continue
        try:
            measured = build.incident_figures(incident, seen.get(incident.key))
        except Exception as exc:  # its own page reports it again (the metrics slot)
            build.warn(f"section reliability: {incident.key}: left out of the figures: "
                       f"{exception_line(exc)}")
            continue
        figures[incident.key] = measured
        by_provider.setdefault(incident.provider, []).append(measured)
    coverages = build.coverage
    end = period_end(build.as_of)
    reliability: dict[str, list[Block]] = {}
    provider_causes: dict[str, list[Block]] = {}
    for provider, items in sorted(by_provider.items()):
        try:  # one provider's odd data must not cost every provider its figures
            reliability[provider] = _reliability(provider, items, coverages.get(provider), end)
            provider_causes[provider] = _cause_counts(items, causes, end)
        except Exception as exc:
            build.warn(f"section reliability: {provider}: {exception_line(exc)}")
    try:
        pages = [] if scope is not None else _cause_pages(build.incidents, causes,
                                                          store.provider_names(), end)
    except Exception as exc:  # the incident and provider sections stand without the pages
        build.warn(f"collection {CAUSE_PAGES}: {exception_line(exc)}")
        pages = []
    return _State(causes, seen, figures, reliability, provider_causes, pages)


def scoped_tags(store: Store, scope: Scope | None) -> tuple[dict[str, list[CauseRecord]],
                                                             dict[str, datetime]]:
    """Stored cause tags of the current rules and last-seen times, of every incident, or in
    a changed-keys build (`scope`) of its providers' incidents only (a query per provider)."""
    if scope is None:
        return stored_causes(store, rules=RULES_ID), last_seen(store)
    causes: dict[str, list[CauseRecord]] = {}
    seen: dict[str, datetime] = {}
    for provider in sorted(scope.providers):
        causes.update(stored_causes(store, provider=provider, rules=RULES_ID))
        seen.update(last_seen(store, provider))
    return causes, seen


# -- periods ---------------------------------------------------------------------------------


def period_end(as_of: date) -> datetime:
    """The end of the build's as-of day (UTC): rolling periods include that day, as the
    90-day bars do."""
    return datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=UTC)


def provider_periods(items: Sequence[IncidentFigures], coverage: Coverage | None,
                     end: datetime) -> list[Period]:
    """The last 30, 90 and 365 days before `end`, then every calendar year the provider has
    incidents or coverage in (maintenances alone do not make a year), newest first; the
    current year stops at `end` (a year that has not happened yet is not "unknown", it is
    not there)."""
    periods = [p for days in ROLLING for p in parse_period(f"{days}d", end=end)]
    years = {f.start.year for f in items
             if f.kind == "incident" and f.start is not None and f.start < end}
    if coverage is not None:
        for start, stop in coverage.within(datetime(1970, 1, 1, tzinfo=UTC), end):
            years.update(range(start.year, (stop - timedelta(microseconds=1)).year + 1))
    for year in sorted(years, reverse=True):
        whole = parse_period(str(year), end=end)[0]
        if whole.end > end:
            label = f"{year} (to {end - timedelta(days=1):%Y-%m-%d})"
            whole = Period(label, whole.start, end)
        periods.append(whole)
    return periods


# -- formatting (kb.analysis.report's wording: unknown is "unknown", never 0 or 100 %) ----------


def _minutes(value: float | None) -> str:
    if value is None:
        return "unknown"
    whole = round(value)
    return f"{whole // 60}h{whole % 60:02d}m" if whole >= 60 else f"{whole} min"


def _dist(stat: Stat) -> str:
    return "–" if not stat.n else f"{_minutes(stat.median)} / {_minutes(stat.p90)}"


def _coverage(g: GroupFigures) -> str:
    if g.status == "unknown":
        return "no data"
    if g.status == "known":
        return "fully covered"
    share = int(g.coverage * 100)  # floored: 99.6 % covered is not "100 %"
    return f"partial, {share}% covered" if share else "partial, under 1% covered"


def _uptime(g: GroupFigures) -> str:
    """"99.223% (partial, 28% covered)", "unknown (no data)": never a bare percentage."""
    return f"{uptime_text(g)} ({_coverage(g)})"


def _incidents(g: GroupFigures) -> str:
    """"3 (1 major, 2 minor)"; "unknown" where nothing was watched (no data is not "no
    incidents")."""
    if g.status == "unknown" and not g.incidents:
        return "unknown"
    text = str(g.incidents)
    details = [_severities(g)] if g.incidents else []
    details += [f"{g.open_incidents} open"] if g.open_incidents else []
    return f"{text} ({'; '.join(details)})" if details else text


def _nines(g: GroupFigures) -> str:
    # A period covered only while the provider was down has nines −log10(1) = −0.0.
    return nines_text(g).replace("-0.00", "0.00")


def _severities(g: GroupFigures) -> str:
    counts = [f"{g.by_severity[s]} {'of unknown severity' if s == 'unknown' else s}"
              for s in SEVERITIES if g.by_severity.get(s)]
    return ", ".join(counts)


HOW = (
    "How this is computed (as kb metrics does): incidents count in the period their impact "
    "starts in. Uptime = 1 − weighted impact time ÷ the time the knowledge base holds data for "
    "(major or critical outage 1.0, partial outage or minor 0.3, overlapping incidents "
    "counted once): a period without data is unknown, never 100%, and a partly covered one "
    "is measured over its covered part only. ≤: some incidents have no measurable duration "
    "(unmeasured), so uptime is an upper bound; when more than 20% of a period's incidents, "
    "or any major or critical one, are unmeasured, its uptime is unknown. An end the data "
    "does not show (an incident still open when last seen, a feed entry seen only resolved) "
    "is not counted as down until now: those hours are given as unknown, with the uptime "
    "they would leave if they were down; when they are over half the covered time, or "
    "when no time at all is measured down beside them, the uptime is unknown. Uptimes are "
    "rounded down. Severity \"unknown\": no source stated one. "
    "Durations: median / 90th percentile. "
)


def period_row(period: Period, g: GroupFigures) -> tuple[str, ...]:
    """One row of the Reliability table (COLUMNS), worded as kb metrics words it; the site's
    per-year history shows the same row for each year."""
    return (period.words, _incidents(g), _uptime(g), _nines(g), _dist(g.impact),
            _minutes(g.resolve.median),
            # nothing watched: how many went unmeasured is as unknown as how many there were
            "unknown" if g.status == "unknown" and not g.incidents else str(g.unmeasured))


def _reliability(provider: str, items: list[IncidentFigures], coverage: Coverage | None,
                 end: datetime) -> list[Block]:
    series = Series.of(items)  # sorted and unioned once for every period
    rows = []
    for period in provider_periods(items, coverage, end):
        g = group_figures(items, coverage, period, provider=provider, series=series)
        rows.append(period_row(period, g))
    basis = (f"Coverage from {coverage.basis}." if coverage is not None
             else "No stored payload covers this provider, so every uptime is unknown.")
    blocks: list[Block] = [Table(COLUMNS, rows, caption="Durations: median / 90th percentile")]
    components = _components(provider, items, coverage, end, series)
    if components is not None:
        blocks.append(components)
    blocks.append(Text(HOW + basis))
    return blocks


reliability_blocks = _reliability  # for kb audit: the blocks a provider page shows


def _components(provider: str, items: list[IncidentFigures], coverage: Coverage | None,
                end: datetime, series: Series) -> Table | None:
    """The last 365 days per component named by an incident starting in them."""
    period = parse_period("365d", end=end)[0]
    named = Counter(name for f in series.starting_in(period.start, period.end)
                    if f.kind == "incident" for name in {c.name for c in f.components})
    if not named:
        return None
    chosen = sorted(named, key=lambda n: (-named[n], n))[:COMPONENTS_SHOWN]
    rows = []
    for name in chosen:
        g = group_figures(items, coverage, period, provider=provider, component=name)
        rows.append((name, _incidents(g), _uptime(g), _dist(g.impact)))
    more = (f" The {COMPONENTS_SHOWN} components with the most incidents of {len(named)}."
            if len(named) > COMPONENTS_SHOWN else "")
    return Table(("component", "incidents", "uptime", "impact, median / p90"), rows,
                 caption="Per component, last 365 days: only the incidents naming the "
                         "component, with its own status changes where it has them. "
                         "Incidents that name no component count against none, so these "
                         f"uptimes are upper bounds.{more}")


def _cause_counts(items: list[IncidentFigures], causes: dict[str, list[CauseRecord]],
                  end: datetime) -> list[Block]:
    """Incidents per stored cause tag ("unknown" left out), last 365 days and all time, the
    ones whose sentences state it as the cause apart from those that only describe it as
    what failed (a symptom is no cause: "users may see authentication errors")."""
    since = parse_period("365d", end=end)[0].start
    recent: Counter[str] = Counter()
    overall: Counter[str] = Counter()
    stated: Counter[str] = Counter()
    stated_recent: Counter[str] = Counter()
    counted = [f for f in items if f.kind == "incident"]
    in_year = [f for f in counted if f.start is not None and since <= f.start < end]
    for f in counted:
        records = [r for r in causes.get(f.key, ()) if r.tag != _UNKNOWN]
        tags = {r.tag for r in records}
        cause = {r.tag for r in records if r.stated_as == "cause"}
        overall.update(tags)
        stated.update(cause)
        if f.start is not None and since <= f.start < end:
            recent.update(tags)
            stated_recent.update(cause)
    if not overall:
        return []
    tagged = sum(1 for f in counted if any(r.tag != _UNKNOWN for r in causes.get(f.key, ())))
    tagged_year = sum(1 for f in in_year
                      if any(r.tag != _UNKNOWN for r in causes.get(f.key, ())))
    ordered = sorted(overall, key=lambda t: (-stated[t], -overall[t], -recent[t], t))
    rows = [(cause_label(tag), str(stated_recent[tag]), str(stated[tag]),
             str(overall[tag] - stated[tag])) for tag in ordered]
    return [Table(("cause", "stated as the cause, last 365 days", "stated as the cause, all "
                   "time", "only as a symptom or suspected, all time"), rows,
                  caption=f"Tagged from the provider's own sentences: {tagged_year} of "
                          f"{len(in_year)} incidents of the last 365 days and {tagged} of "
                          f"{len(counted)} overall carry a tag other than unknown; an "
                          "incident may carry several. A tag counts as a cause only where a "
                          "sentence states it as one (\"caused by an expired certificate\"); "
                          "where the sentences only say what failed (\"users may see "
                          "authentication errors\") it is a symptom."),
            Links([PageLink(CAUSE_PAGES, tag, cause_label(tag)) for tag in ordered],
                  caption="Every provider's incidents with the same tag:")]


_ROLE_TEXT = {"cause": "stated as the cause", "symptom": "a symptom (what failed)",
              "unknown": "suspected, not stated"}


def _role(record: CauseRecord) -> str:
    return _ROLE_TEXT.get(record.stated_as, "unknown")


# -- incident pages ----------------------------------------------------------------------------


def _causes(state: _State, incident: Incident) -> list[Block] | None:
    tags = [t for t in state.causes.get(incident.key, []) if t.tag != _UNKNOWN]
    if not tags:
        return None  # untagged, or nothing but "unknown": the slot stays out
    rows = [(cause_label(t.tag), _role(t), t.method, t.evidence) for t in tags]
    return [Tags([cause_label(t.tag) for t in tags]),
            Table(("factor", "role", "how it was tagged", "evidence"), rows),
            Links([PageLink(CAUSE_PAGES, t.tag, f"Other incidents tagged {cause_label(t.tag)}")
                   for t in tags])]


# -- the cause pages ---------------------------------------------------------------------------


def _cause_pages(incidents: Sequence[Incident], causes: dict[str, list[CauseRecord]],
                 names: dict[str, str | None], end: datetime) -> list[Page]:
    """A page per cause tag that some incident (not maintenance) carries, "unknown" aside:
    counts per provider, then the incidents newest first, each with its evidence."""
    since = parse_period("365d", end=end)[0].start
    tagged: dict[str, list[tuple[datetime, Incident, CauseRecord]]] = {}
    for incident in incidents:
        posted = incident.first_posted
        if incident.kind is not Kind.INCIDENT or posted is None:
            continue
        for record in causes.get(incident.key, ()):
            if record.tag != _UNKNOWN:
                tagged.setdefault(record.tag, []).append((posted, incident, record))
    order = {c.value: n for n, c in enumerate(Cause)}
    pages = []
    for tag in sorted(tagged, key=lambda t: (order.get(t, len(order)), t)):
        found = sorted(tagged[tag], key=lambda item: (item[0], item[1].key), reverse=True)
        pages.append(_cause_page(tag, found, names, since, end))
    return pages


def _cause_page(tag: str, found: list[tuple[datetime, Incident, CauseRecord]],
                names: dict[str, str | None], since: datetime, end: datetime) -> Page:
    recent: Counter[str] = Counter()
    overall: Counter[str] = Counter()
    stated: Counter[str] = Counter()
    for posted, incident, record in found:
        overall[incident.provider] += 1
        if record.stated_as == "cause":
            stated[incident.provider] += 1
            if since <= posted < end:
                recent[incident.provider] += 1
    rows = [(names.get(p) or p, str(recent[p]), str(stated[p]), str(overall[p] - stated[p]))
            for p in sorted(overall, key=lambda p: (-stated[p], -overall[p], -recent[p], p))]
    label = cause_label(tag)
    blocks: list[Block] = [
        Text(f"Incidents whose status updates say, in the provider's own words, that "
             f"{label} was part of what happened: as the stated cause (\"caused by …\", "
             "\"due to …\") or only as what failed, a symptom (\"users may see … errors\"). "
             "Only the first count as causes. Tagged by rules over the updates' "
             "sentences (and, where none matched, by similarity to labelled examples): read "
             "the quoted sentence before relying on a tag. An incident may carry several "
             f"tags. The same filter in the CLI: kb search QUERY --cause {tag}"),
        Table(("provider", "stated as the cause, last 365 days", "stated as the cause, all "
               "time", "only as a symptom or suspected, all time"), rows,
              caption=f"{len(found)} incidents of {len(overall)} providers carry this tag, "
                      f"{sum(stated.values())} of them state it as the cause."),
    ]
    listed = found[:LISTED_PER_CAUSE]
    by_year: dict[int, list[IncidentLink]] = {}
    for posted, incident, record in listed:
        how = _role(record)
        evidence = f"“{record.evidence}” ({record.method}, {how})" if record.evidence else \
            f"({record.method})"
        by_year.setdefault(posted.year, []).append(IncidentLink(incident.key, note=evidence))
    if len(found) > len(listed):
        blocks.append(Text(f"The {len(listed)} newest of {len(found)} are listed below. "
                           f"kb search QUERY --cause {tag} searches all of them."))
    blocks += [Links(links, caption=str(year)) for year, links in by_year.items()]
    newest = found[0][0]
    summary = (f"{len(found)} incident{'s' if len(found) != 1 else ''}, "
               f"{len(overall)} provider{'s' if len(overall) != 1 else ''}, "
               f"{sum(stated.values())} stating it as the cause; newest {newest:%Y-%m-%d}")
    return Page(tag, f"Cause: {label}", blocks, summary=summary)


def _metrics(state: _State, incident: Incident) -> list[Block] | None:
    figures = state.figures.get(incident.key)
    if figures is None:  # an incident the build did not hand to prepare
        figures = incident_figures(incident, state.seen.get(incident.key))
    if not figures.updates:
        return None
    pairs = [
        ("impact", f"{_minutes(figures.impact_minutes)} (from the {figures.source})"),
        ("weight", f"{figures.weight:g} ({figures.weight_basis})"),
        ("first post → identified", _minutes(figures.identified_minutes)),
        ("first post → resolved", _minutes(figures.resolve_minutes)),
        ("update cadence (median gap)", _minutes(figures.cadence_minutes)),
        ("longest silence", _minutes(figures.longest_silence_minutes)),
    ]
    if figures.detection_minutes is not None:
        pairs.insert(1, ("stated impact start → first post", _minutes(figures.detection_minutes)))
    return [Figures(pairs, caption="Measured from the timeline (see docs/analysis.md)")]


def _provider_reliability(state: _State, provider: str) -> list[Block] | None:
    return state.reliability.get(provider)


def _provider_causes(state: _State, provider: str) -> list[Block] | None:
    return state.provider_causes.get(provider)


# Not searchable: the evidence sentences are the updates' own (searchable in the timeline),
# the rest are figures; the cause pages are the way in by cause.
SECTIONS = [
    Section(name="causes", title="Causes", provide=_causes, order=40, prepare=_prepare,
            note="Contributing-factor tags from the provider's own sentences.",
            searchable=False),
    Section(name="metrics", title="Metrics", provide=_metrics, order=50, prepare=_prepare,
            searchable=False),
    Section(name="reliability", title="Reliability", provide=_provider_reliability,
            scope="provider", order=10, prepare=_prepare,
            note="Per period, up to the site's as-of date: the figures of kb metrics.",
            searchable=False),
    Section(name="causes", title="Causes", provide=_provider_causes, scope="provider",
            order=40, prepare=_prepare,
            note="How many of this provider's incidents carry each contributing-factor tag.",
            searchable=False),
]

COLLECTIONS = [
    Collection(
        name=CAUSE_PAGES, title="Causes", pages=attrgetter("cause_pages"), prepare=_prepare,
        note="Contributing-factor tags read from the providers' own status updates, one page "
             "per tag: which providers, how often, and the sentence each tag came from.",
    ),
]
