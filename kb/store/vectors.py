"""Search tables: incident vectors (float32 blobs, migration s01) and the search filters.

One vector per incident. Each row records the model that made it, the document recipe
version, the hash of the document text and the `incidents.content_hash` it was built from, so
`kb embed` re-encodes only what changed, and a database never mixes two models' vectors
without saying so. Vectors are handed out as raw bytes: numpy stays out of the store.

The tables are plain SQLAlchemy Core on their own MetaData (not SQLModel's): nothing but this
module and migration s01 should know them, and no shared metadata should grow a table that
exists only on the `search` branch. Keyword search (FTS5 on SQLite, tsvector on PostgreSQL)
lives in kb.store.keyword and shares the filters defined here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.exc import OperationalError

from kb.errors import DatabaseBusy
from kb.model import SEVERITY_UNKNOWN, Incident, Kind, Severity
from kb.serialize import incident_from_dict
from kb.store.analysis import T_CAUSES
from kb.store.repo import T_COMPONENTS, T_INCIDENTS, Store
from kb.store.tables import chunks

_META = MetaData()
T_VECTORS = Table(
    "incident_vectors",
    _META,
    Column("incident_key", String, primary_key=True),
    Column("model_id", String, nullable=False),
    Column("recipe", Integer, nullable=False),
    Column("doc_hash", String, nullable=False),
    Column("source_hash", String, nullable=False),
    Column("dim", Integer, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("embedded_at", DateTime(timezone=True), nullable=False),
)



@dataclass(frozen=True)
class VectorRow:
    """One incident's stored vector and what it was made from."""

    key: str
    model_id: str
    recipe: int
    doc_hash: str
    source_hash: str
    dim: int
    chunks: int
    vector: bytes  # float32, native byte order, `dim` values


@dataclass(frozen=True)
class SearchFilters:
    """Which incidents a search may return. Empty filters allow everything."""

    provider: str | None = None
    component: str | None = None  # component name, case-insensitive exact match
    severity: str | None = None
    kind: str | None = None
    since: datetime | None = None  # first post on/after
    until: datetime | None = None  # first post before
    cause: str | None = None  # a stored cause tag (kb.analysis.causes.Cause value)

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)



def as_busy(exc: OperationalError) -> Exception:
    """DatabaseBusy for a lock timeout, else the error itself (for `raise ... from None`)."""
    if "locked" in str(exc.orig) or "busy" in str(exc.orig):
        return DatabaseBusy("database is locked by another kb process; try again")
    return exc


# -- what needs embedding --------------------------------------------------------------------


def stale_keys(store: Store, model_id: str, recipe: int) -> list[str]:
    """Incidents with no vector, or one made by another model or recipe, or from content that
    has changed since (the spine's content hash moved). One query, sorted by key."""
    v, i = T_VECTORS.c, T_INCIDENTS.c
    query = (
        select(i.key)
        .select_from(T_INCIDENTS.outerjoin(T_VECTORS, v.incident_key == i.key))
        .where(or_(v.incident_key.is_(None), v.model_id != model_id, v.recipe != recipe,
                   v.source_hash != i.content_hash))
        .order_by(i.key)
    )
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def all_keys(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(T_INCIDENTS.c.key).order_by(T_INCIDENTS.c.key))]


def stored_states(store: Store, keys: Sequence[str]) -> dict[str, tuple[str, int, str]]:
    """key → (model_id, recipe, doc_hash) of the vectors held for these keys."""
    v = T_VECTORS.c
    found: dict[str, tuple[str, int, str]] = {}
    with store.engine.connect() as conn:
        for chunk in chunks(list(keys)):
            query = select(v.incident_key, v.model_id, v.recipe, v.doc_hash).where(
                v.incident_key.in_(chunk)
            )
            found.update({r[0]: (r[1], r[2], r[3]) for r in conn.execute(query)})
    return found


def incidents_with_hashes(store: Store, keys: Sequence[str]) -> list[tuple[Incident, str]]:
    """(incident, spine content hash) for each key still stored, in the order of `keys`:
    one query per 500 keys instead of one `Store.get` each."""
    c = T_INCIDENTS.c
    found: dict[str, tuple[Incident, str]] = {}
    with store.engine.connect() as conn:
        for chunk in chunks(list(keys)):
            query = select(c.key, c.doc_json, c.content_hash).where(c.key.in_(chunk))
            for key, doc, digest in conn.execute(query):
                found[key] = (incident_from_dict(json.loads(doc)), digest)
    return [found[key] for key in keys if key in found]


# -- writes ----------------------------------------------------------------------------------


