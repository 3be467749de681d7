"""`kb audit`: recompute every published figure from the stored timelines and check the
invariants that make them defensible (docs/analysis.md, "What the figures mean").

Each check is stated independently of the code that makes the figure where it can be (the
share of unmeasured incidents is counted here again, severity is checked against the stored
vendor records, drafts and site are compared with `kb metrics`' own figures), so a regression
in one place shows as a failure with the key it concerns:

* ``negative-duration``: no lifecycle step, impact window or measured minutes runs backwards;
* ``coverage``: a provider's coverage lies inside what its payloads prove (a payload's
  proven time never after it was fetched, coverage never after the newest proven time, nor
  in the future);
* ``uptime-unmeasured``: a period's uptime is unknown when more than UNMEASURED_MAX_SHARE of
  its incidents (or any major/critical one) have no measurable duration, or more than
  UNKNOWN_MAX_SHARE of its covered time is unknown (ends the data does not show), and an uptime is
  never given where the KB holds no data;
* ``before-creation``: no time a figure reads from the timeline (lifecycle steps, updates,
  component changes) lies more than POSTED_SLACK (a day) before the incident's own creation
  time: an update dated earlier cannot be placed and is kept apart (Incident.unplaced). The
  impact window is not held to it: a retrospective post may state an impact days before it;
* ``severity-none``: severity "none" only where a stored vendor record says so (an impact
  field, or a component status); an incident no source rated is "unknown";
* ``site``: the site's reliability tables show the figures `kb metrics` computes;
* ``draft``: a draft's reliability and fallback sentences carry the figures they cite
  (checked on drafts the caller renders: kb.drafts is downstream of analysis).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from kb.analysis.compare import compare
from kb.analysis.coverage import Coverage
from kb.analysis.dataset import Dataset
from kb.analysis.intervals import total
from kb.analysis.metrics import IncidentFigures
from kb.analysis.periods import Period, parse_period
from kb.analysis.reliability import (
    UNKNOWN_MAX_SHARE,
    UNMEASURED_MAX_SHARE,
    GroupFigures,
    group_figures,
    reliability_table,
)
from kb.analysis.report import pair_text, uptime_text
from kb.model import SEVERITY_UNKNOWN, Incident, Kind
from kb.store.analysis import PayloadSpan
from kb.store.repo import Store
from scrapers.plausible import POSTED_SLACK

# A payload's own time may run ahead of the fetching clock by clock skew, not by days.
SKEW = timedelta(hours=1)
# A one-entry payload at one instant is covered for a minute (kb.analysis.coverage), which it
# proves as much as the instant.
INSTANT = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Failure:
    """One broken invariant: which check, the key it concerns, and what is wrong."""

    check: str
    key: str
    message: str


@dataclass
class AuditReport:
    checked: dict[str, int] = field(default_factory=dict)  # check → items examined
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, check: str, items: int, failures: Iterable[Failure]) -> None:
        self.checked[check] = self.checked.get(check, 0) + items
        self.failures.extend(failures)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "checked": self.checked, "notes": self.notes,
                "failures": [asdict(f) for f in self.failures]}


# -- negative durations ----------------------------------------------------------------------


def check_durations(incidents: Iterable[Incident],
                    figures: Mapping[str, IncidentFigures]) -> list[Failure]:
    """Lifecycle steps in order, impact windows forwards, no negative measured minutes."""
    out: list[Failure] = []
    for incident in incidents:
        life, key = incident.lifecycle, incident.key
        first = life.first_post_at
        for name, at in (("identified", life.identified_at), ("monitoring", life.monitoring_at),
                         ("resolved", life.resolved_at)):
            if first is not None and at is not None and at < first:
                out.append(Failure("negative-duration", key,
                                   f"{name} {at:%Y-%m-%d %H:%M} is before the first post "
                                   f"{first:%Y-%m-%d %H:%M} ({_gap(first, at)})"))
        window = incident.impact_window
        if window is not None and window.end is not None and window.end < window.start:
            out.append(Failure("negative-duration", key,
                               "impact window ends before it starts "
                               f"({_gap(window.start, window.end)})"))
        f = figures.get(key)
        if f is None:
            continue
        for name in ("impact_minutes", "resolve_minutes", "identified_minutes",
                     "detection_minutes", "unknown_minutes"):
            value = getattr(f, name)
            if value is not None and value < 0:
                out.append(Failure("negative-duration", key, f"{name} = {value:.1f}"))
        if f.start is not None and f.end is not None and f.end < f.start:
            out.append(Failure("negative-duration", key, "impact interval runs backwards"))
    return out


def _gap(a: datetime, b: datetime) -> str:
    return f"{(b - a).total_seconds() / 60:+.0f} min"


# -- coverage --------------------------------------------------------------------------------


def check_coverage(spans: Sequence[PayloadSpan], coverages: Mapping[str, Coverage],
                   now: datetime) -> list[Failure]:
    """Coverage never beyond what the payloads prove (see module docstring)."""
    out: list[Failure] = []
    proven: dict[str, datetime] = {}
    for p in spans:
        if p.fetched_at is not None and p.as_of > p.fetched_at + SKEW:
            out.append(Failure("coverage", f"{p.provider}/payload:{p.sha256[:12]}",
                               f"proves {p.as_of:%Y-%m-%d %H:%M}, after it was fetched "
                               f"({p.fetched_at:%Y-%m-%d %H:%M})"))
        if p.incidents and p.oldest is not None:
            # what the stored row itself proves: the time stored with it at ingest, else its
            # newest entry; never the span's own as_of, the figure under test
            own = max(t for t in (p.stored_as_of, p.newest_end, p.oldest) if t is not None)
            if p.entries < 2:  # coverage counts a one-entry payload's instant as a minute
                own = max(own, p.oldest + INSTANT)
            proven[p.provider] = max(proven.get(p.provider, own), own)
    for provider, coverage in sorted(coverages.items()):
        end = coverage.end
        if end is None:
            continue
        if end > now + SKEW:
            out.append(Failure("coverage", provider, f"covered until {end:%Y-%m-%d %H:%M}, "
                                                     "in the future"))
        latest = proven.get(provider)
        if latest is None:
            out.append(Failure("coverage", provider, "covered, but no stored payload with a "
                                                     "dated incident proves any time"))
        elif end > latest:
            out.append(Failure("coverage", provider,
                               f"covered until {end:%Y-%m-%d %H:%M}, beyond the newest time "
                               f"its payloads prove ({latest:%Y-%m-%d %H:%M})"))
    return out


# -- uptime ----------------------------------------------------------------------------------


def check_uptime(groups: Iterable[GroupFigures],
                 figures: Mapping[str, Sequence[IncidentFigures]]) -> tuple[int, list[Failure]]:
    """For every published provider/period group: no uptime without data; unknown uptime
    above the documented share of unmeasured incidents (counted here again); uptimes and
    the unknown-counted-as-down figure in order."""
    out: list[Failure] = []
    count = 0
    for g in groups:
        count += 1
        key = f"{g.provider}{'/' + g.component if g.component else ''}@{g.period.label}"
        if g.status == "unknown" and g.uptime is not None:
            out.append(Failure("uptime-unmeasured", key, "an uptime for a period with no data"))
            continue
        lo, hi = g.period.start, g.period.end
        inside = [f for f in figures.get(g.provider, ()) if f.kind == Kind.INCIDENT.value
                  and f.start is not None and lo <= f.start < hi
                  and (g.component is None or any(c.name == g.component for c in f.components))]
        unmeasured = [f for f in inside if f.source == "posted-resolved"
                      or (f.start is not None and f.end is None and not f.open
                          and f.unknown_start is None)]
        major = [f for f in unmeasured if f.severity in ("major", "critical")]
        over = bool(major) or len(unmeasured) > UNMEASURED_MAX_SHARE * len(inside)
        if over and g.uptime is not None:
            out.append(Failure("uptime-unmeasured", key,
                               f"uptime {g.uptime:.3f}% published though {len(unmeasured)} of "
                               f"{len(inside)} incidents ({len(major)} major/critical) have no "
                               "measurable duration"))
        covered = total(g.covered).total_seconds() / 60
        if (g.uptime is not None and g.unknown_minutes
                and g.unknown_minutes > UNKNOWN_MAX_SHARE * covered):
            out.append(Failure("uptime-unmeasured", key,
                               f"uptime {g.uptime:.3f}% published though "
                               f"{g.unknown_minutes:.0f} of {covered:.0f} covered minutes "
                               "are unknown"))
        elif g.uptime is not None and g.unknown_minutes and not g.outage_minutes:
            out.append(Failure("uptime-unmeasured", key,
                               f"uptime {g.uptime:.3f}% published though no impact time is "
                               f"measured and {g.unknown_minutes:.0f} minutes are unknown"))
        if g.uptime is not None and not 0 <= g.uptime <= 100:
            out.append(Failure("uptime-unmeasured", key, f"uptime {g.uptime} out of 0..100"))
        if (g.uptime is not None and g.uptime_if_down is not None
                and g.uptime_if_down > g.uptime + 1e-9):
            out.append(Failure("uptime-unmeasured", key, "counting unknown time as down "
                                                         "raised the uptime"))
        if g.unmeasured != len(unmeasured):
            out.append(Failure("uptime-unmeasured", key, f"reports {g.unmeasured} unmeasured "
                                                         f"incidents, the audit counts "
                                                         f"{len(unmeasured)}"))
    return count, out


# -- times before the incident was created ---------------------------------------------------


def check_placed(incidents: Iterable[Incident]) -> tuple[int, list[Failure]]:
    """No lifecycle step, update or component change more than POSTED_SLACK before the
    incident's creation time (counted over incidents that state one)."""
    count = 0
    out: list[Failure] = []
    for incident in incidents:
        life = incident.lifecycle
        created = life.vendor_created_at
        if created is None:
            continue
        count += 1
        floor = created - POSTED_SLACK
        times = [(name, getattr(life, name)) for name in
                 ("first_post_at", "identified_at", "monitoring_at", "resolved_at")]
        times += [("update", u.at) for u in incident.updates]
        times += [(f"component {c.name!r} change", ch.at)
                  for c in incident.components for ch in c.changes]
        early = [(name, at) for name, at in times if at is not None and at < floor]
        if early:
            name, at = min(early, key=lambda item: item[1])
            out.append(Failure("before-creation", incident.key,
                               f"{name} {at:%Y-%m-%d %H:%M} is "
                               f"{(created - at).total_seconds() / 3600:,.0f} h before the "
                               f"incident was created ({created:%Y-%m-%d %H:%M}); "
                               f"{len(early)} such time(s)"))
    return count, out


