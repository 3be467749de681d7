"""When one HTTP attempt of `scrapers.fetch.Fetcher` is worth repeating, and how long to wait.

An attempt ends in a response, a `Transient` failure (try again: 429, 5xx, refused, timed out)
or a `Fatal` one (no retry will fix it). Retry-After is read here; the retry loop itself is
tenacity's, driven by the Fetcher. Internal to the fetcher: callers only ever see FetchError.
"""

from __future__ import annotations

import email.utils
import re
import socket
from datetime import UTC, datetime

import httpx

__all__ = [
    "RETRY_AFTER_STATUSES", "RETRY_STATUSES", "TRANSIENT_ERRORS", "Fatal", "Transient",
    "name_unresolved", "one_line", "parse_retry_after", "transport_reason",
]

# Statuses that say "try again later" rather than "no".
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Only these two define Retry-After as a back-off hint (RFC 9110 §10.2.3).
RETRY_AFTER_STATUSES = frozenset({429, 503})
# Transport failures worth another attempt: the next one may well succeed.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,  # connect refused/reset, read/write errors
    httpx.RemoteProtocolError,  # server hung up mid-response
)


class Transient(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Fatal(Exception):
    """One attempt failed in a way no retry will fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split()) or "unknown error"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent
    or unreadable, in which case the normal back-off applies."""
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # Overflow: a 100-digit year
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def name_unresolved(exc: BaseException) -> bool:
    """True when a transport error comes from a failed name lookup (socket.gaierror): no
    network or no such host. Not retried: back-offs do not bring a resolver back (offline,
    retrying each request's DNS cost a signals fetch 59 s)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, socket.gaierror):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def transport_reason(exc: Exception) -> str:
    """A short reason for an httpx failure, without the request's headers."""
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
