"""The "Similar incidents" slot of incident pages (kb.render.sections, order 30): the nearest
incidents by the stored embeddings, precomputed once per build, with their cosine scores.
Absent until `kb embed` has run with the configured model (never faked)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kb.embed.encoder import resolve_model
from kb.embed.search import is_duplicate
from kb.model import Incident
from kb.render.sections import BuildContext, IncidentLink, Links, Section
from kb.store import Store
from kb.store.vectors import load_vectors

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SECTIONS"]
SHOWN = 5
CANDIDATES = SHOWN + 10  # room for the incident itself and its duplicates
FLOOR = 0.35  # below this cosine, MiniLM neighbours are mostly unrelated: better none
CHUNK = 512  # rows per matrix product: bounded memory at 100k incidents


@dataclass(frozen=True)
class _State:
    neighbours: dict[str, list[tuple[str, float]]]
    incidents: dict[str, Incident]


def _top(matrix: np.ndarray, keys: list[str],
         rows: Sequence[int] | None = None) -> dict[str, list[tuple[str, float]]]:
    """Each row's (or each of `rows`') `CANDIDATES` nearest rows (itself included) by
    cosine, best first."""
    import numpy as np

    found: dict[str, list[tuple[str, float]]] = {}
    n = len(keys)
    k = min(CANDIDATES, n)
    wanted = None if rows is None else set(rows)
    for start in range(0, n, CHUNK):
        # `rows`: only the blocks holding them, each computed as in a full build (the same
        # product of the same block, so the same float scores: byte-identical pages).
        if wanted is not None and not any(r in wanted for r in range(start, start + CHUNK)):
            continue
        scores = matrix[start:start + CHUNK] @ matrix.T
        if wanted is not None:
            picked = [r - start for r in sorted(wanted) if start <= r < start + CHUNK]
            scores, offsets = scores[picked], picked
        else:
            offsets = list(range(len(scores)))
        # The k largest land at the end. Partitioning `scores` itself rather than `-scores`
        # saves a copy of every block (10-20 % of this function's time at 10k incidents).
        best = np.argpartition(scores, n - k, axis=1)[:, n - k:]
        for row, columns in enumerate(best):
            ranked = sorted(((keys[c], float(scores[row, c])) for c in columns),
                            key=lambda pair: (-pair[1], pair[0]))
            found[keys[start + offsets[row]]] = ranked
    return found


def _prepare(store: Store, build: BuildContext) -> _State | None:
    keys, blobs, dim = load_vectors(store, resolve_model().model_id)
    if len(keys) < 2:
        return None
    from kb.embed.index import MatrixIndex

    index = MatrixIndex.from_blobs(keys, blobs, dim)
    # A changed-keys build: one neighbour query per changed incident, not all pairs.
    rows = None if build.scope is None else [
        n for n, key in enumerate(index.keys) if build.scope.has(key)]
    neighbours = _top(index.matrix, index.keys, rows)
    # The build's own incidents: reading all of them again cost 0.3 s and a second copy in
    # memory at 10k incidents. A changed-keys build holds its providers' incidents only: the
    # neighbours of other providers are read by key.
    known = {i.key: i for i in build.incidents}
    if build.scope is not None:
        from kb.store.listings import incidents_by_keys

        wanted = {key for pairs in neighbours.values() for key, _ in pairs} - known.keys()
        known.update((i.key, i) for i in incidents_by_keys(store, wanted))
    return _State(neighbours, known)


def _provide(state: _State | None, incident: Incident) -> Links | None:
    if state is None:
        return None
    items = []
    for key, score in state.neighbours.get(incident.key, []):
        other = state.incidents.get(key)
        if key == incident.key or other is None or score < FLOOR:
            continue
        if is_duplicate(incident, other, score):
            continue
        when = f"{other.lifecycle.first_post_at:%Y-%m-%d}" if other.lifecycle.first_post_at \
            else "date unknown"
        items.append(IncidentLink(key, note=f"{when}, cosine {score:.2f}", score=score))
        if len(items) == SHOWN:
            break
    return Links(items) if items else None


SECTIONS = [
    Section(
        name="similar", title="Similar incidents", provide=_provide, order=30,
        prepare=_prepare,
        note="Nearest by sentence embeddings (all-MiniLM-L6-v2); `kb similar` adds keyword "
             "ranking. The incident's own duplicates are left out.",
        searchable=False,  # other incidents' titles: each would be a hit for the other's words
    ),
]
