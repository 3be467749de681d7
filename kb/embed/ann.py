"""Approximate nearest neighbours for large KBs: an HNSW graph (usearch) beside the vectors.

The exact ranking multiplies the query with the whole float32 matrix: at 100k incidents
that reads 153 MB per query (16–20 ms CPU here, memory-bound). Above MIN_VECTORS vectors,
`kb embed` also writes an HNSW graph of the matrix (usearch: one file, memory-mapped at
search time, no server); search asks it for the best CANDIDATES rows and orders those by
their exact cosine from the matrix (so every score shown is exact, and only membership in
the top list is approximate: recall is documented in docs/search.md "Speed").

Why usearch: a maintained single-file HNSW library with numpy wheels for every platform
the KB runs on, a saved index that is memory-mapped rather than loaded (a cold `kb search`
opens it in milliseconds), and no dependency beyond numpy. hnswlib's last release is from
2023, and faiss-cpu is a 30 MB wheel whose HNSW is the same algorithm.

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
EXPANSION_SEARCH = 256  # breadth while searching: the recall/latency dial (docs/search.md)
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
        import numpy as np

        found = self.index.search(query.astype(np.float32, copy=False), int(count),
                                  threads=1)
        return np.asarray(found.keys, dtype=np.int64)


def build(matrix: np.ndarray, threads: int = 0) -> Graph:
    """The graph of `matrix`'s rows (unit length: inner product ranks by cosine)."""
    import numpy as np
    from usearch.index import Index

    index = Index(ndim=int(matrix.shape[1]), metric="ip", dtype="f32",
                  connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD,
                  expansion_search=EXPANSION_SEARCH)
    index.add(np.arange(matrix.shape[0], dtype=np.uint64),
              np.ascontiguousarray(matrix, dtype=np.float32), threads=threads)
    return Graph(index, int(matrix.shape[0]))


def _paths(stem: Path) -> tuple[Path, Path]:
    return stem.with_suffix(".usearch"), stem.with_suffix(".usearch.json")


def save(graph: Graph, stem: Path, signature: str, keys: Sequence[str]) -> None:
    """Write the graph beside the cached matrix `stem`; its .json, written last, says which
    vectors it was built from."""
    data, meta = _paths(stem)
    part = stem.with_name(f"{stem.name}.{os.getpid()}.usearch")
    graph.index.save(str(part))
    os.replace(part, data)
    meta_part = stem.with_name(f"{stem.name}.{os.getpid()}.usearch.json")
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
        from usearch.index import Index

        index = Index.restore(str(data), view=True)
    except (OSError, ValueError, RuntimeError, ImportError):
        return None
    if index is None or len(index) != len(keys):
        return None
    index.expansion_search = EXPANSION_SEARCH
    return Graph(index, len(keys))
