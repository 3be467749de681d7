"""Postmortems in the database: entries as sources gave them, documents, links to incidents.

Plain functions over a `Store`; plain dataclasses out. `postmortem_items` is the input (written
by the store stage, one row per source entry, upserted by (source, native_id) and keyed for
merging by the write-up's URL); `postmortems` and `postmortem_links` are derived by the
postmortem stage (kb.postmortems) and replaced as a whole in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Float, Index, Text, delete, insert, select, update
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from kb.serialize import stamp
from kb.store import upsert
from kb.store.repo import Store
from kb.store.tables import canonical_json, chunks, time_column
from kb.store.upsert import ItemCounts, upsert_items
from scrapers.records import PostmortemRecord


class PostmortemItemRow(SQLModel, table=True):
    __tablename__ = "postmortem_items"
    source: str = Field(primary_key=True)
    native_id: str = Field(primary_key=True)
    url_key: str
    record_json: str = Field(sa_column=Column(Text, nullable=False))
    record_hash: str
    sha256: str
    doc_url: str
    fetched_at: datetime = time_column(nullable=False)
    first_stored_at: datetime = time_column(nullable=False)


class PostmortemRow(SQLModel, table=True):
    __tablename__ = "postmortems"
    id: str = Field(primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    title: str = Field(sa_column=Column(Text, nullable=False))
    provider: str | None = None
    start_at: datetime | None = time_column()
    status: str
    doc_json: str = Field(sa_column=Column(Text, nullable=False))


class PostmortemLinkRow(SQLModel, table=True):
    __tablename__ = "postmortem_links"
    postmortem_id: str = Field(primary_key=True)
    incident_key: str = Field(primary_key=True)
    provider: str
    score: float = Field(sa_column=Column(Float, nullable=False))
    confidence: str
    rule: str
    evidence_json: str = Field(sa_column=Column(Text, nullable=False))


class IncidentWriteupRow(SQLModel, table=True):
    """The text of the write-ups linked to one incident, which the keyword index appends to
    its updates' text (revision p02's triggers)."""

    __tablename__ = "incident_writeups"
    incident_key: str = Field(primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))


class PostmortemStateRow(SQLModel, table=True):
    __tablename__ = "postmortem_state"
    name: str = Field(primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))


Index("ix_postmortem_items_url_key", PostmortemItemRow.__table__.c.url_key)  # type: ignore[attr-defined]
Index("ix_postmortems_provider", PostmortemRow.__table__.c.provider)  # type: ignore[attr-defined]
Index("ix_postmortem_links_incident", PostmortemLinkRow.__table__.c.incident_key)  # type: ignore[attr-defined]

T_ITEMS = PostmortemItemRow.__table__  # type: ignore[attr-defined]
T_DOCS = PostmortemRow.__table__  # type: ignore[attr-defined]
T_LINKS = PostmortemLinkRow.__table__  # type: ignore[attr-defined]
T_STATE = PostmortemStateRow.__table__  # type: ignore[attr-defined]
T_WRITEUPS = IncidentWriteupRow.__table__  # type: ignore[attr-defined]
# What of a write-up is indexed for keyword search: its words that say what happened (the
# body's start: a 5,000-word report would outweigh the incident's own updates), and at most
# so much for all the write-ups of one incident (migration p02 cuts there too).
SEARCH_TEXT_CHARS = 4_000
WRITEUP_CHARS = 20_000


# --------------------------------------------------------------------------- plain types


@dataclass(frozen=True)
class ItemWrite:
    """One parsed entry, the key of its write-up, and the payload it came from."""

    record: PostmortemRecord
    url_key: str
    sha256: str
    doc_url: str
    fetched_at: datetime


@dataclass(frozen=True)
class Postmortem:
    """One write-up: every source entry that cites its URL, merged."""

    id: str  # "pm-" + a hash of the URL key: stable across runs and sources
    url: str
    title: str
    provider: str | None  # this KB's provider slug, None where the KB follows none
    providers: tuple[str, ...]  # every provider it maps to (a report on several products)
    company: str | None
    products: tuple[str, ...]
    start: datetime | None  # stated, UTC
    end: datetime | None
    published_at: datetime | None
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    summary: str
    text: str
    sources: tuple[tuple[str, str], ...]  # (source, native_id) of each entry merged
    archive_url: str | None = None
    status: str = "linkable"  # linkable | undated | historical | other-language | unmapped
    reason: str = ""  # one line: why not linkable, or how the provider was mapped
    provider_evidence: str = ""  # which words mapped it ("company 'Amazon'")
    notes: tuple[str, ...] = ()
    candidates: tuple[dict[str, Any], ...] = ()  # incidents considered but not linked


@dataclass(frozen=True)
class PostmortemLink:
    """A postmortem linked to an incident, with the score and the evidence behind it."""

    postmortem_id: str
    incident_key: str
    provider: str
    score: float
    confidence: str  # high | medium
    rule: str  # url | window | late
    evidence: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- (de)serialization


_RECORD_TIMES = ("start", "end", "published_at")
_RECORD_LISTS = ("categories", "keywords", "notes")


def record_to_json(record: PostmortemRecord) -> str:
    return upsert.record_json(record, _RECORD_TIMES, _RECORD_LISTS)


def record_from_json(text: str) -> PostmortemRecord:
    return PostmortemRecord(**upsert.restored(json.loads(text), _RECORD_TIMES, _RECORD_LISTS))


def postmortem_to_dict(doc: Postmortem) -> dict[str, Any]:
    """JSON-ready dict of a Postmortem (lossless; see postmortem_from_dict)."""
    data = asdict(doc)
    for name in _RECORD_TIMES:
        data[name] = stamp(getattr(doc, name))
    return data


def postmortem_from_dict(data: dict[str, Any]) -> Postmortem:
    values = upsert.restored(data, _RECORD_TIMES, ("providers", "products", "categories",
                                                   "keywords", "notes", "candidates"))
    values["sources"] = tuple(tuple(s) for s in values.get("sources") or ())
    return Postmortem(**values)


# --------------------------------------------------------------------------- writes


def store_items(store: Store, writes: Sequence[ItemWrite]) -> ItemCounts:
    """Upsert entries by (source, native_id); one transaction. The last write of a key in the
    batch wins (a list naming one URL twice was merged by its parser)."""
    merged = {(w.record.source, w.record.native_id): w for w in writes}

    def values(key: tuple[str, str], _held: Any) -> dict[str, Any]:
        write = merged[key]
        return {"record_json": record_to_json(write.record), "url_key": write.url_key,
                "sha256": write.sha256, "doc_url": write.doc_url, "fetched_at": write.fetched_at}

    return upsert_items(store, T_ITEMS, list(merged), (), values, ("record_hash", "url_key"))


def replace_derived(store: Store, docs: Sequence[Postmortem],
                    links: Sequence[PostmortemLink], state: dict[str, str] | None = None
                    ) -> bool:
    """Replace documents and links at once (one transaction), and set `state`. Returns False
    (and writes only the state) when they are what is stored already: rerunning changes
    nothing."""
    doc_rows = sorted(
        ({"id": d.id, "url": d.url, "title": d.title, "provider": d.provider,
          "start_at": d.start, "status": d.status,
          "doc_json": canonical_json(postmortem_to_dict(d))}
         for d in docs), key=lambda r: r["id"])
    link_rows = sorted(
        ({"postmortem_id": k.postmortem_id, "incident_key": k.incident_key,
          "provider": k.provider, "score": round(k.score, 6), "confidence": k.confidence,
          "rule": k.rule, "evidence_json": canonical_json(k.evidence)} for k in links),
        key=lambda r: (r["postmortem_id"], r["incident_key"]))
    digest = _digest(doc_rows, link_rows)
    with store.engine.begin() as conn:
        upsert.write_state(conn, T_STATE, state or {})
        if digest == _stored_digest(conn):
            return False
        conn.execute(delete(T_LINKS))
        conn.execute(delete(T_DOCS))
        if doc_rows:
            conn.execute(insert(T_DOCS), doc_rows)
        if link_rows:
            conn.execute(insert(T_LINKS), link_rows)
        _write_search(conn, docs, links)
    return True


def search_text(doc: Postmortem) -> str:
    """The words of a write-up the keyword indexes hold: title, summary, keywords, and the
    start of its text."""
    parts = [doc.title, doc.summary]
    if doc.keywords:
        parts.append("Keywords: " + ", ".join(doc.keywords) + ".")
    if doc.text and doc.text != doc.summary:
        parts.append(doc.text[:SEARCH_TEXT_CHARS])
    return "\n".join(p for p in parts if p)


def _write_search(conn: Any, docs: Sequence[Postmortem],
                  found: Sequence[PostmortemLink]) -> None:
    """Keep the keyword indexes current with new documents and links (revision p02): each
    incident's linked write-ups' text (only the rows that changed are written: each one
    re-indexes its incident), and one row per document in the write-up index."""
    by_id = {d.id: d for d in docs}
    texts: dict[str, list[str]] = {}
    for link in sorted(found, key=lambda k: (k.incident_key, k.postmortem_id)):
        doc = by_id.get(link.postmortem_id)
        if doc is not None:
            texts.setdefault(link.incident_key, []).append(search_text(doc))
    wanted = {key: "\n\n".join(parts)[:WRITEUP_CHARS] for key, parts in texts.items()}
    held = {r.incident_key: r.text for r in conn.execute(select(T_WRITEUPS))}
    gone = sorted(set(held) - set(wanted))
    for chunk in chunks(gone):
        conn.execute(delete(T_WRITEUPS).where(T_WRITEUPS.c.incident_key.in_(chunk)))
    for key, text in sorted(wanted.items()):
        if key not in held:
            conn.execute(insert(T_WRITEUPS).values(incident_key=key, text=text))
        elif held[key] != text:
            conn.execute(update(T_WRITEUPS).where(T_WRITEUPS.c.incident_key == key)
                         .values(text=text))
    rows = [{"id": d.id, "title": d.title, "body": search_text(d)[len(d.title):].strip()}
            for d in sorted(docs, key=lambda d: d.id)]
    if conn.dialect.name == "postgresql":
        conn.execute(sql_text("DELETE FROM postmortem_search"))
        if rows:
            conn.execute(sql_text(
                "INSERT INTO postmortem_search (postmortem_id, document) VALUES (:id, "
                "setweight(to_tsvector('english'::regconfig, left(:title, 2000)), 'A') || "
                "setweight(to_tsvector('english'::regconfig, left(:body, 20000)), 'C'))"), rows)
    else:
        conn.execute(sql_text("DELETE FROM postmortem_fts"))
        if rows:
            conn.execute(sql_text("INSERT INTO postmortem_fts (postmortem_id, title, body) "
                                  "VALUES (:id, :title, :body)"), rows)


def _digest(doc_rows: list[dict], link_rows: list[dict]) -> str:
    text = canonical_json([[r["id"], r["doc_json"]] for r in doc_rows]
                 + [[r["postmortem_id"], r["incident_key"], r["score"], r["confidence"],
                     r["rule"], r["evidence_json"]] for r in link_rows])
    return hashlib.sha256(text.encode()).hexdigest()


def _stored_digest(conn: Any) -> str:
    docs = [{"id": r.id, "doc_json": r.doc_json}
            for r in conn.execute(select(T_DOCS.c.id, T_DOCS.c.doc_json).order_by(T_DOCS.c.id))]
    links = [dict(r._mapping) for r in conn.execute(select(T_LINKS).order_by(
        T_LINKS.c.postmortem_id, T_LINKS.c.incident_key))]
    return _digest(docs, links)


# --------------------------------------------------------------------------- reads


def get_state(store: Store, name: str) -> str | None:
    return upsert.read_state(store, T_STATE, name)


def items_fingerprint(store: Store) -> str:
    """Changes whenever an entry is added or changes."""
    return upsert.items_digest(store, T_ITEMS, ("source", "native_id", "record_hash", "url_key"))


def incidents_with_postmortem_updates(store: Store) -> list[str]:
    """Keys of incidents whose stored document holds a postmortem-phase update (a status
    page's own incident report). A text prefilter in SQL (most incidents have none), the
    phase checked by the caller."""
    from kb.store.repo import T_INCIDENTS

    with store.engine.connect() as conn:
        return [k for (k,) in conn.execute(
            select(T_INCIDENTS.c.key).where(T_INCIDENTS.c.doc_json.like('%"postmortem"%'))
            .order_by(T_INCIDENTS.c.key))]


@dataclass(frozen=True)
class StoredItem:
    record: PostmortemRecord
    url_key: str
    doc_url: str


def load_items(store: Store) -> list[StoredItem]:
    """Every stored entry, in key order."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(T_ITEMS.c.record_json, T_ITEMS.c.url_key, T_ITEMS.c.doc_url)
                            .order_by(T_ITEMS.c.source, T_ITEMS.c.native_id))
        return [StoredItem(record_from_json(r.record_json), r.url_key, r.doc_url) for r in rows]


