"""Time of `find_impact_window` on hostile sentences (one 60,000-character sentence each: long
runs of blanks, commas or brackets between or after times, thousands of ranges). Each was
quadratic once (20-30 s): a blank run scanned once per blank by the sentence splitter, a
list membership test per time, clauses read to the end of the sentence after every range.

    python bench/bench_impact_hostile.py            # prints seconds per case; exit 1 over 2 s
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N = 60_000
LIMIT_S = 2.0
CASES = {
    "tilde prefix": "~" * N + "x 10:02 UTC, users began to see errors",
    "blanks after 'by'": "Errors by 10:02 UTC" + " " * N + "x",
    "commas after 'by'": "Errors by 10:02 UTC" + ", " * (N // 2) + "x",
    "blanks inside a range": "from 10:02 UTC" + " " * N + "to 10:45 UTC",
    "brackets inside a range": "from 10:02 UTC" + "(" * N + "x 10:45 UTC",
    "blanks after a range": "Between 10:02 and 10:45 UTC" + " " * N + "engineers",
    "words after 'at'": "At 10:02 UTC " + "word " * (N // 5),
    "dotted words after 'at'": "At 10:02 UTC " + "a.b" * (N // 3),
    "'were' after a range": "Between 10:02 and 10:45 UTC " + "were " * (N // 5),
    "thousands of ranges": "between 10:02 and 10:45 UTC, " * (N // 30),
    "'was identified' before 'by'": "was identified " * (N // 15) + "by 10:02 UTC",
}


def main() -> int:
    from kb.normalize.impact import find_impact_window

    posted = datetime(2023, 3, 14, 23, 0, tzinfo=UTC)
    worst = 0.0
    for name, text in CASES.items():
        began = time.perf_counter()
        find_impact_window([(posted, text)])
        took = time.perf_counter() - began
        worst = max(worst, took)
        print(f"{name:32} {took:6.2f} s")
    print(f"worst {worst:.2f} s (limit {LIMIT_S} s)")
    return 0 if worst <= LIMIT_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
