"""Analysis results for people (rich tables) and for programs (plain dicts for --json).

Unknown is printed as "unknown" and null in JSON, never as 0 or 100%.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kb.analysis.causes import LABELS, CauseTag
from kb.analysis.clusters import Cluster
from kb.analysis.compare import Comparison
from kb.analysis.metrics import IncidentFigures
from kb.analysis.periods import Period
from kb.analysis.reliability import GroupFigures, Stat
from kb.serialize import stamp


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
        "impact_minutes": _stat(g.impact), "resolve_minutes": _stat(g.resolve),
        "identified_minutes": _stat(g.identified), "detection_minutes": _stat(g.detection),
        "update_cadence_minutes": _stat(g.cadence),
        "outage_minutes": _r(g.outage_minutes), "weighted_downtime_minutes":
            _r(g.downtime_minutes), "uptime_percent": _r(g.uptime, 4), "nines": _r(g.nines, 2),
    }


def tag_dict(tag: CauseTag) -> dict[str, Any]:
    return {"tag": tag.tag.value, "label": LABELS[tag.tag], "method": tag.method,
            "stated_as": tag.stated_as or None, "evidence": tag.evidence or None,
            "detail": tag.detail, "score": tag.score}


def incident_dict(f: IncidentFigures, tags: Sequence[CauseTag] = ()) -> dict[str, Any]:
    data = asdict(f)
    for name in ("start", "end", "last_seen"):
        data[name] = stamp(data[name])
    for part in data["components"]:
        part["start"], part["end"] = stamp(part["start"]), stamp(part["end"])
    for name, value in list(data.items()):
        if name.endswith("_minutes"):
            data[name] = _r(value)
    data["causes"] = [tag_dict(t) for t in tags]
    return data


def cluster_dict(c: Cluster) -> dict[str, Any]:
    return {
        "kind": c.kind, "start": stamp(c.start), "end": stamp(c.end), "providers":
        list(c.providers),
        "members": [{"key": m.key, "provider": m.provider, "title": m.title,
                     "start": stamp(m.start), "end": stamp(m.end)} for m in c.members],
        "links": [{"a": link.a, "b": link.b, "kind": link.kind,
                   "overlap_minutes": round(link.overlap_minutes, 1),
                   "shared_terms": list(link.shared_terms), "names_other":
                   list(link.names_other), "shared_causes": list(link.shared_causes),
                   "title_similarity": link.similarity} for link in c.links],
    }


def comparison_dict(c: Comparison) -> dict[str, Any]:
    return {
        "period": period_dict(c.period),
        "providers": [dict(group_dict(s.figures), name=s.name,
                           top_causes=[{"tag": t, "incidents": n} for t, n in s.causes])
                      for s in c.sides],
        "pairs": [{"a": p.a, "b": p.b, "both_covered_hours": round(p.both_covered_hours, 2),
                   "both_down_hours": _r(p.both_down_hours, 2),
                   "both_major_hours": _r(p.both_major_hours, 2),
                   "episodes": [{"start": stamp(e.start), "end": stamp(e.end),
                                 "a": list(e.a_keys), "b": list(e.b_keys)}
                                for e in p.episodes]}
                  for p in c.pairs],
    }


# -- text -------------------------------------------------------------------------------------


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 120:
        return f"{value / 60:.1f}h"
    return f"{value:.0f}m"


def _dist(stat: Stat) -> str:
    return "-" if not stat.n else f"{_minutes(stat.median)} / {_minutes(stat.p90)}"


def uptime_text(g: GroupFigures) -> str:
    if g.uptime is None:
        return "unknown"
    text = f"{g.uptime:.3f}%"
    if g.unmeasured:
        text = "≤ " + text  # incidents without a measurable duration add no downtime
    return text


def nines_text(g: GroupFigures) -> str:
    if g.uptime is None:
        return "unknown"
    return "no downtime" if g.nines is None else f"{g.nines:.2f}"


def coverage_text(g: GroupFigures) -> str:
    return "none" if g.status == "unknown" else f"{g.coverage:.0%}"


_SEVERITY_SHORT = {"critical": "C", "major": "M", "minor": "m", "none": "n", "unstated": "?"}


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
                 _minutes(g.downtime_minutes), uptime_text(g), nines_text(g)]
        table.add_row(*cells)
    console.print(table)
    for provider, text in sorted(basis.items()):
        console.print(f"coverage of {provider}: {text}", style="dim", markup=False)
    console.print("severity: C critical, M major, m minor, n none, ? unstated. uptime = 1 − "
                  "weighted downtime / covered time (major 1.0, partial/minor 0.3); ≤: some "
                  "incidents have no measurable duration. --json has every figure.",
                  style="dim", markup=False)


def print_incident_figures(console: Console, f: IncidentFigures,
                           tags: Sequence[CauseTag]) -> None:
    console.print(Text.assemble((f.key, "bold"), f" · {f.kind} · severity {f.severity} · "
                                f"weight {f.weight:g} ({f.weight_basis})"))
    window = "open" if f.open else _minutes(f.impact_minutes)
    console.print(f"impact {stamp(f.start) or '-'} → {stamp(f.end) or '…'} = {window} "
                  f"(from {f.source})", markup=False)
    console.print(f"detection lag {_minutes(f.detection_minutes)} · to identified "
                  f"{_minutes(f.identified_minutes)} · first post → resolved "
                  f"{_minutes(f.resolve_minutes)} · {f.updates} updates, cadence "
                  f"{_minutes(f.cadence_minutes)}, longest silence "
                  f"{_minutes(f.longest_silence_minutes)}", markup=False)
    print_tags(console, tags)


def print_tags(console: Console, tags: Sequence[CauseTag]) -> None:
    for t in tags:
        how = t.method + (f" {t.score:.2f}" if t.score is not None else "")
        console.print(f"  {LABELS[t.tag]} [{how}; {t.stated_as or '-'}] {t.detail}",
                      markup=False)
        if t.evidence:
            console.print(f"      “{t.evidence}”", style="dim", markup=False)


def print_clusters(console: Console, clusters: Sequence[Cluster]) -> None:
    if not clusters:
        console.print("no clusters: no overlapping incidents of different providers share "
                      "evidence")
        return
    for c in clusters:
        console.print(Text.assemble((c.kind, "bold"), f" {stamp(c.start)} → {stamp(c.end)} · "
                                    f"{', '.join(c.providers)}"))
        for m in c.members:
            console.print(f"  {m.key}  {m.title}", markup=False)
        for link in c.links:
            evidence = [f"overlap {link.overlap_minutes:.0f}m"]
            evidence += [f"terms {', '.join(link.shared_terms)}"] if link.shared_terms else []
            evidence += [f"names {', '.join(link.names_other)}"] if link.names_other else []
            evidence += ([f"causes {', '.join(link.shared_causes)}"] if link.shared_causes
                         else [])
            evidence += [f"title similarity {link.similarity:.2f}"] if link.similarity else []
            console.print(f"    {link.a} ↔ {link.b}: {'; '.join(evidence)}", style="dim",
                          markup=False)


def print_comparison(console: Console, c: Comparison) -> None:
    table = Table(title=f"Comparison, {c.period.label} ({stamp(c.period.start)} → "
                        f"{stamp(c.period.end)})", title_justify="left")
    table.add_column("")
    for side in c.sides:
        table.add_column(side.provider, justify="right")
    rows = [
        ("coverage", [coverage_text(s.figures) for s in c.sides]),
        ("incidents", [str(s.figures.incidents) if s.figures.status != "unknown" else "unknown"
                       for s in c.sides]),
        ("major/critical", [str(s.figures.by_severity.get("major", 0)
                                + s.figures.by_severity.get("critical", 0))
                            if s.figures.status != "unknown" else "unknown" for s in c.sides]),
        ("impact time (union)", [_minutes(s.figures.outage_minutes) for s in c.sides]),
        ("impact median / p90", [_dist(s.figures.impact) for s in c.sides]),
        ("to resolve median / p90", [_dist(s.figures.resolve) for s in c.sides]),
        ("uptime", [uptime_text(s.figures) for s in c.sides]),
        ("nines", [nines_text(s.figures) for s in c.sides]),
        ("top causes", [", ".join(f"{t} {n}" for t, n in s.causes) or "-" for s in c.sides]),
    ]
    for label, values in rows:
        table.add_row(label, *values)
    console.print(table)
    for p in c.pairs:
        if p.both_down_hours is None:
            console.print(f"{p.a} + {p.b}: unknown (the KB never covers both in this period)",
                          markup=False)
            continue
        console.print(f"{p.a} + {p.b}: down together {p.both_down_hours:.1f} h "
                      f"({p.both_major_hours or 0:.1f} h major) of {p.both_covered_hours:.0f} h "
                      f"both covered, in {len(p.episodes)} episode(s)", markup=False)
