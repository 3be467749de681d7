"""The embed stage: vectors for every incident whose document is new or changed.

Work is keyed by content: an incident is looked at again only when the spine's content hash
or the extra texts of DOCUMENT_EXTRAS hooks moved (kept as one `inputs_hash` with its vector),
the model or the document recipe changed, or it has no vector; it is encoded again only when
its document text (doc_hash) really differs. No document is built to find that out, so a run
with nothing to do reads two key lists and the hooks' links, whatever the size of the KB. The
model is loaded only when something must be encoded, so `kb update` with nothing new never
imports torch or onnxruntime. Vectors are written per batch: an interrupted run keeps what it
finished and the next run resumes.

Several workers may embed into one database at once (kb.store.claims): each claims the
incidents it is about to encode, so none is encoded twice, and a worker killed mid-batch
leaves claims that expire and are taken over. A worker whose model differs from another live
worker's is refused before it writes anything: one database holds one vector space.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kb.embed import impact
from kb.embed.document import (
    DOCUMENT_EXTRAS,
    RECIPE,
    Document,
    build_document,
    extra_texts,
    inputs_hash,
)
from kb.embed.encoder import Encoder, encode_documents, load_encoder, resolve_model
from kb.embed.index import refresh_graph
from kb.embed.spec import ModelSpec
from kb.store import claims, vectors
from kb.store.repo import Store

if TYPE_CHECKING:
    from kb.stage import StageContext

BATCH = 256  # incidents per read/encode/write round: bounds memory and the work a crash loses


class Tracker(Protocol):
    """Progress display: `start` once with the number of incidents to encode, then `advance`."""

    def start(self, total: int) -> None: ...

    def advance(self, done: int) -> None: ...


@dataclass
class EmbedReport:
    """What one `kb embed` run did."""

    model_id: str
    checked: int = 0  # incidents whose document was rebuilt and compared
    embedded: int = 0  # encoded and stored
    kept: int = 0  # incident changed, its document did not: vector kept
    empty: list[str] = field(default_factory=list)  # incidents with no text (marker rows)
    truncated: list[str] = field(default_factory=list)  # longer than MAX_CHUNKS chunks
    replaced: dict[str, int] = field(default_factory=dict)  # other models' vectors replaced
    pruned: int = 0  # vectors of incidents no longer stored
    elsewhere: int = 0  # left to another worker holding a live claim on them
    copied: int = 0  # vectors copied into the pgvector column (no re-encoding)
    vector_search: str = "numpy"  # where search ranks these vectors: "pgvector" or "numpy"
    vector_note: str | None = None  # why numpy on PostgreSQL
    # What was done to the search indexes of a large KB (kb.embed.ann, kb.embed.impact):
    # said in the summary when one was rebuilt.
    indexes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"embedded {self.embedded} incident(s) with {self.model_id}"]
        if self.kept:
            parts.append(f"{self.kept} changed without a new text (vector kept)")
        if self.replaced:
            old = ", ".join(f"{n} of {m}" for m, n in sorted(self.replaced.items()))
            parts.append(f"replaced vectors of another model ({old})")
        if self.empty:
            parts.append(f"{len(self.empty)} with no text to embed (e.g. {self.empty[0]})")
        if self.truncated:
            parts.append(f"{len(self.truncated)} embedded from their first chunks only "
                         f"(e.g. {self.truncated[0]})")
        if self.pruned:
            parts.append(f"{self.pruned} vector(s) of deleted incidents dropped")
        if self.elsewhere:
            parts.append(f"{self.elsewhere} left to another worker that claimed them")
        if self.copied:
            parts.append(f"{self.copied} vector(s) copied into pgvector")
        if self.vector_search == "pgvector":
            parts.append("vectors searched in PostgreSQL (pgvector, HNSW)")
        elif self.vector_note:
            parts.append(self.vector_note)
        parts.extend(note for note in self.indexes if "rebuilt" in note or "not" in note)
        return "; ".join(parts)


def embed_missing(
    store: Store,
    home: Path,
    *,
    spec: ModelSpec | None = None,
    encoder: Encoder | None = None,
    tracker: Tracker | None = None,
    full: bool = False,
    note: Callable[[str], None] | None = None,
    reindex: bool = False,
) -> EmbedReport:
    """Embed what is missing or stale. `full` rebuilds and compares every document, however
    its inputs look (`kb embed --full`); `reindex` rebuilds the search indexes of a large KB
    even when they could be kept (`kb embed --reindex`). `encoder` overrides loading one
    from `spec` (tests, benches)."""
    started = time.perf_counter()
    spec = spec or resolve_model()
    model_id = encoder.model_id if encoder is not None else spec.model_id
    report = EmbedReport(model_id)
    report.vector_search, report.vector_note = vectors.vector_search_mode(store)
    owner = claims.worker_id()
    claims.hold_model(store, model_id, owner=owner)
    try:
        _embed_batches(store, home, spec, model_id, encoder, tracker, full, note, report, owner)
    finally:
        claims.release(store, claims.MODEL_STAGE, [owner], owner=owner)
    report.pruned = vectors.prune_orphans(store)
    report.copied = vectors.backfill_embeddings(store)
    report.indexes = search_indexes(store, home, model_id, rebuild=reindex)
    report.seconds = time.perf_counter() - started
    return report


def search_indexes(store: Store, home: Path, model_id: str, *,
                   rebuild: bool = False) -> list[str]:
    """Bring the search indexes of a large KB up to date with what is stored: the HNSW
    graph of the vectors (kb.embed.ann) and the BM25 impact index of the keyword index
    (kb.embed.impact). Each is skipped for a small KB and on PostgreSQL, kept when current,
    and after a few changes kept with a delta (graph) or kept unused (impact index) rather
    than rebuilt at every round; `rebuild` rebuilds both. Returns what was done to each, in
    a few words."""
    cache = home / "cache"
    notes = []
    try:
        notes.append(refresh_graph(store, model_id, cache, rebuild=rebuild))
    except ImportError:
        notes.append("faiss-cpu is not installed: vector search stays exact")
    notes.append(impact.refresh(store, cache, rebuild=rebuild))
    return notes


def _embed_batches(store: Store, home: Path, spec: ModelSpec, model_id: str,
                   encoder: Encoder | None, tracker: Tracker | None, full: bool,
                   note: Callable[[str], None] | None, report: EmbedReport,
                   owner: str) -> None:
    if full:
        keys = vectors.all_keys(store)
        extras = extra_texts(store, keys) if DOCUMENT_EXTRAS else {}
    else:
        keys, extras = _candidates(store, model_id)
    loaded: list[Encoder] = [encoder] if encoder is not None else []
    if tracker is not None and keys:
        tracker.start(len(keys))
    for start in range(0, len(keys), BATCH):
        batch_keys = keys[start : start + BATCH]
        held = vectors.stored_states(store, batch_keys)
        kept: dict[str, str] = {}
        todo: list[tuple[Document, str]] = []
        markers: list[vectors.VectorRow] = []
        for incident, content in vectors.incidents_with_hashes(store, batch_keys):
            report.checked += 1
            texts = extras.get(incident.key, ())
            source_hash = inputs_hash(content, texts)
            document = build_document(incident, texts)
            state = held.get(incident.key)
            if state == (model_id, RECIPE, document.doc_hash):
                kept[incident.key] = source_hash
            elif document.empty:
                # A marker row (no vector, 0 chunks): the incident counts as handled, so it is
                # not rebuilt on every run nor reported as missing by search.
                report.empty.append(incident.key)
                markers.append(vectors.VectorRow(incident.key, model_id, RECIPE,
                                                 document.doc_hash, source_hash, 0, 0, b""))
            else:
                if state is not None and state[0] != model_id:
                    report.replaced[state[0]] = report.replaced.get(state[0], 0) + 1
                todo.append((document, source_hash))
        vectors.touch_sources(store, kept)
        vectors.write_vectors(store, markers)
        if not full:
            # Listed because its inputs moved, with the same model, recipe and text: the
            # incident (or its extras) changed, its document did not.
            report.kept += len(kept)
        if tracker is not None:
            tracker.advance(len(batch_keys) - len(todo))
        claims.hold_model(store, model_id, owner=owner)  # renewed: this worker is alive
        if not todo:
            continue
        todo = _claimed(store, todo, model_id, owner, report)
        if not todo:
            continue
        try:
            if not loaded:
                loaded.append(load_encoder(spec, home, note=note))
            _encode_and_store(store, loaded[0], todo, report, tracker)
        finally:
            claims.release(store, "embed", [d.key for d, _h in todo], owner=owner)


def _candidates(store: Store, model_id: str) -> tuple[list[str], dict[str, list[str]]]:
    """The incidents whose document may have changed since their vector was made, sorted,
    and the extra texts of every incident (DOCUMENT_EXTRAS, asked once for all keys). Decided
    without building a document: an incident is a candidate when it has no vector of this
    model and recipe, or its inputs (content hash and extras' digest: inputs_hash) differ
    from those its vector was made from. So a run with nothing to do costs one join, the
    hooks' own reads and a hash of the few incidents that have extras."""
    stale = vectors.stale_sources(store, model_id, RECIPE)
    extras = extra_texts(store, vectors.all_keys(store)) if DOCUMENT_EXTRAS else {}
    listed = {key for key, _content, _source in stale}
    wanted = {key for key, content, source in stale
              if source is None or source != inputs_hash(content, extras.get(key, ()))}
    # Extras where the vector was made from the content alone (its source hash equals the
    # content hash, so the join above did not list it): new links since the last run.
    wanted.update(key for key, texts in extras.items() if texts and key not in listed)
    return sorted(wanted), extras


def _claimed(store: Store, todo: list[tuple[Document, str]], model_id: str, owner: str,
             report: EmbedReport) -> list[tuple[Document, str]]:
    """The part of `todo` this worker may encode: claimed by it, and still not current
    (another worker may have finished some between our read and our claim)."""
    got = set(claims.claim(store, "embed", [d.key for d, _h in todo], owner=owner,
                           detail=model_id))
    report.elsewhere += len(todo) - len(got)
    held = vectors.stored_states(store, sorted(got))
    mine, done = [], []
    for document, source_hash in todo:
        if document.key not in got:
            continue
        if held.get(document.key) == (model_id, RECIPE, document.doc_hash):
            done.append(document.key)
        else:
            mine.append((document, source_hash))
    claims.release(store, "embed", done, owner=owner)
    return mine


def _encode_and_store(store: Store, encoder: Encoder, todo: Sequence[tuple[Document, str]],
                      report: EmbedReport, tracker: Tracker | None) -> None:
    documents = [d for d, _h in todo]
    matrix = encode_documents(encoder, documents,
                              progress=tracker.advance if tracker is not None else None)
    rows = []
    for (document, source_hash), vector in zip(todo, matrix, strict=True):
        if document.truncated:
            report.truncated.append(document.key)
        rows.append(vectors.VectorRow(
            key=document.key, model_id=encoder.model_id, recipe=RECIPE,
            doc_hash=document.doc_hash, source_hash=source_hash, dim=int(vector.shape[0]),
            chunks=len(document.chunks), vector=vector.astype("<f4").tobytes(),
        ))
    vectors.write_vectors(store, rows)
    report.embedded += len(rows)


def embed_stage(context: StageContext) -> str | None:
    """The `embed` later stage of `kb update`: a one-line note, or None when nothing changed."""
    report = embed_missing(context.store, context.settings.home, tracker=context.progress)
    if not (report.embedded or report.pruned or report.empty or report.truncated):
        return None
    return report.summary()
