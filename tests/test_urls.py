"""Status-page origins from URLs, hostile ones included."""

import pytest

from scrapers import statuspage_feed
from scrapers.urls import page_origin


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://status.claude.com/incidents/x", "https://status.claude.com"),
        ("https://status.openai.com//incidents/01ABC", "https://status.openai.com"),
        ("  http://status.parse.com  ", "http://status.parse.com"),
        ("http://[RESOLVED]/", None),  # brackets that are no IPv6 address: no crash
        ("/incidents/abc", None),
        ("", None),
        (None, None),
    ],
)
def test_page_origin(url: str | None, origin: str | None) -> None:
    assert page_origin(url) == origin


def test_other_vendors_feeds_linking_to_incidents_are_not_statuspage() -> None:
    google_like = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
                   b"<title>Google Cloud Service Health Updates</title><entry>"
                   b'<link href="https://status.cloud.google.com/incidents/abc"/></entry></feed>')
    assert not statuspage_feed.sniff(google_like)
