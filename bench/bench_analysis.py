"""Time to compute every analysis figure: on the whole recorded corpus, and on 100k synthetic
incidents shaped like it.

Usage: python bench/bench_analysis.py [--runs 3] [--synthetic 100000] [--corpus DIR]
                                      [--write-docs]

Steps timed (medians over the runs; this machine is noisy):

* load: reading every incident from the store, its last-seen time and the payload spans
  (corpus only; the synthetic incidents are built in memory);
* figures: per-incident figures (impact interval and its source, weights, delays, cadence);
* coverage: per-provider coverage from the payload spans;
* reliability: every provider × (30d, 90d, 365d, every calendar month covered), and every
  component × the same periods;
* causes: rule tags of every incident (no embedding step);
* clusters: cross-provider clusters and same-vendor duplicates over everything;
* compare: all pairs of (up to) five providers over 365 days.

Synthetic data: 20 providers over five years; durations log-normal around 45 minutes (a tail
of multi-day incidents), 1-8 updates of status-page prose (a quarter naming a cause), half
with component status changes, a fifth with a prose impact window, vendor impacts in the
corpus's proportions, per-provider coverage from monthly listing payloads with a gap.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_corpus import CORPUS, corpus_store, write_section

START = datetime(2021, 1, 1, tzinfo=UTC)
YEARS = 5
_SENTENCES = [
    "We are investigating reports of degraded performance for {c}.",
    "We are seeing elevated error rates for {c}.",
    "A fix has been implemented and we are monitoring the results.",
    "{c} is operating normally.",
    "This incident has been resolved.",
    "Some users may experience delays while we work on mitigation.",
]
_CAUSES = [
    "The issue was caused by a recent deployment, which we rolled back.",
    "Users were unable to sign in to their accounts.",
    "A database failover caused errors for several minutes.",
    "We saw increased load on our API servers.",
    "An upstream provider is experiencing an outage in us-east-1.",
    "Connectivity issues affected customers in one region.",
    "An expired certificate caused TLS errors.",
]
_IMPACTS = ["minor"] * 6 + ["major"] * 2 + ["critical", "none", None, None]


def synthetic(count: int, seed: int = 7) -> tuple[list[Any], list[Any]]:
    """(incidents, payload spans) for `count` incidents over 20 providers and five years."""
    from kb.model import (
        Component,
        ImpactWindow,
        Incident,
        Kind,
        Lifecycle,
        Phase,
        Severity,
        StatusChange,
        Update,
    )
    from kb.store.analysis import PayloadSpan

    rng = random.Random(seed)
    providers = [f"p{n:02d}" for n in range(20)]
    span = timedelta(days=365 * YEARS)
    incidents = []
    for n in range(count):
        provider = providers[n % len(providers)]
        start = START + span * rng.random()
        duration = timedelta(minutes=min(rng.lognormvariate(3.8, 1.1), 60 * 24 * 6))
        updates_n = rng.randint(1, 8)
        stamps = sorted(start + duration * rng.random() for _ in range(updates_n - 1))
        stamps = [start, *stamps[: updates_n - 2], start + duration][:updates_n]
        names = [f"Component {rng.randint(1, 12)}" for _ in range(rng.randint(0, 3))]
        texts = [rng.choice(_SENTENCES).format(c=names[0] if names else "the API")
                 for _ in stamps]
        if rng.random() < 0.25:
            texts[-1] += " " + rng.choice(_CAUSES)
        impact = rng.choice(_IMPACTS)
        components = tuple(
            Component(name, changes=(StatusChange(start, "operational", "partial_outage"),
                                     StatusChange(start + duration, "partial_outage",
                                                  "operational")))
            if rng.random() < 0.5 else Component(name) for name in names)
        window = (ImpactWindow(start - timedelta(minutes=rng.randint(0, 30)), start + duration,
                               "synthetic") if rng.random() < 0.2 else None)
        incidents.append(Incident(
            provider=provider, native_id=f"s{n}", title=f"Incident with {names or ['API']}",
            kind=Kind.MAINTENANCE if rng.random() < 0.03 else Kind.INCIDENT,
            status="resolved", severity=Severity(impact) if impact in ("minor", "major",
                                                                       "critical") else
            Severity.NONE, impact=impact, components=components,
            lifecycle=Lifecycle(first_post_at=start, resolved_at=start + duration),
            impact_window=window,
            updates=tuple(Update(at, Phase.INVESTIGATING, "update", text, text)
                          for at, text in zip(stamps, texts, strict=False)),
        ))
    spans = []
    for provider in providers:
        month = START
        while month < START + span:
            if not (provider == "p03" and datetime(2023, 3, 1, tzinfo=UTC) <= month
                    < datetime(2023, 6, 1, tzinfo=UTC)):  # one provider with a hole
                spans.append(PayloadSpan(provider, f"{provider}{month}", month + timedelta(
                    days=31), 25, 25, month, month))
            month += timedelta(days=30)
    return incidents, spans


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def compute(incidents: list[Any], spans: list[Any], seen: dict[str, datetime],
            names: dict[str, str | None]) -> dict[str, float]:
    """Every figure once; seconds per step."""
    from kb.analysis.causes import tag_incident
    from kb.analysis.clusters import cluster_report
    from kb.analysis.compare import compare
    from kb.analysis.coverage import coverage_from_payloads
    from kb.analysis.metrics import all_figures
    from kb.analysis.periods import Period, calendar_months
    from kb.analysis.reliability import reliability_table

    out: dict[str, float] = {}
    out["figures"], figures = _timed(lambda: all_figures(incidents, seen))
    out["coverage"], coverages = _timed(lambda: coverage_from_payloads(spans))
    by_provider: dict[str, list[Any]] = {}
    for f in figures:
        by_provider.setdefault(f.provider, []).append(f)
    periods = {}
    for provider, cov in coverages.items():
        if cov.start is None or cov.end is None:
            continue
        end = cov.end
        periods[provider] = [Period(f"{d}d", end - timedelta(days=d), end) for d in (30, 90, 365)]
        periods[provider] += calendar_months(cov.start, cov.end)
    out["reliability"], rows = _timed(lambda: reliability_table(by_provider, coverages, periods,
                                                                components=True))
    out["causes"], causes = _timed(lambda: {i.key: tag_incident(i) for i in incidents})
    by_key = {f.key: f for f in figures}
    out["clusters"], clusters = _timed(
        lambda: cluster_report(incidents, by_key, causes).clusters)
    chosen = sorted(by_provider, key=lambda p: -len(by_provider[p]))[:5]
    end = max(c.end for c in coverages.values() if c.end)
    period = Period("365d", end - timedelta(days=365), end)
    out["compare"], _ = _timed(lambda: compare(chosen, by_provider, coverages, causes, period,
                                               names))
    out["rows"] = len(rows)
    out["clusters_found"] = len(clusters)
    return out


def corpus_run(corpus: Path) -> dict[str, float]:
    from kb.store.analysis import last_seen, payload_spans, provider_pages

    with corpus_store(corpus) as store:
        load, (incidents, seen, spans, pages) = _timed(lambda: (
            list(store.incidents()), last_seen(store), payload_spans(store),  # type: ignore[attr-defined]
            provider_pages(store)))
        result = compute(incidents, spans, seen, {k: v[0] for k, v in pages.items()})
    result["load"] = load
    result["incidents"] = len(incidents)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--write-docs", action="store_true", help="update docs/analysis.md")
    args = parser.parse_args()

    steps = ["load", "figures", "coverage", "reliability", "causes", "clusters", "compare"]
    corpus = [corpus_run(args.corpus) for _ in range(args.runs)]
    incidents, spans = synthetic(args.synthetic)
    synth = [compute(incidents, spans, {}, {}) for _ in range(args.runs)]

    def med(runs: list[dict[str, float]], step: str) -> str:
        if step not in runs[0]:
            return "-"
        return f"{statistics.median(r[step] for r in runs):.3f} s"

    def total(runs: list[dict[str, float]]) -> float:
        return statistics.median(sum(r.get(s, 0.0) for s in steps) for r in runs)

    lines = [f"| step | corpus ({corpus[0]['incidents']:.0f} incidents) | "
             f"synthetic ({args.synthetic:,} incidents) |", "|---|---:|---:|"]
    lines += [f"| {step} | {med(corpus, step)} | {med(synth, step)} |" for step in steps]
    lines.append(f"| **all figures** | **{total(corpus):.2f} s** | **{total(synth):.2f} s** |")
    lines.append(f"| reliability rows | {corpus[0]['rows']:.0f} | {synth[0]['rows']:.0f} |")
    lines.append(f"| clusters found | {corpus[0]['clusters_found']:.0f} | "
                 f"{synth[0]['clusters_found']:.0f} |")
    header = (f"Medians of {args.runs} runs, {os.cpu_count()} CPUs, Python "
              f"{sys.version.split()[0]}; corpus {args.corpus}. Synthetic per incident: "
              f"{total(synth) / args.synthetic * 1e6:.0f} µs, corpus: "
              f"{total(corpus) / corpus[0]['incidents'] * 1e6:.0f} µs.")
    report = header + "\n\n" + "\n".join(lines)
    print(report)
    if args.write_docs:
        write_section("bench_analysis", report)


if __name__ == "__main__":
    main()
