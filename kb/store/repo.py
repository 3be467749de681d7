"""Store: the repository every other module uses. Domain types in, domain types out."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from kb.errors import NotFound
from kb.model import LIFECYCLE_TIMES, Incident, SourcedRecord, SourceRef
from kb.serialize import incident_from_dict, incident_to_dict
from kb.store import keyword_index
from kb.store.bulk import insert_rows
from kb.store.db import connected, ensure_schema, make_engine
from kb.store.tables import (
    ComponentRow,
    DocRow,
    FetchRow,
    IncidentRow,
    ProviderRow,
    RecordRow,
    RevisionRow,
    SourceRow,
    UpdateRow,
    as_utc,
    canonical_json,
    chunks,
)
from scrapers.records import record_from_dict, record_to_dict

T_INCIDENTS = IncidentRow.__table__  # type: ignore[attr-defined]
T_UPDATES = UpdateRow.__table__  # type: ignore[attr-defined]
T_COMPONENTS = ComponentRow.__table__  # type: ignore[attr-defined]
T_SOURCES = SourceRow.__table__  # type: ignore[attr-defined]
T_RECORDS = RecordRow.__table__  # type: ignore[attr-defined]
T_REVISIONS = RevisionRow.__table__  # type: ignore[attr-defined]
T_DOCS = DocRow.__table__  # type: ignore[attr-defined]
T_FETCH = FetchRow.__table__  # type: ignore[attr-defined]
T_PROVIDERS = ProviderRow.__table__  # type: ignore[attr-defined]



@dataclass(frozen=True)
class Revision:
    """A newer payload of a channel replaced an older one that said something else."""

    incident_key: str
    channel: str
    old: SourcedRecord
    new: SourcedRecord
    summary: str


@dataclass(frozen=True)
class IncidentWrite:
    """Everything one incident's normalization produced, written atomically with its batch."""

    incident: Incident
    content_hash: str
    current: Sequence[SourcedRecord]
    revisions: Sequence[Revision] = ()
    # incident_to_dict(incident), where the caller made it already (the pipeline hashes it):
    # the incident is turned into its JSON object once per write, not twice. It must be
    # `incident`'s; dataclasses.replace(write, incident=...) needs a new one (or None).
    doc: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DocMark:
    sha256: str
    provider: str
    format: str
    parser_version: int
    url: str
    fetched_at: datetime
    as_of: datetime | None
    incidents: int
    lists_open_only: bool = False  # a summary.json snapshot (kb.normalize.snapshots)


@dataclass
class WriteResult:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    revisions: int = 0


@dataclass(frozen=True)
class ProviderStats:
    provider: str
    name: str | None
    incidents: int
    maintenances: int
    first: datetime | None
    last: datetime | None
    with_identified: int
    with_monitoring: int
    with_resolved: int
    with_impact_window: int
    complete_updates: int
    sources: int
    last_fetch: datetime | None
    last_fetch_outcome: str | None
    # Coverage: calendar months from `first` to `last` (inclusive) and, of those, the months in
    # which nothing (incident or maintenance) was first posted, as "YYYY-MM". A gap is either
    # a quiet month or a hole in what was collected; `kb backfill` fills the holes.
    months_spanned: int = 0
    gap_months: tuple[str, ...] = ()

    @property
    def complete_share(self) -> float:
        """Share of held incidents and maintenances whose full update list was seen."""
        total = self.incidents + self.maintenances
        return self.complete_updates / total if total else 0.0


def month_coverage(stamps: Sequence[datetime]) -> tuple[int, tuple[str, ...]]:
    """(months spanned, months with no stamp) of the range from the earliest to the latest."""
    held = {(s.year, s.month) for s in stamps}
    if not held:
        return 0, ()
    (year, month), last = min(held), max(held)
    spanned, gaps = 0, []
    while (year, month) <= last:
        spanned += 1
        if (year, month) not in held:
            gaps.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return spanned, tuple(gaps)


