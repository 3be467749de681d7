"""Peak memory of `kb ingest` on generated hostile payloads (docs/reliability.md, "Hostile
records"): a Statuspage file of 250,000 "incidents" with an id and a name but no time (about
55 MB), and one incident with a 60 MB update body.

Each payload is imported by a fresh `python -m kb ingest` into a fresh KB home; the peak
resident set is read from the child's /proc/self/status (VmHWM) as it exits.

    python bench/bench_hostile_records.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import sys
from kb.cli import main
try:
    main()
finally:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
    print(f"maxrss_kb={hwm}", file=sys.stderr)
"""


def junk_records(path: Path, count: int = 250_000) -> None:
    """`count` incidents with an id and a name, nothing else (no time, no updates)."""
    with path.open("w") as out:
        out.write('{"page": {"id": "x", "name": "Junk", "url": "https://junk.example.com"},'
                  ' "incidents": [')
        for n in range(count):
            if n:
                out.write(",")
            out.write(json.dumps({"id": f"junk{n:08d}", "name": f"junk incident {n} " + "x" * 160,
                                  "status": "investigating", "impact": "none"}))
        out.write("]}")


def huge_body(path: Path, size: int = 60 * 1024 * 1024) -> None:
    """One incident with one 60 MB update body."""
    update = {"id": "u1", "status": "investigating", "body": "The API is slow. " * (size // 17),
              "created_at": "2024-05-01T10:00:00Z", "display_at": "2024-05-01T10:00:00Z"}
    incident = {"id": "huge0001", "name": "Huge body", "created_at": "2024-05-01T10:00:00Z",
                "status": "resolved", "impact": "minor", "incident_updates": [update]}
    path.write_text(json.dumps({"page": {"id": "x", "name": "Junk",
                                         "url": "https://junk.example.com"},
                                "incidents": [incident]}))


def ingest(payload: Path, home: Path, tree: Path) -> tuple[int, float, int, str]:
    """(exit status, seconds, peak RSS in MB, last stderr line) of one `kb ingest` run from
    the checkout `tree`."""
    home.mkdir(parents=True)
    env = dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(tree / "kb" / "data" / "sources.toml"),
               PYTHONPATH=str(tree))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUN, "ingest", str(payload),
                           "--provider", "junk"], env=env, capture_output=True, text=True,
                          cwd=tree)
    took = time.perf_counter() - start
    hwm = [line for line in proc.stderr.splitlines() if line.startswith("maxrss_kb=")]
    peak = int(hwm[-1].partition("=")[2]) // 1024 if hwm else -1
    lines = [line for line in proc.stderr.splitlines() if line and "maxrss" not in line]
    return proc.returncode, took, peak, lines[-1][:160] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="write the payloads here and keep them")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the checkout whose kb runs (default: this one), for a baseline")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for name, make in (("junk_records", junk_records), ("huge_body", huge_body)):
            payload = where / f"{name}.json"
            if not payload.exists():
                make(payload)
            size = payload.stat().st_size / 1e6
            code, took, peak, last = ingest(payload, Path(tmp) / f"home-{name}", args.tree)
            print(f"{name}: {size:.0f} MB file, exit {code}, {took:.1f} s, "
                  f"peak RSS {peak} MB; last line: {last}")


if __name__ == "__main__":
    main()
