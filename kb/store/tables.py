"""sqlmodel tables. Changing a table means a new migration under migrations/versions/.

`incidents.doc_json` holds the full normalized Incident (the serialize module's contract) and
is what reads return; the other columns and child tables exist for filtering and search.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Column, DateTime, Index, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite stores naive text; PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_column(index: bool = False, nullable: bool = True):  # type: ignore[no-untyped-def]
    """A UTCDateTime column of a sqlmodel table."""
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


CHUNK = 500  # keys per IN (...) clause, well under SQLite's variable limit
_T = TypeVar("_T")


def chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """`items` in slices of CHUNK, one IN (...) clause each."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def canonical_json(value: Any) -> str:
    """The stored JSON text of a value: sorted keys, no spaces, non-ASCII kept (so equal
    values store equal text and a hash of it changes only when the value does)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def as_utc(value: datetime | str | None) -> datetime | None:
    """An aggregate's time as an aware UTC datetime: aggregates bypass the column type, and
    SQLite returns them as naive text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text():  # type: ignore[no-untyped-def]
    return Field(default=None, sa_column=Column(Text))


class ProviderRow(SQLModel, table=True):
    __tablename__ = "providers"
    slug: str = Field(primary_key=True)
    name: str | None = None
    page_url: str | None = None
    components_json: str | None = _text()
    updated_at: datetime | None = time_column()


class DocRow(SQLModel, table=True):
    """A raw payload already parsed and stored: re-ingesting its bytes is skipped."""

    __tablename__ = "docs"
    sha256: str = Field(primary_key=True)
    provider: str = Field(primary_key=True)
    format: str
    parser_version: int
    url: str
    fetched_at: datetime = time_column(nullable=False)
    as_of: datetime | None = time_column()
    incidents: int = 0
    ingested_at: datetime = time_column(nullable=False)
    # a snapshot that lists only open items (summary.json): revision d01, kb.normalize.snapshots
    lists_open_only: bool = Field(default=False)


class RecordRow(SQLModel, table=True):
    """The latest record of each channel for each incident: the inputs of normalization."""

    __tablename__ = "incident_records"
    incident_key: str = Field(primary_key=True)
    channel: str = Field(primary_key=True)
    sha256: str
    url: str
    format: str
    fetched_at: datetime = time_column(nullable=False)
    as_of: datetime | None = time_column()
    record_hash: str
    record_json: str = Field(sa_column=Column(Text, nullable=False))


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incidents"
    key: str = Field(primary_key=True)
    provider: str = Field(index=True)
    native_id: str
    kind: str
    title: str
    url: str | None = None
    status: str
    impact: str | None = None
    severity: str
    first_post_at: datetime | None = time_column(index=True)
    identified_at: datetime | None = time_column()
    monitoring_at: datetime | None = time_column()
    resolved_at: datetime | None = time_column()
    vendor_created_at: datetime | None = time_column()
    vendor_started_at: datetime | None = time_column()
    vendor_resolved_at: datetime | None = time_column()
    impact_start: datetime | None = time_column()
    impact_end: datetime | None = time_column()
    impact_evidence: str | None = _text()
    updates_count: int = 0
    updates_complete: bool = True
    content_hash: str
    doc_json: str = Field(sa_column=Column(Text, nullable=False))
    first_stored_at: datetime = time_column(nullable=False)
    changed_at: datetime = time_column(nullable=False)


class UpdateRow(SQLModel, table=True):
    __tablename__ = "incident_updates"
    incident_key: str = Field(primary_key=True, foreign_key="incidents.key", ondelete="CASCADE")
    seq: int = Field(primary_key=True)
    at: datetime = time_column(nullable=False)
    phase: str
    label: str
    phase_inferred: bool = False
    text: str = Field(sa_column=Column(Text, nullable=False))


class ComponentRow(SQLModel, table=True):
    __tablename__ = "incident_components"
    incident_key: str = Field(primary_key=True, foreign_key="incidents.key", ondelete="CASCADE")
    seq: int = Field(primary_key=True)
    name: str = Field(index=True)
    code: str | None = None


class SourceRow(SQLModel, table=True):
    __tablename__ = "incident_sources"
    incident_key: str = Field(primary_key=True, foreign_key="incidents.key", ondelete="CASCADE")
    sha256: str = Field(primary_key=True)
    url: str = Field(primary_key=True)
    fetched_at: datetime = time_column(nullable=False)
    format: str


class RevisionRow(SQLModel, table=True):
    """A vendor edit: a newer payload of a channel changed what an older one said."""

    __tablename__ = "incident_revisions"
    id: int | None = Field(default=None, primary_key=True)
    incident_key: str = Field(index=True)
    channel: str
    seen_at: datetime = time_column(nullable=False)
    old_sha256: str
    new_sha256: str
    summary: str = Field(sa_column=Column(Text, nullable=False))
    old_record_json: str = Field(sa_column=Column(Text, nullable=False))


class FetchRow(SQLModel, table=True):
    __tablename__ = "fetch_log"
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(index=True)
    url: str
    fetched_at: datetime = time_column(nullable=False)
    outcome: str  # new | unchanged | not_modified | failed
    status: int | None = None
    sha256: str | None = None
    error: str | None = _text()


Index("ix_updates_at", UpdateRow.__table__.c.at)  # type: ignore[attr-defined]
