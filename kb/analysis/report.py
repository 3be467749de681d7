"""Analysis results for people (rich tables) and for programs (plain dicts for --json).

Unknown is printed as "unknown" and null in JSON, never as 0 or 100%.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kb.analysis.causes import LABELS, CauseTag
from kb.analysis.clusters import Cluster, Link, Member
from kb.analysis.compare import Comparison, Pair
from kb.analysis.metrics import IncidentFigures
from kb.analysis.periods import Period
from kb.analysis.reliability import GroupFigures, Stat
from kb.present import print_table
from kb.serialize import stamp
from kb.timefmt import hours_text


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _stat(stat: Stat) -> dict[str, Any]:
    return {"n": stat.n, "median": _r(stat.median), "p90": _r(stat.p90), "max": _r(stat.max)}


def period_dict(period: Period) -> dict[str, Any]:
    return {"label": period.label, "start": stamp(period.start), "end": stamp(period.end)}


def group_dict(g: GroupFigures) -> dict[str, Any]:
    """JSON form of one provider/component/period row (minutes; uptime in percent)."""
    return {
        "provider": g.provider, "component": g.component, "period": period_dict(g.period),
        "status": g.status, "coverage": round(g.coverage, 4),
        "covered": [[stamp(a), stamp(b)] for a, b in g.covered],
        "incidents": g.incidents, "maintenances": g.maintenances,
        "by_severity": g.by_severity, "open_incidents": g.open_incidents,
        "unmeasured_incidents": g.unmeasured, "impact_sources": g.impact_sources,
        "unattributed_incidents": g.unattributed,
        "impact_minutes": _stat(g.impact), "resolve_minutes": _stat(g.resolve),
        "identified_minutes": _stat(g.identified), "detection_minutes": _stat(g.detection),
        "update_cadence_minutes": _stat(g.cadence),
        # null where the uptime is unknown (as the table's "unknown"); the measured time,
        # a lower bound then and wherever `downtime_bound` says so, in its own field
        "outage_minutes": _r(_known_downtime(g, g.outage_minutes)),
        "weighted_downtime_minutes": _r(_known_downtime(g, g.downtime_minutes)),
        "outage_minutes_measured": _r(g.outage_minutes),
        "weighted_downtime_minutes_measured": _r(g.downtime_minutes),
        "downtime_bound": downtime_bound(g), "downtime_text": downtime_text(g, g.downtime_minutes),
        "uptime_percent": _r(g.uptime, 4), "nines": _r(g.nines, 2),
        "unknown_minutes": _r(g.unknown_minutes),
        "uptime_percent_if_unknown_down": _r(g.uptime_if_down, 4),
        "uptime_unknown_reason": g.uptime_note,
        "uptime_text": uptime_text(g),
    }


def tag_dict(tag: CauseTag) -> dict[str, Any]:
    return {"tag": tag.tag.value, "label": LABELS[tag.tag], "method": tag.method,
            "stated_as": tag.stated_as or None, "evidence": tag.evidence or None,
            "detail": tag.detail, "score": tag.score}


def incident_dict(f: IncidentFigures, tags: Sequence[CauseTag] = ()) -> dict[str, Any]:
    data = asdict(f)
    for name in ("start", "end", "last_seen", "unknown_start", "unknown_end"):
        data[name] = stamp(data[name])
    for part in data["components"]:
        part["start"], part["end"] = stamp(part["start"]), stamp(part["end"])
    for name, value in list(data.items()):
        if name.endswith("_minutes"):
            data[name] = _r(value)
    data["causes"] = [tag_dict(t) for t in tags]
    return data


def link_dict(link: Link) -> dict[str, Any]:
    return {"a": link.a, "b": link.b, "kind": link.kind,
            "overlap_minutes": round(link.overlap_minutes, 1),
            "gap_minutes": round(link.gap_minutes, 1), "evidence": list(link.evidence),
            "shared_terms": list(link.shared_terms), "names_other": list(link.names_other),
            "shared_causes": list(link.shared_causes), "title_similarity": link.similarity}


def _member_dict(m: Member) -> dict[str, Any]:
    return {"key": m.key, "provider": m.provider, "title": m.title,
            "start": stamp(m.start), "end": stamp(m.end)}


def cluster_dict(c: Cluster) -> dict[str, Any]:
    return {
        "kind": c.kind, "start": stamp(c.start), "end": stamp(c.end), "providers":
        list(c.providers), "members": [_member_dict(m) for m in c.members],
        "links": [link_dict(link) for link in c.links],
    }


def coincidence_dict(link: Link, members: Mapping[str, Member]) -> dict[str, Any]:
    """A pair that overlaps with no evidence of being one event, in cluster_dict's shape."""
    pair = sorted((members[link.a], members[link.b]), key=lambda m: (m.start, m.key))
    return {"kind": "coincidence", "start": stamp(min(m.start for m in pair)),
            "end": stamp(max(m.end for m in pair)),
            "providers": sorted({m.provider for m in pair}),
            "members": [_member_dict(m) for m in pair], "links": [link_dict(link)]}