# -- severity --------------------------------------------------------------------------------


def check_severity(store: Store, incidents: Sequence[Incident]) -> tuple[int, list[Failure]]:
    """Severity "none" only where a stored vendor record states an impact or a component
    status; the model's "unknown" only where none does."""
    chosen = [i for i in incidents if i.kind is Kind.INCIDENT]
    records = store.current_records([i.key for i in chosen])
    out: list[Failure] = []
    for incident in chosen:
        shown = incident.stated_severity
        held = records.get(incident.key, ())
        impact = [r.record.impact for r in held if r.record.impact is not None]
        statuses = any(ch.new_status or ch.old_status for r in held for u in r.record.updates
                       for ch in u.components)
        if shown == "none" and not impact and not statuses:
            out.append(Failure("severity-none", incident.key,
                               "shown as 'none' but no stored record states an impact or a "
                               "component status"))
        if shown == SEVERITY_UNKNOWN and impact:
            out.append(Failure("severity-none", incident.key,
                               f"shown as unknown although a record states impact "
                               f"{impact[0]!r}"))
    return len(chosen), out


# -- the site and the drafts against `kb metrics` ---------------------------------------------


def check_site(data: Dataset, end: datetime) -> tuple[int, list[Failure]]:
    """The provider pages' reliability tables (kb.analysis.site_sections) against the rows
    `kb metrics` prints for the same periods: the uptime cell must start with metrics' text."""
    from kb.analysis.site_sections import COLUMNS, provider_periods, reliability_blocks

    out: list[Failure] = []
    count = 0
    for provider, items in sorted(data.figures.items()):
        coverage = data.coverages.get(provider)
        periods = provider_periods(items, coverage, end)
        rows = reliability_table({provider: items}, dict(data.coverages), {provider: periods})
        expected = {g.period.label: uptime_text(g) for g in rows}
        tables = [b for b in reliability_blocks(provider, items, coverage, end)
                  if getattr(b, "columns", None) == COLUMNS]
        if not tables:
            out.append(Failure("site", provider, "no reliability table"))
            continue
        shown = {row[0]: row[2] for row in tables[0].rows}
        for period in periods:
            count += 1
            label = period.words
            cell = shown.get(label)
            want = expected.get(period.label)
            if cell is None or want is None or not str(cell).startswith(want + " ("):
                out.append(Failure("site", f"{provider}@{period.label}",
                                   f"site shows {cell!r}, kb metrics {want!r}"))
    return count, out


