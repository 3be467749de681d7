"""Query latency at 10k and 100k incidents: warm (one process) and cold (`kb search` CLI).

Usage: python bench/bench_search.py [--sizes 10000 100000] [--home DIR] [--queries 60]
                                    [--cold-runs 7] [--json FILE]

The KBs are synthetic at scale: each incident copies the title and updates of a real corpus
incident (so the FTS5 index sees real term statistics) under a new key, provider and date,
and gets a random unit vector (the latency of a matrix-vector product does not depend on what
the vectors mean). Queries are encoded for real (ONNX int8, the default backend). Built once
per size under --home and reused.

Warm: a Searcher in this process, after 5 warm-up queries; p50/p95 over --queries queries,
per mode (rankings only), and hybrid with the "why it matched" sentences (hybrid+why; with
random vectors few results share a query word, so this is the worst case of explaining).
Before timing, the search indexes `kb embed` builds for a large KB (kb.embed.ann,
kb.embed.impact) are brought up to date. Also warm: hybrid for queries naming an exact
identifier (us-east-1, 502, ...; the keyword index is asked which incidents hold it), and
`kb similar` (hybrid, reranked, rankings only) for incidents spread over the KB, each
interleaved with the same call without its new step (the exact-identifier tier, the
reranker) so that both see the same load.
Cold: `kb search QUERY --json` in a fresh process, p50/p95 over --cold-runs runs.
Warm figures are wall time and CPU time (process_time: every thread of the process), and
the parts of a hybrid query are timed alone: query encoding, the matrix top-100, the FTS5
keyword top-100. The load average before and after is recorded.
Targets (issue 4): warm p50 ≤ 20 ms at 100k; cold ≤ 2 s. Issue 19: hybrid p50 ≤ 10 ms at
100k warm on SQLite/numpy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kb.config import PACKAGED_SOURCES

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FOLDERS = ("statuspage_incident_json/github", "statuspage_json", "statuspage_atom",
           "statuspage_rss", "incidentio_atom")
QUERIES = [
    "webhook deliveries delayed", "git push over ssh fails", "DDoS attack", "database failover",
    "elevated errors on Claude Opus", "users cannot log in", "image generation errors",
    "Pages builds are stuck", "Actions jobs queued for a long time", "packet loss upstream",
    "expired certificate", "object storage latency in AMS3", "droplet creation failures",
    "npm registry degraded", "Copilot model unavailable", "search is slow",
    "notifications delayed", "API rate limiting errors", "Codespaces cannot start",
    "load balancer failure",
]
# Queries with an exact identifier (a region, an error code, a product): the hybrid ranking
# then also asks the keyword index which incidents hold it (kb.embed.search.identifiers).
IDENTIFIER_QUERIES = ["us-east-1 outage", "502 errors", "europe-west1 unavailable",
                      "AMS3 degraded", "gpt-5.6 errors", "api.github.com timeouts"]


def build(home: Path, size: int, corpus: Path) -> Path:
    """A synthetic KB of `size` incidents under home/<size>/ (reused when complete)."""
    from kb.config import load_sources
    from kb.embed.document import RECIPE
    from kb.embed.encoder import resolve_model
    from kb.pipeline import Line, content_hash, ingest
    from kb.store import Store, vectors
    from kb.store.repo import IncidentWrite
    from scrapers.archive import Archive

    folder = home / str(size)
    done = folder / "complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:  # the real incidents to copy from
        real, _ = Store.open(f"sqlite:///{Path(tmp) / 'kb.db'}", write=True)
        ingest(Line(real, Archive(Path(tmp) / "raw"),
                    load_sources(PACKAGED_SOURCES)), [corpus / f for f in FOLDERS])
        templates = list(real.incidents())
        real.close()
    import numpy as np

    rng = random.Random(size)
    vectors_rng = np.random.default_rng(size)
    model_id = resolve_model({}).model_id
    store, _ = Store.open(f"sqlite:///{folder / 'kb.db'}", write=True)
    start = datetime(2010, 1, 1, tzinfo=UTC)
    for offset in range(0, size, 2000):
        writes, rows = [], []
        for n in range(offset, min(size, offset + 2000)):
            base = rng.choice(templates)
            at = start + timedelta(minutes=rng.randrange(16 * 365 * 24 * 60))
            shift = at - (base.lifecycle.first_post_at or at)
            incident = replace(
                base, provider=f"synthetic-{n % 20:02d}", native_id=f"s{n:07d}", sources=(),
                lifecycle=replace(base.lifecycle, first_post_at=at, resolved_at=(
                    base.lifecycle.resolved_at + shift if base.lifecycle.resolved_at else None)),
                updates=tuple(replace(u, at=u.at + shift) for u in base.updates),
            )
            digest = content_hash(incident)
            writes.append(IncidentWrite(incident, digest, []))
            vector = vectors_rng.standard_normal(384).astype("<f4")
            vector /= np.linalg.norm(vector)
            rows.append(vectors.VectorRow(incident.key, model_id, RECIPE, "synthetic", digest,
                                          384, 1, vector.tobytes()))
        store.write_batch(writes, [])
        vectors.write_vectors(store, rows)
    store.close()
    done.write_text("ok\n")
    return folder


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def warm(folder: Path, count: int, models: Path) -> dict[str, dict[str, float]]:
    from kb.embed.search import Searcher
    from kb.embed.stage import search_indexes
    from kb.store import Store

    store, _ = Store.open(f"sqlite:///{folder / 'kb.db'}")
    searcher = Searcher(store, models)
    out = {}
    # What `kb embed` builds for a large KB (HNSW graph, BM25 impact index; kept when
    # current): the bench writes its vectors itself, so it asks for them here, for this
    # home (warm) and the KB's own (cold `kb search`).
    started = time.process_time()
    out["indexes"] = {"warm": search_indexes(store, models, searcher.model_id),
                      "cold": search_indexes(store, folder, searcher.model_id),
                      "cpu_s": time.process_time() - started}
    for mode in ("semantic", "keyword", "hybrid", "hybrid+why"):
        plain = mode.removesuffix("+why")
        explain = mode.endswith("+why")
        for query in QUERIES[:5]:
            searcher.search(query, mode=plain, explain=explain)
        samples, cpu = [], []
        for i in range(count):
            started, cpu_started = time.perf_counter(), time.process_time()
            searcher.search(QUERIES[i % len(QUERIES)], mode=plain, k=10, explain=explain)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        p50, p95 = percentiles(samples)
        cpu50, cpu95 = percentiles(cpu)
        # CPU time of the process (every thread: the keyword ranking's, BLAS's, onnxruntime's):
        # on a machine shared by many sessions wall time is mostly waiting for a core.
        out[mode] = {"p50_ms": p50, "p95_ms": p95, "cpu_p50_ms": cpu50, "cpu_p95_ms": cpu95}
    # Identifier queries and `kb similar`, each timed with and without its new step, the two
    # interleaved query by query in this one process, so load on the machine hits both alike.
    plain = Searcher(store, models, exact_identifiers=False, rerank_similar=False)
    plain._index, plain._encoder = searcher._vectors(), searcher.encoder()
    every = searcher._vectors().keys
    keys = every[:: max(1, len(every) // 20)][:20]
    runs = {
        "hybrid, identifier queries": lambda i, s: s.search(
            IDENTIFIER_QUERIES[i % len(IDENTIFIER_QUERIES)], k=10, explain=False),
        "similar": lambda i, s: s.similar(keys[i % len(keys)], k=10, explain=False),
    }
    for name, run in runs.items():
        for i in range(3):
            run(i, searcher)
            run(i, plain)
        timed: dict[str, list[float]] = {"with": [], "without": []}
        for i in range(count):
            for label, who in (("with", searcher), ("without", plain)):
                started = time.perf_counter()
                run(i, who)
                timed[label].append((time.perf_counter() - started) * 1000)
        out[name] = dict(zip(("p50_ms", "p95_ms"), percentiles(timed["with"]), strict=True))
        out[f"{name}, without the new step"] = dict(
            zip(("p50_ms", "p95_ms"), percentiles(timed["without"]), strict=True))
    # The parts of a hybrid query, to show where the time goes (wall and CPU of each).
    from kb.embed.index import query_terms
    from kb.store import keyword
    from kb.store.vectors import SearchFilters

    encoder = searcher.encoder()
    index = searcher._vectors()
    vector = encoder.encode([QUERIES[0]])[0]
    parts = {
        "encode+matrix top-100": lambda q: index.search(encoder.encode([q])[0], 100),
        "query encode": lambda q: encoder.encode([q]),
        "matrix top-100": lambda q: index.search(vector, 100),
        "keyword top-100 (FTS5 BM25)": lambda q: keyword.keyword_search(
            store, query_terms(q), 100, SearchFilters()),
        "keyword top-100 (as search ranks it)": lambda q: searcher._keyword_ranking(
            query_terms(q), 100, SearchFilters()),
    }
    for name, part in parts.items():
        samples, cpu = [], []
        for i in range(count):
            started, cpu_started = time.perf_counter(), time.process_time()
            part(QUERIES[i % len(QUERIES)])
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        out[name] = dict(zip(("p50_ms", "p95_ms", "cpu_p50_ms", "cpu_p95_ms"),
                             (*percentiles(samples), *percentiles(cpu)), strict=True))
    store.close()
    return out


def cold(folder: Path, runs: int, models: Path) -> dict[str, float]:
    env = dict(os.environ, KB_HOME=str(folder), KB_MODEL_CACHE=str(models / "models"))
    for name in ("KB_DATABASE_URL", "KB_CONFIG", "KB_EMBED_MODEL", "KB_EMBED_BACKEND"):
        env.pop(name, None)
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kb", "search", QUERIES[i % len(QUERIES)],
                        "--json"], env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    p50, p95 = percentiles(samples)
    return {"p50_s": p50, "p95_s": p95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "kb-bench")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from kb.embed.encoder import load_encoder, resolve_model

    load_encoder(resolve_model({}), args.home)  # the ONNX export, once, in home/models
    results: dict = {"load_before": os.getloadavg()}
    for size in args.sizes:
        started = time.perf_counter()
        folder = build(args.home, size, args.corpus)
        print(f"# {size}: KB ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        results[str(size)] = {"warm": warm(folder, args.queries, args.home),
                              "cold_cli": cold(folder, args.cold_runs, args.home)}
    results["load_after"] = os.getloadavg()
    lines = ["| incidents | warm semantic p50/p95 | warm keyword p50/p95 | warm hybrid p50/p95 "
             "| warm hybrid + why p50/p95 | warm hybrid, identifier queries p50/p95 "
             "| warm similar p50/p95 | encode + matrix top-100 p50 | cold `kb search` "
             "p50/p95 |", "|---|---|---|---|---|---|---|---|---|"]
    for size, row in results.items():
        if not size.isdigit():
            continue
        w = row["warm"]
        cells = [f"{w[m]['p50_ms']:.1f} / {w[m]['p95_ms']:.1f} ms"
                 for m in ("semantic", "keyword", "hybrid", "hybrid+why",
                           "hybrid, identifier queries", "similar")]
        cells = [cell + (f" (without: {w[m + ', without the new step']['p50_ms']:.1f})"
                         if f"{m}, without the new step" in w else "")
                 for cell, m in zip(cells, ("semantic", "keyword", "hybrid", "hybrid+why",
                                            "hybrid, identifier queries", "similar"),
                                    strict=True)]
        lines.append(f"| {int(size):,} | " + " | ".join(cells) +
                     f" | {w['encode+matrix top-100']['p50_ms']:.1f} ms | "
                     f"{row['cold_cli']['p50_s']:.2f} / {row['cold_cli']['p95_s']:.2f} s |")
    lines += ["", "| incidents | warm CPU p50/p95: semantic | keyword | hybrid | hybrid + why "
              "| query encode | matrix top-100 | keyword top-100 (FTS5 BM25) |",
              "|---|---|---|---|---|---|---|---|"]
    for size, row in results.items():
        if not size.isdigit():
            continue
        w = row["warm"]
        lines.append(f"| {int(size):,} | " + " | ".join(
            f"{w[m]['cpu_p50_ms']:.1f} / {w[m]['cpu_p95_ms']:.1f} ms"
            for m in ("semantic", "keyword", "hybrid", "hybrid+why", "query encode",
                      "matrix top-100", "keyword top-100 (FTS5 BM25)")) + " |")
    lines.append(f"\nload average before {results['load_before']}, "
                 f"after {results['load_after']}")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