def _incident_values(write: IncidentWrite, now: datetime,
                     docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The incident's row; `docs` holds its JSON object (incident_to_dict) by key."""
    inc = write.incident
    life = inc.lifecycle
    window = inc.impact_window
    return {
        "key": inc.key,
        "provider": inc.provider,
        "native_id": inc.native_id,
        "kind": inc.kind.value,
        "title": inc.title,
        "url": inc.url,
        "status": inc.status,
        "impact": inc.impact,
        "severity": inc.severity.value,
        **{name: getattr(life, name) for name in LIFECYCLE_TIMES},
        "impact_start": window.start if window else None,
        "impact_end": window.end if window else None,
        "impact_evidence": window.evidence if window else None,
        "updates_count": len(inc.updates),
        "updates_complete": inc.updates_complete,
        "content_hash": write.content_hash,
        "doc_json": canonical_json(docs[inc.key]),
        "changed_at": now,
    }




class Store:
    """Open with `Store.open(url)`; all writes are upserts inside one transaction per batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, database_url: str, *, write: bool = False) -> tuple[Store, str | None]:
        """The store and a one-line note when the schema was created or upgraded."""
        engine = make_engine(database_url)
        note = ensure_schema(engine, upgrade=write)
        return cls(engine), note

    def close(self) -> None:
        self.engine.dispose()

    # -- reads used by the pipeline --------------------------------------------------------

    def known_docs(self) -> dict[str, list[tuple[str, int]]]:
        """Every stored payload: sha256 → [(provider, incidents it yielded)]. One query, so a
        re-import of thousands of files costs dictionary look-ups, not round trips."""
        found: dict[str, list[tuple[str, int]]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(select(T_DOCS.c.sha256, T_DOCS.c.provider, T_DOCS.c.incidents)):
                found.setdefault(row.sha256, []).append((row.provider, row.incidents))
        return found

    def current_records(self, keys: Sequence[str]) -> dict[str, list[SourcedRecord]]:
        found: dict[str, list[SourcedRecord]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(keys):
                rows = conn.execute(select(T_RECORDS).where(T_RECORDS.c.incident_key.in_(chunk)))
                for row in rows:
                    found.setdefault(row.incident_key, []).append(
                        SourcedRecord(
                            record=record_from_dict(json.loads(row.record_json)),
                            source=SourceRef(row.url, row.fetched_at, row.sha256, row.format),
                            as_of=row.as_of,
                        )
                    )
        return found

    def sources_of(self, keys: Sequence[str]) -> dict[str, list[SourceRef]]:
        found: dict[str, list[SourceRef]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(keys):
                for row in conn.execute(
                    select(T_SOURCES).where(T_SOURCES.c.incident_key.in_(chunk))
                ):
                    found.setdefault(row.incident_key, []).append(
                        SourceRef(row.url, row.fetched_at, row.sha256, row.format)
                    )
        return found

    def content_hashes(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(keys):
                q = select(T_INCIDENTS.c.key, T_INCIDENTS.c.content_hash).where(
                    T_INCIDENTS.c.key.in_(chunk)
                )
                found.update({row.key: row.content_hash for row in conn.execute(q)})
        return found

    # -- writes ----------------------------------------------------------------------------

    def write_batch(self, writes: Sequence[IncidentWrite], docs: Sequence[DocMark]) -> WriteResult:
        """Upsert incidents, their records, sources and revisions, and mark the docs stored —
        all in one transaction, so a crash leaves the batch either fully in or fully out.

        Statements are executemany batches: per-row statements made a 1,282-incident import
        spend 2 s in SQLAlchemy overhead.
        """
        result = WriteResult()
        now = datetime.now(UTC)
        keys = [w.incident.key for w in writes]
        with connected(self.engine, write=True) as conn:
            stored = {
                row.key: row.content_hash
                for chunk in chunks(keys)
                for row in conn.execute(
                    select(T_INCIDENTS.c.key, T_INCIDENTS.c.content_hash).where(
                        T_INCIDENTS.c.key.in_(chunk)
                    )
                )
            }
            changed: list[IncidentWrite] = []
            for write in writes:
                key = write.incident.key
                if stored.get(key) == write.content_hash:
                    result.unchanged.append(key)
                else:
                    (result.updated if key in stored else result.new).append(key)
                    changed.append(write)
            self._write_records(conn, writes)
            revisions = [rev for w in writes for rev in w.revisions]
            self._write_revisions(conn, revisions, now)
            result.revisions = len(revisions)
            self._write_incidents(conn, changed, set(stored), now)
            self._mark_docs(conn, docs, now)
        return result

    @staticmethod
    def _delete_in(conn: Connection, column: Any, values: Sequence[str]) -> None:
        for chunk in chunks(values):
            conn.execute(delete(column.table).where(column.in_(chunk)))

    def _write_records(self, conn: Connection, writes: Sequence[IncidentWrite]) -> None:
        """Replace the current records of the written incidents (one row per channel)."""
        self._delete_in(conn, T_RECORDS.c.incident_key, [w.incident.key for w in writes])
        rows = []
        for write in writes:
            for item in write.current:
                record_json = canonical_json(record_to_dict(item.record))
                rows.append({
                    "incident_key": write.incident.key,
                    "channel": item.record.channel,
                    "sha256": item.source.sha256,
                    "url": item.source.url,
                    "format": item.source.format,
                    "fetched_at": item.source.fetched_at,
                    "as_of": item.as_of,
                    "record_hash": _hash(record_json),
                    "record_json": record_json,
                })
        insert_rows(conn, T_RECORDS, rows)

    def _write_revisions(
        self, conn: Connection, revisions: Sequence[Revision], now: datetime
    ) -> None:
        if not revisions:
            return
        conn.execute(
            insert(T_REVISIONS),
            [
                {
                    "incident_key": rev.incident_key,
                    "channel": rev.channel,
                    "seen_at": now,
                    "old_sha256": rev.old.source.sha256,
                    "new_sha256": rev.new.source.sha256,
                    "summary": rev.summary,
                    "old_record_json": canonical_json(record_to_dict(rev.old.record)),
                }
                for rev in revisions
            ],
        )

    def _write_incidents(
        self, conn: Connection, writes: Sequence[IncidentWrite], existing: set[str],
        now: datetime,
    ) -> None:
        """Insert new incidents, UPDATE changed ones in place (rows of later features that
        refer to an incident survive), and rewrite their child rows."""
        if not writes:
            return
        keys = [w.incident.key for w in writes]
        for table in (T_UPDATES, T_COMPONENTS, T_SOURCES):
            self._delete_in(conn, table.c.incident_key, keys)
        docs = {w.incident.key: w.doc if w.doc is not None else incident_to_dict(w.incident)
                for w in writes}
        fresh = [_incident_values(w, now, docs) for w in writes
                 if w.incident.key not in existing]
        if fresh:
            insert_rows(conn, T_INCIDENTS, [dict(v, first_stored_at=now) for v in fresh])
        stale = [_incident_values(w, now, docs) for w in writes if w.incident.key in existing]
        if stale:
            columns = [c for c in stale[0] if c != "key"]
            statement = (
                update(T_INCIDENTS)
                .where(T_INCIDENTS.c.key == bindparam("match_key"))
                .values({c: bindparam(c) for c in columns})
            )
            conn.execute(statement, [dict(v, match_key=v["key"]) for v in stale])
        # the keyword index, for this batch's incidents at once (revision i01); new ones
        # first, in the order stored, as the per-row triggers numbered them
        texts = {}
        for v in (*fresh, *stale):
            made = keyword_index.document_text(docs[v["key"]])
            texts[v["key"]] = None if made is None else (v["title"], *made)
        keyword_index.refresh(conn, [v["key"] for v in fresh] + [v["key"] for v in stale],
                              texts)
        updates, components, sources = [], [], []
        for write in writes:
            inc = write.incident
            key = inc.key  # a property that formats a string: once per incident, not per row
            updates += [
                {"incident_key": key, "seq": i, "at": u.at, "phase": u.phase.value,
                 "label": u.label, "phase_inferred": u.phase_inferred, "text": u.text}
                for i, u in enumerate(inc.updates)
            ]
            components += [
                {"incident_key": key, "seq": i, "name": c.name, "code": c.code}
                for i, c in enumerate(inc.components)
            ]
            sources += [
                {"incident_key": key, "sha256": s.sha256, "url": s.url,
                 "fetched_at": s.fetched_at, "format": s.format}
                for s in inc.sources
            ]
        for table, rows in ((T_UPDATES, updates), (T_COMPONENTS, components),
                            (T_SOURCES, sources)):
            insert_rows(conn, table, rows)

    def _mark_docs(self, conn: Connection, docs: Sequence[DocMark], now: datetime) -> None:
        if not docs:
            return
        statement = delete(T_DOCS).where(
            T_DOCS.c.sha256 == bindparam("d_sha"), T_DOCS.c.provider == bindparam("d_provider")
        )
        conn.execute(statement, [{"d_sha": d.sha256, "d_provider": d.provider} for d in docs])
        conn.execute(insert(T_DOCS), [dict(d.__dict__, ingested_at=now) for d in docs])

    def upsert_provider(
        self, slug: str, name: str | None, page_url: str | None, components: Sequence[str] = ()
    ) -> None:
        values = {"name": name, "page_url": page_url, "updated_at": datetime.now(UTC)}
        if components:
            values["components_json"] = canonical_json(list(components))
        with self.engine.begin() as conn:
            held = conn.execute(select(T_PROVIDERS).where(T_PROVIDERS.c.slug == slug)).first()
            if held is None:
                conn.execute(insert(T_PROVIDERS).values(slug=slug, **values))
            elif (held.name, held.page_url) != (name, page_url) or components:
                keep = {k: v for k, v in values.items() if v is not None}
                conn.execute(update(T_PROVIDERS).where(T_PROVIDERS.c.slug == slug).values(**keep))

    def log_fetch(
        self, provider: str, url: str, outcome: str, *, status: int | None = None,
        sha256: str | None = None, error: str | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(T_FETCH).values(
                    provider=provider, url=url, fetched_at=datetime.now(UTC), outcome=outcome,
                    status=status, sha256=sha256, error=error,
                )
            )

    def clear_derived(self) -> None:
        """Drop every normalized row (kept: fetch log, providers) before a full reparse."""
        with self.engine.begin() as conn:
            for table in (T_UPDATES, T_COMPONENTS, T_SOURCES, T_INCIDENTS, T_RECORDS, T_DOCS):
                conn.execute(delete(table))
            keyword_index.clear(conn)

    # -- queries ---------------------------------------------------------------------------

    def get(self, key: str) -> Incident:
        with self.engine.connect() as conn:
            doc = conn.execute(
                select(T_INCIDENTS.c.doc_json).where(T_INCIDENTS.c.key == key)
            ).scalar_one_or_none()
        if doc is None:
            raise NotFound(f"no incident {key!r} (see `kb incidents`)")
        return incident_from_dict(json.loads(doc))

    def incidents(
        self,
        *,
        provider: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> Iterator[Incident]:
        """Incidents matching the filters; ordered by key (stable) or newest first."""
        query = select(T_INCIDENTS.c.doc_json)
        if provider:
            query = query.where(T_INCIDENTS.c.provider == provider)
        if since:
            query = query.where(T_INCIDENTS.c.first_post_at >= since)
        if until:
            query = query.where(T_INCIDENTS.c.first_post_at < until)
        if kind:
            query = query.where(T_INCIDENTS.c.kind == kind)
        if newest_first:
            query = query.order_by(T_INCIDENTS.c.first_post_at.desc(), T_INCIDENTS.c.key)
        else:
            query = query.order_by(T_INCIDENTS.c.key)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            for (doc,) in conn.execute(query):
                yield incident_from_dict(json.loads(doc))

    def revisions(self, key: str) -> list[tuple[datetime, str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(T_REVISIONS.c.seen_at, T_REVISIONS.c.channel, T_REVISIONS.c.summary)
                .where(T_REVISIONS.c.incident_key == key)
                .order_by(T_REVISIONS.c.id)
            )
            return [(r.seen_at, r.channel, r.summary) for r in rows]

    def provider_pages(self) -> dict[str, str | None]:
        """slug → status page URL of every stored provider (to tell a guessed slug that is
        already held by another host)."""
        with self.engine.connect() as conn:
            return {r.slug: r.page_url for r in conn.execute(select(T_PROVIDERS))}

    def provider_names(self) -> dict[str, str | None]:
        with self.engine.connect() as conn:
            return {r.slug: r.name for r in conn.execute(select(T_PROVIDERS))}

    def stats(self) -> list[ProviderStats]:
        c = T_INCIDENTS.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    c.provider,
                    func.count(),
                    func.sum((c.kind == "maintenance").cast(Integer)),
                    func.min(c.first_post_at),
                    func.max(c.first_post_at),
                    func.count(c.identified_at),
                    func.count(c.monitoring_at),
                    func.count(c.resolved_at),
                    func.count(c.impact_start),
                    func.sum(c.updates_complete.cast(Integer)),
                ).group_by(c.provider).order_by(c.provider)
            ).all()
            sources = dict(
                conn.execute(
                    select(T_DOCS.c.provider, func.count()).group_by(T_DOCS.c.provider)
                ).all()
            )
            fetches = {
                r.provider: (r.fetched_at, r.outcome)
                for r in conn.execute(select(T_FETCH).order_by(T_FETCH.c.id))
            }
            posted: dict[str, list[datetime]] = {}
            for provider, first_post in conn.execute(
                select(c.provider, c.first_post_at).where(c.first_post_at.is_not(None))
            ):
                stamp = as_utc(first_post)
                if stamp is not None:
                    posted.setdefault(provider, []).append(stamp)
        names = self.provider_names()
        result = []
        for row in rows:
            total, maint = row[1], row[2] or 0
            fetched = fetches.get(row[0], (None, None))
            spanned, gaps = month_coverage(posted.get(row[0], []))
            result.append(
                ProviderStats(
                    provider=row[0], name=names.get(row[0]), incidents=total - maint,
                    maintenances=maint, first=as_utc(row[3]), last=as_utc(row[4]),
                    with_identified=row[5], with_monitoring=row[6], with_resolved=row[7],
                    with_impact_window=row[8], complete_updates=row[9] or 0,
                    sources=sources.get(row[0], 0), last_fetch=fetched[0],
                    last_fetch_outcome=fetched[1], months_spanned=spanned, gap_months=gaps,
                )
            )
        return result



def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
