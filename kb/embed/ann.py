"""Approximate nearest neighbours for large KBs: an HNSW graph (faiss) beside the vectors.

The exact ranking multiplies the query with the whole float32 matrix: at 100k incidents
that reads 153 MB per query (16–20 ms CPU here, memory-bound). Above MIN_VECTORS vectors,
`kb embed` also writes an HNSW graph of the matrix (faiss `IndexHNSWFlat`, inner product:
one file, its vectors memory-mapped at search time); search asks it for the best CANDIDATES
rows and orders those by their exact cosine from the matrix (so every score shown is the
exact one, and only membership in the top list is approximate: recall is documented in
docs/search.md "Speed").

Why faiss-cpu: the most used and maintained vector-search library (Meta), numpy wheels for
Linux, macOS and Windows, an HNSW whose saved vectors can be memory-mapped. usearch 2.26 was
tried first: importing it before onnxruntime makes onnxruntime's import crash the process
(SIGSEGV; their bundled native libraries clash), and search loads the graph before the query
encoder. hnswlib has no wheels here (source only, last release 2023).

The graph is keyed by the vectors it was built from: the store's vector signature (count
and latest write of the model's vectors, as the cached matrix is), the number of rows, and
a digest of the keys in row order. A graph that does not match the matrix search has is not
used: search is exact until the next `kb embed` builds a new one. Below MIN_VECTORS, and
for filtered searches, search is exact.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MIN_VECTORS = 20_000  # below this the exact product costs a few milliseconds: no graph
CONNECTIVITY = 16  # HNSW M: edges per node
EXPANSION_ADD = 128  # breadth while building
EXPANSION_SEARCH = 1024  # breadth while searching: the recall/latency dial (docs/search.md)
CANDIDATES = 100  # rows asked of the graph at least; reordered by exact cosine
FORMAT = 1


def keys_digest(keys: Sequence[str]) -> str:
    """A digest of the keys in row order: ties a graph's row numbers to a matrix."""
    digest = hashlib.sha256()
    for key in keys:
        digest.update(key.encode("utf-8") + b"\n")
    return digest.hexdigest()


class Graph:
    """An HNSW graph whose labels are the row numbers of one matrix."""

    def __init__(self, index: Any, rows: int) -> None:
        self.index = index
        self.rows = rows

    def candidates(self, query: np.ndarray, count: int) -> np.ndarray:
        """Row numbers of about the `count` rows nearest `query` by inner product."""
        import faiss
        import numpy as np

        # One query is one thread's work; faiss's OpenMP pool would spin on the other core.
        faiss.omp_set_num_threads(1)
        params = faiss.SearchParametersHNSW(efSearch=max(EXPANSION_SEARCH, int(count)))
        _scores, rows = self.index.search(
            np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), int(count),
            params=params)
        found = rows[0]
        return found[found >= 0].astype(np.int64)


def build(matrix: np.ndarray, threads: int = 0) -> Graph:
    """The graph of `matrix`'s rows (unit length: inner product ranks by cosine), built on
    `threads` threads (0: every core)."""
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
    index = faiss.IndexHNSWFlat(int(matrix.shape[1]), CONNECTIVITY, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EXPANSION_ADD
    index.add(np.ascontiguousarray(matrix, dtype=np.float32))
    return Graph(index, int(matrix.shape[0]))


def _paths(stem: Path) -> tuple[Path, Path]:
    return stem.with_suffix(".hnsw"), stem.with_suffix(".hnsw.json")


def save(graph: Graph, stem: Path, signature: str, keys: Sequence[str]) -> None:
    """Write the graph beside the cached matrix `stem`; its .json, written last, says which
    vectors it was built from."""
    import faiss

    data, meta = _paths(stem)
    part = stem.with_name(f"{stem.name}.{os.getpid()}.hnsw")
    faiss.write_index(graph.index, str(part))
    os.replace(part, data)
    meta_part = stem.with_name(f"{stem.name}.{os.getpid()}.hnsw.json")
    meta_part.write_text(json.dumps({
        "format": FORMAT, "signature": signature, "rows": graph.rows,
        "keys": keys_digest(keys), "connectivity": CONNECTIVITY,
        "expansion_add": EXPANSION_ADD}), encoding="utf-8")
    os.replace(meta_part, meta)


def load(stem: Path, signature: str, keys: Sequence[str]) -> Graph | None:
    """The saved graph when it was built from exactly these vectors, memory-mapped; else
    None (absent, stale, half-written or unreadable: search is exact)."""
    data, meta_path = _paths(stem)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (meta.get("format") != FORMAT or meta.get("signature") != signature
            or meta.get("rows") != len(keys) or meta.get("keys") != keys_digest(keys)):
        return None
    try:
        import faiss

        index = faiss.read_index(str(data), faiss.IO_FLAG_MMAP_IFC)
    except (OSError, ValueError, RuntimeError, ImportError):
        return None
    if index.ntotal != len(keys):
        return None
    return Graph(index, len(keys))
