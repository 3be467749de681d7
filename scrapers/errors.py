"""The two failures a scraper reports: a payload that cannot be parsed, a fetch that failed."""

from __future__ import annotations


class ScraperError(Exception):
    """Base class. `str(error)` is one line that names the source and the reason."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ParseError(ScraperError):
    """The payload is not in the format its parser expects (malformed, truncated, wrong type)."""


class UnknownFormat(ParseError):
    """No registered parser recognises the payload; it is reported, never guessed at."""


class FetchError(ScraperError):
    """The network gave no usable answer (timeout, refused, too large, HTTP error after retries)."""
