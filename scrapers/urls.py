"""Status-page URLs: the page's origin (scheme://host) that identifies a provider's page."""

from __future__ import annotations

from urllib.parse import urlsplit


def page_origin(url: str | None) -> str | None:
    """scheme://host of a URL (the status page's base), or None when it has neither."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. "http://[RESOLVED]/": brackets that are no IPv6 address
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"
