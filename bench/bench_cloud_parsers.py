"""Speed of the cloud-provider parsers and of phase inference on the recorded corpus.

    .venv/bin/python bench/bench_cloud_parsers.py [--runs 7]

Prints the median (and min/max) wall time of: parsing Google Cloud's incidents.json (157
incidents), parsing AWS's data.json (86 rows → events), inferring the phase of every Google
update text (770), and normalizing the 157 Google incidents. This machine is noisy: compare
medians, not single runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def timed(work: Callable[[], object], runs: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    from kb.model import SourcedRecord, SourceRef
    from kb.normalize import normalize_incident
    from kb.normalize.infer import infer_phase
    from scrapers import aws_json, gcp
    from scrapers.records import RawDoc

    now = datetime.now(UTC)
    gcp_doc = RawDoc((CORPUS / "gcp_incidents_json/google-cloud/incidents.json").read_bytes(),
                     "file:///incidents.json", now)
    aws_doc = RawDoc((CORPUS / "aws_health_json/aws/data.json").read_bytes(),
                     "file:///data.json", now)
    parsed = gcp.parse(gcp_doc)
    texts = [(u.body, u.label) for r in parsed.incidents for u in r.updates]
    ref = SourceRef(gcp_doc.url, now, gcp_doc.sha256, gcp.NAME)
    sourced = [SourcedRecord(r, ref) for r in parsed.incidents]

    rows = [
        ("gcp.parse (157 incidents, 1.3 MB)", lambda: gcp.parse(gcp_doc)),
        ("aws_json.parse (86 rows → 61 events)", lambda: aws_json.parse(aws_doc)),
        (f"infer_phase × {len(texts)} Google updates",
         lambda: [infer_phase(body, label) for body, label in texts]),
        ("normalize_incident × 157 Google incidents",
         lambda: [normalize_incident("google-cloud", [s]) for s in sourced]),
    ]
    print(f"{'work':48} {'median':>9} {'min':>9} {'max':>9}   ({runs} runs)")
    for name, work in rows:
        median, low, high = timed(work, runs)
        print(f"{name:48} {median * 1000:8.1f}ms {low * 1000:8.1f}ms {high * 1000:8.1f}ms")


if __name__ == "__main__":
    main()
