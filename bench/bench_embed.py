"""Embedding throughput and agreement: torch vs ONNX fp32 vs ONNX int8, raw vs the pipeline.

Usage: python bench/bench_embed.py [--incidents 300] [--runs 3] [--json FILE]

On the first N real incidents of the corpus (their documents, as `kb embed` builds them):
- raw throughput: sentence-transformers `model.encode` on the documents' chunks (torch), and
  the same chunks through our ONNX encoders (fp32 and int8), in documents/s;
- pipeline throughput: `kb embed` from the database (read incidents, build documents, encode,
  pool, write vectors) into a fresh copy of the KB, per backend, in incidents/s, and its cost
  over the raw encode of the same backend and over raw torch `model.encode`;
- agreement: cosine of each backend's document vectors with torch's (min and mean);
- cold start: `import torch` + model load, and ONNX session creation, in a fresh process.
Medians over --runs (this machine is noisy: 2 cores).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kb.config import PACKAGED_SOURCES

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FOLDERS = ("statuspage_incident_json/github", "statuspage_json", "statuspage_atom",
           "statuspage_rss", "incidentio_atom")
BACKENDS = ("torch", "onnx", "onnx-int8")


def template(folder: Path, corpus: Path, count: int) -> Path:
    """A KB with the first `count` incidents (by key) of the corpus, not embedded."""
    from kb.config import load_sources
    from kb.pipeline import Line, ingest
    from kb.store import Store
    from scrapers.archive import Archive

    store, _ = Store.open(f"sqlite:///{folder / 'kb.db'}", write=True)
    ingest(Line(store, Archive(folder / "raw"), load_sources(PACKAGED_SOURCES)),
           [corpus / f for f in FOLDERS])
    keep = [i.key for i in store.incidents(limit=count)]
    store.close()
    with sqlite3.connect(folder / "kb.db") as db:  # a bench may cut its own copy down
        db.execute("CREATE TEMP TABLE keep(key TEXT PRIMARY KEY)")
        db.executemany("INSERT INTO keep VALUES (?)", [(k,) for k in keep])
        db.execute("DELETE FROM incidents WHERE key NOT IN (SELECT key FROM keep)")
        # the keyword index is the store's to keep since revision i01, not a trigger's
        db.execute("DELETE FROM incident_fts WHERE rowid IN (SELECT id FROM search_docs "
                   "WHERE incident_key NOT IN (SELECT key FROM keep))")
        db.execute("DELETE FROM search_docs WHERE incident_key NOT IN (SELECT key FROM keep)")
    return folder / "kb.db"


def timed(function, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def cold(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import numpy as np

    from kb.embed.document import build_document
    from kb.embed.encoder import encode_documents, load_encoder, resolve_model
    from kb.embed.stage import embed_missing
    from kb.store import Store

    work = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    try:
        base = template(work, args.corpus, args.incidents)
        store, _ = Store.open(f"sqlite:///{base}")
        documents = [build_document(i) for i in store.incidents()]
        store.close()
        chunks = [c for d in documents for c in d.chunks]
        results: dict = {"incidents": len(documents), "chunks": len(chunks),  # type: ignore[type-arg]
                         "runs": args.runs, "backends": {}}
        vectors = {}
        for backend in BACKENDS:
            spec = resolve_model({"KB_EMBED_BACKEND": backend})
            encoder = load_encoder(spec, work)  # exports once for the ONNX backends
            encoder.encode(chunks[:8])  # warm-up
            if backend == "torch":
                model = encoder.model  # type: ignore[attr-defined]
                raw, _ = timed(lambda m=model: m.encode(chunks, batch_size=32), args.runs)
            else:
                raw, _ = timed(lambda e=encoder: e.encode(chunks), args.runs)
            vectors[backend] = encode_documents(encoder, documents)
            pipeline_times = []
            for _ in range(args.runs):
                copy = work / f"run-{backend}.db"
                shutil.copyfile(base, copy)
                db, _ = Store.open(f"sqlite:///{copy}", write=True)
                start = time.perf_counter()
                report = embed_missing(db, work, spec=spec, encoder=encoder)
                pipeline_times.append(time.perf_counter() - start)
                db.close()
                assert report.embedded == len([d for d in documents if not d.empty])
            pipeline = statistics.median(pipeline_times)
            results["backends"][backend] = {
                "raw_docs_per_s": len(documents) / raw, "pipeline_docs_per_s":
                len(documents) / pipeline, "pipeline_over_raw": pipeline / raw - 1}
        torch_raw = results["backends"]["torch"]["raw_docs_per_s"]
        for backend, row in results["backends"].items():
            row["pipeline_over_torch_raw"] = torch_raw / row["pipeline_docs_per_s"] - 1
            cosine = (vectors[backend] * vectors["torch"]).sum(axis=1)
            row["cosine_to_torch_min"] = float(np.min(cosine))
            row["cosine_to_torch_mean"] = float(np.mean(cosine))
        results["cold_torch_import_and_load_s"] = cold(
            "import time; t = time.perf_counter(); from kb.embed.encoder import *;"
            "load_encoder(resolve_model({'KB_EMBED_BACKEND': 'torch'}), None);"
            "print(time.perf_counter() - t)")
        results["cold_onnx_int8_load_s"] = cold(
            "import time; from pathlib import Path; t = time.perf_counter();"
            "from kb.embed.encoder import *;"
            f"load_encoder(resolve_model({{}}), Path({str(work)!r}));"
            "print(time.perf_counter() - t)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"{results['incidents']} incidents, {results['chunks']} chunks, median of "
             f"{args.runs} runs", "",
             "| backend | raw docs/s | pipeline docs/s | pipeline over its raw | pipeline vs "
             "raw torch encode | cosine to torch (min / mean) |", "|---|---|---|---|---|---|"]
    for backend, row in results["backends"].items():
        lines.append(
            f"| {backend} | {row['raw_docs_per_s']:.1f} | {row['pipeline_docs_per_s']:.1f} | "
            f"{row['pipeline_over_raw']:+.0%} | {row['pipeline_over_torch_raw']:+.0%} | "
            f"{row['cosine_to_torch_min']:.4f} / {row['cosine_to_torch_mean']:.4f} |")
    lines += ["", "cold start: import torch + load model "
              f"{results['cold_torch_import_and_load_s']:.2f} s; onnxruntime + int8 session "
              f"{results['cold_onnx_int8_load_s']:.2f} s"]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
