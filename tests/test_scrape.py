"""`kb scrape` against real HTTP servers on 127.0.0.1 serving recorded payloads at real paths."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kb.config import SourceConfig
from kb.pipeline import Line, scrape
from kb.store import Store
from scrapers.archive import Archive
from scrapers.fetch import Fetcher, FetchSettings

FIX = Path(__file__).parent / "fixtures"
INCIDENTS = (FIX / "statuspage" / "anthropic_slice.json").read_bytes()
MAINTENANCES = (FIX / "statuspage" / "anthropic_maintenances.json").read_bytes()
FEED = (FIX / "feeds" / "claude_slice.atom").read_bytes()
COMPONENTS = json.dumps({"page": {"id": "p", "name": "Claude", "url": "https://status.claude.com"},
                         "components": [{"id": "c1", "name": "Claude API", "status": "operational"}]
                         }).encode()


class Sleeps:
    """Records back-off sleeps instead of waiting (politeness is off in these tests)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def serve_statuspage(server: HTTPServer, prefix: str, etag: str = '"v1"') -> None:
    def conditional(body: bytes, content_type: str):  # type: ignore[no-untyped-def]
        def handler(request: Request) -> Response:
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
            return Response(body, content_type=content_type, headers={"ETag": etag})
        return handler

    server.expect_request(f"{prefix}/api/v2/incidents.json").respond_with_handler(
        conditional(INCIDENTS, "application/json"))
    server.expect_request(f"{prefix}/api/v2/scheduled-maintenances.json").respond_with_handler(
        conditional(MAINTENANCES, "application/json"))
    server.expect_request(f"{prefix}/api/v2/components.json").respond_with_handler(
        conditional(COMPONENTS, "application/json"))
    server.expect_request(f"{prefix}/history.atom").respond_with_handler(
        conditional(FEED, "application/atom+xml"))


def make_line(tmp_path: Path, sources: list[SourceConfig]) -> Line:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    return Line(store, Archive(tmp_path / "raw"), sources)


def fetcher(sleeps: Sleeps, **overrides: float) -> Fetcher:
    settings = dict(politeness_delay=0.0, read_timeout=0.5, total_timeout=2.0, retries=2,
                    backoff_base=0.01)
    settings.update(overrides)
    return Fetcher(FetchSettings(**settings), sleep=sleeps)  # type: ignore[arg-type]


def test_second_scrape_costs_only_304s(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve_statuspage(httpserver, "/claude")
    source = SourceConfig("anthropic", "Anthropic", httpserver.url_for("/claude").rstrip("/"))
    sleeps = Sleeps()
    with fetcher(sleeps) as client:
        first = scrape(make_line(tmp_path, [source]), client, [source])
    report = first.sources["anthropic"]
    assert not report.failed
    assert report.docs == 4 and report.new > 0
    stored = report.new
    with fetcher(sleeps) as client:
        second = scrape(make_line(tmp_path, [source]), client, [source])
    again = second.sources["anthropic"]
    assert again.not_modified == 4 and again.docs == 0 and again.new == 0
    conditional = [r for r, _ in httpserver.log if r.headers.get("If-None-Match") == '"v1"']
    assert len(conditional) == 4
    line = make_line(tmp_path, [source])
    assert len(list(line.store.incidents(provider="anthropic"))) == stored


def test_retry_after_is_honoured(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve_statuspage(httpserver, "/ok")
    httpserver.expect_ordered_request("/busy/api/v2/incidents.json").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "7"}))
    httpserver.expect_ordered_request("/busy/api/v2/incidents.json").respond_with_data(
        INCIDENTS, content_type="application/json")
    for path in ("scheduled-maintenances.json", "components.json"):
        httpserver.expect_request(f"/busy/api/v2/{path}").respond_with_data(
            COMPONENTS, content_type="application/json")
    httpserver.expect_request("/busy/history.atom").respond_with_data(FEED)
    source = SourceConfig("anthropic", "Anthropic", httpserver.url_for("/busy").rstrip("/"))
    sleeps = Sleeps()
    with fetcher(sleeps) as client:
        report = scrape(make_line(tmp_path, [source]), client, [source])
    assert not report.failures
    assert 7.0 in sleeps.calls
    assert report.sources["anthropic"].new > 0


def test_failing_sources_do_not_stop_the_others(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve_statuspage(httpserver, "/good")

    def hang(_request: Request) -> Response:
        time.sleep(1.0)  # longer than the 0.5 s read timeout
        return Response("late", status=200)

    httpserver.expect_request("/slow/api/v2/incidents.json").respond_with_handler(hang)
    httpserver.expect_request("/html/api/v2/incidents.json").respond_with_data(
        "<html><body>Service Unavailable</body></html>", status=200, content_type="text/html")
    httpserver.expect_request("/down/api/v2/incidents.json").respond_with_data("oops", status=500)
    good = SourceConfig("anthropic", "Anthropic", httpserver.url_for("/good").rstrip("/"))
    slow = SourceConfig("slow", "Slow", httpserver.url_for("/slow").rstrip("/"))
    html = SourceConfig("html", "HTML", httpserver.url_for("/html").rstrip("/"))
    down = SourceConfig("down", "Down", httpserver.url_for("/down").rstrip("/"))
    sleeps = Sleeps()
    sources = [slow, good, html, down]
    with fetcher(sleeps, retries=1) as client:
        report = scrape(make_line(tmp_path, sources), client, sources)
    assert not report.sources["anthropic"].failed and report.sources["anthropic"].new > 0
    slow_errors = report.sources["slow"].failed
    assert any("incidents.json" in e and "timed out" in e for e in slow_errors)
    assert any("unknown format" in e for e in report.sources["html"].failed)
    assert any("HTTP 500" in e for e in report.sources["down"].failed)
    assert all("\n" not in e for e in report.failures)
    store = make_line(tmp_path, sources).store
    assert {i.provider for i in store.incidents()} == {"anthropic"}


@pytest.mark.parametrize("status", [404, 410])
def test_missing_endpoint_is_one_failure(httpserver: HTTPServer, tmp_path: Path,
                                         status: int) -> None:
    serve_statuspage(httpserver, "/p")
    httpserver.expect_request("/gone/api/v2/incidents.json").respond_with_data("", status=status)
    gone = SourceConfig("gone", "Gone", httpserver.url_for("/gone").rstrip("/"))
    with fetcher(Sleeps()) as client:
        report = scrape(make_line(tmp_path, [gone]), client, [gone])
    failed = report.sources["gone"].failed
    assert any(f"HTTP {status}" in e and "/gone/api/v2/incidents.json" in e for e in failed)
