"""The same line on a real PostgreSQL server, when one is configured.

Set KB_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:54329/kbtest) to run;
`.ci/run` starts a throwaway PostgreSQL cluster on 127.0.0.1 and sets it. The test drops and
recreates the schema objects it owns, so point it at a scratch database only.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.present import write_export
from kb.store import Store
from scrapers.archive import Archive
from tests.conftest import reset_postgres

URL = os.environ.get("KB_TEST_POSTGRES_URL")
FIX = Path(__file__).parent / "fixtures" / "statuspage"
SOURCES = load_sources(PACKAGED_SOURCES)
pytestmark = pytest.mark.skipif(not URL, reason="KB_TEST_POSTGRES_URL not set")


def export(url: str, home: Path) -> tuple[str, list[str]]:
    store, _ = Store.open(url, write=True)
    report = ingest(Line(store, Archive(home / "raw"), SOURCES), [FIX])
    buffer = io.StringIO()
    write_export(store.incidents(), "jsonl", buffer)
    store.close()
    return buffer.getvalue(), report.failures


def test_postgres_matches_sqlite_byte_for_byte(tmp_path: Path) -> None:
    assert URL is not None
    reset_postgres(URL)
    on_postgres, failures = export(URL, tmp_path / "pg")
    assert failures == []
    on_sqlite, _ = export(f"sqlite:///{tmp_path / 'kb.db'}", tmp_path / "lite")
    assert on_postgres == on_sqlite
    assert on_postgres.count("\n") == 8
    again, _ = export(URL, tmp_path / "pg")  # idempotent there too
    assert again == on_postgres
    store, note = Store.open(URL)
    assert note is None
    assert {row.provider for row in store.stats()} == {"anthropic", "discord", "github", "openai"}
