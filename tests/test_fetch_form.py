"""`Fetcher.post_form` and `Fetcher.get(..., headers=...)`: the public API an OAuth client
(scrapers.reddit) needs, against a real HTTP server on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import base64

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from scrapers.errors import FetchError
from scrapers.fetch import Fetcher, FetchSettings, Validators

SECRET = "s3cr3t-value"


def fetcher(sleeps: list[float] | None = None, **overrides: object) -> Fetcher:
    settings = FetchSettings(**{"politeness_delay": 0.0, **overrides})  # type: ignore[arg-type]
    return Fetcher(settings, sleep=(sleeps if sleeps is not None else []).append)


def test_post_form_sends_a_form_with_basic_auth_and_returns_the_object(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "tok", "expires_in": 3600})
    with fetcher() as f:
        answer = f.post_form(httpserver.url_for("/token"),
                             {"grant_type": "client_credentials", "scope": "read é"},
                             headers={"X-Extra": "1"}, auth=("client", SECRET))
    assert answer == {"access_token": "tok", "expires_in": 3600}
    request = httpserver.log[0][0]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form["grant_type"] == "client_credentials"
    assert request.form["scope"] == "read é"
    assert request.headers["X-Extra"] == "1"
    expected = base64.b64encode(f"client:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


def test_post_form_honours_retry_after_and_resends_credentials(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/token").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"})
    httpserver.expect_oneshot_request("/token").respond_with_json({"access_token": "tok"})
    sleeps: list[float] = []
    with fetcher(sleeps, retries=2) as f:
        assert f.post_form(httpserver.url_for("/token"), {"a": "b"}, auth=("id", SECRET)) == {
            "access_token": "tok"}
    assert sleeps == [7.0]
    assert [r.headers.get("Authorization", "")[:6] for r, _ in httpserver.log] == ["Basic "] * 2


@pytest.mark.parametrize(("body", "status", "reason"), [
    ("<html>login</html>", 200, "answer is not JSON"),
    ('"just a string"', 200, "answer is a JSON str, not an object"),
    ('{"error": "invalid_client"}', 401, "HTTP 401"),
])
def test_post_form_failures_are_one_line_without_secrets(
    httpserver: HTTPServer, body: str, status: int, reason: str,
) -> None:
    httpserver.expect_request("/token").respond_with_data(body, status=status)
    url = httpserver.url_for("/token")
    with fetcher(retries=0) as f, pytest.raises(FetchError) as info:
        f.post_form(url, {"grant_type": "x"}, headers={"X-Key": SECRET}, auth=("id", SECRET))
    message = str(info.value)
    assert message.startswith(f"{url}: {reason}")
    assert "\n" not in message and SECRET not in message
    assert len(httpserver.log) == 1  # a 4xx is not retried


def test_post_form_respects_the_size_cap(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/token").respond_with_data('{"a": "' + "x" * 5000 + '"}')
    with fetcher(max_bytes=1000) as f, pytest.raises(FetchError, match="larger than 1000"):
        f.post_form(httpserver.url_for("/token"), {})


def test_get_sends_extra_headers_on_every_attempt(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/search").respond_with_data("busy", status=503)
    httpserver.expect_oneshot_request(
        "/search", headers={"Authorization": "bearer tok"}).respond_with_data(b"found")
    with fetcher(retries=1, backoff_base=0.0) as f:
        outcome = f.get(httpserver.url_for("/search"), headers={"Authorization": "bearer tok"})
    assert outcome.doc is not None and outcome.doc.body == b"found" and outcome.attempts == 2
    assert [r.headers.get("Authorization") for r, _ in httpserver.log] == ["bearer tok"] * 2


def test_extra_headers_combine_with_validators(httpserver: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"' and request.headers.get("X-Token"):
            return Response(status=304)
        return Response(b"body", headers={"ETag": '"v1"'})

    httpserver.expect_request("/p").respond_with_handler(handler)
    with fetcher() as f:
        outcome = f.get(httpserver.url_for("/p"), Validators(etag='"v1"'),
                        headers={"X-Token": "t"})
    assert outcome.not_modified and outcome.doc is None


def test_extra_headers_alone_do_not_make_a_304_acceptable(httpserver: HTTPServer) -> None:
    """A 304 answers a conditional request only; a bearer token is no validator."""
    httpserver.expect_request("/p").respond_with_data(b"", status=304)
    url = httpserver.url_for("/p")
    with fetcher() as f, pytest.raises(FetchError) as info:
        f.get(url, headers={"Authorization": "bearer tok"})
    assert str(info.value) == f"{url}: 304 without validators"
