"""Tables and queries of the analysis feature (alembic branch "analysis", revision a01).

* ``incident_causes``: cause tags per incident, keyed by the incident's content hash and the
  tagger's identity, so `kb update` re-tags only what changed and a re-run writes nothing. No
  foreign key to ``incidents``: a reparse rebuilds incidents with the same content hashes, and
  the tags stay valid instead of being cascaded away and recomputed.
* Read-only queries over the spine's tables for coverage (which payload covered what).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Float, Text, case, delete, func, insert, select
from sqlmodel import Field, SQLModel

from kb.store.repo import T_DOCS, T_INCIDENTS, T_SOURCES, Store
from kb.store.tables import UTCDateTime, as_utc, chunks


class CauseRow(SQLModel, table=True):
    """One cause tag of one incident, with its evidence and how it was made."""

    __tablename__ = "incident_causes"
    incident_key: str = Field(primary_key=True)
    tag: str = Field(primary_key=True, index=True)
    method: str  # "rule", "embedding" or "none"
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False))
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    stated_as: str = "symptom"  # "cause" when the sentence states causation
    score: float | None = Field(default=None, sa_column=Column(Float))
    content_hash: str
    tagger: str
    tagged_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


T_CAUSES = CauseRow.__table__  # type: ignore[attr-defined]




@dataclass(frozen=True, slots=True)
class CauseRecord:
    """A stored cause tag (the store's plain form of kb.analysis.causes.CauseTag)."""

    tag: str
    method: str
    evidence: str
    detail: str
    stated_as: str
    score: float | None = None


@dataclass(frozen=True, slots=True)
class PayloadSpan:
    """What one stored payload says about a provider's history (for coverage)."""

    provider: str
    sha256: str
    as_of: datetime  # the latest time the payload proves was watched (never the import clock)
    entries: int  # incidents and maintenances it yielded
    incidents: int  # of those, incidents
    oldest: datetime | None  # earliest first post among its entries
    newest_end: datetime | None  # latest resolution/first post among its entries
    fetched_at: datetime | None = None  # when the bytes were fetched (or imported)
    stored_as_of: datetime | None = None  # docs.as_of as stored (None: rows before the fix)


def payload_spans(store: Store, provider: str | None = None) -> list[PayloadSpan]:
    """One PayloadSpan per stored payload and provider (docs ⋈ incident_sources ⋈ incidents)."""
    d, s, i = T_DOCS.c, T_SOURCES.c, T_INCIDENTS.c
    query = (
        select(
            d.provider, d.sha256, d.as_of, d.fetched_at,
            func.count(func.distinct(i.key)),
            func.count(func.distinct(case((i.kind == "incident", i.key)))),
            func.min(i.first_post_at),
            func.max(func.coalesce(i.resolved_at, i.first_post_at)),
        )
        .select_from(T_DOCS)
        .join(T_SOURCES, s.sha256 == d.sha256)
        .join(T_INCIDENTS, (i.key == s.incident_key) & (i.provider == d.provider))
        .group_by(d.provider, d.sha256, d.as_of, d.fetched_at)
        .order_by(d.provider, d.sha256)
    )
    if provider:
        query = query.where(d.provider == provider)
    out = []
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            # docs.as_of is what the payload proves (kb.pipeline.seen_until). Rows stored
            # before it was filled that way have none: their newest entry stands in, never
            # fetched_at, which for an import is when a file was copied, not when anyone
            # watched the page (a reparse stores the proper time).
            as_of = as_utc(row[2]) or as_utc(row[7]) or as_utc(row[6])
            if as_of is None:
                continue  # no dated entry: proves no time at all
            out.append(PayloadSpan(
                provider=row[0], sha256=row[1], as_of=as_of, entries=int(row[4]),
                incidents=int(row[5] or 0), oldest=as_utc(row[6]), newest_end=as_utc(row[7]),
                fetched_at=as_utc(row[3]), stored_as_of=as_utc(row[2]),
            ))
    return out


def incident_hashes(store: Store, keys: Sequence[str] | None = None) -> dict[str, str]:
    """key → content hash of the stored incidents (all of them when `keys` is None)."""
    if keys is not None:
        return store.content_hashes(keys)
    with store.engine.connect() as conn:
        return dict(conn.execute(select(T_INCIDENTS.c.key, T_INCIDENTS.c.content_hash)).all())


def stale_cause_keys(store: Store, tagger: str,
                     expected: Mapping[str, str] | None = None) -> list[str]:
    """Incidents whose stored tags are missing, or were made for other content or by another
    tagger (rules version, embedding model): the only ones the stage re-tags. `expected`
    names another tagger for some incidents (kb.analysis.stage: one that also read the
    incident's linked postmortems)."""
    expected = expected or {}
    c, i = T_CAUSES.c, T_INCIDENTS.c
    with store.engine.connect() as conn:
        tagged = {
            row.incident_key: (row.content_hash, row.tagger)
            for row in conn.execute(select(c.incident_key, c.content_hash, c.tagger).distinct())
        }
        current = conn.execute(select(i.key, i.content_hash).order_by(i.key)).all()
    return [key for key, digest in current
            if tagged.get(key) != (digest, expected.get(key, tagger))]


def write_causes(
    store: Store, tags: Mapping[str, tuple[str, str, Sequence[CauseRecord]]]
) -> int:
    """Replace the tags of the given incidents: key → (content hash, tagger, tags). One
    transaction. Returns the number of rows written."""
    now = datetime.now(UTC)
    rows = [
        {"incident_key": key, "tag": t.tag, "method": t.method, "evidence": t.evidence,
         "detail": t.detail, "stated_as": t.stated_as, "score": t.score,
         "content_hash": digest, "tagger": tagger, "tagged_at": now}
        for key, (digest, tagger, records) in tags.items() for t in records
    ]
    with store.engine.begin() as conn:
        for chunk in chunks(list(tags)):
            conn.execute(delete(T_CAUSES).where(T_CAUSES.c.incident_key.in_(chunk)))
        if rows:
            conn.execute(insert(T_CAUSES), rows)
    return len(rows)


def stored_causes(
    store: Store, keys: Iterable[str] | None = None, *, provider: str | None = None,
    rules: str | None = None,
) -> dict[str, list[CauseRecord]]:
    """Current tags (made for the incident's present content) per incident key. Tags of an
    incident whose content changed since tagging are left out: they describe other text.
    With `rules` (a rules id such as "rules-v3"), so are tags made by other rules, alone or
    with an embedding step ("rules-v3+emb:…"): an older version's roles mean other things."""
    c, i = T_CAUSES.c, T_INCIDENTS.c
    query = (
        select(c.incident_key, c.tag, c.method, c.evidence, c.detail, c.stated_as, c.score)
        .join(T_INCIDENTS, (i.key == c.incident_key) & (i.content_hash == c.content_hash))
        .order_by(c.incident_key, c.tag)
    )
    if provider:
        query = query.where(i.provider == provider)
    if rules:
        query = query.where((c.tagger == rules) | c.tagger.startswith(f"{rules}+",
                                                                       autoescape=True))
    found: dict[str, list[CauseRecord]] = {}
    with store.engine.connect() as conn:
        if keys is None:
            batches: Iterable[Sequence[str] | None] = [None]
        else:
            batches = list(chunks(list(keys)))
        for chunk in batches:
            q = query if chunk is None else query.where(c.incident_key.in_(chunk))
            for row in conn.execute(q):
                found.setdefault(row[0], []).append(CauseRecord(*row[1:]))
    return found


def last_seen(store: Store, provider: str | None = None) -> dict[str, datetime]:
    """key → the own time (`as_of`) of the newest payload that listed the incident. Payloads
    without an own time are left out: their fetch time may be an import date years later."""
    d, s, i = T_DOCS.c, T_SOURCES.c, T_INCIDENTS.c
    query = (
        select(s.incident_key, func.max(d.as_of))
        .select_from(T_SOURCES)
        .join(T_DOCS, d.sha256 == s.sha256)
        .where(d.as_of.is_not(None))
        .group_by(s.incident_key)
    )
    if provider:
        query = query.join(T_INCIDENTS, i.key == s.incident_key).where(i.provider == provider)
    with store.engine.connect() as conn:
        return {key: stamp for key, value in conn.execute(query)
                if (stamp := as_utc(value)) is not None}


def provider_pages(store: Store) -> dict[str, tuple[str | None, str | None]]:
    """slug → (display name, status page URL) of every provider the KB knows."""
    from kb.store.repo import T_PROVIDERS

    with store.engine.connect() as conn:
        rows = conn.execute(select(T_PROVIDERS.c.slug, T_PROVIDERS.c.name,
                                   T_PROVIDERS.c.page_url))
        return {row.slug: (row.name, row.page_url) for row in rows}
