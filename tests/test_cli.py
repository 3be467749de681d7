"""The `kb` command line on a temporary KB_HOME: in-process through the real entry point
(tests.conftest.invoke_kb), and in a new process where start-up imports are the point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import invoke_kb as kb
from tests.conftest import run_kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "statuspage"
CONTRACT_KEYS = {
    "key", "provider", "native_id", "title", "url", "kind", "status", "impact", "severity",
    "components", "lifecycle", "impact_window", "updates", "sources",
}
LIFECYCLE_KEYS = {
    "first_post_at", "identified_at", "monitoring_at", "resolved_at", "vendor_created_at",
    "vendor_started_at", "vendor_resolved_at", "reopened",  # reopened: issue 14
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli")
    result = kb(home, "ingest", str(FIX))
    assert result.returncode == 0, result.stderr
    return home


def test_help_lists_commands_and_imports_nothing_heavy(tmp_path: Path) -> None:
    result = run_kb(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("ingest", "scrape", "update", "reparse", "incidents", "show", "export",
                    "stats"):
        assert command in result.stdout
    assert "kb update --from data/samples" in result.stdout  # examples in --help
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys, kb.cli; heavy = {'torch', 'sentence_transformers', 'sqlalchemy', "
         "'numpy', 'playwright'} & set(sys.modules); print(sorted(heavy))"],
        capture_output=True, text=True, check=True,
    )
    assert probe.stdout.strip() == "[]"


def test_show_json_follows_the_contract(home: Path) -> None:
    result = kb(home, "show", "anthropic/6304r9jjhj34", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data.keys() >= CONTRACT_KEYS
    assert set(data["lifecycle"]) == LIFECYCLE_KEYS
    assert data["kind"] == "incident" and data["severity"] == "major"
    assert [u["phase"] for u in data["updates"]] == [
        "investigating", "investigating", "monitoring", "resolved"]
    assert {"at", "phase", "label", "body"} <= data["updates"][0].keys()
    assert data["updates"][0]["at"] == "2026-09-15T09:48:23.229Z"
    assert data["sources"][0]["url"].endswith("anthropic_slice.json")
    assert {"url", "fetched_at"} <= data["sources"][0].keys()


def test_show_table_and_missing_incident(home: Path) -> None:
    shown = kb(home, "show", "openai/01M2D1CZG0862JB4JHVW56QF89")
    assert shown.returncode == 0
    assert "Codex GitHub Review and Pull Request Failures" in shown.stdout
    assert "Timeline (UTC)" in shown.stdout
    missing = kb(home, "show", "openai/nope")
    assert missing.returncode == 3
    assert missing.stderr.strip() == "kb: no incident 'openai/nope' (see `kb incidents`)"


def test_incidents_filters_and_json(home: Path) -> None:
    result = kb(home, "incidents", "--provider", "openai", "--json")
    rows = json.loads(result.stdout)
    assert [r["key"] for r in rows] == [
        "openai/01M2H3J1D6Y7RHAP49GRWGJAY0", "openai/01M2D1CZG0862JB4JHVW56QF89"]
    since = json.loads(kb(home, "incidents", "--since", "2026-09-14", "--json").stdout)
    assert [r["key"] for r in since] == ["anthropic/6304r9jjhj34",
                                         "openai/01M2H3J1D6Y7RHAP49GRWGJAY0"]
    bad = kb(home, "incidents", "--since", "yesterday-ish")
    assert bad.returncode == 2 and "--since: not a date" in bad.stderr


def test_tables_written_to_a_pipe_keep_whole_keys(home: Path) -> None:
    # A pipe has no width: rich would cut the table to 80 columns ("openai/01M2H3J…").
    result = run_kb(home, "incidents", COLUMNS=None)  # a real pipe, no COLUMNS
    assert result.returncode == 0, result.stderr
    keys = [r["key"] for r in json.loads(kb(home, "incidents", "--json").stdout)]
    assert len(keys) == 8
    for key in keys:
        assert key in result.stdout
    assert "…" not in result.stdout


def test_export_is_stable_and_csv_has_a_row_per_incident(home: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert kb(home, "export", "-o", str(first)).returncode == 0
    assert kb(home, "export", "--format", "jsonl", "-o", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(line)["key"] for line in lines)
    csv_out = kb(home, "export", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("key,provider,native_id,title") and len(csv_out) == 9
    assert kb(home, "export", "--format", "xml").returncode == 2


def test_stats_json(home: Path) -> None:
    rows = {r["provider"]: r for r in json.loads(kb(home, "stats", "--json").stdout)}
    assert rows["anthropic"]["incidents"] == 2 and rows["anthropic"]["maintenances"] == 2
    assert rows["openai"]["phase_coverage"]["resolved"] == 2


def test_failed_source_exits_5_with_one_line(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"incidents": [')
    result = kb(home, "ingest", str(bad), str(FIX / "github_zzm4nczlpjyy.json"))
    assert result.returncode == 5
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bad.json" in errors[0] and "malformed JSON" in errors[0]
    assert "1 source(s) failed" in result.stderr


def test_json_summary_of_a_run(home: Path) -> None:
    result = kb(home, "ingest", str(FIX), "--json")
    summary = json.loads(result.stdout)
    assert summary["sources"]["github"]["skipped_docs"] == 1
    assert summary["sources"]["github"]["new"] == 0


def test_unknown_provider_to_scrape_is_not_found(home: Path) -> None:
    # issue #18: every command that takes a provider says "no such provider", exit 3
    result = kb(home, "scrape", "no-such-provider")
    assert result.returncode == 3 and "no such provider: 'no-such-provider'" in result.stderr


def test_ingest_embed_flag_runs_the_embed_stage(tmp_path: Path) -> None:
    env_home = tmp_path / "embed"  # KB_EMBED_MODEL=fake-hash: the deterministic test encoder
    result = kb(env_home, "ingest", str(FIX / "github_zzm4nczlpjyy.json"), "--embed",
                KB_EMBED_MODEL="fake-hash")
    assert result.returncode == 0, result.stderr
    assert "embed: embedded 1 incident(s) with fake-hash" in result.stderr
