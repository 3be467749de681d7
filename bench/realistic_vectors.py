"""Give a synthetic bench KB (bench/bench_search.py) vectors with the structure of real ones.

bench_search.py gives each synthetic incident a random unit vector: enough to time an exact
matrix product, but random 384-dimensional vectors have no neighbourhoods (every vector is
about equally far from every other), so no approximate index finds their nearest neighbours
and a recall measured on them says nothing about real KBs. Each synthetic incident copies
the title and updates of a real corpus incident; this script gives it that incident's real
vector (from an embedded KB of the corpus, e.g. the one bench/eval_search.py builds with the
ONNX int8 model) plus a little Gaussian noise (cosine to its template ~0.97, as copies of one
text posted under other providers and dates would differ), and writes them over the KB's
vectors. Incidents whose template is not in the embedded KB keep their random vector.

Usage: python bench/realistic_vectors.py KB.db EMBEDDED.db [--noise 0.0128] [--seed 7]
Writes only to KB.db (use a copy). Prints how many incidents got a template's vector.
"""

from __future__ import annotations

import argparse
import json
import sqlite3

import numpy as np


def _text(doc_json: str) -> tuple[str, tuple[str, ...]]:
    doc = json.loads(doc_json)
    return doc.get("title") or "", tuple((u.get("text") or u.get("body") or "")
                                         for u in doc.get("updates") or ())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kb")
    parser.add_argument("embedded")
    parser.add_argument("--noise", type=float, default=0.0128)  # per dimension
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    source = sqlite3.connect(args.embedded)
    templates = {}
    for doc_json, blob in source.execute(
            "SELECT i.doc_json, v.vector FROM incidents AS i JOIN incident_vectors AS v "
            "ON v.incident_key = i.key WHERE v.chunks > 0"):
        templates[_text(doc_json)] = np.frombuffer(blob, dtype="<f4")
    kb = sqlite3.connect(args.kb)
    rng = np.random.default_rng(args.seed)
    matched = total = 0
    rows = []
    for key, doc_json in kb.execute(
            "SELECT i.key, i.doc_json FROM incidents AS i JOIN incident_vectors AS v "
            "ON v.incident_key = i.key WHERE v.chunks > 0 ORDER BY i.key"):
        total += 1
        template = templates.get(_text(doc_json))
        if template is None:
            continue
        matched += 1
        vector = template + rng.normal(0.0, args.noise, template.shape).astype(np.float32)
        vector /= np.linalg.norm(vector)
        rows.append((vector.astype("<f4").tobytes(), key))
    with kb:
        kb.executemany("UPDATE incident_vectors SET vector = ?, "
                       "embedded_at = strftime('%Y-%m-%d %H:%M:%f', 'now') "
                       "WHERE incident_key = ?", rows)
    print(f"{matched} of {total} incidents got their template's vector "
          f"({len(templates)} templates)")


if __name__ == "__main__":
    main()
