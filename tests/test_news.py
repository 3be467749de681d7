"""News feeds and article pages: parsing, Google News links, and fetching articles from a local
server (HTML, not HTML, too large, paywalled, redirect links)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from scrapers import news, registry
from scrapers.errors import ParseError
from scrapers.fetch import Fetcher, FetchSettings
from scrapers.records import RawDoc

FIX = Path(__file__).resolve().parent / "fixtures" / "signals"
REGISTER_URL = "https://www.theregister.com/2024/06/04/openai_chatgpt_outage/"


def doc(name_or_body: str | bytes, url: str = "https://feeds.example/feed") -> RawDoc:
    body = (FIX / name_or_body).read_bytes() if isinstance(name_or_body, str) else name_or_body
    return RawDoc(body=body, url=url, fetched_at=datetime(2026, 8, 21, tzinfo=UTC))


def fetcher(**settings) -> Fetcher:
    return Fetcher(FetchSettings(politeness_delay=0, retries=0, **settings))


# --------------------------------------------------------------------------- feeds


def test_press_feed_entries_become_signals() -> None:
    parsed = registry.detect((FIX / "register_feed.rss").read_bytes(), "x").parse(
        doc("register_feed.rss"))
    assert parsed.format == "news" and parsed.provider_hint == "signals-news"
    titles = [s.title for s in parsed.signals]
    assert "Millions forced to use brain as OpenAI's ChatGPT takes morning off" in titles
    story = next(s for s in parsed.signals if s.url == REGISTER_URL)
    assert story.source == "news" and story.site == "The Register"
    assert story.created_at == datetime(2024, 6, 4, 16, 38, 2, tzinfo=UTC)


def test_google_news_links_are_decoded_and_publisher_suffix_dropped() -> None:
    parsed = news.parse(doc("google_news.rss"))
    story = next(s for s in parsed.signals if "ChatGPT takes morning off" in s.title)
    assert story.title == "Millions forced to use brain as OpenAI's ChatGPT takes morning off"
    assert story.url == REGISTER_URL  # decoded offline from the article id
    assert story.site == "The Register"
    assert all(not (s.url or "").startswith("https://news.google.com") for s in parsed.signals)


def test_decode_google_news() -> None:
    link = news.decode_google_news(
        "https://news.google.com/rss/articles/CBMiMmh0dHBzOi8vd3d3LnRoZXJlZ2lzdGVyLmNvbS8yMDI"
        "xLzEyLzIyL2F3c19vdXRhZ2UvUgA?oc=5")
    assert link is None or link.startswith("https://www.theregister.com/")
    assert news.decode_google_news(
        "https://news.google.com/rss/articles/AU_yqLOPAQUEtokenWithoutAUrl?oc=5") is None
    assert news.decode_google_news("https://news.google.com/topics/abc") is None


def test_lobsters_entries_keep_their_discussion_page() -> None:
    parsed = news.parse(doc("lobsters.rss", "https://lobste.rs/rss"))
    assert {s.source for s in parsed.signals} == {"lobsters"}
    github = next(s for s in parsed.signals if "GitHub outage on 2026-08-17" in s.title)
    assert github.url == "https://www.githubstatus.com/incidents/zkxwbgr0cnmx"
    assert github.discussion_url.startswith("https://lobste.rs/s/")


def test_registry_sends_a_forum_feed_linking_a_status_incident_to_news() -> None:
    assert registry.detect((FIX / "lobsters.rss").read_bytes(), "x") is news


def test_broken_feed_is_read_as_far_as_it_goes_and_reported() -> None:
    body = (FIX / "register_feed.rss").read_bytes()
    cut = body[: body.index(b"<item>", body.index(b"<item>") + 10) + 200]  # mid third item
    parsed = news.parse(doc(cut))
    assert 1 <= len(parsed.signals) < 4
    assert len(parsed.warnings) == 1 and "malformed" in parsed.warnings[0]
    assert parsed.warnings[0].startswith("https://feeds.example/feed: ")
    assert f"({len(parsed.signals)} entries read)" in parsed.warnings[0]


@pytest.mark.parametrize("body", [b"<rss><<<garbage", b"<rss version='2.0'></rss>"[:9]])
def test_unrecoverable_feed_is_one_line_error(body: bytes) -> None:
    with pytest.raises(ParseError) as error:
        news.parse(doc(body))
    assert str(error.value).startswith("https://feeds.example/feed: ")
    assert "\n" not in str(error.value)


# --------------------------------------------------------------------------- article pages


def test_article_page_reduced_to_title_time_and_lead() -> None:
    assert news.sniff((FIX / "article_register.html").read_bytes())
    (article,) = news.parse(doc("article_register.html", REGISTER_URL + "?utm_source=x")).signals
    assert article.native_id == REGISTER_URL == article.url  # the canonical link wins
    assert article.title.startswith("Millions forced to use brain")
    assert article.created_at == datetime(2024, 6, 4, 16, 38, 2, tzinfo=UTC)
    assert article.text.startswith("Millions forced to use brain")
    for chrome in ("tracking pixel", "Subscribe to our newsletter", "cookie preferences"):
        assert chrome not in article.text
    assert article.notes == ()


def test_paywalled_article_yields_no_text_and_a_note() -> None:
    (article,) = news.parse(doc("article_paywalled.html", REGISTER_URL)).signals
    assert article.text == ""
    assert article.notes == (news.PAYWALL_NOTE,)


def test_plain_html_without_article_markup_is_not_claimed() -> None:
    assert not news.sniff(b"<!doctype html><html><body><p>status page</p></body></html>")


@pytest.mark.parametrize("body", [
    # ../shared/corpus/SOURCES.md, line 17: a placeholder in Markdown, not a root element
    b"# Sources\n* Files were renamed to `<service>_history_<feed-updated-timestamp>.<ext>`\n",
    b"notes: <rss> and <feed> are the two feed formats\n",  # text first: no XML document
])
def test_text_that_mentions_feed_tags_is_not_a_feed(body: bytes) -> None:
    assert not news.sniff(body)


@pytest.mark.parametrize("body", [
    b"\xef\xbb\xbf<?xml version='1.0'?>\n<rss version='2.0'><channel/></rss>",
    b"<!-- generated -->\n<feed xmlns='http://www.w3.org/2005/Atom'/>",
    b"\n  <rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>",
])
def test_feeds_are_still_claimed(body: bytes) -> None:
    assert news.sniff(body)


def test_huge_article_is_refused_in_one_line() -> None:
    body = b"<!doctype html><html><head><meta property='og:type' content='article'>" + \
        b"<p>x</p>" * (news.MAX_ARTICLE_BYTES // 8 + 1)
    with pytest.raises(ParseError, match="larger than"):
        news.parse(doc(body))


def test_fetch_article_html(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data(
        (FIX / "article_register.html").read_bytes(), content_type="text/html; charset=utf-8")
    with fetcher() as f:
        result = news.fetch_article(f, httpserver.url_for("/a"))
    assert result.note is None and result.doc is not None
    assert news.parse(result.doc).signals[0].title.startswith("Millions forced")


def test_fetch_article_not_html(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/report.pdf").respond_with_data(
        b"%PDF-1.7 ...", content_type="application/pdf")
    with fetcher() as f:
        result = news.fetch_article(f, httpserver.url_for("/report.pdf"))
    assert result.doc is None
    assert result.note == "article page is not HTML (application/pdf): feed summary only"


def test_fetch_article_too_large(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(
        b"<html>" + b"x" * 50_000, content_type="text/html")
    with fetcher(max_bytes=10_000) as f:
        result = news.fetch_article(f, httpserver.url_for("/big"))
    assert result.doc is None
    assert "larger than 10000 bytes" in result.note and "feed summary only" in result.note


def test_fetch_article_unreachable(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=410)
    with fetcher() as f:
        result = news.fetch_article(f, httpserver.url_for("/gone"))
    assert result.doc is None and "HTTP 410" in result.note


@pytest.fixture
def google_host(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The local server plays news.google.com."""
    host = f"{httpserver.host}:{httpserver.port}"
    monkeypatch.setattr(news, "_GOOGLE_HOSTS", (host,))
    return host