def write_vectors(store: Store, rows: Sequence[VectorRow]) -> None:
    """Replace the vectors of these incidents, in one transaction."""
    if not rows:
        return
    now = datetime.now(UTC)  # aware: SQLite keeps the UTC wall time, PostgreSQL the instant
    try:
        with store.engine.begin() as conn:
            keys = [r.key for r in rows]
            for chunk in chunks(keys):
                conn.execute(delete(T_VECTORS).where(T_VECTORS.c.incident_key.in_(chunk)))
            conn.execute(insert(T_VECTORS), [
                {"incident_key": r.key, "model_id": r.model_id, "recipe": r.recipe,
                 "doc_hash": r.doc_hash, "source_hash": r.source_hash, "dim": r.dim,
                 "chunks": r.chunks, "vector": r.vector, "embedded_at": now}
                for r in rows
            ])
    except OperationalError as exc:
        raise as_busy(exc) from None


def touch_sources(store: Store, source_by_key: Mapping[str, str]) -> None:
    """The incident changed but its document did not (a new source, a status change): keep
    the vector, remember the new content hash so the next run skips it."""
    if not source_by_key:
        return
    statement = (
        update(T_VECTORS)
        .where(T_VECTORS.c.incident_key == bindparam("match_key"))
        .values(source_hash=bindparam("new_hash"),
                embedded_at=datetime.now(UTC))
    )
    try:
        with store.engine.begin() as conn:
            conn.execute(statement, [{"match_key": k, "new_hash": h}
                                     for k, h in source_by_key.items()])
    except OperationalError as exc:
        raise as_busy(exc) from None


def prune_orphans(store: Store) -> int:
    """Drop vectors whose incident is gone. Returns how many."""
    orphan = ~select(T_INCIDENTS.c.key).where(
        T_INCIDENTS.c.key == T_VECTORS.c.incident_key
    ).exists()
    try:
        with store.engine.begin() as conn:
            return conn.execute(delete(T_VECTORS).where(orphan)).rowcount or 0
    except OperationalError as exc:
        raise as_busy(exc) from None


# -- reads for search ------------------------------------------------------------------------


def models_in_use(store: Store) -> dict[str, int]:
    """model id → number of vectors held (normally one entry; markers of textless incidents
    not counted)."""
    v = T_VECTORS.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(v.model_id, func.count()).where(v.chunks > 0).group_by(v.model_id))
        return {r[0]: r[1] for r in rows}


def vector_signature(store: Store, model_id: str) -> str:
    """Changes whenever a vector of `model_id` is written, kept or dropped: count and the
    latest write time. Keys a cached copy of the matrix (kb.embed.index)."""
    v = T_VECTORS.c
    with store.engine.connect() as conn:
        count, latest = conn.execute(
            select(func.count(), func.max(v.embedded_at)).where(v.model_id == model_id)
        ).one()
    return f"{count}|{latest}"


def coverage(store: Store, model_id: str, recipe: int) -> tuple[int, bool]:
    """(incidents with no current vector, whether any incident changed after the latest
    embedding). Two aggregate queries: cheap enough for every cold `kb search`, where the exact
    `stale_keys` join costs half a second at 100k incidents."""
    v, i = T_VECTORS.c, T_INCIDENTS.c
    with store.engine.connect() as conn:
        incidents = conn.execute(select(func.count()).select_from(T_INCIDENTS)).scalar_one()
        current, latest = conn.execute(
            select(func.count(), func.max(v.embedded_at))
            .where(v.model_id == model_id, v.recipe == recipe)
        ).one()
        if isinstance(latest, str):  # SQLite aggregates come back as text
            latest = datetime.fromisoformat(latest).replace(tzinfo=UTC)
        changed = latest is not None and conn.execute(
            select(i.key).where(i.changed_at > latest).limit(1)
        ).first() is not None
    return max(0, incidents - current), changed


def vector_of(store: Store, key: str) -> VectorRow | None:
    v = T_VECTORS.c
    with store.engine.connect() as conn:
        row = conn.execute(select(T_VECTORS).where(v.incident_key == key)).first()
    if row is None:
        return None
    return VectorRow(row.incident_key, row.model_id, row.recipe, row.doc_hash,
                     row.source_hash, row.dim, row.chunks, row.vector)


