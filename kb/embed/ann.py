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
a digest of the keys in row order. Beside it are the keys of its rows and a digest of each
row's vector, so a graph built at an older state keeps serving (a *delta*, kb.embed.index
refresh_graph): `kb embed` compares them with the vectors stored now and saves, for the
current signature, which graph rows still hold their incident's current vector (the others
are masked out of the graph's candidates) and which rows of the current matrix no graph row
holds (new or changed vectors: scored exactly at every query, a small matrix product).
Results then equal those of a graph rebuilt now, up to HNSW's own approximation. A graph
with neither a current signature nor a delta for it is not used: search is exact until the
next `kb embed`. Below MIN_VECTORS, and for filtered searches, search is exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
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
# The share of rows (changed, added or removed vectors against the graph's) above which
# `kb embed` rebuilds the graph instead of saving a delta. Why 5 %: every query scores the
# delta rows exactly, 5 % of the matrix's product (about 1 ms at 100k, where the whole
# product is 16–26 ms CPU); masked rows leave fewer true candidates in the graph's answer,
# which is asked again with more until enough unmasked ones come back. Past a few percent
# both costs grow with every round, while a rebuild costs the same (32 s CPU at 100k), so a
# rebuild every ~5,000 changed incidents at 100k spreads it over many rounds.
MAX_DELTA_SHARE = 0.05
FORMAT = 2  # 2: the row keys and row digests beside the graph


def keys_digest(keys: Sequence[str]) -> str:
    """A digest of the keys in row order: ties a graph's row numbers to a matrix."""
    digest = hashlib.sha256()
    for key in keys:
        digest.update(key.encode("utf-8") + b"\n")
    return digest.hexdigest()


def row_digests(matrix: np.ndarray) -> np.ndarray:
    """A 64-bit digest of each row's bytes (blake2b): tells which vectors changed since a
    graph was built (0.3 s CPU at 100k rows)."""
    import numpy as np

    block = np.ascontiguousarray(matrix, dtype="<f4").view(np.uint8).reshape(len(matrix), -1)
    return np.frombuffer(b"".join(hashlib.blake2b(row.data, digest_size=8).digest()
                                  for row in block), dtype="<u8").copy()


class Graph:
    """An HNSW graph of some matrix's rows, and how its labels map onto the current matrix.

    Built now, label i is row i. Built at an older state (a delta), `to_row[i]` is the
    current row of label i's incident when its vector is unchanged, else -1 (masked), and
    `fresh` lists the current rows no label holds, with their vectors in `fresh_matrix`."""

    def __init__(self, index: Any, rows: int, to_row: np.ndarray | None = None,
                 fresh: np.ndarray | None = None,
                 fresh_matrix: np.ndarray | None = None) -> None:
        self.index = index
        self.rows = rows  # rows of the current matrix
        self.to_row = to_row
        self.fresh = fresh
        self.fresh_matrix = fresh_matrix
        self.masked = 0 if to_row is None else int((to_row < 0).sum())

    def candidates(self, query: np.ndarray, count: int) -> np.ndarray:
        """Current row numbers of about the `count` rows nearest `query` by inner product
        among those the graph holds unchanged (fresh rows not included: see `fresh`)."""
        ask = int(count)
        while True:
            labels = self._search(query, ask)
            if self.to_row is None:
                return labels
            rows = self.to_row[labels]
            rows = rows[rows >= 0]
            # Masked labels took places in the answer: ask again for more, until `count`
            # unmasked ones come back or the graph has no more to give.
            if rows.size >= count or labels.size < ask or ask >= self.index.ntotal:
                return rows
            ask = min(int(self.index.ntotal), ask * 2)

    def _search(self, query: np.ndarray, count: int) -> np.ndarray:
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


def _write(stem: Path, suffix: str, write: Any) -> None:
    """Write `stem`+`suffix` through a file of this process, then rename: never half."""
    part = stem.with_name(f"{stem.name}.{os.getpid()}{suffix}")
    write(part)
    os.replace(part, stem.with_suffix(suffix))


def save(graph: Graph, stem: Path, signature: str, keys: Sequence[str],
         matrix: np.ndarray) -> None:
    """Write the graph of `matrix` (rows = `keys`) beside the cached matrix `stem`, with its
    row keys and row digests; its .json, written last, says which vectors it was built from.
    A delta saved for an older graph is dropped."""
    import faiss
    import numpy as np

    meta = _paths(stem)[1]
    stem.with_suffix(".hnsw.delta.json").unlink(missing_ok=True)
    meta.unlink(missing_ok=True)  # the files below and this meta change together
    _write(stem, ".hnsw", lambda part: faiss.write_index(graph.index, str(part)))
    _write(stem, ".hnsw.keys.npy",
           lambda part: np.save(part, np.array(list(keys), dtype=str), allow_pickle=False))
    _write(stem, ".hnsw.rows.npy",
           lambda part: np.save(part, row_digests(matrix), allow_pickle=False))
    _write(stem, ".hnsw.json", lambda part: part.write_text(json.dumps({
        "format": FORMAT, "signature": signature, "rows": graph.rows,
        "keys": keys_digest(keys), "connectivity": CONNECTIVITY,
        "expansion_add": EXPANSION_ADD}), encoding="utf-8"))


