"""The run summary counts distinct incidents: each incident of a run is in exactly one of the
new / updated / unchanged columns, however many payloads (JSON, feed, batches) mention it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from kb import pipeline
from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.present import print_run_summary
from kb.stage import RunReport
from kb.store import Store
from kb.store.payloads import incidents_of_payloads
from scrapers import registry
from scrapers.archive import Archive
from scrapers.files import read_recorded

FIX = Path(__file__).parent / "fixtures"
# The same Anthropic incident (6304r9jjhj34) is in both: 2 + 3 observations, 4 incidents.
JSON = FIX / "statuspage" / "anthropic_slice.json"
ATOM = FIX / "feeds" / "claude_slice.atom"
SOURCES = load_sources(PACKAGED_SOURCES)


def open_line(home: Path) -> Line:
    store, _ = Store.open(f"sqlite:///{home / 'kb.db'}", write=True)
    return Line(store, Archive(home / "raw"), SOURCES)


def columns(report: RunReport, source: str) -> tuple[int, int, int]:
    entry = report.sources[source]
    return entry.new, entry.updated, entry.unchanged


def observations(*paths: Path) -> int:
    """Incident records summed over payloads: the figure the summary used to print."""
    total = 0
    for path in paths:
        doc = read_recorded(path)
        total += len(registry.detect(doc.body, doc.url).parse(doc).incidents)
    return total


def write_list(path: Path, bodies: dict[str, str]) -> Path:
    path.write_text(json.dumps({
        "page": {"id": "p", "name": "Example", "url": "https://status.example.test",
                 "updated_at": "2026-01-02T00:00:00Z"},
        "incidents": [
            {"id": code, "name": f"Incident {code}", "status": "resolved", "impact": "minor",
             "created_at": "2026-01-01T00:00:00Z",
             "incident_updates": [{"id": f"{code}-0", "status": "resolved", "body": body,
                                   "display_at": "2026-01-01T00:00:00Z",
                                   "created_at": "2026-01-01T00:00:00Z"}]}
            for code, body in bodies.items()
        ],
    }))
    return path


def test_reimport_counts_each_incident_once_not_once_per_payload(tmp_path: Path) -> None:
    first = ingest(open_line(tmp_path), [JSON, ATOM])
    assert columns(first, "anthropic") == (4, 0, 0)
    second = ingest(open_line(tmp_path), [JSON, ATOM])
    stored = {i.key for i in open_line(tmp_path).store.incidents(provider="anthropic")}
    # Both payloads are skipped unread; the old summary added their 2 + 3 records (5), but
    # the shared incident is one incident, and four are stored.
    assert observations(JSON, ATOM) == 5
    assert columns(second, "anthropic") == (0, 0, len(stored)) == (0, 0, 4)
    assert second.sources["anthropic"].skipped_docs == 2


def test_an_incident_in_several_batches_is_counted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "BATCH_DOCS", 1)  # JSON and feed in two transactions
    first = ingest(open_line(tmp_path), [JSON, ATOM])
    # 6304r9jjhj34 is new in the first batch and merged (updated) in the second: still new.
    assert columns(first, "anthropic") == (4, 0, 0)
    assert sorted(first.changed) == sorted(set(first.changed)) == sorted(first.changed_new)
    assert len(first.changed) == 4


def test_unchanged_in_one_payload_and_edited_in_another_is_updated(tmp_path: Path) -> None:
    old = write_list(tmp_path / "a.json", {"aaa": "first", "bbb": "same"})
    ingest(open_line(tmp_path), [old])
    edited = write_list(tmp_path / "b.json", {"aaa": "first, edited"})
    # a.json is skipped as stored (aaa, bbb unchanged), then b.json changes aaa.
    report = ingest(open_line(tmp_path), [old, edited])
    assert columns(report, "example") == (0, 1, 1)
    assert report.changed == ["example/aaa"] and report.changed_new == []


def test_skipped_bytes_stored_under_two_providers_count_for_the_one_asked(
    tmp_path: Path,
) -> None:
    ingest(open_line(tmp_path), [JSON], provider="mirror")
    ingest(open_line(tmp_path), [JSON])  # same bytes, now as anthropic: parsed and stored
    again = ingest(open_line(tmp_path), [JSON], provider="mirror")
    assert columns(again, "mirror") == (0, 0, 2)
    assert "anthropic" not in again.sources


def test_payload_lookup_answers_every_incident_of_a_hash(tmp_path: Path) -> None:
    line = open_line(tmp_path)
    ingest(line, [JSON, ATOM])
    json_sha, atom_sha = read_recorded(JSON).sha256, read_recorded(ATOM).sha256
    held = incidents_of_payloads(line.store, [json_sha, atom_sha, "0" * 64])
    assert held[json_sha] == {"anthropic/6304r9jjhj34", "anthropic/1019wwb67615"}
    assert len(held[atom_sha]) == 3 and "anthropic/6304r9jjhj34" in held[atom_sha]
    assert "0" * 64 not in held


def test_report_count_moves_an_incident_only_up() -> None:
    report = RunReport()
    for outcome in ("unchanged", "updated", "unchanged", "new", "updated"):
        report.count("p", "p/x", outcome)
    report.count("p", "p/y", "unchanged")
    report.count("p", "p/y", "unchanged")
    assert columns(report, "p") == (1, 0, 1)
    assert report.changed == ["p/x"] and report.changed_new == ["p/x"]


def test_summary_in_a_log_file_is_not_cut_at_80_columns() -> None:
    report = RunReport()
    report.count("atlassian-statuspage", "atlassian-statuspage/x", "new")
    report.source("signals-hackernews").failed.append("https://hn.example/: HTTP 500")
    report.source("saucelabs-us-west").docs = 123456
    buffer = io.StringIO()
    print_run_summary(Console(file=buffer, width=80), report)  # a file: no terminal
    text = buffer.getvalue()
    assert "…" not in text
    for word in ("atlassian-statuspage", "signals-hackernews", "saucelabs-us-west", "123456",
                 "already stored", "unchanged", "failed"):
        assert word in text
    assert max(len(line) for line in text.splitlines()) > 80
