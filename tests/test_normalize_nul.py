"""NUL in scraped text (kb.normalize.nul): a NUL in an update body used
to make PostgreSQL refuse the whole payload ("text fields cannot contain NUL"). The same
hostile page (tests/fixtures/site/hostile_statuspage.json, hand-written) now stores on SQLite
and PostgreSQL alike, as the same incidents, without the NUL."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb.model import SourcedRecord, SourceRef
from kb.normalize import normalize_incident
from kb.normalize.nul import clean_record, clean_text
from kb.serialize import incident_to_dict
from kb.store import Store
from scrapers.records import ComponentChange, ComponentRecord, IncidentRecord, UpdateRecord
from tests.conftest import reset_postgres, sqlite_store

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "fixtures" / "site" / "hostile_statuspage.json"
PG = os.environ.get("KB_TEST_POSTGRES_URL")
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _sourced(record: IncidentRecord) -> SourcedRecord:
    return SourcedRecord(record, SourceRef("https://x.test/a.json", T0, "0" * 64, "statuspage"))


def test_clean_text_drops_nul_and_keeps_every_other_character() -> None:
    # the other controls are the exits' to escape (tests/test_output_safety.py)
    assert clean_text("a\x00b\x01c\x1b[31md\x7f\x00") == "ab\x01c\x1b[31md\x7f"
    assert clean_text("line\r\nnext\tcol\n") == "line\r\nnext\tcol\n"


def test_every_text_of_an_incident_loses_its_nul() -> None:
    record = IncidentRecord(
        native_id="abc", title="API\x00 down", channel="statuspage_json", status="resolved\x00",
        components=(ComponentRecord(name="Edge\x07"),),
        updates=(UpdateRecord(at=T0, label="investigating\x00", body="We\x00 look\r\ninto it",
                              components=(ComponentChange(name="Edge\x07",
                                                          new_status="major_outage\x00"),)),))
    incident = normalize_incident("x", [_sourced(record)])
    texts = repr(incident_to_dict(incident))
    assert "\\x00" not in texts and "\\x07" in texts  # BEL kept, for the exits to escape
    assert incident.title == "API down"
    assert incident.updates[0].body == "We look\r\ninto it"
    assert incident.updates[0].label == "investigating"  # and so its phase is read
    assert incident.updates[0].phase_inferred is False
    assert [c.name for c in incident.components] == ["Edge\x07"]
    plain = _sourced(record.__class__(native_id="n", title="t", channel="c"))
    assert clean_record(plain) is plain  # nothing to clean: the same object, no copy


def _ingest(store: Store, tmp_path: Path) -> dict[str, dict]:
    from kb.config import PACKAGED_SOURCES, load_sources
    from kb.pipeline import Line, ingest
    from scrapers.archive import Archive

    report = ingest(Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES)),
                    [HOSTILE])
    assert not report.failures, report.failures
    return {i.key: incident_to_dict(i) for i in store.incidents()}


def test_hostile_page_stores_the_same_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    assert "\\u0000" in HOSTILE.read_text()  # the fixture still carries its NUL
    lite = _ingest(sqlite_store(tmp_path / "lite"), tmp_path / "lite")
    assert lite and "\\x00" not in repr(lite)
    if not PG:
        pytest.skip("KB_TEST_POSTGRES_URL not set (SQLite half passed)")
    reset_postgres(PG)
    store, _ = Store.open(PG, write=True)
    try:
        assert _ingest(store, tmp_path / "pg") == lite
    finally:
        store.close()
