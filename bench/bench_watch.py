"""What one `kb watch` round costs besides fetching, on the recorded corpus.

Usage: python bench/bench_watch.py [--runs 3] [--corpus ../shared/corpus]

Imports the corpus into a fresh temporary KB (not timed), then times the watcher's change
detection (kb.watch.round._detect, no targets, so no alert facts are built) for:
- the first look (every incident read and remembered; only open ones would be notified),
- a round where nothing changed (one hash query against what was seen),
- a round where one incident changed (its remembered hash is made stale).
Fetching is left out (it is `kb scrape`'s cost); so are alert facts and sending (they depend
on targets and the network) and the site refresh (kb.render's own benchmark).
Medians over the runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("statuspage_incident_json", "statuspage_json", "statuspage_atom", "statuspage_rss",
           "incidentio_atom", "gcp_incidents_json", "aws_health_json")


def one_run(corpus: Path) -> dict[str, float]:
    from sqlalchemy import update

    from kb.config import PACKAGED_SOURCES, load_settings, load_sources
    from kb.pipeline import Line, ingest
    from kb.store import Store
    from kb.store.outbox import T_WATCHED
    from kb.watch.round import RoundReport, _detect
    from scrapers.archive import Archive

    sources = load_sources(PACKAGED_SOURCES)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        home = Path(tmp)
        os.environ["KB_HOME"] = str(home)
        store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
        line = Line(store, Archive(home / "raw"), sources)
        ingest(line, [corpus / f for f in FOLDERS if (corpus / f).exists()])
        settings = load_settings({"KB_HOME": str(home)})
        followed = sorted(store.provider_pages())
        times: dict[str, float] = {}
        for name in ("first look", "nothing changed", "one incident changed"):
            if name == "one incident changed":
                key = next(iter(store.incidents(limit=1))).key
                with store.engine.begin() as conn:
                    conn.execute(update(T_WATCHED).where(T_WATCHED.c.incident_key == key)
                                 .values(content_hash="stale"))
            result = RoundReport(line.report)
            started = time.perf_counter()
            _detect(line, settings, [], followed, datetime.now(UTC), result)
            times[name] = time.perf_counter() - started
        times["incidents"] = sum(1 for _ in store.incidents())
        store.close()
        return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    runs = [one_run(args.corpus) for _ in range(args.runs)]
    print(f"incidents in the KB: {runs[0]['incidents']:.0f}; medians of {args.runs} runs")
    for name in ("first look", "nothing changed", "one incident changed"):
        print(f"{name:>22}: {statistics.median(r[name] for r in runs):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
