"""Ingest throughput on the recorded corpus: a full import into an empty KB, then a re-import.

Usage: python bench/bench_ingest.py [--runs 5] [--corpus ../shared/corpus] [--markdown FILE]

Each run imports into a fresh temporary KB_HOME (SQLite + raw archive) in this process, so
interpreter start-up is not counted. Reports medians over the runs (this machine is noisy)
and the re-import / import ratio. Target (issue 2): whole corpus < 5 s on 2 cores, re-import
< 10 % of that.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kb.config import PACKAGED_SOURCES

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("statuspage_incident_json", "statuspage_json", "statuspage_atom", "statuspage_rss",
           "incidentio_atom", "gcp_incidents_json", "aws_health_json")


def one_run(corpus: Path) -> dict[str, float]:
    from kb.config import load_sources
    from kb.pipeline import Line, ingest
    from kb.store import Store
    from scrapers.archive import Archive

    sources = load_sources(PACKAGED_SOURCES)
    paths = [corpus / f for f in FOLDERS if (corpus / f).exists()]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'kb.db'}"
        store, _ = Store.open(url, write=True)
        start = time.perf_counter()
        report = ingest(Line(store, Archive(home / "raw"), sources), paths)
        full = time.perf_counter() - start
        store.close()
        incidents = sum(1 for _ in Store.open(url)[0].incidents())
        updates = sum(len(i.updates) for i in Store.open(url)[0].incidents())
        store, _ = Store.open(url, write=True)
        start = time.perf_counter()
        again = ingest(Line(store, Archive(home / "raw"), sources), paths)
        reimport = time.perf_counter() - start
        store.close()
    if report.failures or again.total("new") or again.total("updated"):
        raise SystemExit(f"unexpected: {report.failures[:3]} / re-import changed data")
    return {"full": full, "reimport": reimport, "incidents": incidents, "updates": updates,
            "payloads": report.total("docs")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--markdown", type=Path, help="also write the result table here")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"{args.corpus}: corpus not found")
    runs = [one_run(args.corpus) for _ in range(args.runs)]
    full = statistics.median(r["full"] for r in runs)
    again = statistics.median(r["reimport"] for r in runs)
    first = runs[0]
    rows = [
        ("payloads", f"{first['payloads']:.0f}"),
        ("incidents stored", f"{first['incidents']:.0f}"),
        ("updates stored", f"{first['updates']:.0f}"),
        ("full import, median", f"{full:.2f} s (min {min(r['full'] for r in runs):.2f})"),
        ("incidents/s", f"{first['incidents'] / full:.0f}"),
        ("updates/s", f"{first['updates'] / full:.0f}"),
        ("re-import, median", f"{again:.2f} s"),
        ("re-import / import", f"{again / full:.1%}"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    header = (f"Ingest benchmark: {args.runs} runs, {os.cpu_count()} CPUs, Python "
              f"{sys.version.split()[0]}, corpus {args.corpus}")
    print(header)
    print(table)
    if args.markdown:
        args.markdown.write_text(f"{header}\n\n{table}\n")


if __name__ == "__main__":
    main()
