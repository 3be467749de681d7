"""Site build time at 1k and 10k incidents, on synthetic data shaped like the corpus.

Usage: python bench/bench_site.py [--sizes 1000 10000] [--runs 3] [--variants 1000]
                                  [--markdown FILE]

For each size a fresh SQLite KB is filled with synthetic incidents whose shape follows the
recorded corpus (updates per incident, text lengths, HTML bodies, components, impact windows,
maintenances, a dozen providers over five years). Each measured build runs in a child process
(so peak memory is its own) into an empty build folder and reports:

- render: database → Markdown pages (kb.render.site), cold;
- mkdocs: Markdown → HTML (mkdocs-material, in-process), and its share of the total;
- rebuild, nothing changed: render again (nothing written) and mkdocs skipped;
- one incident changed: render again (files rewritten).

`--variants N` also builds N incidents without the kb_pages hook (every page through the
Markdown parser) and without the search plugin, to show where mkdocs' time goes.
Medians over the runs (this machine is noisy). Target (issue 6): 10k incidents ≤ 60 s on
2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 9, 15)
PROVIDERS = {
    "acme-cloud": ["API", "Dashboard", "Webhooks", "Billing", "EU region", "US region"],
    "bolt-git": ["Git Operations", "API Requests", "Actions", "Pages", "Packages", "Issues"],
    "chatty-ai": ["API", "Chat", "Login", "Files", "Embeddings", "Fine-tuning", "Realtime"],
    "deltadns": ["DNS", "CDN", "WAF", "Dashboard"],
    "echo-pay": ["Payments API", "Checkout", "Payouts", "Dashboard"],
    "fox-mail": ["SMTP", "Inbound", "API", "Webhooks"],
    "gamma-db": ["Clusters", "Backups", "Console", "Networking"],
    "helix-ci": ["Builds", "Artifacts", "Web app", "Runners"],
    "iris-voice": ["Voice", "SMS", "Video", "Console"],
    "jolt-obs": ["Ingest", "Dashboards", "Alerting", "Logs", "APM"],
    "kilo-store": ["Object storage", "Block storage", "Console"],
    "lumen-chat": ["Messaging", "Voice", "Login", "Media"],
}
OPENERS = ["We are investigating reports of", "We are currently investigating",
           "We have identified", "A fix has been implemented for",
           "We are continuing to monitor", "This incident has been resolved:"]
MIDDLES = ["elevated error rates", "degraded performance", "increased latency", "failed requests",
           "delays in processing", "intermittent timeouts", "login failures", "partial outage"]
TAILS = ["affecting {c}.", "for some customers using {c}.", "on {c} in one region.",
         "with {c}. We will provide an update as soon as possible.",
         "impacting {c}. Customers may see 5xx responses while we roll back a deploy.",
         "on {c}; the root cause was a misconfigured load balancer after maintenance."]
PHASES = ["investigating", "identified", "monitoring", "resolved"]


def _text(rng: random.Random, component: str) -> str:
    parts = [rng.choice(OPENERS), rng.choice(MIDDLES), rng.choice(TAILS).format(c=component)]
    if rng.random() < 0.35:  # the corpus' long tail of multi-sentence updates
        parts.append(" ".join(rng.choice(MIDDLES) for _ in range(rng.randint(5, 40))) + ".")
    return " ".join(parts)


def synthetic_incidents(count: int, seed: int = 6):  # type: ignore[no-untyped-def]
    """`count` incidents shaped like the corpus (deterministic for a seed)."""
    from kb.model import (
        Component,
        ImpactWindow,
        Incident,
        Kind,
        Lifecycle,
        Phase,
        Severity,
        SourceRef,
        Update,
    )

    rng = random.Random(seed)
    end = datetime.combine(AS_OF, datetime.min.time(), tzinfo=UTC)
    slugs = list(PROVIDERS)
    for n in range(count):
        provider = slugs[n % len(slugs)] if n % 3 else rng.choice(slugs[:3])  # a few dominate
        start = end - timedelta(minutes=rng.randint(0, 5 * 365 * 24 * 60))
        maintenance = rng.random() < 0.03
        names = rng.sample(PROVIDERS[provider], k=min(rng.choice([0, 1, 1, 1, 2, 3]),
                                                        len(PROVIDERS[provider])))
        components = tuple(Component(name) for name in names)
        length = rng.choices([1, 2, 3, 4, 5, 7, 12], [30, 30, 15, 12, 7, 4, 2])[0]
        at, updates, phase_index = start, [], 0
        for i in range(length):
            last = i == length - 1
            if last:
                phase_index = 3
            elif i and rng.random() < 0.6:
                phase_index = min(phase_index + 1, 2)
            text = _text(rng, names[0] if names else "the service")
            body = (f"<ul><li><strong>{at:%Y-%m-%d %H:%M:%S}</strong> - {text}</li></ul>"
                    if rng.random() < 0.22 else text)
            phase = Phase(PHASES[phase_index])
            updates.append(Update(at, phase, phase.value, body, text))
            at += timedelta(minutes=rng.randint(5, 240))
        resolved = updates[-1].at
        window = None
        if rng.random() < 0.11:
            window = ImpactWindow(start - timedelta(minutes=rng.randint(0, 60)),
                                  resolved - timedelta(minutes=rng.randint(0, 30)),
                                  "Impact occurred between the stated times.")
        native_id = hashlib.sha256(f"{seed}-{n}".encode()).hexdigest()[:12]
        yield Incident(
            provider=provider, native_id=native_id,
            title=f"{rng.choice(MIDDLES).capitalize()} on {names[0] if names else 'all services'}",
            kind=Kind.MAINTENANCE if maintenance else Kind.INCIDENT, status="resolved",
            severity=rng.choices(list(Severity), [3, 60, 30, 7])[0],
            url=f"https://status.{provider}.test/incidents/{native_id}",
            components=components,
            lifecycle=Lifecycle(first_post_at=start, resolved_at=resolved,
                                vendor_created_at=start, vendor_resolved_at=resolved),
            impact_window=window, updates=tuple(updates),
            sources=(SourceRef(f"https://status.{provider}.test/api/v2/incidents.json",
                               end, hashlib.sha256(native_id.encode()).hexdigest(),
                               "statuspage_json"),),
        )


def fill(url: str, count: int) -> None:
    from kb.pipeline import content_hash
    from kb.store import Store
    from kb.store.repo import IncidentWrite

    store, _ = Store.open(url, write=True)
    batch: list[IncidentWrite] = []
    for incident in synthetic_incidents(count):
        batch.append(IncidentWrite(incident, content_hash(incident), current=()))
        if len(batch) == 500:
            store.write_batch(batch, [])
            batch = []
    store.write_batch(batch, [])
    for slug in PROVIDERS:
        store.upsert_provider(slug, slug.replace("-", " ").title(), f"https://status.{slug}.test")
    store.close()


def child(url: str, build: Path, variant: str) -> dict[str, float]:
    """One measured build (runs in its own process)."""
    from dataclasses import replace

    import kb.render.build as site_build
    from kb.pipeline import content_hash
    from kb.render.build import build_site, find_layout
    from kb.store import Store
    from kb.store.repo import IncidentWrite

    layout = find_layout(ROOT / "mkdocs.yml", build)
    if variant != "default":
        config = build / f"mkdocs-{variant}.yml"
        text = (ROOT / "mkdocs.yml").read_text()
        if variant == "no-hook":
            text = text.replace("hooks:\n  - site/hooks/kb_pages.py\n", "")
        elif variant == "no-search":
            text = text.replace("plugins:\n  - search\n", "plugins: []\n")
        text = text.replace("custom_dir: site/", f"custom_dir: {ROOT}/site/")
        config.write_text(text.replace("  - site/hooks/", f"  - {ROOT}/site/hooks/"))
        layout = site_build.Layout(config, build, ROOT / "site")
    store, _ = Store.open(url)
    started = time.perf_counter()
    first = build_site(store, layout, as_of=AS_OF)
    total = time.perf_counter() - started
    result = {"render": first.render.seconds, "mkdocs": first.mkdocs_seconds, "total": total,
              "render_cpu": first.render.cpu_seconds, "mkdocs_cpu": first.mkdocs_cpu_seconds,
              "pages": first.render.pages,
              "html_mb": sum(p.stat().st_size for p in layout.site.rglob("*.html")) / 1e6,
              "search_mb": sum(p.stat().st_size for p in layout.site.glob("search/*.json")) / 1e6}
    if variant == "default":
        started = time.perf_counter()
        again = build_site(store, layout, as_of=AS_OF)
        result["rebuild_unchanged"] = time.perf_counter() - started
        result["rebuild_written"] = len(again.render.written)
        result["rebuild_ran_mkdocs"] = float(again.built)
        incident = next(store.incidents(limit=1))
        writer, _ = Store.open(url, write=True)
        changed = replace(incident, title=incident.title + " (edited)")
        writer.write_batch([IncidentWrite(changed, content_hash(changed), current=())], [])
        started = time.perf_counter()
        from kb.render.site import render_site

        one = render_site(store, layout.docs, layout.source, as_of=AS_OF)
        result["one_changed_render"] = time.perf_counter() - started
        result["one_changed_written"] = len(one.written)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure(url: str, variant: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "--child", url, tmp, variant],
            capture_output=True, text=True, check=False, cwd=ROOT,
        )
    if out.returncode:
        raise SystemExit(f"child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def row(label: str, runs: list[dict[str, float]]) -> tuple[str, ...]:
    cpu = median(runs, "render_cpu") + median(runs, "mkdocs_cpu")
    return (
        label, f"{median(runs, 'pages'):,.0f}",
        f"{median(runs, 'render'):.1f} s ({median(runs, 'render_cpu'):.1f} s)",
        f"{median(runs, 'mkdocs'):.1f} s ({median(runs, 'mkdocs_cpu'):.1f} s)",
        f"{100 * median(runs, 'mkdocs_cpu') / cpu:.0f} %",
        f"{median(runs, 'total'):.1f} s ({cpu:.1f} s)",
    )


def tail(runs: list[dict[str, float]]) -> tuple[str, ...]:
    return (f"{median(runs, 'peak_rss_mb'):.0f} MB",
            f"{median(runs, 'html_mb'):.0f} / {median(runs, 'search_mb'):.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", type=int, nargs="*", default=[1000],
                        help="sizes to also build without the hook and without search")
    parser.add_argument("--markdown", type=Path, help="also write the result table here")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, build, variant = args.child
        print(json.dumps(child(url, Path(build), variant)))
        return
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        for size in args.sizes:
            url = f"sqlite:///{Path(tmp) / f'kb{size}.db'}"
            started = time.perf_counter()
            fill(url, size)
            print(f"filled {size} incidents in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
            runs = [measure(url, "default") for _ in range(args.runs)]
            rebuild = (f"{median(runs, 'rebuild_unchanged'):.1f} s "
                       f"({median(runs, 'rebuild_written'):.0f} written, mkdocs "
                       f"{'ran' if median(runs, 'rebuild_ran_mkdocs') else 'skipped'})")
            one = (f"{median(runs, 'one_changed_render'):.1f} s "
                   f"({median(runs, 'one_changed_written'):.0f} files)")
            rows.append((*row(f"{size:,}", runs), rebuild, one, *tail(runs)))
            print(rows[-1], file=sys.stderr)
            if size in args.variants:
                for variant in ("no-hook", "no-search"):
                    other = [measure(url, variant) for _ in range(args.runs)]
                    rows.append((*row(f"{size:,} ({variant})", other), "", "", *tail(other)))
                    print(rows[-1], file=sys.stderr)
    header = ("incidents", "pages", "render: wall (CPU)", "mkdocs: wall (CPU)",
              "mkdocs share of CPU", "total: wall (CPU)", "rebuild, nothing changed",
              "render, one incident changed", "peak memory", "HTML / search index")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