def check_draft(incident: Incident, facts: Mapping[str, Sequence[str]],
                data: Dataset) -> list[Failure]:
    """A draft's "reliability" and "fallback" sentences (section name → fact texts) carry
    the figures recomputed here for the periods they cite (90 and 365 days before the
    incident's first post)."""
    out: list[Failure] = []
    start = incident.first_posted
    if start is None:
        return out
    key = incident.key
    figures = data.figures.get(incident.provider, [])
    for text in facts.get("reliability", ()):
        if not text.startswith("Uptime"):
            continue
        period = parse_period("90d", end=start)[0]
        g = group_figures(figures, data.coverages.get(incident.provider), period,
                          provider=incident.provider)
        if uptime_text(g) not in text:
            out.append(Failure("draft", key, f"reliability says {text!r}; kb metrics "
                                             f"--period 90d gives {uptime_text(g)!r}"))
    year = parse_period("365d", end=start)[0]
    for text in facts.get("fallback", ()):
        other = text.split(":", 1)[0]
        result = compare([incident.provider, other], data.figures, data.coverages, {}, year)
        want = f"{other}: {pair_text(result.pairs[0])}" if result.pairs else None
        if want is None or not text.startswith(want):
            out.append(Failure("draft", key, f"fallback says {text!r}; kb compare gives "
                                             f"{want!r}"))
    return out