def comparison_dict(c: Comparison) -> dict[str, Any]:
    return {
        "period": period_dict(c.period),
        "providers": [dict(group_dict(s.figures), name=s.name,
                           top_causes=[{"tag": t, "incidents": n} for t, n in s.causes],
                           top_symptoms=[{"tag": t, "incidents": n} for t, n in s.symptoms])
                      for s in c.sides],
        "pairs": [{"a": p.a, "b": p.b, "both_covered_hours": round(p.both_covered_hours, 2),
                   "both_down_hours": _r(p.both_down_hours, 2),
                   "both_major_hours": _r(p.both_major_hours, 2),
                   "both_major_is_lower_bound": p.major_lower_bound,
                   "both_unknown_hours": _r(p.both_unknown_hours, 2),
                   "unknown_reason": p.unknown_reason,
                   "episodes": [{"start": stamp(e.start), "end": stamp(e.end),
                                 "a": list(e.a_keys), "b": list(e.b_keys)}
                                for e in p.episodes]}
                  for p in c.pairs],
    }


# -- text -------------------------------------------------------------------------------------


def _dist(stat: Stat) -> str:
    return "-" if not stat.n else f"{hours_text(stat.median)} / {hours_text(stat.p90)}"


def percent_floor(value: float) -> str:
    """A percentage to three decimals, rounded down: 2 min down in a year (99.9996 %) reads
    "99.999", never "100.000" beside a measured downtime (the coverage is floored alike)."""
    return f"{math.floor(value * 1000 + 1e-6) / 1000:.3f}"


def uptime_text(g: GroupFigures) -> str:
    """The uptime as every surface prints it (CLI, site, drafts): "unknown" with the reason,
    "≤ x %" when some incidents add no measurable time, and the unknown hours of open ends
    with the figure counting them as down."""
    if g.uptime is None:
        return f"unknown ({g.uptime_note})" if g.uptime_note else "unknown"
    text = f"{percent_floor(g.uptime)}%"
    if g.unmeasured or g.unattributed:
        # incidents without a measurable duration add no downtime; a component's, those of
        # its provider naming no component count against none: an upper bound either way
        text = "≤ " + text
    if g.unknown_minutes:
        text += (f" (measured); {hours_text(g.unknown_minutes)} unknown"
                 + (f", {percent_floor(g.uptime_if_down)}% if down" if g.uptime_if_down is not None
                    else ""))
    return text


def nines_text(g: GroupFigures) -> str:
    if g.uptime is None:
        return "unknown"
    if g.nines is not None:
        return f"{g.nines:.2f}"
    return "no downtime measured" if g.unmeasured or g.unknown_minutes else "no downtime"


def downtime_bound(g: GroupFigures) -> str | None:
    """What the measured downtime is: "exact"; "lower bound" where some incidents add no
    measurable time or some time is unknown (ends the data does not show); "unknown" where
    the uptime is (the measured minutes are then only a lower bound, not a figure); None
    without coverage."""
    if g.downtime_minutes is None:
        return None
    if g.uptime is None and g.uptime_note:
        return "unknown"
    return "lower bound" if g.unmeasured or g.unknown_minutes or g.unattributed else "exact"


def _known_downtime(g: GroupFigures, value: float | None) -> float | None:
    return None if downtime_bound(g) == "unknown" else value


def downtime_text(g: GroupFigures, value: float | None) -> str:
    """A period's downtime or impact time (minutes) as the tables print it: "unknown" where
    the uptime is unknown because too much is unmeasured (GitHub 2013: 232 incidents, none
    measurable, is not "0m" down), "≥" where some incidents add no measurable time or some
    time is unknown (`downtime_bound`, the --json field)."""
    if value is None:
        return "-"
    if g.uptime is None and g.uptime_note:
        return "unknown"
    return ("≥ " if downtime_bound(g) == "lower bound" else "") + hours_text(value)