def load_vectors(store: Store, model_id: str) -> tuple[list[str], list[bytes], int]:
    """Every vector of `model_id` whose incident still exists: (keys, blobs, dim), key order.
    Marker rows of incidents with no text (0 chunks, no vector) are left out.

    Raw driver SQL: at 100k rows SQLAlchemy's per-row result processing costs more than the
    query itself, and this runs on every cold `kb search`.
    """
    keys: list[str] = []
    blobs: list[bytes] = []
    dim = 0
    with store.engine.connect() as conn:
        mark = _param(conn)
        result = conn.exec_driver_sql(
            "SELECT v.incident_key, v.vector, v.dim FROM incident_vectors AS v "
            "JOIN incidents AS i ON i.key = v.incident_key "
            f"WHERE v.model_id = {mark} AND v.chunks > 0 ORDER BY v.incident_key",
            (model_id,),
        )
        for key, blob, width in result:
            keys.append(key)
            blobs.append(blob)
            dim = width
    return keys, blobs, dim


def _param(conn) -> str:  # type: ignore[no-untyped-def]
    """The DB-API placeholder of this driver (sqlite3: ?, psycopg: %s)."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


def filter_clauses(filters: SearchFilters) -> list[Any]:
    """WHERE clauses over `incidents` for these filters (for queries that select from it)."""
    c = T_INCIDENTS.c
    clauses: list[Any] = []
    if filters.provider:
        clauses.append(c.provider == filters.provider)
    if filters.severity:
        clauses.append(_severity_clause(filters.severity))
    if filters.kind:
        clauses.append(c.kind == filters.kind)
    if filters.since:
        clauses.append(c.first_post_at >= filters.since)
    if filters.until:
        clauses.append(c.first_post_at < filters.until)
    if filters.component:
        clauses.append(
            select(T_COMPONENTS.c.incident_key).where(
                T_COMPONENTS.c.incident_key == c.key,
                func.lower(T_COMPONENTS.c.name) == filters.component.lower(),
            ).exists()
        )
    if filters.cause:
        # Only tags made for the incident's present text count, as in
        # kb.store.analysis.stored_causes: a tag of older content describes other words. And
        # only a tag stated as a cause: "unable to log in" names auth as what failed, not why.
        clauses.append(
            select(T_CAUSES.c.incident_key).where(
                T_CAUSES.c.incident_key == c.key,
                T_CAUSES.c.content_hash == c.content_hash,
                T_CAUSES.c.tag == filters.cause,
                T_CAUSES.c.stated_as == "cause",
            ).exists()
        )
    return clauses


def _severity_clause(severity: str) -> Any:
    """Incidents whose shown severity (Incident.stated_severity) is `severity`. The column
    holds what normalization set, "none" also for an incident no source gave an impact
    (feed-only); that one shows as "unknown", so "none" and "unknown" are told apart here by
    the same test as stated_severity: kind incident, no stored impact, and no component
    status in the stored document (written by kb.store.repo with sorted keys and compact
    separators, so a stated status reads `"new_status":"`; a null one reads `:null`)."""
    c = T_INCIDENTS.c
    unstated = and_(c.severity == Severity.NONE.value, c.kind == Kind.INCIDENT.value,
                    c.impact.is_(None), ~c.doc_json.contains('"new_status":"', autoescape=True),
                    ~c.doc_json.contains('"old_status":"', autoescape=True))
    if severity == SEVERITY_UNKNOWN:
        return unstated
    if severity == Severity.NONE.value:
        return and_(c.severity == severity, not_(unstated))
    return c.severity == severity


def filter_keys(store: Store, filters: SearchFilters) -> set[str]:
    """Keys of the incidents that pass the filters."""
    query = select(T_INCIDENTS.c.key).where(*filter_clauses(filters))
    with store.engine.connect() as conn:
        return {row[0] for row in conn.execute(query)}


def symptom_only(store: Store, tag: str) -> int:
    """How many incidents carry `tag` (for their present text) only as a symptom: what a
    --cause filter, which matches stated causes, leaves out."""
    c, i = T_CAUSES.c, T_INCIDENTS.c
    current = (c.incident_key == i.key) & (c.content_hash == i.content_hash) & (c.tag == tag)
    query = select(func.count()).select_from(T_INCIDENTS).where(
        select(c.incident_key).where(current).exists(),
        ~select(c.incident_key).where(current, c.stated_as == "cause").exists())
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def cause_coverage(store: Store) -> tuple[int, int]:
    """(incidents whose cause tags are current, incidents): how much a cause filter sees.
    An incident tagged "unknown" counts as tagged; one changed since tagging does not."""
    c, i = T_CAUSES.c, T_INCIDENTS.c
    current = select(c.incident_key).where(
        c.incident_key == i.key, c.content_hash == i.content_hash).exists()
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(T_INCIDENTS)).scalar_one()
        tagged = conn.execute(
            select(func.count()).select_from(T_INCIDENTS).where(current)).scalar_one()
    return int(tagged), int(total)
