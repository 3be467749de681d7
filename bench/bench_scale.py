"""The KB at 100k and 1M incidents: ingest, re-ingest, embed, search and the site, with each
command's peak memory, on SQLite or PostgreSQL.

Usage:
    python bench/bench_scale.py --size 100000 [--db sqlite|postgres] [--work DIR]
        [--site] [--vectors numpy|pgvector] [--json bench/results/scale.json]
        [--again search ...]                      # rerun steps on the KB a saved run filled
        [--steps ingest ...]                      # only these steps, on a fresh KB
    python bench/bench_scale.py --table bench/results/scale.json   # the docs/scale.md table

Payloads come from bench/synthetic.py (Statuspage incidents.json files, sized like the
corpus; generated once per size and seed under --work and reused). Every measured step runs
in its own process (the real `kb` CLI where there is one), timed by wall clock; its peak
memory is that process' ru_maxrss from os.wait4 (the child alone, not this script):

- parse: read every payload, detect its format and parse it (scrapers only: no normalizing,
  no store): the floor an ingest cannot beat. Target: ingest ≤ 3× this.
- ingest: `kb ingest DIR` into an empty KB (archive, parse, normalize, store).
- re-ingest: the same command again (every payload already stored: a no-op).
- embed: `kb embed` with the deterministic fake-hash encoder (KB_EMBED_MODEL=fake-hash:
  the real model cannot embed 100k documents on 2 shared cores within this session); then
  `kb embed` again (nothing to do); then after importing 1 % more incidents (another seed),
  `kb embed` once more: the incremental figure.
- model: the real model's rate (all-MiniLM-L6-v2, ONNX int8, the default), documents per
  second over `--model` synthetic documents (default 512), to scale the fake figure: the
  full KB's embed time with the real model is estimated from it, never measured here.
- search: in one fresh process, the first hybrid query (cold: the process loads the vectors
  and the keyword index) and then p50/p95 of warm hybrid, keyword and semantic queries over
  the fake-hash vectors; the real model's query encoding (measured separately, warm) is
  added to the hybrid and semantic figures as "with real encode". Plus `kb search` as a CLI
  (cold, process start included), p50 over 5 runs.
- site (with --site): `kb site build` into an empty folder, then one incident edited (a
  newer payload of it) and `kb site build` again.

`--vectors pgvector` labels a run against a PostgreSQL whose server has pgvector: the KB then
ranks vectors in SQL by itself (kb.embed.index.PgVectorIndex); the search results record
which path ran (`vector_search`), so a server without the extension shows up as numpy.
The machine has 2 cores shared with other work: figures move by ±30 %.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_search import percentiles  # noqa: E402
from synthetic import Profile, generate  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/kbtest_s"
QUERIES = ["webhook deliveries delayed", "git push over ssh fails", "database failover",
           "users cannot log in", "elevated error rates on the API", "builds are stuck",
           "increased latency in the EU region", "notifications delayed", "DNS resolution",
           "degraded performance for Git Operations", "payments failing", "search is slow",
           "object storage unavailable", "login errors on the dashboard", "us-east-1 outage",
           "502 errors", "we are investigating reports", "packet loss", "queued jobs",
           "scheduled maintenance of the database"]
Result = dict[str, Any]


# -- children ----------------------------------------------------------------------------

def child_parse(folder: Path) -> Result:
    """Read, detect and parse every payload under `folder` (scrapers only)."""
    from scrapers import registry
    from scrapers.records import RawDoc

    incidents = updates = files = 0
    fetched = datetime(2026, 9, 15, tzinfo=UTC)
    for path in sorted(folder.rglob("*.json")):
        body = path.read_bytes()
        doc = RawDoc(url=path.as_uri(), fetched_at=fetched, body=body)
        parsed = registry.detect(body, doc.url).parse(doc)
        files += 1
        incidents += len(parsed.incidents)
        updates += sum(len(i.updates) for i in parsed.incidents)
    return {"files": files, "incidents": incidents, "updates": updates}


def child_model(count: int) -> Result:
    """The real default model's embedding rate (documents per second, warm)."""
    from kb.embed.encoder import load_encoder, resolve_model

    profile = Profile.load()
    rng = random.Random(1)
    words = profile.words
    docs = [" ".join(rng.choices(words, k=rng.randint(20, 120))) for _ in range(count)]
    spec = resolve_model({})
    home = Path(os.environ.get("KB_MODEL_CACHE", "/tmp/kb-models")).parent
    encoder = load_encoder(spec, home)
    encoder.encode(docs[:16])
    started = time.perf_counter()
    encoder.encode(docs)
    spent = time.perf_counter() - started
    samples = []
    for query in QUERIES * 3:
        t = time.perf_counter()
        encoder.encode([query])
        samples.append((time.perf_counter() - t) * 1000)
    p50, p95 = percentiles(samples)
    return {"model": spec.model_id, "docs": count, "seconds": spent,
            "docs_per_s": count / spent, "query_encode_p50_ms": p50, "query_encode_p95_ms": p95}


