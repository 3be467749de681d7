"""`kb backfill` against a real HTTP server on 127.0.0.1: a three-page history.json index and
per-incident JSON (GitHub's real incidents of Feb–Jul 2011), interruptions and resumption."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kb.backfill import BackfillReport, backfill, state_path
from kb.config import SourceConfig
from kb.errors import ConfigError
from kb.pipeline import Line
from kb.store import Store
from scrapers.archive import Archive
from scrapers.fetch import Fetcher, FetchSettings

FIX = Path(__file__).parent / "fixtures" / "backfill"
PAGES = {n: (FIX / f"history_page{n}.json").read_bytes() for n in (1, 2, 3)}
CODES = [i["code"] for n in (1, 2, 3) for m in json.loads(PAGES[n])["months"]
         for i in m["incidents"]]


class Site:
    """A Statuspage history served from the fixtures, with switchable failures."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.pages = dict(PAGES)
        self.broken: set[str] = set()  # codes answered with 503
        self.html: set[str] = set()  # codes answered with an HTML error page
        self.down_after: int | None = None  # incident requests served before the site dies
        self.served = 0
        server.expect_request("/history.json").respond_with_handler(self.history)
        for code in CODES:
            server.expect_request(f"/api/v2/incidents/{code}.json").respond_with_handler(
                self.incident)

    def history(self, request: Request) -> Response:
        page = int(request.args.get("page", "1"))
        body = self.pages.get(page, b'{"months": []}')
        return Response(body, content_type="application/json")

    def incident(self, request: Request) -> Response:
        code = request.path.rsplit("/", 1)[1].removesuffix(".json")
        if self.down_after is not None and self.served >= self.down_after:
            return Response("unavailable", status=503)
        self.served += 1
        if code in self.broken:
            return Response("unavailable", status=503)
        if code in self.html:
            return Response("<html><script>alert(1)</script>oops</html>",
                            content_type="text/html")
        return Response((FIX / "incidents" / f"{code}.json").read_bytes(),
                        content_type="application/json")

    def requests(self) -> Counter[str]:
        return Counter(r.full_path.rstrip("?") for r, _ in self.server.log)


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    return Site(httpserver)


def source(server: HTTPServer) -> SourceConfig:
    return SourceConfig("github", "GitHub", server.url_for("").rstrip("/"))


def run(tmp_path: Path, site: Site, **kwargs: object) -> tuple[BackfillReport, Line]:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    src = source(site.server)
    line = Line(store, Archive(tmp_path / "raw"), [src])
    settings = FetchSettings(politeness_delay=0.0, retries=0, read_timeout=2.0)
    with Fetcher(settings) as fetcher:
        report = backfill(line, fetcher, src, state_path(tmp_path, "github"), **kwargs)  # type: ignore[arg-type]
    return report, line


def stored_keys(line: Line) -> set[str]:
    return {i.key for i in line.store.incidents(provider="github")}


def test_walks_to_the_first_incident_and_stores_everything(tmp_path: Path, site: Site) -> None:
    report, line = run(tmp_path, site)
    assert report.failed == [] and report.stopped is None
    # page 3 lists three empty months; page 4 has no months at all: the history has ended
    assert report.walk_complete and report.pages_walked == 4
    assert report.listed == len(CODES) == 20
    assert report.oldest_month == "2011-02"
    assert report.fetched == 20 and report.remaining == 0
    assert stored_keys(line) == {f"github/{c}" for c in CODES}
    assert line.report.sources["github"].new == 20
    oldest = line.store.get(f"github/{CODES[-1]}")  # the only February 2011 incident
    assert oldest.lifecycle.first_post_at is not None
    assert oldest.lifecycle.first_post_at.strftime("%Y-%m") == "2011-02"
    requests = site.requests()
    assert all(count == 1 for count in requests.values())  # nothing asked twice
    assert sum(1 for path in requests if path.startswith("/history.json")) == 4
    # raw payloads are archived: the four pages and the twenty incidents
    assert len(list(Archive(tmp_path / "raw").entries())) == 24


def test_second_run_asks_for_nothing(tmp_path: Path, site: Site) -> None:
    run(tmp_path, site)
    before = len(site.server.log)
    report, line = run(tmp_path, site)
    assert len(site.server.log) == before
    assert (report.fetched, report.done_before, report.remaining) == (0, 20, 0)
    assert line.report.sources.get("github") is None or not line.report.sources["github"].new