def _meta(stem: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(_paths(stem)[1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def _read_index(stem: Path, rows: int) -> Any | None:
    try:
        import faiss

        index = faiss.read_index(str(_paths(stem)[0]), faiss.IO_FLAG_MMAP_IFC)
    except (OSError, ValueError, RuntimeError, ImportError):
        return None
    return index if index.ntotal == rows else None


def load(stem: Path, signature: str, keys: Sequence[str],
         matrix: np.ndarray | None = None) -> Graph | None:
    """The saved graph, memory-mapped, when it was built from exactly these vectors, or
    when a delta saved by `kb embed` maps it onto them (`matrix`, the current vectors,
    gives the fresh rows' block); else None (absent, stale, half-written or unreadable:
    search is exact)."""
    import numpy as np

    meta = _meta(stem)
    if meta is None:
        return None
    digest = keys_digest(keys)
    if (meta.get("signature") == signature and meta.get("rows") == len(keys)
            and meta.get("keys") == digest):
        index = _read_index(stem, len(keys))
        return None if index is None else Graph(index, len(keys))
    if matrix is None or matrix.shape[0] != len(keys):
        return None
    try:
        delta = json.loads(stem.with_suffix(".hnsw.delta.json").read_text(encoding="utf-8"))
        if (delta.get("format") != FORMAT or delta.get("signature") != signature
                or delta.get("rows") != len(keys) or delta.get("keys") != digest
                or delta.get("graph") != [meta.get("signature"), meta.get("keys")]):
            return None
        with np.load(stem.with_suffix(".hnsw.delta.npz"), allow_pickle=False) as files:
            to_row, fresh = files["to_row"], files["fresh"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    graph_rows = int(meta.get("rows", -1))
    # Arrays that do not fit the graph and the matrix (damaged, foreign) are not used.
    if not (to_row.ndim == fresh.ndim == 1 and to_row.dtype.kind == fresh.dtype.kind == "i"
            and len(to_row) == graph_rows
            and (not to_row.size or (int(to_row.min()) >= -1
                                     and int(to_row.max()) < len(keys)))
            and (not fresh.size or (int(fresh.min()) >= 0
                                    and int(fresh.max()) < len(keys)))):
        return None
    index = _read_index(stem, graph_rows)
    if index is None:
        return None
    fresh = fresh.astype(np.int64)
    return Graph(index, len(keys), to_row.astype(np.int64), fresh,
                 np.ascontiguousarray(matrix[fresh], dtype=np.float32))


def plan_delta(stem: Path, keys: Sequence[str], matrix: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """How the saved graph maps onto the current vectors (`keys`, `matrix`): `to_row` (the
    current row of each graph row whose vector is unchanged, else -1) and `fresh` (current
    rows no graph row holds); None when there is no usable graph to map."""
    import numpy as np

    meta = _meta(stem)
    if meta is None:
        return None
    try:
        old_keys = np.load(stem.with_suffix(".hnsw.keys.npy"), allow_pickle=False)
        old_digests = np.load(stem.with_suffix(".hnsw.rows.npy"), allow_pickle=False)
    except (OSError, ValueError):
        return None
    if (old_keys.ndim != 1 or old_digests.shape != old_keys.shape
            or len(old_keys) != meta.get("rows") or old_digests.dtype != np.dtype("<u8")
            or keys_digest(old_keys.tolist()) != meta.get("keys")):
        return None
    row_of = {key: row for row, key in enumerate(keys)}
    digests = row_digests(matrix)
    to_row = np.fromiter((row_of.get(key, -1) for key in old_keys.tolist()),
                         dtype=np.int64, count=len(old_keys))
    held = to_row >= 0
    same = np.zeros(len(to_row), dtype=bool)
    same[held] = digests[to_row[held]] == old_digests[held]
    to_row[~same] = -1
    covered = np.zeros(len(keys), dtype=bool)
    covered[to_row[same]] = True
    return to_row, np.flatnonzero(~covered).astype(np.int64)


def save_delta(stem: Path, signature: str, keys: Sequence[str], to_row: np.ndarray,
               fresh: np.ndarray) -> None:
    """Save `plan_delta`'s answer for the vectors of `signature`; its .json, written last,
    names the graph it maps."""
    import numpy as np

    meta = _meta(stem)
    if meta is None:  # replaced or removed since plan_delta read it
        raise OSError(f"the graph beside {stem} changed while its delta was planned")
    stem.with_suffix(".hnsw.delta.json").unlink(missing_ok=True)
    _write(stem, ".hnsw.delta.npz",
           lambda part: part.write_bytes(_npz(np, to_row=to_row, fresh=fresh)))
    _write(stem, ".hnsw.delta.json", lambda part: part.write_text(json.dumps({
        "format": FORMAT, "signature": signature, "rows": len(keys),
        "keys": keys_digest(keys), "graph": [meta.get("signature"), meta.get("keys")],
        "masked": int((to_row < 0).sum()), "fresh": int(fresh.size)}), encoding="utf-8"))


def _npz(np: Any, **arrays: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()