# -- everything ------------------------------------------------------------------------------


def audit(store: Store, data: Dataset, spans: Sequence[PayloadSpan], *,
          now: datetime | None = None, site: bool = True,
          batches: Iterable[Sequence[Incident]] | None = None) -> AuditReport:
    """Run every check that needs only the store (the drafts: `check_draft`, by the caller).

    The per-incident checks read `data.incidents`, or, when given, `batches` (a Dataset
    loaded with keep_incidents=False and kb.store.stream.incident_batches: the same checks
    and failures in the same order, with one batch of timelines in memory)."""
    from kb.analysis.site_sections import period_end, provider_periods

    now = now or datetime.now(UTC)
    report = AuditReport()
    by_key = data.by_key
    durations: list[Failure] = []
    severities: list[Failure] = []
    misplaced: list[Failure] = []
    seen = checked = placed = unplaced = set_apart = 0
    for batch in ([data.incidents] if batches is None else batches):
        seen += len(batch)
        durations += check_durations(batch, by_key)
        count, failures = check_severity(store, batch)
        checked += count
        severities += failures
        count, failures = check_placed(batch)
        placed += count
        misplaced += failures
        unplaced += sum(len(i.unplaced) for i in batch)
        set_apart += sum(1 for i in batch if i.unplaced)
    report.add("negative-duration", seen, durations)
    report.add("coverage", len(spans), check_coverage(spans, data.coverages, now))
    report.add("before-creation", placed, misplaced)
    if unplaced:
        report.notes.append(f"{unplaced:,} update(s) of {set_apart:,} incident(s) "
                            "dated over a day before their incident was created: shown, "
                            "not placed, in no figure")
    end = period_end(now.date())
    periods = {p: provider_periods(items, data.coverages.get(p), end)
               for p, items in data.figures.items()}
    periods = {p: [*ps, *_all(data.coverages.get(p))] for p, ps in periods.items()}
    groups = reliability_table(data.figures, dict(data.coverages), periods, components=False)
    count, failures = check_uptime(groups, data.figures)
    report.add("uptime-unmeasured", count, failures)
    report.add("severity-none", checked, severities)
    if site:
        count, failures = check_site(data, end)
        report.add("site", count, failures)
    return report


def _all(coverage: Coverage | None) -> list[Period]:
    """Every calendar month the provider is covered in, as `kb metrics --period months`."""
    if coverage is None or coverage.start is None or coverage.end is None:
        return []
    return parse_period("months", end=coverage.end, span=(coverage.start, coverage.end))
