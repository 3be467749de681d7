"""The project's one HTTP client: polite, bounded, retrying requests that end in a `RawDoc`.

Every way a request can go wrong (refused, timed out, too large, undecodable, HTTP error
after retries) surfaces as one `FetchError(url, reason)`; no httpx exception escapes.

Bounds, because status pages are third-party servers we do not control:
- connect/read timeouts per socket operation, plus `total_timeout` on the wall clock for the
  whole body, so a server that drips one byte just inside the read timeout cannot hold us;
- `max_bytes` on the *decoded* body, decoded with bounded output (`scrapers.content_coding`).
When an attempt is retried and for how long we wait: `scrapers.retry`.

Besides GET (with optional extra headers, e.g. a bearer token) there are two POSTs for the
few APIs that need one: `post_json` (LLM polish) and `post_form` (an OAuth token request),
both answering the JSON object the server sent, under the same limits and retries.

Conditional GET is hand-written rather than delegated to a cache layer such as hishel: the
raw archive (`scrapers.archive`) already keeps every body content-addressed, so a second
HTTP cache would only duplicate it, and a 304 must surface to the caller as "unchanged, skip
parsing" -- hishel would transparently replay the cached 200, and the pipeline would parse
and compare the same bytes again without knowing that nothing changed.

Untrusted requests: `Fetcher(untrusted=True)` is for URLs that come from third-party content
(article links in feeds, links in payloads). It resolves every host itself, refuses any that
resolves to a loopback, private, link-local (metadata), shared or reserved address
(`scrapers.addresses`), connects to the address it checked, and follows at most
`max_redirects` redirects by hand, checking each hop. A refusal is a `FetchError` whose reason
starts with "refused:". A trusted Fetcher (the default) fetches what the user configured.

A `Fetcher` is not thread-safe; use one per thread.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from scrapers.addresses import AddressCheck, Resolver, refusal, resolve
from scrapers.content_coding import Decoder, TooLarge
from scrapers.errors import FetchError
from scrapers.records import RawDoc
from scrapers.retry import (
    RETRY_AFTER_STATUSES,
    RETRY_STATUSES,
    TRANSIENT_ERRORS,
    Fatal,
    Transient,
    name_unresolved,
    one_line,
    parse_retry_after,
    transport_reason,
)

__all__ = ["FetchOutcome", "FetchSettings", "Fetcher", "Validators"]

_CONDITIONAL = frozenset({"if-none-match", "if-modified-since"})  # header names, lower case
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchSettings:
    """Limits and manners of a `Fetcher`. Times are in seconds."""

    user_agent: str = "outage-kb/0.1 (+https://github.com/outage-kb/outage-kb)"
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0  # wall clock for one request incl. body (defeats slow drips)
    max_bytes: int = 20 * 1024 * 1024  # cap on the DECODED body (gzip bombs)
    retries: int = 3  # extra attempts after the first
    backoff_base: float = 1.0  # first back-off; doubles per retry, plus up to this much jitter
    backoff_max: float = 60.0  # cap on one exponential back-off step
    max_retry_after: float = 300.0  # never sleep longer than this for a Retry-After; fail instead
    politeness_delay: float = 1.0  # min seconds between two requests to the same host
    max_redirects: int = 5


@dataclass(frozen=True)
class Validators:
    """What a previous 200 said about its body, sent back to ask "has it changed?"."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchOutcome:
    """The result of one `Fetcher.get`, retries included."""

    url: str  # as requested
    status: int  # of the final response (after redirects)
    doc: RawDoc | None  # None when not modified (304)
    not_modified: bool
    attempts: int  # requests made, 1 + retries used
    final_url: str | None = None  # where redirects ended; None when unknown


