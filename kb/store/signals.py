"""Signals in the database: items as sources gave them, stories, links, unofficial incidents.

Plain functions over a `Store`; plain dataclasses out. `signal_items` is the input (written
by the store stage, one row per source item); `signals`, `signal_links` and
`signal_unofficial` are derived by the link stage and replaced as a whole in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Float, Index, Text, delete, insert, select, update
from sqlmodel import Field, SQLModel

from kb.model import Signal, SignalLink, SignalSource, Unofficial
from kb.serialize import stamp
from kb.store import upsert
from kb.store.repo import Store
from kb.store.tables import canonical_json, time_column
from kb.store.upsert import ItemCounts, upsert_items
from scrapers.records import SignalRecord


class SignalItemRow(SQLModel, table=True):
    __tablename__ = "signal_items"
    source: str = Field(primary_key=True)
    native_id: str = Field(primary_key=True)
    record_json: str = Field(sa_column=Column(Text, nullable=False))
    record_hash: str
    sha256: str
    doc_url: str
    fetched_at: datetime = time_column(nullable=False)
    resolved_url: str | None = None
    fetch_note: str | None = Field(default=None, sa_column=Column(Text))
    first_stored_at: datetime = time_column(nullable=False)


class SignalRow(SQLModel, table=True):
    __tablename__ = "signals"
    id: str = Field(primary_key=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    url: str | None = Field(default=None, sa_column=Column(Text))
    discussion_url: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime | None = time_column()
    kind: str
    providers: str
    doc_json: str = Field(sa_column=Column(Text, nullable=False))


class SignalLinkRow(SQLModel, table=True):
    __tablename__ = "signal_links"
    signal_id: str = Field(primary_key=True)
    incident_key: str = Field(primary_key=True)
    provider: str
    score: float = Field(sa_column=Column(Float, nullable=False))
    confidence: str
    rule: str
    evidence_json: str = Field(sa_column=Column(Text, nullable=False))


class SignalUnofficialRow(SQLModel, table=True):
    __tablename__ = "signal_unofficial"
    key: str = Field(primary_key=True)
    provider: str
    start_at: datetime = time_column(nullable=False)
    end_at: datetime = time_column(nullable=False)
    doc_json: str = Field(sa_column=Column(Text, nullable=False))


class SignalStateRow(SQLModel, table=True):
    __tablename__ = "signal_state"
    name: str = Field(primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))


Index("ix_signals_created_at", SignalRow.__table__.c.created_at)  # type: ignore[attr-defined]
Index("ix_signal_links_incident", SignalLinkRow.__table__.c.incident_key)  # type: ignore[attr-defined]

T_ITEMS = SignalItemRow.__table__  # type: ignore[attr-defined]
T_SIGNALS = SignalRow.__table__  # type: ignore[attr-defined]
T_LINKS = SignalLinkRow.__table__  # type: ignore[attr-defined]
T_UNOFFICIAL = SignalUnofficialRow.__table__  # type: ignore[attr-defined]
T_STATE = SignalStateRow.__table__  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- plain types


@dataclass(frozen=True)
class ItemWrite:
    """One parsed item and the payload it came from."""

    record: SignalRecord
    sha256: str
    doc_url: str
    fetched_at: datetime


@dataclass(frozen=True)
class StoredItem:
    """An item as stored: its record, plus what fetching its article added."""

    record: SignalRecord
    sha256: str
    doc_url: str
    fetched_at: datetime
    resolved_url: str | None = None  # the publisher URL a redirect link stood for
    fetch_note: str | None = None  # why the article page added nothing ("paywalled: ...")


# --------------------------------------------------------------------------- (de)serialization


_RECORD_TIMES = ("created_at",)
_RECORD_LISTS = ("top_comments", "notes")


def record_to_json(record: SignalRecord) -> str:
    return upsert.record_json(record, _RECORD_TIMES, _RECORD_LISTS)


def record_from_json(text: str) -> SignalRecord:
    return SignalRecord(**upsert.restored(json.loads(text), _RECORD_TIMES, _RECORD_LISTS))


def signal_to_dict(signal: Signal) -> dict[str, Any]:
    """JSON-ready dict of a Signal (lossless; see signal_from_dict)."""
    data = asdict(signal)
    data["created_at"] = stamp(signal.created_at)
    data["sources"] = [dict(asdict(s), created_at=stamp(s.created_at)) for s in signal.sources]
    return data


def signal_from_dict(data: dict[str, Any]) -> Signal:
    values = upsert.restored(data, _RECORD_TIMES, ("providers", *_RECORD_LISTS))
    values["sources"] = tuple(SignalSource(**upsert.restored(s, _RECORD_TIMES, ()))
                              for s in values.get("sources") or ())
    return Signal(**values)


def merge_records(old: SignalRecord, new: SignalRecord) -> SignalRecord:
    """Two payloads about one item (a search hit, later the thread; a feed entry, then its
    article page): keep what each knows. Counts only grow; text and comments, the fuller one."""

    def most(a: int | None, b: int | None) -> int | None:
        return max(a, b) if a is not None and b is not None else (a if b is None else b)

    return replace(
        new,
        title=new.title or old.title,
        url=new.url or old.url,
        discussion_url=new.discussion_url or old.discussion_url,
        created_at=old.created_at or new.created_at,
        author=new.author or old.author,
        points=most(old.points, new.points),
        comments=most(old.comments, new.comments),
        text=new.text if len(new.text) >= len(old.text) else old.text,
        top_comments=new.top_comments or old.top_comments,
        site=old.site or new.site,
        feed_url=old.feed_url or new.feed_url,
        notes=tuple(dict.fromkeys(old.notes + new.notes)),
    )


# --------------------------------------------------------------------------- writes


def store_items(store: Store, writes: Sequence[ItemWrite]) -> ItemCounts:
    """Upsert items by (source, native_id), merging with what is stored; one transaction."""
    merged: dict[tuple[str, str], ItemWrite] = {}
    for write in writes:  # the same item twice in one batch (two pages of a search)
        key = (write.record.source, write.record.native_id)
        held = merged.get(key)
        merged[key] = write if held is None else replace(
            write, record=merge_records(held.record, write.record))

    def values(key: tuple[str, str], row: Any) -> dict[str, Any]:
        write = merged[key]
        record = write.record if row is None else merge_records(
            record_from_json(row.record_json), write.record)
        return {"record_json": record_to_json(record), "sha256": write.sha256,
                "doc_url": write.doc_url, "fetched_at": write.fetched_at}

    return upsert_items(store, T_ITEMS, list(merged), ("record_json",), values)


def note_item(store: Store, source: str, native_id: str, *, resolved_url: str | None = None,
              note: str | None = None) -> bool:
    """Record what fetching an item's article found (publisher URL, or why nothing). Returns
    True when the row changed."""
    with store.engine.begin() as conn:
        row = conn.execute(select(T_ITEMS.c.resolved_url, T_ITEMS.c.fetch_note).where(
            T_ITEMS.c.source == source, T_ITEMS.c.native_id == native_id)).first()
        if row is None:
            return False
        values = {"resolved_url": resolved_url or row.resolved_url, "fetch_note": note}
        if (row.resolved_url, row.fetch_note) == (values["resolved_url"], note):
            return False
        conn.execute(update(T_ITEMS).where(T_ITEMS.c.source == source,
                                           T_ITEMS.c.native_id == native_id).values(**values))
    return True


def replace_derived(store: Store, signals: Sequence[Signal], links: Sequence[SignalLink],
                    unofficial: Sequence[Unofficial], state: dict[str, str]) -> None:
    """Replace stories, links and unofficial incidents at once (one transaction)."""
    with store.engine.begin() as conn:
        for table in (T_SIGNALS, T_LINKS, T_UNOFFICIAL):
            conn.execute(delete(table))
        if signals:
            conn.execute(insert(T_SIGNALS), [
                {"id": s.id, "title": s.title, "url": s.url, "discussion_url": s.discussion_url,
                 "created_at": s.created_at, "kind": s.kind, "providers": ",".join(s.providers),
                 "doc_json": canonical_json(signal_to_dict(s))} for s in signals])
        if links:
            conn.execute(insert(T_LINKS), [
                {"signal_id": k.signal_id, "incident_key": k.incident_key,
                 "provider": k.provider, "score": k.score, "confidence": k.confidence,
                 "rule": k.rule, "evidence_json": canonical_json(k.evidence)} for k in links])
        if unofficial:
            conn.execute(insert(T_UNOFFICIAL), [
                {"key": u.key, "provider": u.provider, "start_at": u.start, "end_at": u.end,
                 "doc_json": canonical_json({"signal_ids": u.signal_ids, "titles": u.titles,
                                    "source_families": u.source_families, "score": u.score})}
                for u in unofficial])
        upsert.write_state(conn, T_STATE, state)


# --------------------------------------------------------------------------- reads


def load_items(store: Store) -> list[StoredItem]:
    """Every stored item, in key order."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(T_ITEMS).order_by(T_ITEMS.c.source, T_ITEMS.c.native_id))
        return [StoredItem(record_from_json(r.record_json), r.sha256, r.doc_url, r.fetched_at,
                           r.resolved_url, r.fetch_note) for r in rows]


