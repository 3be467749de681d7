"""Site build time at 1k and 10k incidents, on synthetic data shaped like the corpus.

Usage: python bench/bench_site.py [--sizes 1000 10000] [--runs 3] [--variants 1000] [--bare]
                                  [--markdown FILE] [--json FILE]

For each size a fresh SQLite KB is filled (bench/site_data.py) with synthetic incidents whose
shape follows the recorded corpus, then given what `kb update` gives a real KB: linked HN
threads and news (the real linker), a vector per incident (the real embed stage, the
deterministic fake-hash encoder at 384 dimensions) and cause tags (the real rules), so every
optional section of the site is in the build. `--bare` fills incidents only (no signals,
vectors or tags: the sections that need them are left out), the bench's old behaviour.
Filling is not measured as part of the build; its time is printed separately.

Each measured build runs in a child process (so peak memory is its own) into an empty build
folder and reports:

- render: database → Markdown pages (kb.render.site), cold;
- mkdocs: Markdown → HTML (mkdocs-material, in-process), and its share of the total;
- rebuild, nothing changed: render again (nothing written) and mkdocs skipped;
- one incident changed: `build_site` again (the render rewrites its files, mkdocs builds
  those pages only: kb.render.build.run_mkdocs_pages);
- per section (after the build, in the same process): its `prepare` once, and its
  `provide`/`marks` over every incident (or provider), through kb.render.sections' Registry
  as the build calls them, with the number of pages that show it.

`--variants N` also builds N incidents without the kb_pages hook (every page through the
Markdown parser) and without the search plugin, to show where mkdocs' time goes.

`--changed-keys` measures instead what `kb watch` and `kb update` pay after one changed
incident: a full build, then one incident edited and `build_site(changed=[its key])` (the
changed-keys render of kb.render.site and mkdocs for the pages it wrote), wall and CPU,
render and mkdocs apart (docs/site.md, "Incremental builds, measured").
Medians over the runs (this machine is noisy); the load average is printed with each size.
Target (issue 6): 10k incidents ≤ 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # site_data, also when imported

from site_data import (  # re-exported: other scripts call bench_site.fill
    AS_OF,
    EMBED_MODEL,
    PROVIDERS,
    fill,
    synthetic_incidents,
)

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["AS_OF", "PROVIDERS", "fill", "synthetic_incidents"]
Run = dict[str, Any]


def child(url: str, build: Path, variant: str) -> Run:
    """One measured build (runs in its own process)."""
    from dataclasses import replace

    import kb.render.build as site_build
    from kb.pipeline import content_hash
    from kb.render.build import build_site, find_layout
    from kb.store import Store
    from kb.store.repo import IncidentWrite

    layout = find_layout(ROOT / "mkdocs.yml", build)
    if variant not in ("default", "changed-keys"):
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
    result: Run = {
        "render": first.render.seconds, "mkdocs": first.mkdocs_seconds, "total": total,
        "render_cpu": first.render.cpu_seconds, "mkdocs_cpu": first.mkdocs_cpu_seconds,
        "pages": first.render.pages, "failures": first.render.failures,
        "sections_in_build": first.render.sections,
        "html_mb": sum(p.stat().st_size for p in layout.site.rglob("*.html")) / 1e6,
        "search_mb": sum(p.stat().st_size for p in layout.site.glob("search/*.json")) / 1e6,
    }
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if variant == "changed-keys":
        incident = next(store.incidents(limit=1))
        writer, _ = Store.open(url, write=True)
        changed = replace(incident, title=incident.title + " (edited)")
        writer.write_batch([IncidentWrite(changed, content_hash(changed), current=())], [])
        started, cpu = time.perf_counter(), time.process_time()
        one = build_site(store, layout, as_of=AS_OF, changed=[incident.key])
        result.update({
            "keys_total": time.perf_counter() - started,
            "keys_cpu": time.process_time() - cpu,
            "keys_render": one.render.seconds, "keys_render_cpu": one.render.cpu_seconds,
            "keys_mkdocs": one.mkdocs_seconds, "keys_mkdocs_cpu": one.mkdocs_cpu_seconds,
            "keys_scoped": float(one.render.scoped), "keys_incremental": float(one.incremental),
            "keys_pages_rendered": one.render.pages, "keys_written": len(one.render.written),
            "keys_html_written": one.html_written, "keys_load": load_average(),
        })
    if variant == "default":
        started = time.perf_counter()
        again = build_site(store, layout, as_of=AS_OF)
        result["rebuild_unchanged"] = time.perf_counter() - started
        result["rebuild_written"] = len(again.render.written)
        result["rebuild_ran_mkdocs"] = float(again.built)
        result["sections"] = section_costs(store)
        incident = next(store.incidents(limit=1))
        writer, _ = Store.open(url, write=True)
        changed = replace(incident, title=incident.title + " (edited)")
        writer.write_batch([IncidentWrite(changed, content_hash(changed), current=())], [])
        # The whole rebuild as `kb site build` (and `kb watch`'s site stage) runs it: the
        # render, then mkdocs for the changed pages only (kb.render.build.run_mkdocs_pages).
        started = time.perf_counter()
        one = build_site(store, layout, as_of=AS_OF)
        result["one_changed_total"] = time.perf_counter() - started
        result["one_changed_render"] = one.render.seconds
        result["one_changed_mkdocs"] = one.mkdocs_seconds
        result["one_changed_incremental"] = float(one.incremental)
        result["one_changed_written"] = len(one.render.written)
        result["one_changed_html_written"] = one.html_written
        result["one_changed_peak_rss_mb"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def section_costs(store: Any) -> dict[str, dict[str, Any]]:
    """Each discovered section's and collection's cost over the whole KB, called through a
    Registry with the build's context, as a build calls them: `prepare` once per distinct
    function (sections sharing one, like causes and metrics, pay it once: the first of them
    carries it, the others name it in "with"; a collection's pages are made there too), then
    `provide` and `marks` of each section over every incident (or provider)."""
    from kb.render.sections import BuildContext, Registry, discover

    incidents = list(store.incidents())
    providers = sorted({i.provider for i in incidents})
    found = discover()
    groups: dict[int, tuple[list[Any], list[Any]]] = {}
    for section in found.sections:
        groups.setdefault(id(section.prepare or section), ([], []))[0].append(section)
    for collection in found.collections:
        groups.setdefault(id(collection.prepare or collection), ([], []))[1].append(collection)
    costs: dict[str, dict[str, Any]] = {}
    for sections, collections in groups.values():
        registry = Registry(list(sections), collections=list(collections))
        wall, cpu = time.perf_counter(), time.process_time()
        registry.prepare(store, BuildContext(store, AS_OF, incidents=incidents))
        prepared = {"prepare": time.perf_counter() - wall, "prepare_cpu": time.process_time() - cpu}
        names = [f"{s.scope}:{s.name}" for s in sections] + [
            f"collection:{c.name}" for c in collections]
        for section in sections:
            alone = Registry([section], states=registry.states)  # its state, its blocks only
            wall, cpu = time.perf_counter(), time.process_time()
            shown = 0
            for subject in incidents if section.scope == "incident" else providers:
                shown += bool(alone.blocks(section.scope, subject))
                if section.scope == "incident":
                    alone.marks(subject)
            costs[f"{section.scope}:{section.name}"] = {
                "provide": time.perf_counter() - wall, "provide_cpu": time.process_time() - cpu,
                "shown": shown, "failures": len(alone.failures)}
        for collection in collections:
            costs[f"collection:{collection.name}"] = {
                "provide": 0.0, "provide_cpu": 0.0, "failures": 0,
                "shown": len(registry.pages.get(collection.name, []))}
        for n, name in enumerate(names):  # prepare's failures count for the whole group
            costs[name]["failures"] += len(registry.failures)
            costs[name].update(prepared if n == 0 else {"prepare": 0.0, "prepare_cpu": 0.0},
                               **({"with": names[0]} if n else {}))
    return costs


def measure(db: Path, variant: str) -> Run:
    """One build in a child process, of a fresh copy of the filled KB: a run edits an incident
    (the one-changed figure), and the next run must start from the same data."""
    from kb.store import Store

    env = dict(os.environ, KB_EMBED_MODEL=EMBED_MODEL)  # the filled KB's vectors' model
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        copy = Path(tmp) / db.name
        shutil.copyfile(db, copy)
        url = f"sqlite:///{copy}"
        writer, _ = Store.open(url, write=True)  # a migration landed since filling: upgrade
        writer.close()
        build = Path(tmp) / "build"
        build.mkdir()
        out = subprocess.run(
            [sys.executable, __file__, "--child", url, str(build), variant],
            capture_output=True, text=True, check=False, cwd=ROOT, env=env,
        )
    if out.returncode:
        raise SystemExit(f"child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(runs: list[Run], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def row(label: str, runs: list[Run]) -> tuple[str, ...]:
    cpu = median(runs, "render_cpu") + median(runs, "mkdocs_cpu")
    return (
        label, f"{median(runs, 'pages'):,.0f}",
        f"{median(runs, 'render'):.1f} s ({median(runs, 'render_cpu'):.1f} s)",
        f"{median(runs, 'mkdocs'):.1f} s ({median(runs, 'mkdocs_cpu'):.1f} s)",
        f"{100 * median(runs, 'mkdocs_cpu') / cpu:.0f} %",
        f"{median(runs, 'total'):.1f} s ({cpu:.1f} s)",
    )


def tail(runs: list[Run]) -> tuple[str, ...]:
    return (f"{median(runs, 'peak_rss_mb'):.0f} MB",
            f"{median(runs, 'html_mb'):.0f} / {median(runs, 'search_mb'):.0f} MB")


def section_medians(runs: list[Run]) -> dict[str, dict[str, Any]]:
    names = runs[0].get("sections", {})
    return {name: {key: statistics.median(r["sections"][name][key] for r in runs)
                   if isinstance(value, (int, float)) else value
                   for key, value in names[name].items()} for name in names}


def markdown(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def section_table(by_size: dict[int, dict[str, dict[str, Any]]]) -> str:
    sizes = sorted(by_size)
    names = sorted({n for costs in by_size.values() for n in costs})
    header = ("section", *(f"{s:,}: prepare, wall (CPU)" for s in sizes),
              *(f"{s:,}: provide + marks, all pages, wall (CPU)" for s in sizes),
              *(f"{s:,}: pages showing it" for s in sizes))
    rows = []
    for name in names:
        cells = [name]
        for key in ("prepare", "provide"):
            for size in sizes:
                c = by_size[size].get(name)
                if c and key == "prepare" and "with" in c:
                    cells.append(f"with {c['with']}")
                else:
                    cells.append(f"{c[key]:.2f} s ({c[key + '_cpu']:.2f} s)" if c else "")
        for size in sizes:
            c = by_size[size].get(name)
            cells.append(f"{c['shown']:,.0f}" if c else "")
        rows.append(tuple(cells))
    return markdown(header, rows)


CHANGED_KEYS_HEADER = (
    "incidents", "full build: wall (CPU)", "rebuild after one change, changed keys: wall (CPU)",
    "of which render: wall (CPU)", "of which mkdocs: wall (CPU)", "pages rendered / files written",
    "load average (1/5/15 min)")


def changed_keys_row(size: int, runs: list[Run], load: str) -> tuple[str, ...]:
    full_cpu = median(runs, "render_cpu") + median(runs, "mkdocs_cpu")
    return (
        f"{size:,}", f"{median(runs, 'total'):.1f} s ({full_cpu:.1f} s)",
        f"{median(runs, 'keys_total'):.1f} s ({median(runs, 'keys_cpu'):.1f} s)"
        + ("" if median(runs, "keys_scoped") else " (NOT scoped: full render)"),
        f"{median(runs, 'keys_render'):.1f} s ({median(runs, 'keys_render_cpu'):.1f} s)",
        f"{median(runs, 'keys_mkdocs'):.1f} s ({median(runs, 'keys_mkdocs_cpu'):.1f} s)",
        f"{median(runs, 'keys_pages_rendered'):.0f} / {median(runs, 'keys_written'):.0f}",
        load,
    )


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", type=int, nargs="*", default=[1000],
                        help="sizes to also build without the hook and without search")
    parser.add_argument("--bare", action="store_true",
                        help="incidents only: no signals, vectors or cause tags (old bench)")
    parser.add_argument("--markdown", type=Path, help="also write the result tables here")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--keep", type=Path,
                        help="keep the filled KBs in this folder and reuse them next time")
    parser.add_argument("--changed-keys", action="store_true",
                        help="only a full build and the changed-keys rebuild after one edit")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, build, variant = args.child
        print(json.dumps(child(url, Path(build), variant)))
        return
    rows: list[tuple[str, ...]] = []
    fills: list[str] = []
    sections: dict[int, dict[str, dict[str, Any]]] = {}
    saved: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "bare": args.bare,
        "python": platform.python_version(), "cpus": os.cpu_count(), "sizes": {}}
    label = " (bare)" if args.bare else ""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        for size in args.sizes:
            db = (args.keep or Path(tmp)) / f"kb{size}{'-bare' if args.bare else ''}.db"
            started = time.perf_counter()
            if db.is_file() and args.keep:  # filled by an earlier run (each build copies it)
                made = {"reused": 1.0}
            else:
                made = fill(f"sqlite:///{db}", size, bare=args.bare, home=db.parent)
            spent = time.perf_counter() - started
            fills.append(f"{size:,}: filled in {spent:.1f} s — " + ", ".join(
                f"{k.removesuffix('_s')} {v:.1f} s" if k.endswith("_s") else f"{k} {v:,.0f}"
                for k, v in made.items()))
            print(fills[-1], file=sys.stderr)
            before = load_average()
            if args.changed_keys:
                runs = [measure(db, "changed-keys") for _ in range(args.runs)]
                rows.append(changed_keys_row(size, runs, f"{before} → {load_average()}"))
                print(rows[-1], file=sys.stderr)
                saved["sizes"][str(size)] = {"fill_s": spent, "fill": made, "runs": runs}
                continue
            runs = [measure(db, "default") for _ in range(args.runs)]
            loads = f"{before} → {load_average()}"
            print(f"load average (1/5/15 min) {loads}", file=sys.stderr)
            rebuild = (f"{median(runs, 'rebuild_unchanged'):.1f} s "
                       f"({median(runs, 'rebuild_written'):.0f} written, mkdocs "
                       f"{'ran' if median(runs, 'rebuild_ran_mkdocs') else 'skipped'})")
            one = (f"{median(runs, 'one_changed_total'):.1f} s: render "
                   f"{median(runs, 'one_changed_render'):.1f} s "
                   f"({median(runs, 'one_changed_written'):.0f} files), mkdocs "
                   f"{median(runs, 'one_changed_mkdocs'):.1f} s "
                   f"({'those pages only' if median(runs, 'one_changed_incremental') else 'all'})")
            rows.append((*row(f"{size:,}{label}", runs), rebuild, one, *tail(runs)))
            print(rows[-1], file=sys.stderr)
            if runs[0]["failures"]:
                print(f"build failures: {runs[0]['failures'][:5]}", file=sys.stderr)
            sections[size] = section_medians(runs)
            saved["sizes"][str(size)] = {"fill_s": spent, "fill": made, "load": loads,
                                         "runs": runs}
            if size in args.variants:
                for variant in ("no-hook", "no-search"):
                    other = [measure(db, variant) for _ in range(args.runs)]
                    rows.append((*row(f"{size:,}{label} ({variant})", other), "", "",
                                 *tail(other)))
                    print(rows[-1], file=sys.stderr)
                    saved["sizes"][str(size)][variant] = other
    if args.changed_keys:
        header = CHANGED_KEYS_HEADER
        sections = {}
    else:
        header = ("incidents", "pages", "render: wall (CPU)", "mkdocs: wall (CPU)",
                  "mkdocs share of CPU", "total: wall (CPU)", "rebuild, nothing changed",
                  "rebuild, one incident changed", "peak memory", "HTML / search index")
    text = "\n\n".join([markdown(header, rows), section_table(sections) if sections else "",
                        "\n".join(f"- {line}" for line in fills)])
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(saved, indent=1) + "\n")


if __name__ == "__main__":
    main()