def child_search(url: str, home: Path, count: int) -> Result:
    """Cold first query, then warm p50/p95 per mode, in this fresh process."""
    from kb.embed.encoder import resolve_model
    from kb.embed.search import Searcher
    from kb.store import Store

    store, _ = Store.open(url)
    searcher = Searcher(store, home, spec=resolve_model())
    started, cpu_started = time.perf_counter(), time.process_time()
    first = searcher.search(QUERIES[0], mode="hybrid", k=10, explain=False)
    out: Result = {"cold_first_hybrid_ms": (time.perf_counter() - started) * 1000,
                   "cold_first_hybrid_cpu_ms": (time.process_time() - cpu_started) * 1000,
                   "results": len(first.hits), "mode_ran": first.mode, "notes": first.notes,
                   "vector_notes": list(getattr(searcher, "_vector_notes", []))}
    for mode in ("hybrid", "keyword", "semantic"):
        for query in QUERIES[:3]:
            searcher.search(query, mode=mode, k=10, explain=False)
        samples, cpu = [], []
        for i in range(count):
            t, c = time.perf_counter(), time.process_time()
            searcher.search(QUERIES[i % len(QUERIES)], mode=mode, k=10, explain=False)
            samples.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        p50, p95 = percentiles(samples)
        cpu50, cpu95 = percentiles(cpu)
        # CPU time of this process: on a machine shared by many, wall time is mostly waiting
        # for a core; for SQLite/numpy all the work is here (PostgreSQL's is not counted).
        out[mode] = {"p50_ms": p50, "p95_ms": p95, "cpu_p50_ms": cpu50, "cpu_p95_ms": cpu95}
    store.close()
    return out


# -- the parent ---------------------------------------------------------------------------

