"""What one `kb update` round that changes a few incidents costs the search indexes of a
large KB, and how fast search is right after it.

Usage: python bench/bench_reindex.py KB_HOME STEP [--changes 1] [--round R] [--queries 40]

KB_HOME holds kb.db (a large bench KB with realistic vectors, e.g. bench/bench_search.py's
100k KB after bench/realistic_vectors.py; use a copy: the bench writes to it) and cache/.
Run it with PYTHONPATH set to the checkout to measure; each STEP prints one JSON line:

- change: rewrites --changes incidents (picked by --round, so rounds differ) as an update
  would: a new title and update text written through the Store (FTS5's triggers follow),
  and a new vector (the old one plus noise, as the encoder would give a new text of the
  same incident: what the embed stage writes before it calls search_indexes).
- indexes: times kb.embed.stage.search_indexes, the part of the embed stage that brings
  the vector graph and keyword impact index up to date (process CPU and wall); --reindex
  asks it to rebuild both.
- search: a warm Searcher over KB_HOME: 5 warm-up queries per mode, then --queries timed
  queries per mode (bench/bench_search.py's), CPU time p50/p95 (process_time: on a shared
  2-core machine wall time is mostly waiting), and which indexes answered.

The one-minute load average is printed with each step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path


def _store(home: Path):  # type: ignore[no-untyped-def]
    from kb.store import Store

    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}")
    return store


def change(home: Path, count: int, round_: int) -> dict[str, object]:
    import numpy as np

    from kb.embed.document import RECIPE
    from kb.model import Update
    from kb.pipeline import content_hash
    from kb.store import vectors
    from kb.store.repo import IncidentWrite

    store = _store(home)
    keys = vectors.all_keys(store)
    picked = [keys[(round_ * 7919 + i * 104729) % len(keys)] for i in range(count)]
    rng = np.random.default_rng(round_)
    writes, rows = [], []
    for incident, _content in vectors.incidents_with_hashes(store, picked):
        text = f"Update {round_}: we are rolling out a fix for the delayed deliveries."
        added = tuple(Update(at=last.at, phase=last.phase, label="Update", body=text,
                             text=text) for last in incident.updates[-1:])
        new = replace(incident, title=f"{incident.title} (round {round_})",
                      updates=incident.updates + added)
        digest = content_hash(new)
        writes.append(IncidentWrite(new, digest, []))
        old = vectors.vector_of(store, incident.key)
        assert old is not None
        vector = np.frombuffer(old.vector, dtype="<f4") + rng.normal(
            0.0, 0.02, old.dim).astype(np.float32)
        vector /= np.linalg.norm(vector)
        rows.append(vectors.VectorRow(incident.key, old.model_id, RECIPE,
                                      f"bench-{round_}", digest, old.dim, 1,
                                      vector.astype("<f4").tobytes()))
    store.write_batch(writes, [])
    vectors.write_vectors(store, rows)
    store.close()
    return {"changed": picked}


def indexes(home: Path, rebuild: bool) -> dict[str, object]:
    from kb.embed.encoder import resolve_model
    from kb.embed.stage import search_indexes

    store = _store(home)
    model_id = resolve_model().model_id
    cpu, wall = time.process_time(), time.perf_counter()
    kwargs = {"rebuild": True} if rebuild else {}
    notes = search_indexes(store, home, model_id, **kwargs)
    out = {"notes": notes, "cpu_s": round(time.process_time() - cpu, 3),
           "wall_s": round(time.perf_counter() - wall, 3)}
    store.close()
    return out


def search(home: Path, count: int) -> dict[str, object]:
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    from bench_search import QUERIES

    from kb.embed.index import MatrixIndex
    from kb.embed.search import Searcher

    store = _store(home)
    searcher = Searcher(store, home)
    out: dict[str, object] = {}
    for mode in ("semantic", "keyword", "hybrid"):
        for query in QUERIES[:5]:
            searcher.search(query, mode=mode, explain=False)
        cpu = []
        for i in range(count):
            started = time.process_time()
            searcher.search(QUERIES[i % len(QUERIES)], mode=mode, k=10, explain=False)
            cpu.append((time.process_time() - started) * 1000)
        ordered = sorted(cpu)
        out[mode] = {"cpu_p50_ms": round(statistics.median(ordered), 2),
                     "cpu_p95_ms": round(ordered[round(0.95 * (len(ordered) - 1))], 2)}
    index = searcher._vectors()
    graph = index.graph if isinstance(index, MatrixIndex) else None
    delta = getattr(graph, "to_row", None) is not None  # h/q had no delta
    out["vectors"] = ("exact" if graph is None else "graph" if not delta
                      else f"graph + delta ({0 if graph.fresh is None else graph.fresh.size} "
                           f"fresh, {graph.masked} masked)")
    out["keywords"] = "impact index" if searcher._impact is not None else "FTS5"
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("step", choices=("change", "indexes", "search"))
    parser.add_argument("--changes", type=int, default=1)
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--reindex", action="store_true")
    args = parser.parse_args()
    if args.step == "change":
        out = change(args.home, args.changes, args.round)
    elif args.step == "indexes":
        out = indexes(args.home, args.reindex)
    else:
        out = search(args.home, args.queries)
    out.update(step=args.step, load=round(os.getloadavg()[0], 2),
               checkout=os.environ.get("PYTHONPATH", ""))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
