"""The project's one HTTP client: polite, bounded, retrying GETs that end in a `RawDoc`.

Every way a request can go wrong (refused, timed out, too large, undecodable, HTTP error
after retries) surfaces as one `FetchError(url, reason)`; no httpx exception escapes.

Bounds, because status pages are third-party servers we do not control:
- connect/read timeouts per socket operation, plus `total_timeout` on the wall clock for the
  whole body, so a server that drips one byte just inside the read timeout cannot hold us;
- `max_bytes` on the *decoded* body. Content-Encoding is decoded here (not by httpx) with a
  bounded `zlib` output size per step, so a gzip bomb is stopped after at most `max_bytes`
  of output rather than after inflating a whole network chunk, and a truncated gzip stream
  is an error instead of a silently shortened body.

Conditional GET is hand-written rather than delegated to a cache layer such as hishel: the
raw archive (`scrapers.archive`) already keeps every body content-addressed, so a second
HTTP cache would only duplicate it, and a 304 must surface to the caller as "unchanged, skip
parsing" -- hishel would transparently replay the cached 200, and the pipeline would parse
and compare the same bytes again without knowing that nothing changed.

A `Fetcher` is not thread-safe; use one per thread.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from scrapers.errors import FetchError
from scrapers.records import RawDoc

__all__ = ["FetchOutcome", "FetchSettings", "Fetcher", "Validators"]

# Statuses that say "try again later" rather than "no".
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Only these two define Retry-After as a back-off hint (RFC 9110 §10.2.3).
_RETRY_AFTER_STATUSES = frozenset({429, 503})
# Transport failures worth another attempt: the next one may well succeed.
_TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,  # connect refused/reset, read/write errors
    httpx.RemoteProtocolError,  # server hung up mid-response
)


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


class _Transient(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Fatal(Exception):
    """One attempt failed in a way no retry will fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _TooLarge(Exception):
    """The decoded body would pass `max_bytes`."""


class _Decoder:
    """Undoes Content-Encoding (identity, gzip, deflate) with bounded output per call."""

    def __init__(self, content_encoding: str | None) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise _Fatal(f"unsupported Content-Encoding {content_encoding!r}")
        self.name = codings[0] if codings else "identity"
        self._raw_deflate_tried = False
        self._fed = False  # an empty body is fine whatever its Content-Encoding says
        if self.name in ("gzip", "x-gzip"):
            self._obj: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.name == "deflate":
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        elif self.name == "identity":
            self._obj = None
        else:
            # We only advertise gzip and deflate, so anything else (br, zstd, ...) is a
            # server that ignored Accept-Encoding; guessing would hand garbage to parsers.
            raise _Fatal(f"unsupported Content-Encoding {self.name!r}")

    def decode(self, data: bytes, budget: int) -> bytes:
        """Decode one raw chunk; raise `_TooLarge` if it yields more than `budget` bytes."""
        if self._obj is None:
            if len(data) > budget:
                raise _TooLarge
            return data
        out = bytearray()
        pending = data
        self._fed = self._fed or bool(data)
        while pending:
            try:
                # max_length caps what zlib may inflate now: a bomb stops at budget + 1.
                piece = self._obj.decompress(pending, budget - len(out) + 1)
            except zlib.error as exc:
                if self.name == "deflate" and not self._raw_deflate_tried and not out:
                    # Some servers send raw DEFLATE without the zlib wrapper RFC 9110 asks for.
                    self._raw_deflate_tried = True
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise _Fatal(f"could not decode {self.name} body ({exc})") from exc
            if piece:  # output means the header was accepted: the format is settled
                self._raw_deflate_tried = True
            out += piece
            if len(out) > budget:
                raise _TooLarge
            pending = self._obj.unconsumed_tail
            if not piece and pending:  # no progress: never spin
                raise _Fatal(f"could not decode {self.name} body (stalled)")
        return bytes(out)

    def finish(self) -> None:
        """Check that the compressed stream ended properly (catches truncated bodies)."""
        if self._obj is not None and self._fed and not self._obj.eof:
            raise _Fatal(f"could not decode {self.name} body (truncated stream)")


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def _parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent
    or unreadable, in which case the normal back-off applies."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _transport_reason(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        what = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "connection pool",
        }.get(type(exc), "request")
        return f"{what} timed out"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({exc})"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL ({exc})"
    return f"{type(exc).__name__}: {exc}"


