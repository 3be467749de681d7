"""The changed-keys render alone (kb.render.site.render_site with `changed`), on any KB: for
a KB too large to build the whole site of within a session (100k incidents), what the
render part of `kb watch`'s rebuild after one changed incident costs.

Usage: python bench/bench_site_changed.py DB_URL DOCS [--json FILE] [--mkdocs]

DOCS is a docs folder: when it holds no export yet, the export of every incident is written
into it first (as a full build would have; not measured, and in a child process so its
memory is not counted), since the changed-keys render patches the last export. Then one
incident is edited (its title) and the render runs twice with its key, in this process: the
first writes the changed pages (into a folder that lacks the other pages, so it writes a
few more files than a rebuild of a built site would), the second finds them unchanged.
Reports wall and CPU time and the peak RSS of this process.

--mkdocs: DOCS must be a folder named docs; after the first render, mkdocs builds the pages
it wrote into the site folder beside DOCS (kb.render.build.run_mkdocs_pages: what
`build_site` runs after a changed-keys render), timed apart. Since no full site of the KB
is built here, the site folder is seeded (in the child process, not measured) with a search
index of three entries per incident (the page, two sections; text from its updates: about
the entry count and size of a full build's, synthetic entries), one entry a line as
run_mkdocs_chunked writes it; the patch reads and rewrites the whole index, so its cost is
the one of a full site's. bench_site.py --changed-keys measures the whole rebuild of a
built site at 10k.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from site_data import AS_OF

ROOT = Path(__file__).resolve().parents[1]


def seed(url: str, docs: Path) -> None:
    """The export a full build would have left in `docs` (run in a child process)."""
    from kb.present import write_export
    from kb.render import paths
    from kb.render.output import MARKER
    from kb.render.site import _published
    from kb.store import Store

    store, _ = Store.open(url)
    docs.mkdir(parents=True, exist_ok=True)
    (docs / MARKER).touch()
    buffer = io.StringIO()
    write_export(sorted(map(_published, store.incidents()), key=lambda i: i.key), "jsonl",
                 buffer)
    export = docs / paths.EXPORT_FILE
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_text(buffer.getvalue(), encoding="utf-8")


def seed_search(url: str, site: Path) -> None:
    """A search index of the size of a full build's: three entries per incident."""
    from kb.render import paths
    from kb.render.build import _page_url, _write_search_index
    from kb.store import Store

    store, _ = Store.open(url)

    def entries():  # type: ignore[no-untyped-def]
        for incident in store.incidents():
            page = _page_url(paths.incident_doc(incident.provider, incident.native_id))
            text = " ".join(u.text for u in incident.updates) * 3  # a full page's length
            yield {"location": page, "title": incident.title, "text": text[:900]}
            yield {"location": page + "#timeline", "title": "Timeline", "text": text[:500]}
            yield {"location": page + "#updates", "title": "Updates", "text": text[:900]}

    config = {"lang": ["en"], "separator": r"[\s\-]+", "pipeline": ["stopWordFilter"],
              "fields": {"title": {"boost": 1000.0}, "text": {"boost": 1.0}}}
    _write_search_index(site / "search" / "search_index.json", config, entries())
    (site / "index.html").write_text("seeded\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("docs", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--mkdocs", action="store_true",
                        help="also build the written pages with mkdocs (DOCS named docs)")
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed(args.url, args.docs)
        if args.mkdocs:
            seed_search(args.url, args.docs.parent / "site")
        return
    from kb.pipeline import content_hash
    from kb.render import paths
    from kb.render.site import render_site
    from kb.store import Store
    from kb.store.repo import IncidentWrite

    if args.mkdocs and args.docs.name != "docs":
        parser.error("--mkdocs: DOCS must be a folder named docs (the site goes beside it)")
    if not (args.docs / paths.EXPORT_FILE).is_file():
        subprocess.run([sys.executable, __file__, args.url, str(args.docs), "--seed",
                        *(["--mkdocs"] if args.mkdocs else [])], check=True)
    store, _ = Store.open(args.url)
    incident = next(store.incidents(limit=1))
    writer, _ = Store.open(args.url, write=True)
    edited = replace(incident, title=incident.title + " (edited)")
    writer.write_batch([IncidentWrite(edited, content_hash(edited), current=())], [])
    runs = []
    for _ in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        one = render_site(store, args.docs, ROOT / "site", as_of=AS_OF, changed=[incident.key])
        runs.append({
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "scoped": one.scoped, "incidents": one.incidents, "pages_rendered": one.pages,
            "written": len(one.written), "failures": one.failures[:5],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "load": Path("/proc/loadavg").read_text().split()[:3],
        })
        if args.mkdocs and one.written:
            from kb.render.build import Layout, run_mkdocs_pages

            layout = Layout(ROOT / "mkdocs.yml", args.docs.parent)
            wall, cpu = time.perf_counter(), time.process_time()
            touched = run_mkdocs_pages(layout, one.written, [])
            runs[-1].update({
                "mkdocs_wall_s": round(time.perf_counter() - wall, 2),
                "mkdocs_cpu_s": round(time.process_time() - cpu, 2),
                "mkdocs_files": touched,
                "search_index_mb": round(
                    (layout.site / "search" / "search_index.json").stat().st_size / 1e6),
                "peak_rss_mb_after_mkdocs": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            })
        print(json.dumps(runs[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"url": args.url.rsplit("/", 1)[-1], "runs": runs},
                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
