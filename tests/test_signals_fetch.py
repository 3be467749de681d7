"""`fetch_signals` news path in-process against a local server: a feed, then each article —
readable, paywalled, unreadable — ending as a story with the article's lead or the feed's
summary and a note."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pytest_httpserver import HTTPServer

from kb.config import PACKAGED_SOURCES, load_sources
from kb.pipeline import Line
from kb.signals.config import Feed, load_signal_config
from kb.signals.fetch import FetchPlan, fetch_signals
from kb.signals.stage import relink
from kb.store import Store
from kb.store.signals import signals
from scrapers.addresses import refusal
from scrapers.archive import Archive
from scrapers.fetch import Fetcher, FetchSettings

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "signals"
ITEMS = [("ok", "ChatGPT is down for millions", "The OpenAI chatbot was unavailable."),
         ("paywall", "OpenAI outage hits ChatGPT users", "Feed summary of the paywalled one."),
         ("broken", "ChatGPT outage: what we know", "Feed summary of the broken page."),
         ("quiet", "OpenAI ships a new model", "A product announcement.")]


def public_loopback(settings: FetchSettings) -> Fetcher:
    """The untrusted article fetcher, except that loopback stands in for the public internet
    (the SSRF refusals themselves: tests/test_untrusted_fetch.py)."""
    return Fetcher(settings, untrusted=True,
                   address_check=lambda address: None if address.is_loopback
                   else refusal(address))


def feed(server: HTTPServer) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{server.url_for('/a/' + slug)}</link>"
        f"<guid>{slug}</guid><pubDate>Tue, 04 Jun 2024 16:38:02 +0000</pubDate>"
        f"<description>{summary}</description></item>" for slug, title, summary in ITEMS)
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Local press</title>"
            f"<link>https://press.example</link><description>d</description>{entries}"
            f"</channel></rss>")


def test_articles_enrich_or_annotate_their_feed_items(tmp_path: Path,
                                                      httpserver: HTTPServer) -> None:
    page = (FIX / "article_register.html").read_text()
    httpserver.expect_request("/feed.rss").respond_with_data(
        feed(httpserver), content_type="application/rss+xml")
    httpserver.expect_request("/a/ok").respond_with_data(
        page.replace("https://www.theregister.com/2024/06/04/openai_chatgpt_outage/",
                     httpserver.url_for("/a/ok")), content_type="text/html")
    httpserver.expect_request("/a/paywall").respond_with_data(
        (FIX / "article_paywalled.html").read_text().replace(
            "https://www.theregister.com/2024/06/04/openai_chatgpt_outage/",
            httpserver.url_for("/a/paywall")), content_type="text/html")
    httpserver.expect_request("/a/broken").respond_with_data(
        "<!doctype html><html><head><meta property='og:type' content='article'></head>"
        "<body><article></article></body></html>", content_type="text/html")
    sources = load_sources(PACKAGED_SOURCES)
    config = load_signal_config(PACKAGED_SOURCES, sources)
    config = type(config)(**{**config.__dict__, "feeds": (
        Feed("local", httpserver.url_for("/feed.rss"), "openai"),)})
    store, _ = Store.open(f"sqlite:///{tmp_path / 'kb.db'}", write=True)
    line = Line(store, Archive(tmp_path / "raw"), sources)
    settings = FetchSettings(politeness_delay=0, retries=0)
    plan = FetchPlan(("openai",), datetime(2024, 1, 1, tzinfo=UTC),
                     datetime(2024, 7, 1, tzinfo=UTC), sources=("news",))
    with Fetcher(settings) as fetcher, public_loopback(settings) as articles:
        fetch_signals(line, fetcher, articles, config, plan, settings)
    assert line.report.failures == []  # bad pages are notes, not failures
    warnings = line.report.source("signals-news").warnings
    assert any("broken" in w and "article page unreadable" in w for w in warnings)
    relink(store, config)
    stories = {src.native_id: s for s in signals(store) for src in s.sources}
    ok = stories["ok"]
    assert len(ok.sources) == 2  # the feed item and its article page: one story
    assert ok.title == "Millions forced to use brain as OpenAI's ChatGPT takes morning off"
    assert ok.text.startswith("Millions forced to use brain") and ok.notes == ()
    paywalled = stories["paywall"]
    assert paywalled.text == "Feed summary of the paywalled one."
    assert paywalled.notes == ("paywalled: article text not available, feed summary only",)
    broken = stories["broken"]
    assert broken.text == "Feed summary of the broken page."
    assert broken.notes[0].startswith("article page unreadable")
    requested = {req.path for req, _ in httpserver.log}
    assert "/a/quiet" not in requested  # no outage, no article fetch
    # A second run fetches the feed again (no validators from the server) but no article.
    before = len(httpserver.log)
    with Fetcher(settings) as fetcher, public_loopback(settings) as articles:
        fetch_signals(line, fetcher, articles, config, plan, settings)
    assert [req.path for req, _ in httpserver.log[before:]] == ["/feed.rss"]
    store.close()