class Fetcher:
    """A synchronous HTTP client with retries, conditional GET, size and time caps, and
    per-host politeness. Use as a context manager, or call `close()`.

    `sleep` and `clock` (monotonic seconds) are injectable so tests can record waits instead
    of waiting; `clock` also measures `total_timeout`. `transport` is passed to httpx.
    """

    def __init__(
        self,
        settings: FetchSettings = FetchSettings(),
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._last_request: dict[str, float] = {}  # host -> clock() when its last request ended
        self._backoff = wait_exponential(
            multiplier=settings.backoff_base, max=settings.backoff_max
        ) + wait_random(0, settings.backoff_base)
        self._client = httpx.Client(
            headers={
                "User-Agent": settings.user_agent,
                # Only what `_Decoder` can undo, whatever optional codecs httpx has installed.
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

    def get(self, url: str, validators: Validators | None = None) -> FetchOutcome:
        """GET `url`, conditionally when `validators` are given.

        Returns a 200-family outcome with its `RawDoc`, or `not_modified=True` on a 304.
        Raises `FetchError(url, reason)` for everything else, after retries where a retry
        can help (connect errors, timeouts, 429, 500, 502, 503, 504).
        """
        try:
            host = httpx.URL(url).host.lower()
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchError(str(url), _one_line(f"invalid URL ({exc})")) from None
        headers: dict[str, str] = {}
        if validators is not None:
            if validators.etag:
                headers["If-None-Match"] = validators.etag
            if validators.last_modified:
                headers["If-Modified-Since"] = validators.last_modified

        return self._retrying(url, host, lambda n: self._attempt(url, headers, n))

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
        try:
            host = httpx.URL(url).host.lower()
        except (httpx.InvalidURL, TypeError) as exc:
            raise FetchError(str(url), _one_line(f"invalid URL ({exc})")) from None
        try:
            content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise FetchError(url, _one_line(f"payload is not JSON ({exc})")) from None
        sent = {"Content-Type": "application/json", "Accept": "application/json",
                **(headers or {})}
        outcome = self._retrying(
            url, host, lambda n: self._attempt(url, sent, n, method="POST", content=content)
        )
        if outcome.doc is None:
            raise FetchError(url, f"unexpected HTTP {outcome.status} without a body")
        try:
            data = json.loads(outcome.doc.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise FetchError(url, _one_line(f"answer is not JSON ({exc})")) from None
        if not isinstance(data, dict):
            raise FetchError(url, f"answer is a JSON {type(data).__name__}, not an object")
        return data

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
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Transient as exc:
            tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
            raise FetchError(url, _one_line(f"{exc.reason} (gave up after {tries})")) from exc
        except _Fatal as exc:
            raise FetchError(url, _one_line(exc.reason)) from exc

    def _wait(self, state: RetryCallState) -> float:
        """Back-off before the next attempt: the server's Retry-After when it gave one."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
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
        content: bytes | None = None,
    ) -> FetchOutcome:
        """One request (redirects included). Raises `_Transient` or `_Fatal`."""
        started = self._clock()
        try:
            with self._client.stream(method, url, headers=headers, content=content) as response:
                return self._read(url, response, headers, started, attempt_no)
        except _TRANSIENT_ERRORS as exc:
            raise _Transient(_transport_reason(exc)) from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise _Fatal(_transport_reason(exc)) from exc

    def _read(
        self,
        url: str,
        response: httpx.Response,
        sent: dict[str, str],
        started: float,
        attempt_no: int,
    ) -> FetchOutcome:
        status = response.status_code
        final_url = str(response.url)
        if status == 304:
            if not sent:
                raise _Fatal("304 without validators")
            return FetchOutcome(url, status, None, True, attempt_no, final_url)
        if status in _RETRY_STATUSES:
            retry_after = None
            if status in _RETRY_AFTER_STATUSES:
                retry_after = _parse_retry_after(
                    response.headers.get("Retry-After"), datetime.now(UTC)
                )
                limit = self.settings.max_retry_after
                if retry_after is not None and retry_after > limit:
                    raise _Fatal(
                        f"HTTP {status} with Retry-After {retry_after:g}s, "
                        f"more than max_retry_after {limit:g}s"
                    )
            raise _Transient(f"HTTP {status}", retry_after)
        if not 200 <= status < 300:
            raise _Fatal(f"HTTP {status}")

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
            raise _Fatal(f"{too_large} (Content-Length {declared})")
        if response.is_stream_consumed:
            # An in-memory response (httpx.MockTransport in tests) arrives already read and
            # decoded by httpx; only the cap is left to apply.
            if len(response.content) > limit:
                raise _Fatal(too_large)
            return response.content
        decoder = _Decoder(response.headers.get("Content-Encoding"))
        chunks: list[bytes] = []
        size = 0
        try:
            for raw in self._timed(response.iter_raw(), started):
                piece = decoder.decode(raw, limit - size)
                size += len(piece)
                chunks.append(piece)
        except _TooLarge:
            raise _Fatal(too_large) from None
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
                raise _Fatal(f"timed out: body not complete after total_timeout {budget:g}s")
            yield chunk
