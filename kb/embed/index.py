"""Rankings: vectors by cosine (behind one interface), keywords by FTS5 BM25, and their fusion.

`VectorIndex` is what search needs from a vector store: top-k keys by cosine among the
incidents passing the search filters, and one incident's vector. `MatrixIndex` serves it from
one float32 matrix in memory (numpy: a 100k × 384 matrix-vector product takes milliseconds);
`PgVectorIndex` from PostgreSQL's pgvector column and its HNSW index, so nothing is loaded into
memory. `open_index` picks the second wherever the database has the column.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kb.embed import ann
from kb.store import vectors
from kb.store.repo import Store

if TYPE_CHECKING:
    import numpy as np

# Reciprocal rank fusion as search uses it: k = 20 and the semantic ranking weighted twice.
# With the textbook k = 60 and equal weights, an incident ranked ~10th by both rankings beats
# one ranked 1st by the semantic ranking alone ("Claude login errors" returned Opus error
# incidents above "Issues logging into Claude.ai"). On the labeled set (bench/eval_search.py)
# this moved hybrid search Recall@5 from 0.933 to 0.967 and similar from 0.735 to 0.733;
# tuned on that same set, so read it as "no worse", not as a measured gain.
RRF_K = 20
SEMANTIC_WEIGHT = 2.0
MAX_QUERY_TERMS = 48  # FTS5 cost grows with OR-ed terms; a document has a few dozen telling ones

_TERM = re.compile(r"\w+(?:[-./']\w+)*", re.UNICODE)
# Words too common in status prose to tell incidents apart: OR-ing them in only slows FTS5.
_STOP = frozenset(re.findall(r"\w+", """
a about after all also an and any are as at be been being but by can could did do does for
from had has have if in into is it its may more no not now of on once or our out over should
so some such than that the their them then there these they this those to under until up us
was we were what when where which while who will with would you your i me my
"""))


class VectorIndex(Protocol):
    """Top-k nearest vectors by cosine similarity."""

    dim: int
    backend: str  # "numpy" or "pgvector": said in `kb search --json`

    def __len__(self) -> int: ...

    def search(self, query: np.ndarray, k: int,
               allowed: Collection[str] | None = None) -> list[tuple[str, float]]: ...

    def search_filtered(self, query: np.ndarray, k: int,
                        filters: vectors.SearchFilters) -> list[tuple[str, float]]: ...

    def vector(self, key: str) -> np.ndarray | None: ...

    def vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]: ...


class MatrixIndex:
    """All vectors of one model as rows of a float32 matrix (rows are unit length)."""

    backend = "numpy"
    store: Store | None = None  # where search_filtered asks which keys pass the filters
    # The HNSW graph of these rows (kb.embed.ann), when one current for them was found:
    # unfiltered searches take their candidates from it.
    graph: ann.Graph | None = None

    def __init__(self, keys: Sequence[str], matrix: np.ndarray) -> None:
        self.keys = list(keys)
        self.matrix = matrix
        self.dim = int(matrix.shape[1]) if matrix.ndim == 2 else 0
        self._row = {key: row for row, key in enumerate(self.keys)}

    @classmethod
    def from_blobs(cls, keys: Sequence[str], blobs: Sequence[bytes], dim: int) -> MatrixIndex:
        """From the stored float32 blobs; one join and one frombuffer, no per-row arrays."""
        import numpy as np

        if not keys:
            return cls([], np.zeros((0, dim), dtype=np.float32))
        flat = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32, copy=False)
        matrix = flat.reshape(len(keys), dim)
        return cls(keys, matrix)

    def __len__(self) -> int:
        return len(self.keys)

    def vector(self, key: str) -> np.ndarray | None:
        row = self._row.get(key)
        return None if row is None else self.matrix[row]

    def vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of those keys that have one: one gather from the matrix (a row at a
        time from the memory-mapped cache costs a memmap object each: 40 ms for 2,000)."""
        held = [key for key in keys if key in self._row]
        block = self.matrix[[self._row[key] for key in held]]
        return {key: block[i] for i, key in enumerate(held)}

    def search(self, query: np.ndarray, k: int,
               allowed: Collection[str] | None = None) -> list[tuple[str, float]]:
        import numpy as np

        if not self.keys or k <= 0:
            return []
        if allowed is None and self.graph is not None and k < len(self.keys):
            return self._approximate(query, k)
        scores = self.matrix @ query.astype(np.float32, copy=False)
        if allowed is not None:
            # Sorted: `allowed` is often a set, whose order changes with the hash seed, and
            # `_top` breaks exact ties (duplicate incidents) by position: by key, as without
            # a filter and as pgvector's path does.
            rows = np.sort(np.fromiter((self._row[key] for key in allowed if key in self._row),
                                       dtype=np.int64))
            if rows.size == 0:
                return []
            subset = scores[rows]
            top = _top(subset, k)
            return [(self.keys[rows[i]], float(subset[i])) for i in top]
        return [(self.keys[i], float(scores[i])) for i in _top(scores, k)]

    def _approximate(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The top k of the graph's candidates, each scored by its exact cosine (the same
        float32 row product as the full ranking), ties by row as `_top` breaks them."""
        import numpy as np

        assert self.graph is not None
        query = query.astype(np.float32, copy=False)
        rows = np.unique(self.graph.candidates(query, max(k, ann.CANDIDATES)))
        rows = rows[(rows >= 0) & (rows < len(self.keys))]
        scores = np.asarray(self.matrix[rows]) @ query
        if self.graph.fresh is not None and self.graph.fresh.size:
            # Vectors new or changed since the graph was built: every one scored exactly
            # (the graph never holds them, so the two lists are disjoint); in row order, so
            # ties fall by row as in the full ranking.
            rows = np.concatenate([rows, self.graph.fresh])
            scores = np.concatenate([scores, self.graph.fresh_matrix @ query])
            order = np.argsort(rows, kind="stable")
            rows, scores = rows[order], scores[order]
        top = _top(scores, k)
        return [(self.keys[rows[i]], float(scores[i])) for i in top]

    def search_filtered(self, query: np.ndarray, k: int,
                        filters: vectors.SearchFilters) -> list[tuple[str, float]]:
        """`search` among the incidents passing `filters` (asked of the store)."""
        if filters.empty or self.store is None:
            return self.search(query, k)
        return self.search(query, k, vectors.filter_keys(self.store, filters))


class PgVectorIndex:
    """The vectors of one model in PostgreSQL (pgvector column, HNSW index). Filters run in
    the same SQL as the ranking (kb.store.vectors.nearest)."""

    backend = "pgvector"

    def __init__(self, store: Store, model_id: str) -> None:
        self.store = store
        self.model_id = model_id
        self._count, self.dim = vectors.vector_width(store, model_id)

    def __len__(self) -> int:
        return self._count

    def search(self, query: np.ndarray, k: int,
               allowed: Collection[str] | None = None) -> list[tuple[str, float]]:
        found = vectors.nearest(self.store, self.model_id, self.dim, _blob(query),
                                k if allowed is None else max(k, self._count))
        if allowed is None:
            return found
        return [(key, score) for key, score in found if key in allowed][:k]

    def search_filtered(self, query: np.ndarray, k: int,
                        filters: vectors.SearchFilters) -> list[tuple[str, float]]:
        return vectors.nearest(self.store, self.model_id, self.dim, _blob(query), k, filters)

    def vector(self, key: str) -> np.ndarray | None:
        import numpy as np

        row = vectors.vector_of(self.store, key)
        if row is None or row.model_id != self.model_id or row.chunks == 0:
            return None
        return np.frombuffer(row.vector, dtype="<f4").astype(np.float32)

    def vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of those keys that have one: one query per 500 keys, not one each
        (the exact-identifier tier may ask for thousands at 1M incidents)."""
        import numpy as np

        return {key: np.frombuffer(blob, dtype="<f4").astype(np.float32)
                for key, blob in vectors.vector_blobs(self.store, self.model_id, keys).items()}