def coverage_text(g: GroupFigures) -> str:
    """The covered share, floored as the site floors it: 99.6 % covered is not "100%"."""
    if g.status == "unknown":
        return "none"
    if g.status == "known":
        return "100%"
    share = int(g.coverage * 100)
    return f"{share}%" if share else "<1%"


_SEVERITY_SHORT = {"critical": "C", "major": "M", "minor": "m", "none": "n", "unknown": "?"}


def severity_text(by_severity: Mapping[str, int]) -> str:
    return " ".join(f"{_SEVERITY_SHORT.get(k, k)}{v}" for k, v in by_severity.items()) or "-"


def print_metrics(console: Console, rows: Sequence[GroupFigures], basis: Mapping[str, str],
                  ) -> None:
    table = Table(title="Reliability (durations: median / p90)", title_justify="left")
    with_components = any(g.component for g in rows)
    columns = ["provider", *(["component"] if with_components else []), "period", "covered",
               "incidents", "severity", "impact", "to resolve", "downtime", "uptime", "nines"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("provider", "component",
                                                             "severity") else "right")
    for g in rows:
        cells = [g.provider, *([g.component or "(all)"] if with_components else []),
                 g.period.label, coverage_text(g),
                 str(g.incidents) if g.status != "unknown" else "unknown",
                 severity_text(g.by_severity), _dist(g.impact), _dist(g.resolve),
                 downtime_text(g, g.downtime_minutes), uptime_text(g), nines_text(g)]
        table.add_row(*cells)
    print_table(console, table)
    for provider, text in sorted(basis.items()):
        console.print(f"coverage of {provider}: {text}", style="dim", markup=False)
    console.print("severity: C critical, M major, m minor, n none (stated), ? unknown (not "
                  "stated). uptime = 1 − weighted downtime / covered time (major 1.0, "
                  "partial/minor 0.3); ≤: some incidents have no measurable duration; "
                  "unknown: no data, over 20 % (or any major) unmeasured, or over half the "
                  "covered time unknown (docs/analysis.md); h unknown: ends the data does "
                  "not show, not counted as down ('if down': counted). --json has every "
                  "figure.",
                  style="dim", markup=False)


def print_incident_figures(console: Console, f: IncidentFigures,
                           tags: Sequence[CauseTag]) -> None:
    console.print(Text.assemble((f.key, "bold"), f" · {f.kind} · severity {f.severity} · "
                                f"weight {f.weight:g} ({f.weight_basis})"))
    window = "open" if f.open else hours_text(f.impact_minutes)
    console.print(f"impact {stamp(f.start) or '-'} → {stamp(f.end) or '…'} = {window} "
                  f"(from {f.source})", markup=False)
    console.print(f"detection lag {hours_text(f.detection_minutes)} · to identified "
                  f"{hours_text(f.identified_minutes)} · first post → resolved "
                  f"{hours_text(f.resolve_minutes)} · {f.updates} updates, cadence "
                  f"{hours_text(f.cadence_minutes)}, longest silence "
                  f"{hours_text(f.longest_silence_minutes)}", markup=False)
    print_tags(console, tags)


def print_tags(console: Console, tags: Sequence[CauseTag]) -> None:
    for t in tags:
        how = t.method + (f" {t.score:.2f}" if t.score is not None else "")
        console.print(f"  {LABELS[t.tag]} [{how}; {t.stated_as or '-'}] {t.detail}",
                      markup=False)
        if t.evidence:
            console.print(f"      “{t.evidence}”", style="dim", markup=False)


def _link_text(link: Link) -> str:
    parts = [link.timing, *link.evidence]
    if link.kind == "coincidence":
        parts += [f"only shares: terms {', '.join(link.shared_terms)}"] if link.shared_terms \
            else []
        parts += [f"names {', '.join(link.names_other)} (no stated dependency)"] \
            if link.names_other else []
        parts += [f"tags {', '.join(link.shared_causes)}"] if link.shared_causes else []
    return "; ".join(parts)