def test_google_redirect_is_followed_to_the_publisher(httpserver: HTTPServer,
                                                      google_host: str) -> None:
    publisher = f"http://127.0.0.1:{httpserver.port}/2024/06/04/story"
    httpserver.expect_request("/rss/articles/AU_yq1").respond_with_data(
        "", status=302, headers={"Location": publisher})
    httpserver.expect_request("/2024/06/04/story").respond_with_data(
        (FIX / "article_register.html").read_bytes(), content_type="text/html")
    with fetcher() as f:
        result = news.fetch_article(f, httpserver.url_for("/rss/articles/AU_yq1"))
    assert result.resolved == publisher and result.doc.url == publisher


def test_google_interstitial_names_the_publisher(httpserver: HTTPServer,
                                                 google_host: str) -> None:
    publisher = f"http://127.0.0.1:{httpserver.port}/story"
    page = f'<html><body><c-wiz data-n-au="{publisher}"></c-wiz>' \
           f'<a href="https://accounts.google.com/x">x</a></body></html>'
    httpserver.expect_request("/rss/articles/AU_yq2").respond_with_data(
        page, content_type="text/html")
    httpserver.expect_request("/story").respond_with_data(
        (FIX / "article_paywalled.html").read_bytes(), content_type="text/html")
    with fetcher() as f:
        result = news.fetch_article(f, httpserver.url_for("/rss/articles/AU_yq2"))
    assert result.resolved == publisher and result.doc is not None
    assert news.parse(result.doc).signals[0].notes == (news.PAYWALL_NOTE,)


def test_unresolvable_google_link_keeps_the_summary(httpserver: HTTPServer,
                                                    google_host: str) -> None:
    httpserver.expect_request("/rss/articles/AU_yq3").respond_with_data(
        "<html><body><a href='https://www.google.com/'>Google</a></body></html>",
        content_type="text/html")
    with fetcher() as f:
        result = news.fetch_article(f, httpserver.url_for("/rss/articles/AU_yq3"))
    assert result.doc is None and result.note.startswith("Google News link not resolved")