def test_server_failing_midway_resumes_without_refetching(tmp_path: Path, site: Site) -> None:
    site.down_after = 7
    first, _ = run(tmp_path, site)
    assert first.stopped == "3 incident requests failed in a row"
    assert len(first.failed) == 3
    assert all("HTTP 503" in line and "/api/v2/incidents/" in line for line in first.failed)
    assert first.fetched == 7 and first.remaining == 13
    served = {path for path, _ in site.requests().items()
              if path.startswith("/api/v2/incidents/")}
    succeeded = {f"/api/v2/incidents/{c}.json" for c in CODES[:7]}
    assert succeeded <= served

    site.down_after = None
    site.server.clear_log()
    second, line = run(tmp_path, site)
    assert second.stopped is None and second.remaining == 0 and second.failed == []
    again = site.requests()
    assert not any(path.startswith("/history.json") for path in again)  # walk was done
    assert not succeeded & set(again)  # stored incidents are not asked for again
    assert set(again) == {f"/api/v2/incidents/{c}.json" for c in CODES[7:]}
    assert stored_keys(line) == {f"github/{c}" for c in CODES}


def test_interrupted_process_resumes(tmp_path: Path, site: Site) -> None:
    seen: list[str] = []

    def stop_after_five(label: str) -> None:
        if "/api/v2/incidents/" in label:
            seen.append(label)
            if len(seen) == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, site, progress=stop_after_five)
    state = json.loads(state_path(tmp_path, "github").read_text())
    assert state["walk_complete"] and len(state["done"]) == 4  # the fifth was not fed yet
    site.server.clear_log()
    report, line = run(tmp_path, site)
    asked = [p for p in site.requests() if p.startswith("/api/v2/incidents/")]
    assert len(asked) == 16 and report.remaining == 0
    assert stored_keys(line) == {f"github/{c}" for c in CODES}


def test_lost_state_skips_incidents_stored_unchanged(tmp_path: Path, site: Site) -> None:
    """A process killed before it saved its state: what is stored is not asked for again,
    except an incident whose listing changed since (a vendor edit)."""
    run(tmp_path, site)
    state_path(tmp_path, "github").unlink()
    page = json.loads(site.pages[2])
    edited = page["months"][0]["incidents"][0]
    edited["message"] = "Edited after the fact."
    site.pages[2] = json.dumps(page).encode()
    site.server.clear_log()
    report, _ = run(tmp_path, site)
    asked = [p for p in site.requests() if p.startswith("/api/v2/incidents/")]
    assert asked == [f"/api/v2/incidents/{edited['code']}.json"]
    assert report.skipped_stored == 19 and report.fetched == 1


def test_bad_payload_is_one_line_and_retried_next_run(tmp_path: Path, site: Site) -> None:
    bad = CODES[3]
    site.html.add(bad)
    report, line = run(tmp_path, site)
    failures = line.report.failures
    assert len(failures) == 1 and f"/api/v2/incidents/{bad}.json" in failures[0]
    assert "unknown format" in failures[0] and "\n" not in failures[0]
    assert report.remaining == 1 and len(stored_keys(line)) == 19
    site.html.clear()
    site.server.clear_log()
    report, line = run(tmp_path, site)
    assert [p for p in site.requests()] == [f"/api/v2/incidents/{bad}.json"]
    assert report.remaining == 0 and len(stored_keys(line)) == 20


def test_unreachable_history_page_stops_the_walk_and_resumes(tmp_path: Path,
                                                             site: Site) -> None:
    site.pages[2] = b"<html>rate limited</html>"
    first, line = run(tmp_path, site)
    assert first.stopped == "history page 2 is not a history page"
    assert not first.walk_complete and first.pages_walked == 1
    assert len(line.report.failures) == 1 and "page=2" in line.report.failures[0]
    assert first.fetched == 0  # incidents wait for a complete index
    site.pages[2] = PAGES[2]
    site.server.clear_log()
    second, _ = run(tmp_path, site)
    pages = sorted(p for p in site.requests() if p.startswith("/history.json"))
    assert pages == ["/history.json?page=2", "/history.json?page=3", "/history.json?page=4"]
    assert second.walk_complete and second.remaining == 0


def test_requests_keep_the_per_host_delay(tmp_path: Path, site: Site) -> None:
    waits: list[float] = []
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    src = source(site.server)
    line = Line(store, Archive(tmp_path / "raw"), [src])
    settings = FetchSettings(politeness_delay=30.0, retries=0)
    with Fetcher(settings, sleep=waits.append) as fetcher:
        backfill(line, fetcher, src, state_path(tmp_path, "github"))
    assert len(waits) == 4 + 20 - 1  # before every request but the first
    assert all(29.0 < w <= 30.0 for w in waits)