def print_clusters(console: Console, clusters: Sequence[Cluster],
                   coincidences: Sequence[Link] = (),
                   members: Mapping[str, Member] | None = None, *,
                   show_coincidences: bool = False) -> None:
    if not clusters:
        console.print("no clusters: no overlapping incidents of different providers share "
                      "evidence beyond the time")
    for c in clusters:
        console.print(Text.assemble((c.kind, "bold"), f" {stamp(c.start)} → {stamp(c.end)} · "
                                    f"{', '.join(c.providers)}"))
        for m in c.members:
            console.print(f"  {m.key}  {m.title}", markup=False)
        for link in c.links:
            console.print(f"    {link.a} ↔ {link.b}: {_link_text(link)}", style="dim",
                          markup=False)
    if not coincidences:
        return
    if not show_coincidences or members is None:
        console.print(f"{len(coincidences)} coincidence(s) left out: incidents that overlap "
                      "in time but share only a tag or a mention (--coincidences lists them)",
                      style="dim", markup=False)
        return
    console.print(Text.assemble(("coincidences", "bold"), f" ({len(coincidences)}): overlapping "
                                "in time, no evidence that they are one event"))
    for link in coincidences:
        a, b = members[link.a], members[link.b]
        console.print(f"  {a.key}  {a.title}  ↔  {b.key}  {b.title}", markup=False)
        console.print(f"    {_link_text(link)}", style="dim", markup=False)


def pair_text(p: Pair) -> str:
    """How long two providers were down together, as `kb compare` and the drafts' fallback
    advice say it: unknown when either side's uptime is, with the unknown hours apart."""
    if p.both_down_hours is None:
        return ("unknown (" + (p.unknown_reason or "the KB never covers both in this period")
                + ")")
    unknown = (f"; {p.both_unknown_hours:.1f} h more where either's state is unknown"
               if p.both_unknown_hours else "")
    at_least = "≥ " if p.major_lower_bound else ""  # some incidents state no severity
    return (f"down together {p.both_down_hours:.1f} h "
            f"({at_least}{p.both_major_hours or 0:.1f} h major)"
            f" of {p.both_covered_hours:.0f} h both covered, in {len(p.episodes)} "
            f"episode(s){unknown}")


def major_text(g: GroupFigures) -> str:
    """Major/critical incidents of a period: "≥ n (k of unknown severity)" where some have
    no stated severity (GitHub 365d, 75 feed entries: "0" read as none was major)."""
    if g.status == "unknown":
        return "unknown"
    major = g.by_severity.get("major", 0) + g.by_severity.get("critical", 0)
    unstated = g.by_severity.get("unknown", 0)
    return f"≥ {major} ({unstated} of unknown severity)" if unstated else str(major)


def comparison_rows(c: Comparison) -> list[tuple[str, list[str]]]:
    """The rows of `kb compare`'s table (a label, then one value per provider): the site's
    comparison page shows the same."""
    rows = [
        ("coverage", [coverage_text(s.figures) for s in c.sides]),
        ("incidents", [str(s.figures.incidents) if s.figures.status != "unknown" else "unknown"
                       for s in c.sides]),
        ("major/critical", [major_text(s.figures) for s in c.sides]),
        ("impact time (union)", [downtime_text(s.figures, s.figures.outage_minutes)
                                 for s in c.sides]),
        ("impact median / p90", [_dist(s.figures.impact) for s in c.sides]),
        ("to resolve median / p90", [_dist(s.figures.resolve) for s in c.sides]),
        ("uptime", [uptime_text(s.figures) for s in c.sides]),
        ("nines", [nines_text(s.figures) for s in c.sides]),
        ("top stated causes", [", ".join(f"{t} {n}" for t, n in s.causes) or (
            "unknown" if s.figures.status == "unknown" else "none stated") for s in c.sides]),
        ("top symptoms", [", ".join(f"{t} {n}" for t, n in s.symptoms) or "-"
                          for s in c.sides]),
    ]
    return rows


def print_comparison(console: Console, c: Comparison) -> None:
    table = Table(title=f"Comparison, {c.period.label} ({stamp(c.period.start)} → "
                        f"{stamp(c.period.end)})", title_justify="left")
    table.add_column("")
    for side in c.sides:
        table.add_column(side.provider, justify="right")
    rows = comparison_rows(c)
    for label, values in rows:
        table.add_row(label, *values)
    print_table(console, table)
    for p in c.pairs:
        console.print(f"{p.a} + {p.b}: {pair_text(p)}", markup=False)