def measure(command: list[str], env: dict[str, str], *, timeout: float = 3600) -> Result:
    """Run `command`; wall seconds, exit status, its own peak RSS (MB) and its last JSON line
    on stdout, if any."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return {"wall_s": time.perf_counter() - started, "rc": "timeout",
                "stderr": err[-500:]}
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN only as a maximum
    # over all children, so each step's process reports its own via a wrapper instead.
    result: Result = {"wall_s": time.perf_counter() - started, "rc": process.returncode}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    for line in reversed(lines):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "__rss_mb" in data:
            result["peak_rss_mb"] = data.pop("__rss_mb")
            result["child_rc"] = data.pop("__rc")
            result["cpu_s"] = data.pop("__cpu_s")
            continue
        result["out"] = data
        break
    if process.returncode:
        result["stderr"] = err[-800:]
    return result


def wrapped(args: list[str]) -> list[str]:
    """`args` run under this script's --wrap: it reports the command's own peak RSS."""
    return [sys.executable, __file__, "--wrap", "--", *args]


def wrap(args: list[str]) -> None:
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
    _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"__rss_mb": usage.ru_maxrss / 1024, "__rc": code,
                      "__cpu_s": usage.ru_utime + usage.ru_stime}))
    sys.exit(code)


def kb(*args: str) -> list[str]:
    return wrapped([sys.executable, "-m", "kb", *args])


def step(*args: str) -> list[str]:
    return wrapped([sys.executable, __file__, "--step", *args])


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def edited_payload(folder: Path, out: Path) -> Path:
    """A newer payload of one incident (its title changed), as a vendor edit arrives."""
    first = sorted(folder.rglob("*.json"))[0]
    data = json.loads(first.read_bytes())
    data["incidents"] = data["incidents"][:1]
    data["incidents"][0]["name"] += " (edited)"
    data["page"]["updated_at"] = "2026-09-16T00:00:00.000Z"
    out.write_text(json.dumps(data))
    return out


def run(args: argparse.Namespace) -> Result:
    work = args.work.resolve()
    payloads = work / f"payloads-{args.size}-{args.seed}"
    extra = work / f"payloads-{args.size // 100}-{args.seed + 1}"
    started = time.perf_counter()
    for folder, size, seed in ((payloads, args.size, args.seed),
                               (extra, args.size // 100, args.seed + 1)):
        done = folder.with_name(folder.name + ".complete")  # beside: ingest reads the folder
        if not done.exists():
            made = generate(folder, size, seed=seed, providers=args.providers)
            done.write_text(json.dumps(made.__dict__))
    made_info = json.loads(payloads.with_name(payloads.name + ".complete").read_text())
    print(f"payloads ready in {time.perf_counter() - started:.0f} s: {made_info}",
          file=sys.stderr)

    home = work / f"home-{args.db}-{args.size}"
    url = f"sqlite:///{home / 'kb.db'}" if args.db == "sqlite" else args.pg_url
    if not args.again:
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
        if args.db == "postgres":
            reset_postgres(url)
    env = dict(os.environ, KB_HOME=str(home), KB_DATABASE_URL=url, KB_EMBED_MODEL="fake-hash",
               KB_SITE_DIR=str(home / "build"), COLUMNS="200")
    env.pop("KB_CONFIG", None)
    result: Result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "size": args.size,
        "db": args.db, "vectors": args.vectors, "seed": args.seed,
        "providers": args.providers, "payloads": made_info, "cpus": os.cpu_count(),
        "python": platform.python_version(), "load_before": _load(), "steps": {}}
    if args.again:  # rerun some steps on the KB the saved run filled
        saved = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
        previous = [r for r in saved.get("runs", []) if (r["db"], r["size"], r.get("vectors"))
                    == (args.db, args.size, args.vectors)]
        if not previous or not home.is_dir():
            raise SystemExit("--again needs the saved run (--json) and its KB under --work")
        result = previous[-1]
        result.setdefault("reruns", []).append(
            {"date": datetime.now(UTC).isoformat(timespec="seconds"), "steps": args.again,
             "load_before": _load()})
    steps = result["steps"]

    def wanted(name: str) -> bool:
        return (not args.again or name in args.again) and (not args.steps
                                                           or name in args.steps)

    def record(name: str, command: list[str], **kw: Any) -> Result:
        print(f"{name} ...", file=sys.stderr, flush=True)
        steps[name] = measure(command, env, **kw)
        shown = {k: v for k, v in steps[name].items() if k != "stderr"}
        print(f"{name}: {shown}", file=sys.stderr, flush=True)
        if steps[name].get("rc") not in (0, 5):
            print(steps[name].get("stderr", ""), file=sys.stderr)
        return steps[name]

    if wanted("ingest"):
        record("parse", step("parse", str(payloads)))
        record("ingest", kb("ingest", str(payloads), "--json"))
        record("re-ingest", kb("ingest", str(payloads), "--json"))
    if wanted("embed"):
        record("embed", kb("embed", "--json"))
        record("embed again", kb("embed", "--json"))
        record("ingest 1 % more", kb("ingest", str(extra), "--json"))
        record("embed incremental", kb("embed", "--json"))
    if wanted("search"):
        record("search", step("search", url, str(home), str(args.queries)))
        cli = [measure(kb("search", q, "--json"), env) for q in QUERIES[:5]]
        steps["search cli"] = {"wall_s_p50": statistics.median(c["wall_s"] for c in cli),
                               "cpu_s_p50": statistics.median(c.get("cpu_s", 0) for c in cli),
                               "peak_rss_mb": max(c.get("peak_rss_mb", 0) for c in cli),
                               "rc": max(int(c["rc"]) for c in cli)}
    if args.model and wanted("model"):
        record("model", step("model", str(args.model)))
    if args.site and wanted("site"):
        record("site build", kb("site", "build", "--json"), timeout=args.site_timeout)
        record("site build, nothing changed", kb("site", "build", "--json"),
               timeout=args.site_timeout)
        record("ingest one edited incident",
               kb("ingest", str(edited_payload(payloads, work / "edited.json")), "--json"))
        record("site build, one incident changed", kb("site", "build", "--json"),
               timeout=args.site_timeout)
    result["load_after"] = _load()
    result["summary"] = summarize(result)
    return result


def summarize(result: Result) -> Result:
    s = result["steps"]
    out: Result = {}
    if "parse" in s and "ingest" in s:
        out["ingest_over_parse"] = s["ingest"]["wall_s"] / s["parse"]["wall_s"]
        out["incidents_per_s"] = result["payloads"]["incidents"] / s["ingest"]["wall_s"]
    if "re-ingest" in s and "ingest" in s:
        out["reingest_share"] = s["re-ingest"]["wall_s"] / s["ingest"]["wall_s"]
    out["peak_rss_mb_max"] = max((v.get("peak_rss_mb", 0) for v in s.values()), default=0)
    search = s.get("search", {}).get("out", {})
    model = s.get("model", {}).get("out", {})
    if search and model:
        out["hybrid_p50_ms_with_real_encode"] = (search["hybrid"]["p50_ms"]
                                                 + model["query_encode_p50_ms"])
    if model:
        out["real_model_embed_all_s_estimate"] = (result["payloads"]["incidents"]
                                                  / model["docs_per_s"])
    return out


def _time(step: Result | None) -> str:
    if not step:
        return "not run"
    cpu = f"{step['cpu_s']:.1f} s CPU" if "cpu_s" in step else ""
    return f"{cpu} ({step['wall_s']:.0f} s wall)" + ("" if step.get("rc") in (0, 5)
                                                     else f", exit {step.get('rc')}")


def _ms(search: Result, mode: str) -> str:
    m = search.get(mode)
    if not m:
        return "not run"
    cpu = (f"{m['cpu_p50_ms']:.1f} / {m['cpu_p95_ms']:.1f} ms CPU, "
           if "cpu_p50_ms" in m else "")
    return f"{cpu}{m['p50_ms']:.0f} / {m['p95_ms']:.0f} ms wall"


def table(saved: Result) -> str:
    """The docs/scale.md table: one column per saved run."""
    runs = sorted(saved.get("runs", []), key=lambda r: (r["db"] != "sqlite", r["size"]))
    rows: list[tuple[str, ...]] = []

    def add(label: str, cell: Any) -> None:
        rows.append((label, *(cell(r) for r in runs)))

    def st(r: Result, name: str) -> Result | None:
        return r["steps"].get(name)

    def ratio(r: Result, key: str) -> str:
        a, b = st(r, "ingest"), st(r, "parse")
        return f"{a[key] / b[key]:.1f}×" if a and b and key in a and key in b else "n/a"

    add("payloads", lambda r: f"{r['payloads']['files']:,} files, "
        f"{r['payloads']['incidents']:,} incidents, {r['payloads']['updates']:,} updates, "
        f"{r['payloads']['bytes'] / 1e6:.0f} MB")
    add("parse only", lambda r: _time(st(r, "parse")))
    add("`kb ingest` (empty KB)", lambda r: _time(st(r, "ingest")))
    add("ingest ÷ parse (target ≤ 3×)", lambda r: f"{ratio(r, 'cpu_s')} CPU, "
        f"{ratio(r, 'wall_s')} wall")
    add("re-ingest (no-op)", lambda r: _time(st(r, "re-ingest")))
    add("`kb embed`, fake-hash, all", lambda r: _time(st(r, "embed")))
    add("`kb embed` again (nothing to do)", lambda r: _time(st(r, "embed again")))
    add("`kb embed` after 1 % more incidents", lambda r: _time(st(r, "embed incremental")))
    for mode in ("hybrid", "keyword", "semantic"):
        add(f"warm {mode} p50 / p95", lambda r, m=mode: _ms(
            (st(r, "search") or {}).get("out", {}), m))
    add("first hybrid query in a fresh process", lambda r: (
        f"{st(r, 'search')['out']['cold_first_hybrid_ms']:.0f} ms wall"
        if st(r, "search") else "not run"))
    add("`kb search` CLI, p50 of 5", lambda r: (
        f"{st(r, 'search cli').get('cpu_s_p50', 0):.1f} s CPU "
        f"({st(r, 'search cli')['wall_s_p50']:.0f} s wall)" if st(r, "search cli") else
        "not run"))
    add("real model: documents/s; query encode p50", lambda r: (
        f"{st(r, 'model')['out']['docs_per_s']:.0f}/s; "
        f"{st(r, 'model')['out']['query_encode_p50_ms']:.0f} ms"
        if st(r, "model") and "out" in st(r, "model") else "not run"))
    for name in ("site build", "site build, nothing changed",
                 "site build, one incident changed"):
        add(f"`kb {name}`", lambda r, n=name: _time(st(r, n)))
    def largest(r: Result) -> str:
        mb, name = max(((v.get("peak_rss_mb", 0), k) for k, v in r["steps"].items()),
                       default=(0, "-"))
        return f"{mb:.0f} MB ({name})"

    add("peak RSS, largest step (target ≤ 2 GiB)", largest)
    add("load average before → after", lambda r: f"{r['load_before']} → {r.get('load_after')}")
    header = ("", *(f"{r['db']}, {r['size']:,}" for r in runs))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--wrap":
        wrap(sys.argv[3:] if sys.argv[2] == "--" else sys.argv[2:])
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--table":
        print(table(json.loads(Path(sys.argv[2]).read_text())))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--step":
        name, rest = sys.argv[2], sys.argv[3:]
        if name == "parse":
            print(json.dumps(child_parse(Path(rest[0]))))
        elif name == "search":
            print(json.dumps(child_search(rest[0], Path(rest[1]), int(rest[2]))))
        elif name == "model":
            print(json.dumps(child_model(int(rest[0]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("KB_TEST_POSTGRES_URL", PG_URL))
    parser.add_argument("--vectors", choices=("numpy", "pgvector"), default="numpy")
    parser.add_argument("--work", type=Path, default=Path("/tmp/kb-scale"))
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--providers", type=int, default=300)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--model", type=int, default=512,
                        help="documents for the real model's rate (0: skip)")
    parser.add_argument("--site", action="store_true", help="also build the site twice")
    parser.add_argument("--site-timeout", type=float, default=3600)
    parser.add_argument("--json", type=Path, help="add this run to a results file")
    parser.add_argument("--again", nargs="+", choices=("ingest", "embed", "search", "model",
                                                       "site"),
                        help="rerun these steps on the KB of the saved run (--json)")
    parser.add_argument("--steps", nargs="+", choices=("ingest", "embed", "search", "model",
                                                       "site"),
                        help="run only these steps on a fresh KB (e.g. --steps ingest)")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result["summary"], indent=1))
    if args.json:
        saved = json.loads(args.json.read_text()) if args.json.is_file() else {"runs": []}
        key = (result["db"], result["size"], result["vectors"])
        saved["runs"] = [r for r in saved["runs"]
                         if (r["db"], r["size"], r.get("vectors")) != key] + [result]
        args.json.write_text(json.dumps(saved, indent=1) + "\n")


if __name__ == "__main__":
    main()