def postmortems(store: Store, *, provider: str | None = None,
                ids: Iterable[str] | None = None) -> list[Postmortem]:
    """Documents, newest stated start first (undated ones last), then by id."""
    query = select(T_DOCS.c.doc_json)
    if provider is not None:
        query = query.where(T_DOCS.c.provider == provider)
    if ids is not None:
        query = query.where(T_DOCS.c.id.in_(list(ids)))
    query = query.order_by(T_DOCS.c.start_at.desc().nulls_last(), T_DOCS.c.id)
    with store.engine.connect() as conn:
        return [postmortem_from_dict(json.loads(doc)) for (doc,) in conn.execute(query)]


def links(store: Store, *, incident_key: str | None = None,
          postmortem_id: str | None = None) -> list[PostmortemLink]:
    """Links, for one incident, one postmortem, or all; best first."""
    query = select(T_LINKS)
    if incident_key is not None:
        query = query.where(T_LINKS.c.incident_key == incident_key)
    if postmortem_id is not None:
        query = query.where(T_LINKS.c.postmortem_id == postmortem_id)
    query = query.order_by(T_LINKS.c.score.desc(), T_LINKS.c.postmortem_id,
                           T_LINKS.c.incident_key)
    with store.engine.connect() as conn:
        return [PostmortemLink(r.postmortem_id, r.incident_key, r.provider, r.score,
                               r.confidence, r.rule, json.loads(r.evidence_json))
                for r in conn.execute(query)]