def _blob(query: np.ndarray) -> bytes:
    return query.astype("<f4").tobytes()


def open_index(store: Store, model_id: str, cache: Path | None
               ) -> tuple[VectorIndex, str | None]:
    """The index search ranks with, and a note when it is not the one expected: pgvector
    where the database keeps vectors in SQL, else the in-memory matrix. Vectors made before
    the pgvector column existed are copied into it by `kb embed` (a reader writes nothing);
    until then search ranks in memory and says so."""
    if vectors.pgvector_ready(store):
        waiting = vectors.pending_embeddings(store)
        if not waiting:
            return PgVectorIndex(store, model_id), None
        note: str | None = (f"{waiting} vector(s) are not in pgvector yet: ranked in memory "
                            "(numpy) until `kb embed` copies them")
    else:
        note = None
    index = load_index(store, model_id, cache)
    index.store = store
    return index, note


def load_index(store: Store, model_id: str, cache: Path | None) -> MatrixIndex:
    """The vectors of `model_id` as a MatrixIndex, through a cached copy in `cache` when it is
    still current. Reading 100k blobs out of SQLite costs about a second; the cached .npy
    files are memory-mapped in milliseconds. The copy is keyed by the database URL and the
    model, and checked against `vector_signature` (count + latest write), so any `kb embed`
    that writes, keeps or drops a vector makes it stale. A cache folder that cannot be written
    (read-only KB_HOME) only costs speed."""
    return _load(store, model_id, cache)[0]


