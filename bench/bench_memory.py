"""Peak memory (RSS) and CPU time of every read/derive command over a KB of N incidents.

Usage:
    python bench/bench_memory.py --kb /tmp/m2/10k/kb.db --label 10k \
        [--ingest-home DIR --payloads DIR] [--only "export jsonl" ...] \
        [--json bench/results/memory_10k.json]
    python bench/bench_memory.py --table bench/results/memory_10k.json \
        bench/results/memory_100k.json
    python bench/bench_memory.py --growth 10k_before.json 10k_after.json \
        100k_before.json 100k_after.json     # before/after, growth, 1M estimate

The KB file is COPIED into a scratch home first (--work, default /tmp/kb-bench-memory/LABEL):
some commands write (`kb db upgrade`, `kb causes --refresh`, `kb link`, the postmortems
stage, `kb embed`), and the original is never touched. Every command runs in its own process
(the real `kb` CLI, or this script's `--step` for a stage that has no command of its own);
its peak RSS is the child's own `ru_maxrss` from `os.wait4` and its CPU time is the child's
user + system time. Its stdout goes to a file (not to this process), whose sha256 is recorded
so two runs of an export can be compared byte for byte.

`--ingest-home` and `--payloads` (a KB imported from those payloads) add the re-ingest
(no-op) step: `kb ingest PAYLOADS` into a copy of that home.
The machine is shared: CPU figures move by ±30 %, RSS much less.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Result = dict[str, Any]


def commands(first_key: str, providers: list[str]) -> list[tuple[str, list[str]]]:
    """(name, argv after `kb`) of each measured command, in run order. `db upgrade` first:
    the other commands refuse an older schema."""
    one, two = providers[0], providers[min(1, len(providers) - 1)]
    return [
        ("db upgrade", ["db", "upgrade"]),
        ("export jsonl", ["export", "--format", "jsonl"]),
        ("export csv", ["export", "--format", "csv"]),
        ("metrics (all)", ["metrics", "--json"]),
        ("metrics (one provider)", ["metrics", "--provider", one, "--json"]),
        ("audit", ["audit", "--json"]),
        ("compare", ["compare", one, two, "--period", "2020", "--json"]),
        ("stats", ["stats", "--json"]),
        ("clusters", ["clusters", "--json"]),
        ("causes (list)", ["causes", "--json"]),
        ("causes --refresh (analysis stage)", ["causes", "--refresh", "--no-embedding"]),
        ("link --force (signals)", ["link", "--force", "--json"]),
        ("postmortems stage", ["--step", "postmortems"]),
        ("postmortems (list)", ["postmortems", "--json"]),
        ("embed (no-op)", ["embed", "--json"]),
        ("embed (incremental, 100 missing)", ["--step", "drop-vectors", "embed", "--json"]),
        ("show", ["show", first_key, "--json"]),
        ("incidents (list)", ["incidents", "--json"]),
        ("signals (list)", ["signals", "--json"]),
        ("postmortem draft", ["postmortem", first_key, "--format", "md"]),
    ]


def run_child(argv: list[str], env: dict[str, str], out: Path, timeout: float) -> Result:
    """Run argv with stdout to `out`; its own peak RSS (MB), CPU s, wall s, exit status."""
    started = time.perf_counter()
    with out.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=sink,
                                   stderr=subprocess.PIPE)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    digest = hashlib.sha256()
    with out.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    result: Result = {
        "rc": os.waitstatus_to_exitcode(status),
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stdout_bytes": out.stat().st_size,
        "stdout_sha256": digest.hexdigest(),
    }
    if result["rc"]:
        result["stderr"] = stderr[-600:]
    return result


def step(name: str, rest: list[str]) -> None:
    """A stage with no command of its own, run in this (child) process."""
    from kb.config import load_settings
    from kb.store import Store

    settings = load_settings()
    if name == "postmortems":
        from kb.postmortems.stage import relink
        from kb.signals.stage import config_for

        store, _ = Store.open(settings.database_url, write=True)
        report = relink(store, list(config_for(settings).providers), force=True)
        print(json.dumps({"documents": report.documents, "links": report.links}))
        store.close()
    elif name == "drop-vectors":
        # the incremental embed: 100 incidents lose their vector, then `kb embed` runs here
        db = settings.home / "kb.db"
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM incident_vectors WHERE incident_key IN (SELECT key FROM "
                         "incidents ORDER BY key LIMIT 100)")
        from kb.cli import main

        sys.argv = ["kb", *rest]
        main()
    else:
        raise SystemExit(f"unknown step {name}")


def run(args: argparse.Namespace) -> Result:
    work = Path(args.work or f"/tmp/kb-bench-memory/{args.label}")
    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    home.mkdir(parents=True)
    shutil.copyfile(args.kb, home / "kb.db")
    env = dict(os.environ, KB_HOME=str(home), PYTHONPATH=str(ROOT), NO_COLOR="1",
               COLUMNS="120")
    env.pop("KB_DATABASE_URL", None)
    with sqlite3.connect(home / "kb.db") as conn:
        # bench_search's synthetic KBs write incidents without provider rows; commands that
        # take --provider check that table, so the copy gets one row per stored provider
        conn.execute("INSERT OR IGNORE INTO providers (slug) SELECT DISTINCT provider FROM "
                     "incidents")
        count = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
        first_key = conn.execute("SELECT key FROM incidents ORDER BY key LIMIT 1").fetchone()[0]
        providers = [r[0] for r in conn.execute(
            "SELECT provider FROM incidents GROUP BY provider ORDER BY count(*) DESC LIMIT 2")]
    result: Result = {"label": args.label, "kb": str(args.kb), "incidents": count,
                      "load_before": os.getloadavg(), "steps": {}}
    wanted = set(args.only or [])
    for name, argv in commands(first_key, providers):
        if wanted and name not in wanted:
            continue
        full = ([sys.executable, __file__, *argv] if argv[0] == "--step"
                else [sys.executable, "-m", "kb", *argv])
        out = work / ("out-" + name.split()[0] + "-" + name.split()[-1].strip("()") + ".txt")
        r = run_child(full, env, out, args.timeout)
        result["steps"][name] = r
        print(f"{name:36} rc={r['rc']} rss={r['peak_rss_mb']:7.1f} MB cpu={r['cpu_s']:6.1f} s "
              f"wall={r['wall_s']:6.1f} s out={r['stdout_bytes']}", flush=True)
        if not args.keep_output:
            out.unlink()
    if args.ingest_home and args.payloads and (not wanted or "re-ingest" in wanted):
        ingest_home = work / "ingest-home"
        shutil.copytree(args.ingest_home, ingest_home)
        (ingest_home / "kb.lock").unlink(missing_ok=True)
        r = run_child([sys.executable, "-m", "kb", "ingest", str(args.payloads), "--json"],
                      dict(env, KB_HOME=str(ingest_home)), work / "out-ingest.txt",
                      args.timeout)
        result["steps"]["re-ingest (no-op)"] = r
        print(f"{'re-ingest (no-op)':36} rc={r['rc']} rss={r['peak_rss_mb']:7.1f} MB "
              f"cpu={r['cpu_s']:6.1f} s", flush=True)
    result["load_after"] = os.getloadavg()
    if not args.keep_output:
        shutil.rmtree(work, ignore_errors=True)
    return result


def table(paths: list[Path]) -> str:
    """A markdown table: one row per command, one column per saved run."""
    runs = [json.loads(p.read_text()) for p in paths]
    names = list(dict.fromkeys(n for r in runs for n in r["steps"]))
    head = "| command | " + " | ".join(f"{r['incidents']:,} incidents" for r in runs) + " |"
    lines = [head, "|---" * (len(runs) + 1) + "|"]
    for name in names:
        cells = []
        for r in runs:
            s = r["steps"].get(name)
            if s is None:
                cells.append("not run")
            elif s["rc"] not in (0, 1):  # 1: `kb audit` found failures, a result
                cells.append(f"exit {s['rc']}")
            else:
                cells.append(f"{s['peak_rss_mb']:.0f} MB, {s['cpu_s']:.1f} s CPU")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth_table(small: tuple[Path, Path], big: tuple[Path, Path], target: int = 1_000_000
                 ) -> str:
    """Before/after peak RSS at two sizes, the growth per 100k incidents (after, or before
    where the command was not rerun after) and its linear extrapolation to `target`: an
    ESTIMATE, labelled so, never a measurement."""
    runs = [[json.loads(p.read_text()) for p in pair] for pair in (small, big)]
    n_small, n_big = runs[0][0]["incidents"], runs[1][0]["incidents"]

    def rss(run: Result, name: str) -> float | None:
        s = run["steps"].get(name)
        return None if s is None or s["rc"] not in (0, 1) else s["peak_rss_mb"]

    def cell(before: float | None, after: float | None) -> str:
        if before is None or after is None:  # measured once (not changed: not rerun)
            value = after if before is None else before
            return "not run" if value is None else f"{value:.0f}"
        if abs(after - before) < 0.05 * before:  # within noise: one figure
            return f"{after:.0f}"
        return f"{before:.0f} → **{after:.0f}**"

    names = list(dict.fromkeys(n for pair in runs for r in pair for n in r["steps"]))
    lines = [f"| command | {n_small:,}: before → after (MB) | {n_big:,}: before → after (MB) "
             f"| growth per 100k (MB) | {target:,} (estimate, MB) |", "|---|---|---|---|---|"]
    for name in names:
        sb, sa = rss(runs[0][0], name), rss(runs[0][1], name)
        bb, ba = rss(runs[1][0], name), rss(runs[1][1], name)
        rerun = ba is not None and sa is not None
        low, high = (sa, ba) if rerun else (sb, bb)
        if low is None or high is None:
            slope = estimate = "-"
        else:
            per = (high - low) / (n_big - n_small) * 100_000
            if per < 5:  # within noise (the model's memory moves by more): flat
                slope, estimate = "flat", f"~{max(low, high):,.0f}"
            else:
                slope = f"{per:+.0f}" + ("" if rerun else " (before)")
                estimate = f"~{high + per * (target - n_big) / 100_000:,.0f}"
        lines.append(f"| `{name}` | {cell(sb, sa)} | {cell(bb, ba)} | {slope} | {estimate} |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--step":
        step(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, help="the SQLite KB file to copy and measure")
    parser.add_argument("--label", default="run")
    parser.add_argument("--work", help="scratch folder (default /tmp/kb-bench-memory/LABEL)")
    parser.add_argument("--ingest-home", type=Path)
    parser.add_argument("--payloads", type=Path)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep-output", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--table", type=Path, nargs="*")
    parser.add_argument("--growth", type=Path, nargs=4,
                        metavar=("SMALL_BEFORE", "SMALL_AFTER", "BIG_BEFORE", "BIG_AFTER"))
    args = parser.parse_args()
    if args.growth:
        print(growth_table((args.growth[0], args.growth[1]), (args.growth[2], args.growth[3])))
        return
    if args.table:
        print(table(args.table))
        return
    if args.kb is None:
        parser.error("--kb is required")
    result = run(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