def items_fingerprint(store: Store) -> str:
    """Changes whenever an item is added, changed or annotated."""
    return upsert.items_digest(store, T_ITEMS, ("source", "native_id", "record_hash",
                                                "resolved_url", "fetch_note"))


def get_state(store: Store, name: str) -> str | None:
    return upsert.read_state(store, T_STATE, name)


def signals(store: Store, *, since: datetime | None = None,
            ids: Iterable[str] | None = None) -> list[Signal]:
    """Stories, newest first (undated ones last)."""
    query = select(T_SIGNALS.c.doc_json)
    if since is not None:
        query = query.where(T_SIGNALS.c.created_at >= since)
    if ids is not None:
        query = query.where(T_SIGNALS.c.id.in_(list(ids)))
    query = query.order_by(T_SIGNALS.c.created_at.desc(), T_SIGNALS.c.id)
    with store.engine.connect() as conn:
        return [signal_from_dict(json.loads(doc)) for (doc,) in conn.execute(query)]


def links(store: Store, *, incident_key: str | None = None) -> list[SignalLink]:
    """Links, for one incident or all, best first."""
    query = select(T_LINKS)
    if incident_key is not None:
        query = query.where(T_LINKS.c.incident_key == incident_key)
    query = query.order_by(T_LINKS.c.score.desc(), T_LINKS.c.signal_id, T_LINKS.c.incident_key)
    with store.engine.connect() as conn:
        return [SignalLink(r.signal_id, r.incident_key, r.provider, r.score, r.confidence,
                           r.rule, json.loads(r.evidence_json)) for r in conn.execute(query)]


def unofficial(store: Store, *, provider: str | None = None) -> list[Unofficial]:
    query = select(T_UNOFFICIAL).order_by(T_UNOFFICIAL.c.start_at.desc(), T_UNOFFICIAL.c.key)
    if provider:
        query = query.where(T_UNOFFICIAL.c.provider == provider)
    with store.engine.connect() as conn:
        found = []
        for row in conn.execute(query):
            doc = json.loads(row.doc_json)
            found.append(Unofficial(row.key, row.provider, row.start_at, row.end_at,
                                    tuple(doc["signal_ids"]), tuple(doc["titles"]),
                                    tuple(doc["source_families"]), doc["score"]))
        return found


def incidents_fingerprint(store: Store) -> str:
    """Changes whenever an incident is added or changes (its content hash)."""
    from kb.store.repo import T_INCIDENTS

    digest = hashlib.sha256()
    with store.engine.connect() as conn:
        query = select(T_INCIDENTS.c.key, T_INCIDENTS.c.content_hash).order_by(T_INCIDENTS.c.key)
        for key, content_hash in conn.execute(query):
            digest.update(f"{key}\0{content_hash}\n".encode())
    return digest.hexdigest()
