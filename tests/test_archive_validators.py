"""A server that changes its ETag but not its bytes: the newest validators win, so the next
conditional GET gets its 304; the manifest grows by one line per change, not per fetch, and
the payload is parsed once."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kb.config import SourceConfig
from kb.pipeline import Line, reparse, scrape
from kb.present import write_export
from kb.store import Store
from scrapers import statuspage
from scrapers.archive import Archive
from scrapers.fetch import Fetcher, FetchSettings, Validators
from scrapers.records import RawDoc

FIX = Path(__file__).parent / "fixtures"
INCIDENTS = (FIX / "statuspage" / "anthropic_slice.json").read_bytes()
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://status.example.test/api/v2/incidents.json"


def doc(at: datetime, etag: str | None, body: bytes = b"same bytes", **extra: str) -> RawDoc:
    return RawDoc(body=body, url=URL, fetched_at=at, etag=etag, **extra)  # type: ignore[arg-type]


def lines(root: Path) -> int:
    return len((root / "manifest.jsonl").read_bytes().splitlines())


def test_new_etag_for_the_same_bytes_is_recorded_once(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    assert archive.put(doc(T0, '"e1"'), source="s") is True
    assert archive.put(doc(T0 + timedelta(hours=1), '"e2"'), source="s") is False  # not new
    assert archive.validators(URL) == Validators(etag='"e2"')
    assert lines(tmp_path) == 2
    for hours in (2, 3):  # the same bytes and the same ETag again: nothing to add
        assert archive.put(doc(T0 + timedelta(hours=hours), '"e2"'), source="s") is False
    assert lines(tmp_path) == 2
    assert Archive(tmp_path).validators(URL) == Validators(etag='"e2"')  # a fresh reader too
    # Still one payload: the refresh line is no second copy of it.
    [entry] = list(Archive(tmp_path).entries())
    assert (entry.etag, entry.fetched_at) == ('"e1"', T0)


def test_an_older_fetch_with_other_validators_does_not_win_or_grow(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.put(doc(T0, '"e2"'), source="s")
    for _ in range(3):  # re-importing an old copy, again and again
        assert archive.put(doc(T0 - timedelta(days=1), '"e0"'), source="import") is False
    assert archive.validators(URL) == Validators(etag='"e2"') and lines(tmp_path) == 1


def test_bytes_that_come_back_bring_their_new_validators(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.put(doc(T0, '"a1"', body=b"A"), source="s")
    archive.put(doc(T0 + timedelta(hours=1), '"b1"', body=b"B"), source="s")
    archive.put(doc(T0 + timedelta(hours=2), '"a2"', body=b"A"), source="s")  # A is back
    assert archive.validators(URL) == Validators(etag='"a2"')
    archive.put(doc(T0 + timedelta(hours=3), None, body=b"A", last_modified="LM"), source="s")
    assert archive.validators(URL) == Validators(last_modified="LM")
    assert [e.sha256 for e in archive.entries()] == [doc(T0, None, b"A").sha256,
                                                    doc(T0, None, b"B").sha256]


class EtagServer:
    """Serves fixed bytes under an ETag the test can change; answers 304 to the current one."""

    def __init__(self, server: HTTPServer, body: bytes) -> None:
        self.etag = '"v1"'
        self.statuses: list[int] = []
        self.body = body
        server.expect_request("/page/api/v2/incidents.json").respond_with_handler(self.handle)
        for name in ("scheduled-maintenances.json", "components.json"):
            server.expect_request(f"/page/api/v2/{name}").respond_with_data("gone", status=404)
        server.expect_request("/page/history.atom").respond_with_data("gone", status=404)

    def handle(self, request: Request) -> Response:
        if request.headers.get("If-None-Match") == self.etag:
            response = Response(status=304, headers={"ETag": self.etag})
        else:
            response = Response(self.body, content_type="application/json",
                                headers={"ETag": self.etag})
        self.statuses.append(response.status_code)
        return response


def test_scrape_gets_its_304_after_an_etag_change(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = EtagServer(httpserver, INCIDENTS)
    source = SourceConfig("anthropic", "Anthropic", httpserver.url_for("/page").rstrip("/"))
    parses: list[str] = []
    real_parse = statuspage.parse
    monkeypatch.setattr(statuspage, "parse", lambda d: parses.append(d.url) or real_parse(d))

    def run() -> tuple[int, int]:
        store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
        line = Line(store, Archive(tmp_path / "raw"), [source])
        with Fetcher(FetchSettings(politeness_delay=0, retries=0)) as fetcher:
            report = scrape(line, fetcher, [source]).sources["anthropic"]
        store.close()
        return report.not_modified, report.skipped_docs

    assert run() == (0, 0) and server.statuses == [200]
    first_lines = lines(tmp_path / "raw")
    server.etag = '"v2"'  # same bytes, new ETag: a 200 we already hold
    assert run() == (0, 1) and server.statuses[-1] == 200
    assert lines(tmp_path / "raw") == first_lines + 1
    for _ in range(2):  # now the newest ETag is sent, and the server says "not modified"
        assert run() == (1, 0) and server.statuses[-1] == 304
    assert lines(tmp_path / "raw") == first_lines + 1
    assert len(parses) == 1  # parsed on the first fetch only

    # A rebuild from the archive sees the payload once and rebuilds the same incidents.
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    before = io.StringIO()
    write_export(store.incidents(), "jsonl", before)
    report = reparse(Line(store, Archive(tmp_path / "raw"), [source]))
    after = io.StringIO()
    write_export(store.incidents(), "jsonl", after)
    assert report.total("docs") == 1 and len(parses) == 2
    assert after.getvalue() == before.getvalue()
