"""The line on recorded payloads: ingest, idempotence, revisions, failures, reparse."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest, reparse
from kb.present import write_export
from kb.stage import RunReport
from kb.store import Store
from scrapers.archive import Archive

FIX = Path(__file__).parent / "fixtures" / "statuspage"
SOURCES = load_sources(PACKAGED_SOURCES)


def open_line(home: Path) -> Line:
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    return Line(store, Archive(home / "raw"), SOURCES)


def export(line: Line) -> str:
    buffer = io.StringIO()
    write_export(line.store.incidents(), "jsonl", buffer)
    return buffer.getvalue()


def totals(report: RunReport) -> tuple[int, int, int]:
    return report.total("new"), report.total("updated"), report.total("unchanged")


def test_ingest_twice_changes_nothing(tmp_path: Path) -> None:
    line = open_line(tmp_path)
    first = ingest(line, [FIX])
    assert not first.failures
    # 1 GitHub + 2 Anthropic + 2 OpenAI + 2 Anthropic maintenances + 1 Discord
    assert totals(first) == (8, 0, 0)
    assert [Path(i.split(":")[1][2:]).name for i in first.ignored] == ["ORIGIN.md"]
    snapshot = export(line)
    second = ingest(open_line(tmp_path), [FIX])
    assert totals(second) == (0, 0, 8)
    assert second.total("skipped_docs") == 5
    assert export(open_line(tmp_path)) == snapshot


def test_provider_comes_from_the_page_host(tmp_path: Path) -> None:
    line = open_line(tmp_path)
    ingest(line, [FIX])
    providers = sorted({i.provider for i in line.store.incidents()})
    assert providers == ["anthropic", "discord", "github", "openai"]
    assert line.store.provider_names()["anthropic"] == "Anthropic (Claude)"


def test_provider_option_wins(tmp_path: Path) -> None:
    line = open_line(tmp_path)
    ingest(line, [FIX / "github_zzm4nczlpjyy.json"], provider="mirror")
    assert [i.key for i in line.store.incidents()] == ["mirror/zzm4nczlpjyy"]


def write_list(path: Path, incidents: list[dict], retrieved: str) -> Path:
    path.write_text(json.dumps({
        "page": {"id": "p", "name": "Example", "url": "https://status.example.test",
                 "updated_at": retrieved},
        "incidents": incidents,
    }))
    return path


def incident(code: str, body: str, updates: int = 1) -> dict:
    return {
        "id": code, "name": f"Incident {code}", "status": "resolved", "impact": "minor",
        "created_at": "2026-01-01T00:00:00Z",
        "incident_updates": [
            {"id": f"{code}-{n}", "status": "resolved" if n == updates - 1 else "investigating",
             "body": body if n == 0 else f"{body} ({n})",
             "display_at": f"2026-01-01T0{n}:00:00Z", "created_at": f"2026-01-01T0{n}:00:00Z"}
            for n in range(updates)
        ],
    }


def test_vendor_edit_keeps_a_revision_and_window_exit_is_not_withdrawal(tmp_path: Path) -> None:
    line = open_line(tmp_path)
    older = write_list(tmp_path / "a.json", [incident("aaa", "first words"), incident("bbb", "x")],
                       "2026-01-02T00:00:00Z")
    ingest(line, [older])
    newer = write_list(tmp_path / "b.json", [incident("bbb", "x edited by vendor")],
                       "2026-01-03T00:00:00Z")
    report = ingest(open_line(tmp_path), [newer])
    assert totals(report) == (0, 1, 0)
    keys = [i.key for i in line.store.incidents()]
    assert keys == ["example/aaa", "example/bbb"]  # aaa left the list: still here
    assert line.store.get("example/bbb").updates[0].body == "x edited by vendor"
    ((_, channel, summary),) = line.store.revisions("example/bbb")
    assert channel == "statuspage_json" and "edited" in summary
    assert line.store.revisions("example/aaa") == []


def test_older_snapshot_after_newer_does_not_win(tmp_path: Path) -> None:
    line = open_line(tmp_path)
    newer = write_list(tmp_path / "b.json", [incident("bbb", "new text")], "2026-01-03T00:00:00Z")
    older = write_list(tmp_path / "a.json", [incident("bbb", "old text")], "2026-01-02T00:00:00Z")
    ingest(line, [newer])
    ingest(open_line(tmp_path), [older])
    assert line.store.get("example/bbb").updates[0].body == "new text"


def test_bad_file_fails_alone_and_names_itself(tmp_path: Path) -> None:
    line = open_line(tmp_path)
    bad = tmp_path / "broken.json"
    bad.write_bytes(b'{"incidents": [{"id": "x", "name": "cut')
    html = tmp_path / "error.json"
    html.write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    report = ingest(line, [bad, FIX / "github_zzm4nczlpjyy.json", html, tmp_path / "missing.json"])
    assert [i.key for i in line.store.incidents()] == ["github/zzm4nczlpjyy"]
    failures = report.failures
    assert len(failures) == 3
    assert any("broken.json" in f and "malformed JSON" in f for f in failures)
    assert any("error.json" in f and "unknown format" in f for f in failures)
    assert any("missing.json: no such file" in f for f in failures)
    assert all("\n" not in f for f in failures)


def test_unknown_files_in_folders_are_ignored_not_failed(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "README.txt").write_text("not a payload")
    (folder / "x.json").write_bytes((FIX / "github_zzm4nczlpjyy.json").read_bytes())
    report = ingest(open_line(tmp_path), [folder])
    assert not report.failures and len(report.ignored) == 1


def test_reparse_rebuilds_the_same_data_from_the_archive(tmp_path: Path) -> None:
    line = open_line(tmp_path)
    ingest(line, [FIX])
    before = export(line)
    report = reparse(open_line(tmp_path))
    assert not report.failures
    assert totals(report) == (0, 0, 8)  # counted against the live store, which it matches
    assert export(open_line(tmp_path)) == before


def test_schema_refuses_foreign_and_newer_databases(tmp_path: Path) -> None:
    import sqlite3

    from kb.errors import SchemaError

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("create table something (x)")
    with pytest.raises(SchemaError, match="no schema version"):
        Store.open(f"sqlite:///{foreign}", write=True)
    newer = tmp_path / "newer.db"
    Store.open(f"sqlite:///{newer}", write=True)
    with sqlite3.connect(newer) as conn:
        conn.execute("delete from alembic_version")
        conn.execute("insert into alembic_version values ('zz99')")
    with pytest.raises(SchemaError, match="newer than this program"):
        Store.open(f"sqlite:///{newer}", write=True)
