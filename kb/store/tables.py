"""sqlmodel tables. Changing a table means a new migration under migrations/versions/.

`incidents.doc_json` holds the full normalized Incident (the serialize module's contract) and
is what reads return; the other columns and child tables exist for filtering and search.
"""

from __future__ import annotations

from datetime import UTC, datetime

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


def _time(index: bool = False, nullable: bool = True):  # type: ignore[no-untyped-def]
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


def _text():  # type: ignore[no-untyped-def]
    return Field(default=None, sa_column=Column(Text))


class ProviderRow(SQLModel, table=True):
    __tablename__ = "providers"
    slug: str = Field(primary_key=True)
    name: str | None = None
    page_url: str | None = None
    components_json: str | None = _text()
    updated_at: datetime | None = _time()


class DocRow(SQLModel, table=True):
    """A raw payload already parsed and stored: re-ingesting its bytes is skipped."""

    __tablename__ = "docs"
    sha256: str = Field(primary_key=True)
    provider: str = Field(primary_key=True)
    format: str
    parser_version: int
    url: str
    fetched_at: datetime = _time(nullable=False)
    as_of: datetime | None = _time()
    incidents: int = 0
    ingested_at: datetime = _time(nullable=False)
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
    fetched_at: datetime = _time(nullable=False)
    as_of: datetime | None = _time()
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
    first_post_at: datetime | None = _time(index=True)
    identified_at: datetime | None = _time()
    monitoring_at: datetime | None = _time()
    resolved_at: datetime | None = _time()
    vendor_created_at: datetime | None = _time()
    vendor_started_at: datetime | None = _time()
    vendor_resolved_at: datetime | None = _time()
    impact_start: datetime | None = _time()
    impact_end: datetime | None = _time()
    impact_evidence: str | None = _text()
    updates_count: int = 0
    updates_complete: bool = True
    content_hash: str
    doc_json: str = Field(sa_column=Column(Text, nullable=False))
    first_stored_at: datetime = _time(nullable=False)
    changed_at: datetime = _time(nullable=False)


class UpdateRow(SQLModel, table=True):
    __tablename__ = "incident_updates"
    incident_key: str = Field(primary_key=True, foreign_key="incidents.key", ondelete="CASCADE")
    seq: int = Field(primary_key=True)
    at: datetime = _time(nullable=False)
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
    fetched_at: datetime = _time(nullable=False)
    format: str


class RevisionRow(SQLModel, table=True):
    """A vendor edit: a newer payload of a channel changed what an older one said."""

    __tablename__ = "incident_revisions"
    id: int | None = Field(default=None, primary_key=True)
    incident_key: str = Field(index=True)
    channel: str
    seen_at: datetime = _time(nullable=False)
    old_sha256: str
    new_sha256: str
    summary: str = Field(sa_column=Column(Text, nullable=False))
    old_record_json: str = Field(sa_column=Column(Text, nullable=False))


class FetchRow(SQLModel, table=True):
    __tablename__ = "fetch_log"
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(index=True)
    url: str
    fetched_at: datetime = _time(nullable=False)
    outcome: str  # new | unchanged | not_modified | failed
    status: int | None = None
    sha256: str | None = None
    error: str | None = _text()


Index("ix_updates_at", UpdateRow.__table__.c.at)  # type: ignore[attr-defined]
