"""The knowledge base's own Atom feeds (kb/render/feeds.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser

from kb.model import Component, Incident, Kind, Lifecycle, Phase, Severity, Update
from kb.render import feeds

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def make(n: int, title: str = "", text: str = "all good", url: str | None = None) -> Incident:
    at = T0 + timedelta(hours=n)
    return Incident(
        provider="acme", native_id=f"i{n:03d}", title=title or f"Incident {n}",
        kind=Kind.INCIDENT, status="resolved", severity=Severity.MINOR,
        url=url or f"https://status.acme.test/incidents/i{n:03d}",
        components=(Component("API"),),
        lifecycle=Lifecycle(first_post_at=at, resolved_at=at + timedelta(minutes=30)),
        updates=(Update(at, Phase.INVESTIGATING, "Investigating", "x", "looking"),
                 Update(at + timedelta(minutes=30), Phase.RESOLVED, "Resolved", text, text)),
    )


def page(incident: Incident) -> str:
    return f"../incidents/{incident.provider}/{incident.native_id}/"


def build(items: list[Incident]) -> bytes:
    return feeds.atom(items, name="acme", title="Acme", page_url="../providers/acme/",
                      page_path=page)


def test_feed_carries_the_newest_entries_with_links_to_their_pages() -> None:
    items = [make(n) for n in range(feeds.ENTRIES + 10)]
    parsed = feedparser.parse(build(items))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == feeds.ENTRIES
    newest = items[-1]
    first = parsed.entries[0]
    assert first.title == f"[acme] {newest.title}"
    assert first.link == page(newest)
    assert first.id == "urn:outage-kb:incident:acme/i059"
    assert "looking" not in first.summary and "all good" in first.summary
    assert [t.term for t in first.tags] == ["API"]
    assert parsed.feed.updated.startswith("2026-09-03T")  # the newest activity, not "now"


def test_feed_is_a_pure_function_of_the_incidents() -> None:
    items = [make(n) for n in range(5)]
    assert build(items) == build(list(reversed(items)))


def test_hostile_text_stays_text_and_the_xml_stays_valid() -> None:
    hostile = '<script>alert(1)</script> ]]> &amp; \x00\x01\x1b \ud800 \u202eevil'
    items = [make(1, title=hostile, text=hostile, url="javascript:alert(2)")]
    data = build(items)
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    entry = parsed.entries[0]
    assert "<script>alert(1)</script>" in entry.title  # shown as text, escaped in the XML
    assert b"<script>" not in data
    assert "[U+202E]evil" in entry.summary
    assert b"javascript:" not in data  # a non-http link is dropped, not published
    assert all(link.href != "javascript:alert(2)" for link in entry.links)
