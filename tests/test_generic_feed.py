"""The fallback status-feed parser: Azure's RSS (reconstructed), documented phase markers,
refusal of feeds that are not status feeds, and hostile payloads."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line, ingest
from kb.serialize import incident_to_dict
from kb.store import Store
from scrapers import generic_feed, incidentio_feed, registry, statuspage_feed
from scrapers.archive import Archive
from scrapers.errors import ParseError
from tests.conftest import recorded

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "generic_feed"
FEEDS = ROOT / "tests" / "fixtures" / "feeds"
FETCHED = datetime(2025, 10, 29, 17, 0, tzinfo=UTC)
AZURE = "https://azure.status.microsoft/en-us/status/feed/"


doc = recorded(AZURE, FETCHED)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_azure_feed_exact_record() -> None:
    body = (FIX / "azure_status_20251029T1658Z_reconstructed.rss").read_bytes()
    assert registry.detect(body, "azure") is generic_feed
    parsed = generic_feed.parse(doc(body))
    assert parsed.format == "generic_feed"
    assert (parsed.page.name, parsed.page.url) == ("Azure Status", "https://azure.status.microsoft")
    assert parsed.as_of == utc("2025-10-29T16:58:00")
    # Azure writes no phase word: said once, for the whole document
    assert parsed.warnings == (
        "1 of 1 entries state no phase word; their phase is left to text inference",)
    (record,) = parsed.incidents
    assert (record.native_id, record.title, record.channel, record.kind) == (
        "YKYN-BWZ", "Azure Portal Access Issues", "generic_feed", "incident")
    assert (record.url, record.page_url, record.status) == (
        "https://azure.status.microsoft/en-us/status", "https://azure.status.microsoft", None)
    assert record.updates_complete is False
    (update,) = record.updates
    assert (update.at, update.label, update.body_format, update.native_id) == (
        utc("2025-10-29T16:57:00"), "", "html", "YKYN-BWZ")
    assert update.body.startswith("<p><strong>Azure Portal Access Issues</strong></p><p>Starting")
    assert update.body.endswith("<p>This message was last updated at 16:57 UTC on 29 October "
                                "2025</p>")


def test_quiet_azure_feed_is_an_empty_status_document() -> None:
    parsed = generic_feed.parse(doc((FIX / "azure_status_empty.rss").read_bytes()))
    assert parsed.incidents == () and parsed.warnings == ()
    assert parsed.page.url == "https://azure.status.microsoft"


def test_documented_phase_markers() -> None:
    body = (FIX / "phase_words.atom").read_bytes()
    assert registry.detect(body, "x") is generic_feed
    parsed = generic_feed.parse(doc(body, "https://status.example-cloud.test/feed.atom"))
    records = {r.native_id: r for r in parsed.incidents}
    assert [(u.label, u.at) for u in records["inc-101"].updates] == [
        ("Identified", utc("2026-03-04T10:05:00")), ("RESOLVED", utc("2026-03-04T11:30:00"))]
    assert records["inc-101"].title == "Elevated API errors in eu-west"  # mark stripped
    assert records["inc-101"].status == "resolved"
    assert [u.label for u in records["inc-102"].updates] == ["Resolved"]
    assert [u.label for u in records["inc-103"].updates] == [""]
    assert parsed.warnings == (
        "1 of 4 entries state no phase word; their phase is left to text inference",)


@pytest.mark.parametrize("title, content, word", [
    ("Login failures", "<p><strong>Resolved</strong> - all good</p>", "Resolved"),
    ("Login failures", "<b>Status: Identified</b><br/>found it", "Identified"),
    ("Login failures", "Status: Monitoring. A fix is out.", "Monitoring"),
    ("[RESOLVED] Login failures", "", "RESOLVED"),
    ("Mitigated - Storage errors", "", "Mitigated"),
    ("Resolved: Storage errors", "", "Resolved"),
    ("Login failures", "<p><strong>Impact</strong> users could not log in</p>", None),
    ("Resolving the mystery of slow builds", "", None),
])
def test_phase_word(title: str, content: str, word: str | None) -> None:
    assert generic_feed.phase_word(title, content) == word


@pytest.mark.parametrize("name", ["blog_not_status.rss", "news_about_outages.rss"])
def test_feeds_that_are_not_status_feeds_are_refused(name: str) -> None:
    body = (FIX / name).read_bytes()
    assert generic_feed.sniff(body) is False
    with pytest.raises(ParseError) as caught:
        generic_feed.parse(doc(body, f"file:///{name}"))
    assert "not a status feed" in str(caught.value) and "\n" not in str(caught.value)


def test_never_claims_statuspage_or_incidentio_feeds() -> None:
    checked = 0
    for path in sorted(FEEDS.iterdir()):
        body = path.read_bytes()
        if statuspage_feed.sniff(body) or incidentio_feed.sniff(body):
            assert generic_feed.sniff(body) is False, path.name
            checked += 1
    assert checked >= 2
    # nor one whose marks survive a sniff-defeating edit (no "/incidents/" in its head)
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>X Status - Incident History'
            b'</title><id>tag:status.x.test,2005:/history</id><entry><id>tag:status.x.test,'
            b'2005:Incident/1</id><title>Outage</title><updated>2026-01-01T00:00:00Z</updated>'
            b'<content>Resolved outage</content></entry></feed>')
    assert generic_feed.sniff(atom) is False


def test_unknown_format_is_reported_as_such() -> None:
    with pytest.raises(ParseError, match="not an RSS/Atom feed"):
        generic_feed.parse(doc(b"<html><body>Status: down</body></html>"))
    with pytest.raises(ParseError, match="unknown format"):
        registry.detect(b"\x00\x01binary junk", "junk.bin")


def test_ids_without_guid_fall_back_to_links_then_hash() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Acme Status</title>
    <link>https://status.acme.test/</link>
    <item><title>Investigating - API outage</title><link>https://status.acme.test/i/1</link>
    <pubDate>Mon, 02 Mar 2026 09:00:00 GMT</pubDate><description>errors</description></item>
    <item><title>Resolved - DB outage</title><link>https://status.acme.test/i/2</link>
    <pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate><description>fixed</description></item>
    </channel></rss>"""
    parsed = generic_feed.parse(doc(body, "https://status.acme.test/feed.rss"))
    ids = [r.native_id for r in parsed.incidents]
    assert len(set(ids)) == 2 and all(i.startswith("h") and "/" not in i for i in ids)
    again = generic_feed.parse(doc(body, "https://status.acme.test/feed.rss"))
    assert [r.native_id for r in again.incidents] == ids  # stable across runs
    assert [r.title for r in parsed.incidents] == ["API outage", "DB outage"]


