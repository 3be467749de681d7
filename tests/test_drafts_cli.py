"""`kb postmortem` run as users run it (a subprocess), on a temporary KB_HOME."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import invoke_kb as kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "drafts"




@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pm")
    result = kb(home, "ingest", str(FIX))
    assert result.returncode == 0, result.stderr
    return home


def test_help_lists_postmortem_and_imports_no_renderer() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, kb.cli; print(sorted({'jinja2', 'nh3', "
         "'markdown_it', 'kb.drafts'} & set(sys.modules)))"],
        capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "[]"


def test_markdown_to_stdout_and_json_to_a_file(home: Path, tmp_path: Path) -> None:
    result = kb(home, "postmortem", "github/k5z4d1v1tqmt", "--template", "pagerduty")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Postmortem: Intermittent errors")
    assert "## How'd we do?" in result.stdout
    assert "warning" not in result.stderr  # every citation resolved, raw archive included
    out = tmp_path / "draft.json"
    result = kb(home, "postmortem", "github/zjchv3zvfg50", "--format", "json", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["key"] == "github/zjchv3zvfg50"
    assert "kb: wrote json draft of github/zjchv3zvfg50" in result.stderr


def test_errors_are_one_line_with_exit_codes(home: Path) -> None:
    result = kb(home, "postmortem", "github/nosuch")
    assert result.returncode == 3
    assert result.stderr.strip() == "kb: no incident 'github/nosuch' (see `kb incidents`)"
    result = kb(home, "postmortem", "github/k5z4d1v1tqmt", "--format", "pdf")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    result = kb(home, "postmortem", "github/k5z4d1v1tqmt", "--polish")
    assert result.returncode == 2
    assert "--polish needs KB_LLM_URL" in result.stderr


def test_polish_through_a_stub_endpoint(home: Path, httpserver: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        sections = json.loads(json.loads(request.data)["messages"][1]["content"])["sections"]
        reply = {name: "Briefly: " + text for name, text in sections.items()}
        answer = {"choices": [{"message": {"content": json.dumps(reply)}}]}
        return Response(json.dumps(answer), content_type="application/json")

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(handler)
    result = kb(home, "postmortem", "github/k5z4d1v1tqmt", "--polish",
                KB_LLM_URL=f"http://127.0.0.1:9/v1,{httpserver.url_for('/v1')}",
                KB_LLM_TIMEOUT="5", KB_LLM_RETRIES="0")
    assert result.returncode == 0, result.stderr
    assert "Briefly: On 2026-05-23, GitHub opened this incident" in result.stdout
    assert "kb: polish: http://127.0.0.1:9/v1/chat/completions: connection failed" in \
        result.stderr