def _stem(store: Store, model_id: str, cache: Path) -> Path:
    """Where the cached matrix of `model_id` (and its graph) lives: keyed by URL and model."""
    name = f"{store.engine.url.render_as_string(hide_password=False)}|{model_id}"
    return cache / f"vectors-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def _load(store: Store, model_id: str, cache: Path | None
          ) -> tuple[MatrixIndex, Path | None, str]:
    """load_index, with the cache stem and the vector signature the matrix matches."""
    import numpy as np

    signature = vectors.vector_signature(store, model_id)
    stem = None if cache is None else _stem(store, model_id, cache)
    if stem is not None:
        try:
            meta = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
            if meta.get("signature") == signature:
                keys = np.load(stem.with_suffix(".keys.npy"), allow_pickle=False).tolist()
                matrix = np.load(stem.with_suffix(".npy"), mmap_mode="r", allow_pickle=False)
                if matrix.ndim == 2 and matrix.shape[0] == len(keys) == meta.get("rows"):
                    index = MatrixIndex(keys, matrix)
                    if len(keys) >= ann.MIN_VECTORS:
                        index.graph = ann.load(stem, signature, keys, matrix)
                    return index, stem, signature
        except (OSError, ValueError):
            pass  # absent, half-written by a concurrent writer, or unreadable: rebuild
    keys, blobs, dim = vectors.load_vectors(store, model_id)
    index = MatrixIndex.from_blobs(keys, blobs, dim)
    if stem is not None and keys:
        try:
            stem.parent.mkdir(parents=True, exist_ok=True)
            for suffix, array in ((".npy", index.matrix), (".keys.npy", np.array(keys))):
                part = stem.with_name(f"{stem.name}.{os.getpid()}{suffix}")
                np.save(part, array, allow_pickle=False)
                os.replace(part, stem.with_suffix(suffix))
            meta_part = stem.with_name(f"{stem.name}.{os.getpid()}.json")
            meta_part.write_text(json.dumps({"signature": signature, "rows": len(keys)}),
                                 encoding="utf-8")
            os.replace(meta_part, stem.with_suffix(".json"))  # last: it vouches for the rest
        except OSError:
            pass
    return index, stem, signature


def refresh_graph(store: Store, model_id: str, cache: Path, *, rebuild: bool = False) -> str:
    """Bring the HNSW graph of the model's vectors up to date when the KB is large enough
    (what `kb embed` calls after writing vectors): kept when current; when vectors changed
    since it was built, kept with a delta (kb.embed.ann) while the changed, added and
    removed rows stay within ann.MAX_DELTA_SHARE of the rows; else, or with `rebuild`
    (`kb embed --reindex`), built again. Returns what happened, in a few words."""
    if vectors.pgvector_ready(store):
        return "vectors ranked by pgvector"
    index, stem, signature = _load(store, model_id, cache)
    if len(index) < ann.MIN_VECTORS:
        return "small KB: exact vector search"
    assert stem is not None
    if not rebuild:
        if index.graph is not None:
            if index.graph.to_row is None:
                return "vector graph current"
            return f"vector graph current, {_delta_words(index.graph)}"
        plan = ann.plan_delta(stem, index.keys, index.matrix)
        if plan is not None:
            to_row, fresh = plan
            masked = int((to_row < 0).sum())
            if masked + fresh.size <= ann.MAX_DELTA_SHARE * len(index):
                try:
                    ann.save_delta(stem, signature, index.keys, to_row, fresh)
                except OSError:
                    return "vector graph delta could not be saved: exact vector search"
                graph = ann.Graph(None, len(index), to_row, fresh)
                return f"vector graph kept, {_delta_words(graph)}"
    graph = ann.build(index.matrix)
    try:
        ann.save(graph, stem, signature, index.keys, index.matrix)
    except OSError:
        return "vector graph could not be saved: exact vector search"
    return "vector graph rebuilt"


def _delta_words(graph: ann.Graph) -> str:
    fresh = 0 if graph.fresh is None else int(graph.fresh.size)
    return (f"{fresh} new or changed vector(s) scored exactly, {graph.masked} old masked "
            f"(rebuilt past {ann.MAX_DELTA_SHARE:.0%} of {graph.rows} rows)")


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first; ties broken by index (stable)."""
    import numpy as np

    if k >= scores.size:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.lexsort((part, -scores[part]))]


def terms(text: str) -> list[str]:
    """Lower-cased words and joined tokens (us-east-1, v1.2) in order, stop words dropped."""
    found = []
    for match in _TERM.finditer(text.lower()):
        term = match.group(0).strip("'")
        if term and term not in _STOP and (len(term) > 1 or term.isdigit()):
            found.append(term)
    return found


def query_terms(text: str, limit: int = MAX_QUERY_TERMS) -> list[str]:
    """The distinct terms of `text` that keyword search is given (kb.store.keyword builds the
    database's expression from them), at most `limit`: the first ones, in order."""
    return list(dict.fromkeys(terms(text)))[:limit]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K,
                           weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Fuse ranked key lists: score(key) = Σ weight / (k + rank), rank from 1. Best first; ties
    broken by key so equal inputs give equal outputs."""
    scores: dict[str, float] = {}
    for index, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[index]
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