def test_azure_import_marks_the_inferred_phase(tmp_path: Path) -> None:
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), load_sources(PACKAGED_SOURCES))
    report = ingest(line, [FIX / "azure_status_20251029T1658Z_reconstructed.rss"])
    assert report.failures == []
    data = incident_to_dict(store.get("azure/YKYN-BWZ"))
    (update,) = data["updates"]
    assert update["phase_inferred"] is True
    assert update["phase"] == "investigating"  # "Our investigation ... continues"
    assert data["updates_complete"] is False


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        generic_feed.parse(doc(body))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.text(max_size=80))
def test_arbitrary_item_text_raises_only_parse_error(content: str, title: str) -> None:
    from xml.sax.saxutils import escape

    body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Azure Status</title><item><guid>x1</guid><title>{escape(title)}</title>"
            f"<description>{escape(content)}</description>"
            f"<pubDate>Wed, 29 Oct 2025 16:57:00 Z</pubDate></item></channel></rss>")
    with contextlib.suppress(ParseError):
        generic_feed.parse(doc(body.encode("utf-8", "surrogatepass")))


def test_a_link_that_is_no_url_costs_nothing() -> None:
    # found by mutating phase_words.atom: urlsplit raises ValueError on "http://[RESOLVED]/"
    body = (FIX / "phase_words.atom").read_bytes().replace(
        b'href="https://status.example-cloud.test/"', b'href="http://[RESOLVED]/"')
    parsed = generic_feed.parse(doc(body, "file:///phase_words.atom"))
    assert parsed.page.url is None and len(parsed.incidents) == 3


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 300), st.binary(max_size=16))
def test_mutated_fixture_raises_only_parse_error(at: int, span: int, junk: bytes) -> None:
    seed = (FIX / "phase_words.atom").read_bytes()
    start = at % len(seed)
    with contextlib.suppress(ParseError):
        generic_feed.parse(doc(seed[:start] + junk + seed[start + span:]))
