"""Hacker News through the Algolia API: parsing recorded responses, and the crawler against a
local server that serves them (paging, time slicing, a 429 with Retry-After)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from scrapers import hackernews, registry
from scrapers.errors import ParseError
from scrapers.fetch import Fetcher, FetchSettings
from tests.conftest import recorded

FIX = Path(__file__).resolve().parent / "fixtures" / "signals"
PAGES = sorted(FIX.glob("algolia_search_page*.json"))


doc = recorded("https://hn.algolia.com/api/v1/search_by_date?q", datetime(2026, 8, 21, tzinfo=UTC))


def recorded_hits() -> list[dict]:
    return [hit for page in PAGES for hit in json.loads(page.read_bytes())["hits"]]


# --------------------------------------------------------------------------- parsing


def test_search_page_gives_one_signal_per_story_with_exact_times() -> None:
    parsed = hackernews.parse(doc(PAGES[0].read_bytes()))
    assert parsed.format == "hackernews" and parsed.provider_hint == "signals-hackernews"
    assert parsed.warnings == ()
    by_id = {s.native_id: s for s in parsed.signals}
    assert len(by_id) == len(json.loads(PAGES[0].read_bytes())["hits"]) == 8
    story = by_id["49330632"]
    assert story.title == "GitHub down again? no PR access"
    assert story.created_at == datetime(2026, 8, 17, 13, 37, 28, tzinfo=UTC)
    assert story.url is None  # an HN text post: the thread is the story
    assert story.discussion_url == "https://news.ycombinator.com/item?id=49330632"
    late = by_id["49378957"]
    assert late.url.startswith("https://github.blog/") and late.source == "hackernews"
    points = by_id["49330684"]
    assert points.points == 714 and points.comments == 2


def test_item_thread_keeps_points_comment_count_and_top_comments() -> None:
    parsed = hackernews.parse(doc((FIX / "algolia_item_45200118.json").read_bytes()))
    (story,) = parsed.signals
    assert story.native_id == "45200118" and story.points == 160
    assert story.comments == 4
    assert story.top_comments[0].startswith("Everyone will just have to learn how to do it")
    assert all("<p>" not in c for c in story.top_comments)


def test_sniff_claims_algolia_payloads_and_nothing_else() -> None:
    assert registry.detect(PAGES[0].read_bytes(), "x") is hackernews
    assert registry.detect((FIX / "algolia_item_45200118.json").read_bytes(), "x") is hackernews
    statuspage = (FIX / "anthropic_incidents_slice.json").read_bytes()
    assert not hackernews.sniff(statuspage)
    assert registry.detect(statuspage, "x").NAME != "hackernews"


def test_hostile_hits_cost_one_hit_each() -> None:
    body = json.dumps({"hits": [
        {"objectID": "1", "title": "GitHub is down", "created_at_i": 1755000000},
        {"objectID": "2"},  # no title
        {"objectID": "x3", "title": "not numeric"},
        "not an object",
        {"objectID": "4", "comment_text": "a comment hit", "_tags": ["comment"]},
        {"objectID": "5", "title": "<b>Claude</b> down", "created_at_i": 10 ** 20,
         "points": True, "num_comments": "12"},
    ], "nbHits": 6, "page": 0, "nbPages": 1, "hitsPerPage": 20}).encode()
    parsed = hackernews.parse(doc(body))
    assert [s.native_id for s in parsed.signals] == ["1", "5"]
    assert len(parsed.warnings) == 3  # the comment hit is skipped silently
    assert all(w.startswith("https://hn.algolia.com/") for w in parsed.warnings)
    odd = parsed.signals[1]
    assert odd.created_at is None and odd.points is None and odd.comments == 12


@pytest.mark.parametrize(("body", "reason"), [
    (b"<html><body>Too Many Requests</body></html>", "expected JSON, got HTML"),
    (b'{"hits": {"a": 1}}', "'hits' is not a list"),
    (b'{"id": 5, "type": "comment", "children": []}', "not a story"),
    (b"", "empty body"),
    (b'{"hits": [', "malformed JSON"),
])
def test_unusable_payloads_are_one_line_errors(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as error:
        hackernews.parse(doc(body))
    assert reason in str(error.value) and "\n" not in str(error.value)


def test_deep_threads_are_counted_without_recursion() -> None:
    node: dict = {"id": 99, "type": "comment", "author": "z", "text": "deepest", "children": []}
    for depth in range(25):  # 25 levels: within the JSON depth limit, deeper than most threads
        node = {"id": depth, "type": "comment", "author": "a", "text": "reply",
                "children": [node]}
    item = {"id": 7, "type": "story", "title": "GitHub is down", "created_at_i": 1755000000,
            "children": [node, {"id": 8, "type": "comment", "author": None, "text": None,
                                "children": []}]}
    (story,) = hackernews.parse(doc(json.dumps(item).encode())).signals
    assert story.comments == 26  # the deleted comment (no author, no text) is not counted
    assert story.top_comments == ("reply",)


# --------------------------------------------------------------------------- crawling


class RecordedAlgolia:
    """Serves the recorded hits like the API: numericFilters on created_at_i, paging, nbHits."""

    def __init__(self, hits: list[dict], throttle_first: int = 0) -> None:
        self.hits = hits
        self.requests: list[dict[str, str]] = []
        self.throttle = throttle_first

    def __call__(self, request: Request) -> Response:
        if self.throttle:
            self.throttle -= 1
            return Response("slow down", status=429, headers={"Retry-After": "7"})
        args = {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}
        self.requests.append(args)
        low, high = 0, 2 ** 40
        for part in args.get("numericFilters", "").split(","):
            if part.startswith("created_at_i>="):
                low = int(part.split(">=")[1])
            elif part.startswith("created_at_i<"):
                high = int(part.split("<")[1])
        matched = sorted((h for h in self.hits if low <= h["created_at_i"] < high),
                         key=lambda h: -h["created_at_i"])
        per_page, page = int(args.get("hitsPerPage", 20)), int(args.get("page", 0))
        body = {"hits": matched[page * per_page:(page + 1) * per_page], "nbHits": len(matched),
                "nbPages": -(-len(matched) // per_page), "page": page,
                "hitsPerPage": per_page, "query": args.get("query", ""), "params": ""}
        return Response(json.dumps(body), content_type="application/json")


def crawl(server: HTTPServer, api: RecordedAlgolia, sleeps: list[float], **kwargs) -> set[str]:
    server.expect_request("/api/v1/search_by_date").respond_with_handler(api)
    settings = FetchSettings(politeness_delay=0, retries=2, backoff_base=0)
    found: set[str] = set()
    with Fetcher(settings, sleep=sleeps.append) as fetcher:
        for fetched in hackernews.search_docs(
                fetcher, server.url_for("/api/v1"), "outage",
                datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC), **kwargs):
            assert fetched.error is None, fetched.error
            for record in hackernews.parse(fetched.doc).signals:
                found.add(record.native_id)
    return found


def test_crawler_pages_through_a_slice(httpserver: HTTPServer) -> None:
    api = RecordedAlgolia(recorded_hits())
    found = crawl(httpserver, api, [], hits_per_page=5)
    assert found == {h["objectID"] for h in api.hits}
    assert [int(r["page"]) for r in api.requests] == list(range(-(-len(api.hits) // 5)))
    assert {r["tags"] for r in api.requests} == {"story"}


def test_crawler_slices_time_when_a_query_passes_the_cap(httpserver: HTTPServer) -> None:
    api = RecordedAlgolia(recorded_hits())
    found = crawl(httpserver, api, [], hits_per_page=2, cap=4)
    assert found == {h["objectID"] for h in api.hits}
    windows = {r["numericFilters"] for r in api.requests}
    assert len(windows) > 3  # the range was split, repeatedly
    for args in api.requests:  # no page beyond the cap was ever asked for
        assert (int(args["page"]) + 1) * int(args["hitsPerPage"]) <= 4


def test_crawler_honours_retry_after_on_429(httpserver: HTTPServer) -> None:
    api = RecordedAlgolia(recorded_hits(), throttle_first=1)
    sleeps: list[float] = []
    found = crawl(httpserver, api, sleeps, hits_per_page=50)
    assert sleeps == [7.0]
    assert found == {h["objectID"] for h in api.hits}


def test_crawler_reports_a_dead_api_and_goes_on(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/search_by_date").respond_with_data("gone", status=404)
    with Fetcher(FetchSettings(politeness_delay=0, retries=0)) as fetcher:
        results = list(hackernews.search_docs(fetcher, httpserver.url_for("/api/v1"), "x",
                                              datetime(2026, 1, 1, tzinfo=UTC),
                                              datetime(2026, 2, 1, tzinfo=UTC)))
    assert len(results) == 1 and results[0].doc is None
    assert "HTTP 404" in results[0].error


def test_item_url_and_thread_fetch(httpserver: HTTPServer) -> None:
    body = (FIX / "algolia_item_45200118.json").read_bytes()
    httpserver.expect_request("/api/v1/items/45200118").respond_with_data(
        body, content_type="application/json")
    url = hackernews.item_url(httpserver.url_for("/api/v1/"), "45200118")
    assert url.endswith("/api/v1/items/45200118")
    with Fetcher(FetchSettings(politeness_delay=0)) as fetcher:
        fetched = fetcher.get(url)
    (story,) = hackernews.parse(fetched.doc).signals
    assert story.top_comments and story.comments == 4
