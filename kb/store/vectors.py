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
import math
import struct
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
    cast,
    delete,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.types import UserDefinedType

from kb.model import SEVERITY_UNKNOWN, Incident, Kind, Severity
from kb.serialize import incident_from_dict
from kb.store.analysis import T_CAUSES
from kb.store.db import connected
from kb.store.repo import T_COMPONENTS, T_INCIDENTS, Store
from kb.store.tables import chunks

_META = MetaData()


def _vector_columns() -> list[Column]:  # type: ignore[type-arg]
    return [
        Column("incident_key", String, primary_key=True),
        Column("model_id", String, nullable=False),
        Column("recipe", Integer, nullable=False),
        Column("doc_hash", String, nullable=False),
        Column("source_hash", String, nullable=False),
        Column("dim", Integer, nullable=False),
        Column("chunks", Integer, nullable=False),
        Column("vector", LargeBinary, nullable=False),
        Column("embedded_at", DateTime(timezone=True), nullable=False),
    ]


T_VECTORS = Table("incident_vectors", _META, *_vector_columns())

# HNSW search breadth: at least this many, and twice the number of results asked for (pgvector
# returns at most ef_search rows per index scan). 1000 is pgvector's own ceiling.
EF_SEARCH_MIN = 100
EF_SEARCH_MAX = 1000


class PgVector(UserDefinedType):  # type: ignore[type-arg]
    """pgvector's `vector` type as text ('[0.1,0.2]'): the store writes and queries it without
    the pgvector Python package and without numpy. `dim` None is the untyped column."""

    cache_ok = True

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def get_col_spec(self, **_kw: Any) -> str:
        return "vector" if self.dim is None else f"vector({int(self.dim)})"

    def bind_processor(self, dialect):  # type: ignore[no-untyped-def]
        return lambda value: value if value is None or isinstance(value, str) \
            else vector_text(value)


def vector_text(blob: bytes) -> str:
    """A stored float32 blob as pgvector's text form. repr() of a float32 value read as a
    Python float is exact, so the column holds the very same numbers as the blob."""
    values = struct.unpack(f"<{len(blob) // 4}f", blob)
    if not all(math.isfinite(x) for x in values):
        raise ValueError("a vector with NaN or infinity cannot be stored")
    return "[" + ",".join(repr(x) for x in values) + "]"


# The `embedding` column of revision v01 (PostgreSQL with pgvector only): a second view of the
# table, so that nothing reads or writes the column where it does not exist.
_PG_META = MetaData()
T_VECTORS_PG = Table("incident_vectors", _PG_META, *_vector_columns(),
                     Column("embedding", PgVector()))


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



# -- what needs embedding --------------------------------------------------------------------


def stale_sources(store: Store, model_id: str, recipe: int
                  ) -> list[tuple[str, str, str | None]]:
    """Incidents with no vector, or one made by another model or recipe, or from content that
    has changed since (the spine's content hash moved), sorted by key: (key, the
    incident's content hash, the vector's source hash, or None when there is no vector of
    this model and recipe). A vector whose source hash carries a digest of extra texts
    (kb.embed.document.inputs_hash) is listed on every call: only the caller, who knows the
    extras, can say whether it is current. One query, no document built."""
    v, i = T_VECTORS.c, T_INCIDENTS.c
    current = and_(v.model_id == model_id, v.recipe == recipe)
    query = (
        select(i.key, i.content_hash, v.source_hash, current)
        .select_from(T_INCIDENTS.outerjoin(T_VECTORS, v.incident_key == i.key))
        .where(or_(v.incident_key.is_(None), v.model_id != model_id, v.recipe != recipe,
                   v.source_hash != i.content_hash))
        .order_by(i.key)
    )
    with store.engine.connect() as conn:
        return [(key, digest, source if held else None)
                for key, digest, source, held in conn.execute(query)]


