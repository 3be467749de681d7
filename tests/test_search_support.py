"""Shared builders for the search tests (no tests here): incidents made in code, written
through the Store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from kb.model import Component, Incident, Kind, Lifecycle, Phase, Severity, Update
from kb.pipeline import content_hash
from kb.store import Store
from kb.store.repo import IncidentWrite
from tests.conftest import sqlite_store as open_store  # noqa: F401 - tests import it from here

T0 = datetime(2023, 1, 1, 12, 0, tzinfo=UTC)


def incident(
    key: str,
    title: str,
    *texts: str,
    components: Sequence[str] = (),
    at: datetime = T0,
    minutes: int = 30,
    severity: Severity = Severity.MINOR,
    kind: Kind = Kind.INCIDENT,
) -> Incident:
    """An incident with one update per text, `minutes` long, starting at `at`."""
    provider, native = key.split("/", 1)
    updates = tuple(
        Update(at=at + timedelta(minutes=i), phase=Phase.INVESTIGATING, label="Investigating",
               body=text, text=text)
        for i, text in enumerate(texts)
    )
    return Incident(
        provider=provider, native_id=native, title=title, kind=kind, status="resolved",
        severity=severity, components=tuple(Component(name) for name in components),
        lifecycle=Lifecycle(first_post_at=at, resolved_at=at + timedelta(minutes=minutes)),
        updates=updates,
    )


def write(store: Store, *incidents: Incident) -> None:
    store.write_batch([IncidentWrite(i, content_hash(i), []) for i in incidents], [])

