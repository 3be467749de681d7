"""Reddit, the optional source: Listing JSON, app-only OAuth, the RSS fallback, and one line
when neither way in works. Payloads are minimal hand-made examples of the documented shapes
(the corpus holds no reddit data; see tests/fixtures/signals/ORIGIN.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer

from scrapers import news, reddit, registry
from scrapers.fetch import Fetcher, FetchSettings
from scrapers.records import RawDoc

LISTING = {"kind": "Listing", "data": {"after": None, "children": [
    {"kind": "t3", "data": {
        "name": "t3_1abcde", "title": "Claude is down for me too", "author": "someone",
        "subreddit": "ClaudeAI", "created_utc": 1786917145.0, "score": 57, "num_comments": 31,
        "permalink": "/r/ClaudeAI/comments/1abcde/claude_is_down_for_me_too/",
        "url": "https://www.reddit.com/r/ClaudeAI/comments/1abcde/claude_is_down_for_me_too/",
        "is_self": True, "selftext": "Getting 500s since a few minutes."}},
    {"kind": "t3", "data": {
        "name": "t3_2fghij", "title": "Anthropic status page", "author": "other",
        "subreddit": "ClaudeAI", "created_utc": 1786917400, "score": 3, "num_comments": 0,
        "permalink": "/r/ClaudeAI/comments/2fghij/x/", "is_self": False,
        "url": "https://status.claude.com/incidents/qt14v73myyy5"}},
    {"kind": "t1", "data": {"name": "t1_comment", "body": "a comment, not a post"}},
    {"kind": "t3", "data": {"name": "t3_broken"}},
]}}
ATOM = """<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<link rel="alternate" href="https://www.reddit.com/search?q=Claude+outage"/>
<title>reddit.com: search results - Claude outage</title>
<updated>2026-08-16T22:00:00+00:00</updated>
<entry><author><name>/u/someone</name></author><category term="ClaudeAI" label="r/ClaudeAI"/>
<content type="html">&lt;p&gt;Getting 500s&lt;/p&gt;</content><id>t3_1abcde</id>
<link href="https://www.reddit.com/r/ClaudeAI/comments/1abcde/claude_is_down_for_me_too/"/>
<updated>2026-08-16T21:52:25+00:00</updated><published>2026-08-16T21:52:25+00:00</published>
<title>Claude is down for me too</title></entry></feed>"""


def settings() -> FetchSettings:
    return FetchSettings(politeness_delay=0, retries=0)


def config(server: HTTPServer, **extra) -> reddit.RedditConfig:
    return reddit.RedditConfig(subreddits=("ClaudeAI",), web=server.url_for("/web"),
                               oauth_api=server.url_for("/oauth"),
                               token_url=server.url_for("/token"), **extra)


def test_listing_posts_become_signals() -> None:
    body = json.dumps(LISTING).encode()
    assert registry.detect(body, "x") is reddit
    parsed = reddit.parse(RawDoc(body=body, url="https://oauth.reddit.com/search",
                                 fetched_at=datetime.now(UTC)))
    first, link = parsed.signals
    assert (first.source, first.native_id, first.points, first.comments) == (
        "reddit", "t3_1abcde", 57, 31)
    assert first.url is None and first.discussion_url.endswith("/claude_is_down_for_me_too/")
    assert first.created_at == datetime(2026, 8, 16, 21, 52, 25, tzinfo=UTC)
    assert first.site == "r/ClaudeAI" and first.text.startswith("Getting 500s")
    assert link.url == "https://status.claude.com/incidents/qt14v73myyy5"
    assert parsed.warnings == ("https://oauth.reddit.com/search: post #3 has no id or title, "
                               "skipped",)


def test_oauth_when_credentials_work(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "tok", "token_type": "bearer", "expires_in": 86400})
    httpserver.expect_request("/oauth/r/ClaudeAI/search",
                              headers={"Authorization": "bearer tok"}).respond_with_json(LISTING)
    cfg = config(httpserver, client_id="id", client_secret="secret")
    with Fetcher(settings()) as fetcher:
        results = list(reddit.crawl(fetcher, cfg, ["Claude outage"], settings=settings()))
    assert [r.error for r in results] == [None]
    assert len(reddit.parse(results[0].doc).signals) == 2
    token_request = httpserver.log[0][0]
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.form["grant_type"] == "client_credentials"


def test_rss_when_no_credentials(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/web/r/ClaudeAI/search.rss").respond_with_data(
        ATOM, content_type="application/atom+xml")
    with Fetcher(settings()) as fetcher:
        results = list(reddit.crawl(fetcher, config(httpserver), ["Claude outage"],
                                    settings=settings()))
    (fetched,) = results
    (post,) = news.parse(fetched.doc).signals
    assert post.source == "reddit" and post.native_id == "t3_1abcde"
    assert post.discussion_url.endswith("/claude_is_down_for_me_too/")


@pytest.mark.parametrize("with_credentials", [True, False])
def test_neither_way_in_is_said_once(httpserver: HTTPServer, with_credentials: bool) -> None:
    httpserver.expect_request("/token").respond_with_data("no", status=401)
    httpserver.expect_request("/web/r/ClaudeAI/search.rss").respond_with_data("no", status=403)
    extra = {"client_id": "id", "client_secret": "bad"} if with_credentials else {}
    with Fetcher(settings()) as fetcher:
        results = list(reddit.crawl(fetcher, config(httpserver, **extra),
                                    ["Claude outage", "Anthropic outage"], settings=settings()))
    (line,) = [r.error for r in results]
    assert line.startswith("reddit: skipped, neither way in works (")
    assert "RSS: HTTP 403" in line
    assert ("OAuth: token request: HTTP 401" in line) is with_credentials
    # One request for RSS, not one per query: the way in is closed.
    assert sum(1 for req, _ in httpserver.log if req.path.endswith(".rss")) == 1


def test_oauth_goes_through_the_callers_fetcher_with_its_retries(httpserver: HTTPServer) -> None:
    """The token request and the searches use the given Fetcher (its retry rules and its
    injected sleep), not a second client: a 503 with Retry-After on the token is waited out."""
    httpserver.expect_oneshot_request("/token", method="POST").respond_with_data(
        "busy", status=503, headers={"Retry-After": "3"})
    httpserver.expect_oneshot_request("/token", method="POST").respond_with_json(
        {"access_token": "tok2"})
    httpserver.expect_request("/oauth/r/ClaudeAI/search",
                              headers={"Authorization": "bearer tok2"}).respond_with_json(LISTING)
    sleeps: list[float] = []
    cfg = config(httpserver, client_id="id", client_secret="secret")
    with Fetcher(FetchSettings(politeness_delay=0, retries=1), sleep=sleeps.append) as fetcher:
        results = list(reddit.crawl(fetcher, cfg, ["Claude outage", "Anthropic outage"]))
    assert [r.error for r in results] == [None, None]
    assert sleeps == [3.0]
    paths = [request.path for request, _ in httpserver.log]
    assert paths == ["/token", "/token", "/oauth/r/ClaudeAI/search", "/oauth/r/ClaudeAI/search"]