def all_keys(store: Store) -> list[str]:
    """Every incident key, sorted. Raw driver SQL, as in `load_vectors`: every `kb embed` asks
    for all keys (for the extra-text hooks), and SQLAlchemy's per-row processing cost more
    than the query at 100k keys."""
    with store.engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql(
            "SELECT key FROM incidents ORDER BY key").fetchall()]


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
    found: dict[str, tuple[Incident, str]] = {}
    # Raw driver SQL: search loads its 10 hits per query, and SQLAlchemy's statement and row
    # handling cost as much as reading them (0.5 of 2.1 ms CPU at 100k).
    with store.engine.connect() as conn:
        mark = _param(conn)
        for chunk in chunks(list(keys)):
            rows = conn.exec_driver_sql(
                "SELECT key, doc_json, content_hash FROM incidents WHERE key IN "
                f"({', '.join([mark] * len(chunk))})", tuple(chunk))
            for key, doc, digest in rows:
                found[key] = (incident_from_dict(json.loads(doc)), digest)
    return [found[key] for key in keys if key in found]


# -- writes ----------------------------------------------------------------------------------


def write_vectors(store: Store, rows: Sequence[VectorRow]) -> None:
    """Replace the vectors of these incidents, in one transaction."""
    if not rows:
        return
    now = datetime.now(UTC)  # aware: SQLite keeps the UTC wall time, PostgreSQL the instant
    in_sql = pgvector_ready(store)
    table = T_VECTORS_PG if in_sql else T_VECTORS
    values = [{"incident_key": r.key, "model_id": r.model_id, "recipe": r.recipe,
               "doc_hash": r.doc_hash, "source_hash": r.source_hash, "dim": r.dim,
               "chunks": r.chunks, "vector": r.vector, "embedded_at": now}
              for r in rows]
    if in_sql:
        for row, value in zip(rows, values, strict=True):
            value["embedding"] = vector_text(row.vector) if row.chunks > 0 else None
        for dim in {r.dim for r in rows if r.chunks > 0}:
            ensure_hnsw(store, dim)
    with connected(store.engine, write=True) as conn:
        keys = [r.key for r in rows]
        for chunk in chunks(keys):
            conn.execute(delete(T_VECTORS).where(T_VECTORS.c.incident_key.in_(chunk)))
        conn.execute(insert(table), values)


# -- pgvector (PostgreSQL with the `vector` extension, revision v01) ---------------------------


def pgvector_ready(store: Store) -> bool:
    """Whether this database keeps vectors in a pgvector column (PostgreSQL where revision v01
    found the extension). Asked of the catalogue once per Store."""
    cached = getattr(store, "_kb_pgvector", None)
    if cached is None:
        cached = False
        if store.engine.dialect.name == "postgresql":
            with store.engine.connect() as conn:
                cached = conn.execute(text(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = 'incident_vectors' AND "
                    "column_name = 'embedding'")).first() is not None
        store._kb_pgvector = cached  # type: ignore[attr-defined]
    return bool(cached)


def vector_search_mode(store: Store) -> tuple[str, str | None]:
    """("pgvector" or "numpy", a one-line note when PostgreSQL falls back to numpy)."""
    if pgvector_ready(store):
        return "pgvector", None
    if store.engine.dialect.name != "postgresql":
        return "numpy", None
    return "numpy", ("pgvector is not available in this PostgreSQL database (the server has "
                     "no `vector` extension, or it was installed after the schema was made): "
                     "vectors are ranked in memory (numpy)")


def _hnsw_name(dim: int) -> str:
    return f"ix_incident_vectors_hnsw_{int(dim)}"


def ensure_hnsw(store: Store, dim: int) -> None:
    """The HNSW index (inner product; stored vectors are unit length, so it ranks by cosine)
    over the vectors of width `dim`. One partial index per width because the column is
    untyped (the model, not the schema, fixes the width). Made once; an advisory lock keeps
    two workers from building it at the same moment."""
    name = _hnsw_name(dim)
    made: set[int] = getattr(store, "_kb_hnsw", set())
    if dim in made:
        return
    with store.engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('kb:hnsw'))"))
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {name} ON incident_vectors USING hnsw "
            f"((embedding::vector({int(dim)})) vector_ip_ops) WHERE dim = {int(dim)}")
    made.add(dim)
    store._kb_hnsw = made  # type: ignore[attr-defined]


