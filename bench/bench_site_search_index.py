"""The end of a full site build at scale: writing the search index. material's search plugin
makes it one string (json.dumps of every entry) and writes that; run_mkdocs_chunked now
writes it one entry a line as it goes (kb.render.build._write_search_index). Each way runs
in a child process that first loads the entries of an existing index (what the plugin holds
at that point), so the peak RSS over that load is what the writing adds.

Usage: python bench/bench_site_search_index.py INDEX [--json FILE]
(INDEX: a search_index.json, e.g. the one bench_site_changed.py --mkdocs seeds: 300,000
entries, 204 MB for the 100k-incident KB.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(index: Path, way: str) -> dict[str, object]:
    data = json.loads(index.read_bytes())
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = Path(tempfile.mkdtemp()) / "search" / "search_index.json"
    wall, cpu = time.perf_counter(), time.process_time()
    if way == "material":  # what SearchIndex.generate_search_index + on_post_build do
        text = json.dumps({"config": data["config"], "docs": data["docs"]},
                          separators=(",", ":"), default=str)
        out.parent.mkdir(parents=True)
        out.write_bytes(text.encode("utf-8"))
    else:
        from kb.render.build import _write_search_index

        _write_search_index(out, data["config"], data["docs"])
    result = {
        "way": way, "entries": len(data["docs"]),
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "rss_after_load_mb": round(loaded),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "same_value": json.loads(out.read_bytes()) == data,
        "load": Path("/proc/loadavg").read_text().split()[:3],
    }
    result["added_mb"] = result["peak_rss_mb"] - result["rss_after_load_mb"]  # type: ignore[operator]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=["material", "lines"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.index, args.child)))
        return
    runs = []
    for way in ("material", "lines", "material", "lines"):  # interleaved
        done = subprocess.run([sys.executable, __file__, str(args.index), "--child", way],
                              check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout))
        print(done.stdout.strip(), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"index": args.index.name, "runs": runs}, indent=1)
                             + "\n")


if __name__ == "__main__":
    main()
