"""How long the README's test command takes: wall time, CPU time of pytest and everything it
started, and the machine's load while it ran (on a shared machine the wall time says little;
the CPU time divided by the cores is the floor a quiet machine can reach).

    .venv/bin/python bench/bench_tests.py              # the README's command
    .venv/bin/python bench/bench_tests.py -m slow      # the slow tests alone
    .venv/bin/python bench/bench_tests.py -n 0         # serially

Extra arguments go to pytest after the README's command. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(extra: list[str]) -> int:
    """Run `python -m pytest EXTRA` in the repository root and print its figures."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *extra]
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = [line for line in result.stdout.splitlines() if re.match(r"=+ .* in [\d.]+s", line)]
    print(json.dumps({
        "command": " ".join(["python", "-m", "pytest", *extra]),
        "exit": result.returncode,
        "summary": summary[-1].strip("= ") if summary else None,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cores": os.cpu_count(),
        "cpu_per_core_s": round(cpu / (os.cpu_count() or 1), 1),
        "load_1min_before": load_before,
        "load_1min_after": os.getloadavg()[0],
        "failed": [line for line in result.stdout.splitlines()
                   if line.startswith(("FAILED", "ERROR"))],
    }, indent=2))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