class Fetcher:
    """A synchronous HTTP client with retries, conditional GET, size and time caps, and
    per-host politeness. Use as a context manager, or call `close()`.

    `sleep` and `clock` (monotonic seconds) are injectable so tests can record waits instead
    of waiting; `clock` also measures `total_timeout`. `transport` is passed to httpx.
    `untrusted=True`: every GET is held to `address_check` (see the module docstring);
    `resolver` and `address_check` are injectable so tests on 127.0.0.1 can say which
    addresses count as public.
    """

    def __init__(
        self,
        settings: FetchSettings = FetchSettings(),
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        untrusted: bool = False,
        resolver: Resolver = resolve,
        address_check: AddressCheck = refusal,
    ) -> None:
        self.settings = settings
        self.untrusted = untrusted
        self._resolver = resolver
        self._address_check = address_check
        self._sleep = sleep
        self._clock = clock
        self._last_request: dict[str, float] = {}  # host -> clock() when its last request ended
        self._backoff = wait_exponential(
            multiplier=settings.backoff_base, max=settings.backoff_max
        ) + wait_random(0, settings.backoff_base)
        self._client = httpx.Client(
            headers={
                "User-Agent": settings.user_agent,
                # Only what `Decoder` can undo, whatever optional codecs httpx has installed.
                "Accept-Encoding": "gzip, deflate",
            },
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            transport=transport,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._client.close()

    def get(
        self, url: str, validators: Validators | None = None, *,
        headers: Mapping[str, str] | None = None,
    ) -> FetchOutcome:
        """GET `url`, conditionally when `validators` are given.

        Returns a 200-family outcome with its `RawDoc`, or `not_modified=True` on a 304.
        Raises `FetchError(url, reason)` for everything else, after retries where a retry
        can help (connect errors, timeouts, 429, 500, 502, 503, 504). `headers` are sent
        with every attempt (e.g. `Authorization: bearer ...`) and never appear in errors.
        """
        host = self._host(url)
        sent = dict(headers or {})
        if validators is not None:
            if validators.etag:
                sent["If-None-Match"] = validators.etag
            if validators.last_modified:
                sent["If-Modified-Since"] = validators.last_modified
        return self._retrying(url, host, lambda n: self._attempt(url, sent, n))

    def post_json(
        self, url: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """POST `payload` as JSON and return the JSON object the server answered.

        Same timeouts, size cap, politeness and retry rules as `get` (a POST is retried only
        on the same transient failures; callers use it for idempotent requests such as a
        chat completion). Raises `FetchError(url, reason)` on any failure, including an
        answer that is not a JSON object. `headers` (e.g. Authorization) never appear in
        errors.
        """
        host = self._host(url)
        try:
            content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise FetchError(url, one_line(f"payload is not JSON ({exc})")) from None
        sent = {"Content-Type": "application/json", "Accept": "application/json",
                **(headers or {})}
        outcome = self._retrying(
            url, host, lambda n: self._attempt(url, sent, n, method="POST", content=content)
        )
        return _json_object(url, outcome)

    def post_form(
        self, url: str, data: Mapping[str, str], *, headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST `data` as an HTML form (application/x-www-form-urlencoded) and return the JSON
        object the server answered, as OAuth 2 token endpoints do (RFC 6749 §5.1).

        `auth` is (user, password) for HTTP Basic, e.g. an OAuth client id and secret. Same
        limits, politeness and retry rules as `post_json`, for the same idempotent requests
        (a client-credentials token request may be repeated). Raises `FetchError(url,
        reason)` on any failure; neither `headers` nor `auth` appear in errors.
        """
        host = self._host(url)
        content = urlencode(dict(data)).encode("ascii")
        sent = {"Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json", **(headers or {})}
        basic = httpx.BasicAuth(*auth) if auth is not None else None
        outcome = self._retrying(
            url, host,
            lambda n: self._attempt(url, sent, n, method="POST", content=content, auth=basic),
        )
        return _json_object(url, outcome)

    @staticmethod
    def _host(url: str) -> str:
        try:
            return httpx.URL(url).host.lower()
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchError(str(url), one_line(f"invalid URL ({exc})")) from None

    def _retrying(
        self, url: str, host: str, one: Callable[[int], FetchOutcome]
    ) -> FetchOutcome:
        """Run `one(attempt_no)` with politeness and retries; failures become FetchError."""
        attempts = 0

        def attempt() -> FetchOutcome:
            nonlocal attempts
            attempts += 1
            self._wait_for_host(host)
            try:
                return one(attempts)
            finally:
                self._last_request[host] = self._clock()

        retrying = Retrying(
            stop=stop_after_attempt(self.settings.retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(Transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except Transient as exc:
            tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
            raise FetchError(url, one_line(f"{exc.reason} (gave up after {tries})")) from exc
        except Fatal as exc:
            raise FetchError(url, one_line(exc.reason)) from exc

    def _wait(self, state: RetryCallState) -> float:
        """Back-off before the next attempt: the server's Retry-After when it gave one."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
            return exc.retry_after
        return self._backoff(state)

    def _wait_for_host(self, host: str) -> None:
        last = self._last_request.get(host)
        if last is None:
            return
        remaining = self.settings.politeness_delay - (self._clock() - last)
        if remaining > 0:
            self._sleep(remaining)

    def _attempt(
        self, url: str, headers: dict[str, str], attempt_no: int, *, method: str = "GET",
        content: bytes | None = None, auth: httpx.Auth | None = None,
    ) -> FetchOutcome:
        """One request (redirects included). Raises `Transient` or `Fatal`."""
        started = self._clock()
        conditional = any(name.lower() in _CONDITIONAL for name in headers)
        try:
            if self.untrusted:
                return self._attempt_untrusted(url, headers, attempt_no, method, started,
                                               conditional)
            with self._client.stream(method, url, headers=headers, content=content,
                                     auth=auth) as response:
                return self._read(url, response, conditional, started, attempt_no)
        except TRANSIENT_ERRORS as exc:
            if name_unresolved(exc):
                raise Fatal(f"name not resolved ({exc})") from exc
            raise Transient(transport_reason(exc)) from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise Fatal(transport_reason(exc)) from exc

    def _attempt_untrusted(
        self, url: str, headers: dict[str, str], attempt_no: int, method: str,
        started: float, conditional: bool,
    ) -> FetchOutcome:
        """One request to a URL from third-party content: each hop's host resolved and
        checked, the connection made to the checked address, redirects followed by hand."""
        if method != "GET":
            raise Fatal("refused: only GET is allowed for a URL from third-party content")
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            target, sent, extensions = self._pinned(current, headers)
            with self._client.stream(method, target, headers=sent, extensions=extensions,
                                     follow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status_code in _REDIRECTS and location:
                    current = urljoin(current, location.strip())
                    continue
                return self._read(url, response, conditional, started, attempt_no,
                                  final_url=current)
        raise Fatal(f"refused: more than {self.settings.max_redirects} redirects")

    def _pinned(
        self, url: str, headers: dict[str, str]
    ) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        """The request for `url` aimed at an address that was checked: the URL with the
        address for its host, the Host header and TLS server name of the original host."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise Fatal(one_line(f"invalid URL ({exc})")) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise Fatal(f"refused: {parsed.scheme or 'no'} scheme in a URL from "
                        "third-party content")
        host = parsed.host
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            found = self._resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise Fatal(one_line(f"cannot resolve {host} ({exc})")) from None
        if not found:
            raise Fatal(f"cannot resolve {host}")
        for text in found:
            try:
                address = ipaddress.ip_address(text.split("%")[0])
            except ValueError:
                raise Fatal(f"refused: {host} resolves to {text!r}, no IP address") from None
            why = self._address_check(address)
            if why is not None:
                shown = host if host == str(address) else f"{host} resolves to {address}"
                raise Fatal(f"refused: {shown}, a {why}; a link from third-party content "
                            "may only reach public addresses")
        pinned = parsed.copy_with(host=found[0].split("%")[0])
        sent = {**headers, "Host": parsed.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
        return pinned, sent, extensions

    def _read(
        self,
        url: str,
        response: httpx.Response,
        conditional: bool,
        started: float,
        attempt_no: int,
        final_url: str | None = None,
    ) -> FetchOutcome:
        status = response.status_code
        final_url = final_url or str(response.url)
        if status == 304:
            if not conditional:  # extra headers (a token) do not make a request conditional
                raise Fatal("304 without validators")
            return FetchOutcome(url, status, None, True, attempt_no, final_url)
        if status in RETRY_STATUSES:
            retry_after = None
            if status in RETRY_AFTER_STATUSES:
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), datetime.now(UTC)
                )
                limit = self.settings.max_retry_after
                if retry_after is not None and retry_after > limit:
                    raise Fatal(
                        f"HTTP {status} with Retry-After {retry_after:g}s, "
                        f"more than max_retry_after {limit:g}s"
                    )
            raise Transient(f"HTTP {status}", retry_after)
        if not 200 <= status < 300:
            raise Fatal(f"HTTP {status}")

        body = self._read_body(response, started)
        doc = RawDoc(
            body=body,
            url=url,
            fetched_at=datetime.now(UTC),
            status=status,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        return FetchOutcome(url, status, doc, False, attempt_no, final_url)

    def _read_body(self, response: httpx.Response, started: float) -> bytes:
        """Stream, decode and bound the body; memory never exceeds about `max_bytes`."""
        limit = self.settings.max_bytes
        too_large = f"response larger than {limit} bytes"
        declared = response.headers.get("Content-Length", "")
        # The declared length is of the *encoded* body; decoding only makes it bigger.
        if declared.isdigit() and int(declared) > limit:
            raise Fatal(f"{too_large} (Content-Length {declared})")
        if response.is_stream_consumed:
            # An in-memory response (httpx.MockTransport in tests) arrives already read and
            # decoded by httpx; only the cap is left to apply.
            if len(response.content) > limit:
                raise Fatal(too_large)
            return response.content
        decoder = Decoder(response.headers.get("Content-Encoding"))
        chunks: list[bytes] = []
        size = 0
        try:
            for raw in self._timed(response.iter_raw(), started):
                piece = decoder.decode(raw, limit - size)
                size += len(piece)
                chunks.append(piece)
        except TooLarge:
            raise Fatal(too_large) from None
        decoder.finish()
        return b"".join(chunks)

    def _timed(self, chunks: Iterator[bytes], started: float) -> Iterator[bytes]:
        """Pass chunks through, failing once the wall clock passes `total_timeout`.

        Checked between chunks, so the worst overrun is one `read_timeout`. A slow drip is
        not retried: a server that trickles once will likely trickle again, and each retry
        would cost another full `total_timeout`.
        """
        budget = self.settings.total_timeout
        for chunk in chunks:
            if self._clock() - started > budget:
                raise Fatal(f"timed out: body not complete after total_timeout {budget:g}s")
            yield chunk


def _json_object(url: str, outcome: FetchOutcome) -> dict[str, Any]:
    """The JSON object a POST was answered with; FetchError for anything else."""
    if outcome.doc is None:
        raise FetchError(url, f"unexpected HTTP {outcome.status} without a body")
    try:
        data = json.loads(outcome.doc.body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FetchError(url, one_line(f"answer is not JSON ({exc})")) from None
    if not isinstance(data, dict):
        raise FetchError(url, f"answer is a JSON {type(data).__name__}, not an object")
    return data
