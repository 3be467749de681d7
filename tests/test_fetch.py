"""`scrapers.fetch.Fetcher` against a real HTTP server on 127.0.0.1 (pytest-httpserver).

Sleeps go through an injected recorder, so back-offs and politeness cost no real time.
"""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from scrapers.errors import FetchError
from scrapers.fetch import Fetcher, FetchSettings, Validators
from scrapers.retry import parse_retry_after

URL_PATH = "/api/v2/incidents.json"


class FakeTime:
    """A monotonic clock that only moves when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_fetcher(fake: FakeTime, **overrides: object) -> Fetcher:
    settings = FetchSettings(**{"politeness_delay": 0.0, **overrides})  # type: ignore[arg-type]
    return Fetcher(settings, sleep=fake.sleep, clock=fake.clock)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- success and conditional GET -----------------------------------------------------------


def test_200_returns_rawdoc_with_response_metadata(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request(URL_PATH).respond_with_data(
        b'{"incidents": []}',
        content_type="application/json; charset=utf-8",
        headers={"ETag": '"v1"', "Last-Modified": "Tue, 07 Oct 2025 21:23:00 GMT"},
    )
    url = httpserver.url_for(URL_PATH)
    before = datetime.now(UTC)
    with make_fetcher(fake_time) as fetcher:
        outcome = fetcher.get(url)
    assert outcome.status == 200 and not outcome.not_modified and outcome.attempts == 1
    doc = outcome.doc
    assert doc is not None
    assert doc.body == b'{"incidents": []}'
    assert doc.url == url
    assert doc.content_type == "application/json; charset=utf-8"
    assert doc.etag == '"v1"'
    assert doc.last_modified == "Tue, 07 Oct 2025 21:23:00 GMT"
    assert doc.fetched_at.tzinfo is UTC and before <= doc.fetched_at <= datetime.now(UTC)


def test_etag_then_304_with_if_none_match(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_oneshot_request(URL_PATH).respond_with_data(b"v1", headers={"ETag": '"a1"'})
    httpserver.expect_oneshot_request(
        URL_PATH, headers={"If-None-Match": '"a1"'}
    ).respond_with_data(b"", status=304)
    url = httpserver.url_for(URL_PATH)
    with make_fetcher(fake_time) as fetcher:
        first = fetcher.get(url)
        assert first.doc is not None
        second = fetcher.get(url, Validators(etag=first.doc.etag))
    assert second.not_modified and second.doc is None and second.status == 304
    request, _ = httpserver.log[-1]
    assert request.headers.get("If-None-Match") == '"a1"'
    assert "If-Modified-Since" not in request.headers


def test_last_modified_sent_as_if_modified_since(httpserver: HTTPServer, fake_time: FakeTime):
    stamp = "Tue, 07 Oct 2025 21:23:00 GMT"
    httpserver.expect_request(URL_PATH, headers={"If-Modified-Since": stamp}).respond_with_data(
        b"", status=304
    )
    with make_fetcher(fake_time) as fetcher:
        outcome = fetcher.get(httpserver.url_for(URL_PATH), Validators(last_modified=stamp))
    assert outcome.not_modified
    assert httpserver.log[-1][0].headers.get("If-Modified-Since") == stamp


def test_304_without_validators_is_an_error(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request(URL_PATH).respond_with_data(b"", status=304)
    url = httpserver.url_for(URL_PATH)
    with make_fetcher(fake_time) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert str(info.value) == f"{url}: 304 without validators"


def test_user_agent_is_sent(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request("/ua").respond_with_data(b"ok")
    with make_fetcher(fake_time, user_agent="outage-kb-test/9") as fetcher:
        fetcher.get(httpserver.url_for("/ua"))
    headers = httpserver.log[-1][0].headers
    assert headers.get("User-Agent") == "outage-kb-test/9"
    assert headers.get("Accept-Encoding") == "gzip, deflate"


# -- retries ------------------------------------------------------------------------------


def test_429_retry_after_seconds_is_honoured(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_oneshot_request(URL_PATH).respond_with_data(
        b"slow down", status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_oneshot_request(URL_PATH).respond_with_data(b"ok")
    with make_fetcher(fake_time) as fetcher:
        outcome = fetcher.get(httpserver.url_for(URL_PATH))
    assert outcome.doc is not None and outcome.doc.body == b"ok"
    assert outcome.attempts == 2
    assert fake_time.sleeps == [7.0]


def test_503_retry_after_http_date_is_honoured(httpserver: HTTPServer, fake_time: FakeTime):
    when = datetime.now(UTC) + timedelta(seconds=120)
    httpserver.expect_oneshot_request(URL_PATH).respond_with_data(
        b"", status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    httpserver.expect_oneshot_request(URL_PATH).respond_with_data(b"back")
    with make_fetcher(fake_time) as fetcher:
        outcome = fetcher.get(httpserver.url_for(URL_PATH))
    assert outcome.doc is not None and outcome.doc.body == b"back"
    assert len(fake_time.sleeps) == 1
    assert 115 <= fake_time.sleeps[0] <= 120  # the date has whole seconds; a little has passed


def test_retry_after_beyond_max_gives_up_at_once(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request(URL_PATH).respond_with_data(
        b"", status=429, headers={"Retry-After": "3600"}
    )
    url = httpserver.url_for(URL_PATH)
    with make_fetcher(fake_time, max_retry_after=300.0) as fetcher, pytest.raises(FetchError) as e:
        fetcher.get(url)
    message = str(e.value)
    assert message.startswith(f"{url}: HTTP 429") and "Retry-After 3600s" in message
    assert "max_retry_after 300s" in message
    assert fake_time.sleeps == []  # never slept an hour, never asked again
    assert len(httpserver.log) == 1


def test_500_500_200_succeeds_on_third_attempt_with_backoff(
    httpserver: HTTPServer, fake_time: FakeTime
):
    for _ in range(2):
        httpserver.expect_oneshot_request(URL_PATH).respond_with_data(b"oops", status=500)
    httpserver.expect_oneshot_request(URL_PATH).respond_with_data(b"fine")
    with make_fetcher(fake_time, backoff_base=1.0) as fetcher:
        outcome = fetcher.get(httpserver.url_for(URL_PATH))
    assert outcome.attempts == 3 and outcome.doc is not None and outcome.doc.body == b"fine"
    # Exponential (1 s, then 2 s) plus up to backoff_base of jitter.
    assert len(fake_time.sleeps) == 2
    assert 1.0 <= fake_time.sleeps[0] <= 2.0
    assert 2.0 <= fake_time.sleeps[1] <= 3.0


def test_retries_exhausted_reports_status_and_attempts(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request(URL_PATH).respond_with_data(b"", status=502)
    url = httpserver.url_for(URL_PATH)
    fetcher = make_fetcher(fake_time, retries=2, backoff_base=0.0)
    with fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert str(info.value) == f"{url}: HTTP 502 (gave up after 3 attempts)"
    assert len(httpserver.log) == 3


@pytest.mark.parametrize("status", [404, 403, 410])
def test_client_errors_are_not_retried(httpserver: HTTPServer, fake_time: FakeTime, status: int):
    httpserver.expect_request(URL_PATH).respond_with_data(b"no", status=status)
    url = httpserver.url_for(URL_PATH)
    with make_fetcher(fake_time) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert str(info.value) == f"{url}: HTTP {status}"
    assert info.value.source == url
    assert len(httpserver.log) == 1 and fake_time.sleeps == []


def test_read_timeout_is_a_fetch_error(httpserver: HTTPServer, fake_time: FakeTime):
    def stall(_request: Request) -> Response:
        time.sleep(0.3)
        return Response(b"late")

    httpserver.expect_request("/stall").respond_with_handler(stall)
    url = httpserver.url_for("/stall")
    fetcher = make_fetcher(fake_time, read_timeout=0.05, retries=0)
    with fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    message = str(info.value)
    assert "timed out" in message and message.startswith(url) and "\n" not in message


def test_connection_refused_is_retried_then_a_fetch_error(fake_time: FakeTime):
    url = f"http://127.0.0.1:{closed_port()}/x"
    fetcher = make_fetcher(fake_time, retries=2, backoff_base=0.0)
    with fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    message = str(info.value)
    assert message.startswith(f"{url}: connection failed") and "3 attempts" in message
    assert "\n" not in message
    assert len(fake_time.sleeps) == 2
    assert not isinstance(info.value.__cause__, httpx.HTTPError)  # wrapped, never leaked


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/x", "http://[::1"])
def test_bad_urls_are_fetch_errors(fake_time: FakeTime, url: str):
    with make_fetcher(fake_time) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert info.value.source == url and "\n" not in str(info.value)


# -- size, time and encoding caps ----------------------------------------------------------


def test_content_length_over_cap_is_rejected(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request("/big").respond_with_data(b"x" * 2000)
    url = httpserver.url_for("/big")
    with make_fetcher(fake_time, max_bytes=1000) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert str(info.value) == f"{url}: response larger than 1000 bytes (Content-Length 2000)"


def test_streamed_body_over_cap_is_aborted_early(httpserver: HTTPServer, fake_time: FakeTime):
    sent = {"chunks": 0}
    total_chunks = 1024  # 64 MiB if the client read it all

    def endless() -> Iterator[bytes]:
        for _ in range(total_chunks):
            sent["chunks"] += 1
            yield b"y" * 65536

    # A generator body has no Content-Length: only the streaming check can stop it.
    httpserver.expect_request("/stream").respond_with_response(Response(endless()))
    url = httpserver.url_for("/stream")
    with make_fetcher(fake_time, max_bytes=100_000) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert str(info.value) == f"{url}: response larger than 100000 bytes"
    assert sent["chunks"] < total_chunks  # the client hung up long before the end


def test_gzip_bomb_is_stopped_at_the_decoded_cap(httpserver: HTTPServer, fake_time: FakeTime):
    bomb = gzip.compress(b"\0" * 10_000_000)  # ~10 KB on the wire
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with make_fetcher(fake_time, max_bytes=1_000_000) as fetcher, pytest.raises(FetchError) as e:
        fetcher.get(httpserver.url_for("/bomb"))
    assert "response larger than 1000000 bytes" in str(e.value)


def test_gzip_body_is_decoded(httpserver: HTTPServer, fake_time: FakeTime):
    payload = b'{"page": {"name": "Example"}}' * 100
    httpserver.expect_request("/gz").respond_with_data(
        gzip.compress(payload), headers={"Content-Encoding": "gzip"}
    )
    with make_fetcher(fake_time) as fetcher:
        outcome = fetcher.get(httpserver.url_for("/gz"))
    assert outcome.doc is not None and outcome.doc.body == payload


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded(httpserver: HTTPServer, fake_time: FakeTime, wbits: int):
    payload = b"<feed>" + b"entry " * 500 + b"</feed>"
    compressor = zlib.compressobj(wbits=wbits)
    body = compressor.compress(payload) + compressor.flush()
    httpserver.expect_request("/deflate").respond_with_data(
        body, headers={"Content-Encoding": "deflate"}
    )
    with make_fetcher(fake_time) as fetcher:
        outcome = fetcher.get(httpserver.url_for("/deflate"))
    assert outcome.doc is not None and outcome.doc.body == payload


@pytest.mark.parametrize(
    "body",
    [gzip.compress(b"hello world " * 1000)[:-12], b"plain text, not gzip at all"],
    ids=["truncated", "not-gzip"],
)
def test_broken_gzip_is_a_clear_fetch_error(
    httpserver: HTTPServer, fake_time: FakeTime, body: bytes
):
    httpserver.expect_request("/broken").respond_with_data(
        body, headers={"Content-Encoding": "gzip"}
    )
    url = httpserver.url_for("/broken")
    with make_fetcher(fake_time) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert str(info.value).startswith(f"{url}: could not decode gzip body")
    assert "\n" not in str(info.value)


def test_unadvertised_content_encoding_is_refused(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request("/br").respond_with_data(
        b"\x1b\x00", headers={"Content-Encoding": "br"}
    )
    with make_fetcher(fake_time) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(httpserver.url_for("/br"))
    assert "unsupported Content-Encoding 'br'" in str(info.value)


def test_slow_drip_body_hits_total_timeout(httpserver: HTTPServer):
    def drip() -> Iterator[bytes]:
        for _ in range(20):
            time.sleep(0.05)
            yield b"."

    httpserver.expect_request("/drip").respond_with_response(Response(drip()))
    url = httpserver.url_for("/drip")
    # Real clock: each byte arrives well inside read_timeout, only the total is exceeded.
    settings = FetchSettings(read_timeout=2.0, total_timeout=0.2, politeness_delay=0.0)
    started = time.monotonic()
    with Fetcher(settings) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert "timed out" in str(info.value) and "total_timeout 0.2s" in str(info.value)
    assert time.monotonic() - started < 0.9  # gave up well before the 1 s drip ended


# -- redirects and politeness --------------------------------------------------------------


def test_redirect_is_followed_and_doc_keeps_requested_url(
    httpserver: HTTPServer, fake_time: FakeTime
):
    httpserver.expect_request("/old").respond_with_data(
        b"", status=301, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_data(b"moved here")
    url = httpserver.url_for("/old")
    with make_fetcher(fake_time) as fetcher:
        outcome = fetcher.get(url)
    assert outcome.doc is not None and outcome.doc.body == b"moved here"
    assert outcome.doc.url == url and outcome.url == url
    assert outcome.final_url == httpserver.url_for("/new")


def test_redirect_loop_is_a_fetch_error(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request("/a").respond_with_data(b"", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data(b"", status=302, headers={"Location": "/a"})
    url = httpserver.url_for("/a")
    with make_fetcher(fake_time, max_redirects=5) as fetcher, pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert str(info.value) == f"{url}: too many redirects"
    assert len(httpserver.log) == 6  # the first request and five redirects, then stop


def test_politeness_delay_between_requests_to_same_host(
    httpserver: HTTPServer, fake_time: FakeTime
):
    httpserver.expect_request("/p").respond_with_data(b"ok")
    with make_fetcher(fake_time, politeness_delay=2.5) as fetcher:
        fetcher.get(httpserver.url_for("/p"))
        assert fake_time.sleeps == []  # first contact: no wait
        fake_time.now += 1.0  # one second of other work
        fetcher.get(httpserver.url_for("/p"))
        assert fake_time.sleeps == [pytest.approx(1.5)]  # only the remainder
        fake_time.now += 10.0
        fetcher.get(httpserver.url_for("/p"))
    assert fake_time.sleeps == [pytest.approx(1.5)]  # long enough ago: no wait
    assert len(httpserver.log) == 3


def test_politeness_is_per_host(fake_time: FakeTime):
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(200, content=b"ok")

    settings = FetchSettings(politeness_delay=5.0)
    transport = httpx.MockTransport(handler)
    with Fetcher(settings, sleep=fake_time.sleep, clock=fake_time.clock, transport=transport) as f:
        f.get("https://status.one.example/api")
        f.get("https://status.two.example/api")
        assert fake_time.sleeps == []  # different hosts do not wait on each other
        f.get("https://status.one.example/history")
    assert fake_time.sleeps == [5.0]
    assert seen == ["status.one.example", "status.two.example", "status.one.example"]


def test_empty_body_labelled_gzip_is_fine(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_request("/empty").respond_with_data(b"", headers={"Content-Encoding": "gzip"})
    with make_fetcher(fake_time) as fetcher:
        outcome = fetcher.get(httpserver.url_for("/empty"))
    assert outcome.doc is not None and outcome.doc.body == b""


def test_unreadable_retry_after_falls_back_to_backoff(httpserver: HTTPServer, fake_time: FakeTime):
    httpserver.expect_oneshot_request(URL_PATH).respond_with_data(
        b"", status=503, headers={"Retry-After": "soon-ish"}
    )
    httpserver.expect_oneshot_request(URL_PATH).respond_with_data(b"ok")
    with make_fetcher(fake_time, backoff_base=0.5) as fetcher:
        outcome = fetcher.get(httpserver.url_for(URL_PATH))
    assert outcome.attempts == 2
    assert len(fake_time.sleeps) == 1 and 0.5 <= fake_time.sleeps[0] <= 1.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 08 Oct 2025 12:00:30 GMT", 30.0),
        ("Wed, 08 Oct 2025 11:00:00 GMT", 0.0),  # in the past: go now
        ("-5", None),
        ("1.5", None),
        ("tomorrow", None),
        ("Wed, 08 Oct " + "9" * 400 + " 12:00:30 GMT", None),  # a year no datetime can hold
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None):
    now = datetime(2025, 10, 8, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(header, now) == expected