def test_only_statuspage_pages(tmp_path: Path, site: Site) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    slack = SourceConfig("slack", "Slack", "https://slack-status.com", platform="slack")
    with Fetcher() as fetcher, pytest.raises(ConfigError, match="Statuspage"):
        backfill(Line(store, Archive(tmp_path / "raw"), [slack]), fetcher, slack,
                 state_path(tmp_path, "slack"))


def test_stats_report_coverage_and_gaps(tmp_path: Path, site: Site) -> None:
    from rich.console import Console

    from kb.present import print_stats, stats_rows
    from kb.store.repo import month_coverage

    page = json.loads(site.pages[2])
    march = next(m for m in page["months"] if m["name"] == "March")
    dropped = {i["code"] for i in march["incidents"]}
    march["incidents"] = []  # a hole in what the index gave us
    site.pages[2] = json.dumps(page).encode()
    _, line = run(tmp_path, site)
    (row,) = [r for r in line.store.stats() if r.provider == "github"]
    assert row.incidents == 20 - len(dropped) == 16
    assert (row.first.strftime("%Y-%m"), row.last.strftime("%Y-%m")) == ("2011-02", "2011-07")
    assert (row.months_spanned, row.gap_months) == (6, ("2011-03",))
    assert row.complete_share == 1.0  # every incident came with its full update list
    (data,) = stats_rows([row])
    assert data["coverage"] == {
        "from": data["first"], "to": data["last"], "months": 6, "gap_months": ["2011-03"],
        "full_update_share": 1.0,
    }
    console = Console(record=True, width=250)
    print_stats(console, [row])
    text = console.export_text()
    assert "6 (1 gap)" in text and "github: months with nothing held: 2011-03" in text
    assert month_coverage([]) == (0, ())


def test_cli_backfill_runs_and_resumes(tmp_path: Path, site: Site,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from kb.cli import app
    from kb.errors import SourceFailed

    home = tmp_path / "home"
    home.mkdir()
    (home / "sources.toml").write_text(
        f'[[source]]\nslug = "github"\nname = "GitHub"\nurl = "{source(site.server).url}"\n')
    (home / "kb.toml").write_text("[fetch]\npoliteness_delay = 0.0\nretries = 0\n")
    monkeypatch.setenv("KB_HOME", str(home))
    for name in ("KB_SOURCES", "KB_DATABASE_URL", "KB_CONFIG", "KB_RAW_DIR"):
        monkeypatch.delenv(name, raising=False)
    site.down_after = 10
    first = CliRunner().invoke(app, ["backfill", "github", "--json"])
    # some requests failed, the rest was stored: `kb` exits 5 (kb.cli.main maps the error)
    assert isinstance(first.exception, SourceFailed) and first.exception.exit_code == 5
    summary = json.loads(first.stdout)
    assert summary["sources"]["github"]["new"] == 10
    assert len(summary["sources"]["github"]["failed"]) == 3
    assert any("stopped: 3 incident requests failed in a row" in n for n in summary["notes"])
    site.down_after = None
    second = CliRunner().invoke(app, ["backfill", "github", "--json"])
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert summary["sources"]["github"]["new"] == 10
    assert any("0 remaining" in n for n in summary["notes"])
    third = CliRunner().invoke(app, ["backfill", "github"])
    assert third.exit_code == 0 and "nothing left to do" in third.output
    assert state_path(home, "github").is_file()


def test_a_server_ignoring_the_page_number_is_not_walked_forever(tmp_path: Path,
                                                                 site: Site) -> None:
    site.pages = {n: PAGES[1] for n in range(1, 500)}
    report, line = run(tmp_path, site)
    assert report.stopped == "history page 4 repeats earlier months"
    assert sum(1 for p in site.requests() if p.startswith("/history.json")) == 4
    (failure,) = line.report.failures
    assert "page=4" in failure and "ignore ?page=" in failure
    assert report.fetched == 0 and not report.walk_complete


def test_a_payload_for_another_incident_is_refused(tmp_path: Path, site: Site,
                                                   httpserver: HTTPServer) -> None:
    wrong = CODES[5]
    liar = (FIX / "incidents" / f"{CODES[6]}.json").read_bytes()
    site.server.clear_all_handlers()
    httpserver.expect_request(f"/api/v2/incidents/{wrong}.json").respond_with_data(
        liar, content_type="application/json")
    Site(httpserver)  # every other path as before (handlers are matched in order)
    report, line = run(tmp_path, site)
    (failure,) = line.report.failures
    assert f"answered with incident '{CODES[6]}', not '{wrong}'" in failure
    assert f"github/{wrong}" not in stored_keys(line) and report.remaining == 1