def backfill_embeddings(store: Store, batch: int = 1000) -> int:
    """Copy blobs into the pgvector column where it is empty (a database upgraded to v01 with
    vectors already made): no re-encoding. Returns how many."""
    if not pgvector_ready(store):
        return 0
    v = T_VECTORS_PG.c
    done = 0
    while True:
        with store.engine.begin() as conn:
            rows = conn.execute(
                select(v.incident_key, v.vector, v.dim)
                .where(v.embedding.is_(None), v.chunks > 0).limit(batch)
                .with_for_update(skip_locked=True)).all()
            if not rows:
                return done
            for dim in {r.dim for r in rows}:
                ensure_hnsw(store, dim)
            conn.execute(
                update(T_VECTORS_PG).where(v.incident_key == bindparam("match_key"))
                .values(embedding=bindparam("new_embedding")),
                [{"match_key": r.incident_key, "new_embedding": vector_text(r.vector)}
                 for r in rows])
            done += len(rows)


def pending_embeddings(store: Store) -> int:
    """Vectors with text whose pgvector column is still empty (made before revision v01)."""
    v = T_VECTORS_PG.c
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(
            v.embedding.is_(None), v.chunks > 0)).scalar_one())


def vector_width(store: Store, model_id: str) -> tuple[int, int]:
    """(vectors of `model_id` with text, their width): what a pgvector search ranks."""
    v = T_VECTORS.c
    with store.engine.connect() as conn:
        count, dim = conn.execute(
            select(func.count(), func.max(v.dim)).where(v.model_id == model_id, v.chunks > 0)
        ).one()
    return int(count), int(dim or 0)


def nearest(store: Store, model_id: str, dim: int, query: bytes, k: int,
            filters: SearchFilters | None = None) -> list[tuple[str, float]]:
    """The k vectors of `model_id` with the highest inner product with `query` (float32 blob),
    among incidents passing `filters`, ranked in PostgreSQL by the HNSW index: (key, score),
    best first, ties by key (as kb.embed.index.MatrixIndex breaks them).

    Iterative index scans (pgvector ≥ 0.8, strict order) keep a filtered search from coming
    back short when the filter rejects most of the first candidates."""
    if k <= 0 or dim <= 0:
        return []
    v = T_VECTORS_PG.c
    column = literal_column(f"(incident_vectors.embedding::vector({int(dim)}))")
    target = cast(bindparam("query_vector", vector_text(query), type_=String),
                  PgVector(dim))
    distance = column.op("<#>")(target)  # type: ignore[attr-defined]
    statement = (
        select(v.incident_key, distance.label("distance"))
        .select_from(T_VECTORS_PG.join(T_INCIDENTS, T_INCIDENTS.c.key == v.incident_key))
        .where(text(f"incident_vectors.dim = {int(dim)}"), v.model_id == model_id,
               v.chunks > 0, *filter_clauses(filters or SearchFilters()))
        .order_by(distance)
        .limit(k)
    )
    breadth = min(EF_SEARCH_MAX, max(EF_SEARCH_MIN, 2 * k))
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {breadth}")
        conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = strict_order")
        rows = conn.execute(statement).all()
    # <#> is the negated inner product; computed in float32 like numpy's product.
    return sorted(((key, -float(d)) for key, d in rows), key=lambda r: (-r[1], r[0]))


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
    with connected(store.engine, write=True) as conn:
        conn.execute(statement, [{"match_key": k, "new_hash": h}
                                 for k, h in source_by_key.items()])


def prune_orphans(store: Store) -> int:
    """Drop vectors whose incident is gone. Returns how many."""
    orphan = ~select(T_INCIDENTS.c.key).where(
        T_INCIDENTS.c.key == T_VECTORS.c.incident_key
    ).exists()
    with connected(store.engine, write=True) as conn:
        return conn.execute(delete(T_VECTORS).where(orphan)).rowcount or 0


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
    `stale_sources` join costs half a second at 100k incidents."""
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


def vector_blobs(store: Store, model_id: str, keys: Sequence[str]) -> dict[str, bytes]:
    """key → float32 blob of `model_id` for those keys that have one with text."""
    v = T_VECTORS.c
    found: dict[str, bytes] = {}
    with store.engine.connect() as conn:
        for chunk in chunks(list(keys)):
            found.update({r[0]: bytes(r[1]) for r in conn.execute(
                select(v.incident_key, v.vector).where(
                    v.incident_key.in_(chunk), v.model_id == model_id, v.chunks > 0))})
    return found


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
