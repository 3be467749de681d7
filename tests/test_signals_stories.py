"""Items → stories: canonical URLs, dedupe across feeds, kinds and named days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kb.signals.config import ProviderTerms, SignalConfig
from kb.signals.dedupe import canonical_url, is_specific
from kb.signals.kinds import classify, is_outage, named_date
from kb.signals.stories import build_signals
from kb.store.signals import StoredItem
from scrapers.records import SignalRecord

AT = datetime(2024, 6, 4, 16, 38, tzinfo=UTC)
CONFIG = SignalConfig(providers=(
    ProviderTerms("openai", ("OpenAI", "ChatGPT"), (), ("openai.com",), ("status.openai.com",)),
))


def item(source: str, native: str, title: str, at: datetime = AT, *, url: str | None = None,
         discussion: str | None = None, points: int | None = None, comments: int | None = None,
         text: str = "", resolved: str | None = None, note: str | None = None,
         top: tuple[str, ...] = ()) -> StoredItem:
    record = SignalRecord(source=source, native_id=native, title=title, url=url,
                          discussion_url=discussion, created_at=at, points=points,
                          comments=comments, text=text, top_comments=top)
    return StoredItem(record, "0" * 64, "file:///x", at, resolved, note)


@pytest.mark.parametrize(("url", "canonical"), [
    ("http://www.TheRegister.com/2024/06/04/openai_chatgpt_outage/?utm_source=rss#top",
     "https://theregister.com/2024/06/04/openai_chatgpt_outage"),
    ("https://m.example.com/a//b/amp/", "https://example.com/a/b"),
    ("https://news.ycombinator.com/item?id=1&utm_medium=x", "https://news.ycombinator.com/item?id=1"),
    ("https://www.githubstatus.com/?todayis=2026-02-02", "https://githubstatus.com/"),
    ("ftp://example.com/x", None), ("not a url", None), (None, None),
])
def test_canonical_url(url: str | None, canonical: str | None) -> None:
    assert canonical_url(url) == canonical


def test_home_pages_name_no_story() -> None:
    assert not is_specific(canonical_url("https://github.com/"))
    assert not is_specific(canonical_url("https://www.githubstatus.com/?today"))
    assert is_specific(canonical_url("https://www.githubstatus.com/incidents/abc"))


def test_same_story_from_three_feeds_is_one_signal_with_three_sources() -> None:
    article = "https://www.theregister.com/2024/06/04/openai_chatgpt_outage/"
    items = [
        item("news", article, "Millions forced to use brain as OpenAI's ChatGPT takes morning "
             "off", url=article, text="Lead paragraph of the article."),
        item("news", "CBMi-google", "Millions forced to use brain as OpenAI's ChatGPT takes "
             "morning off", AT + timedelta(hours=2), url="https://news.google.com/rss/articles/x",
             resolved=article + "?utm_source=gn"),
        item("hackernews", "40576356", "Millions forced to use brain as OpenAI's ChatGPT takes "
             "morning off", AT, url=article, discussion="https://news.ycombinator.com/item?id=1",
             points=30, comments=12, top=("first!",)),
    ]
    (story,) = build_signals(items, CONFIG)
    assert len(story.sources) == 3 and story.threads == 1
    assert (story.points, story.comments) == (30, 12)
    assert story.kind == "news" and story.providers == ("openai",)
    assert story.text == "Lead paragraph of the article." and story.top_comments == ("first!",)
    assert story.url.startswith("https://www.theregister.com/")


def test_near_identical_titles_merge_across_families_only() -> None:
    title = "ChatGPT, Claude and Perplexity all went down at the same time"
    items = [item("news", "slashdot-1", title, url="https://slashdot.org/story/1"),
             item("lobsters", "abc", title + ".", AT + timedelta(hours=5),
                  url="https://example.org/other-writeup")]
    assert len(build_signals(items, CONFIG)) == 1
    short = [item("hackernews", "1", "ChatGPT is down"),
             item("reddit", "t3_x", "ChatGPT is down", AT + timedelta(minutes=5))]
    assert len(build_signals(short, CONFIG)) == 2  # independent reports, not one story
    same_forum = [item("hackernews", "1", title), item("hackernews", "2", title)]
    assert len(build_signals(same_forum, CONFIG)) == 2


def test_a_shared_url_far_apart_in_time_or_a_home_page_does_not_merge() -> None:
    items = [item("hackernews", "1", "GitHub is down", url="https://github.com/"),
             item("hackernews", "2", "GitHub Is Down", AT + timedelta(days=400),
                  url="https://github.com/")]
    assert len(build_signals(items, CONFIG)) == 2
    status = "https://www.githubstatus.com/incidents/zkxwbgr0cnmx"
    twins = [item("hackernews", "49330597", "Incident with Github.com", url=status),
             item("hackernews", "49330684", "Incident with Github.com",
                  AT + timedelta(minutes=5), url=status, points=714, comments=2)]
    (story,) = build_signals(twins, CONFIG)
    assert story.threads == 2 and story.id == "hackernews:49330597"


def test_notes_are_kept_on_the_story() -> None:
    items = [item("news", "n1", "ChatGPT outage", url="https://example.com/a",
                  note="article page is not HTML (application/pdf): feed summary only")]
    (story,) = build_signals(items, CONFIG)
    assert story.notes == ("article page is not HTML (application/pdf): feed summary only",)


@pytest.mark.parametrize(("title", "urls", "families", "kind"), [
    ("Claude is down", [], {"hackernews"}, "live"),
    ("Claude Code Degradation: A postmortem of three recent issues",
     ["https://www.anthropic.com/engineering/a-postmortem"], {"hackernews"}, "late"),
    ("An Update on GitHub Availability", ["https://github.blog/news-insights/x"],
     {"hackernews"}, "late"),
    ("Millions forced to use brain", ["https://www.theregister.com/2024/06/04/x"],
     {"hackernews"}, "news"),
    ("Cloudflare outage takes sites offline", [], {"news"}, "news"),
])
def test_classify(title: str, urls: list[str], families: set[str], kind: str) -> None:
    assert classify(title, families=families, urls=urls) == kind


@pytest.mark.parametrize(("text", "written", "day"), [
    ("The August 17 outage, and the work ahead", date(2026, 8, 20), date(2026, 8, 17)),
    ("Dec 30 outage recap", date(2027, 1, 3), date(2026, 12, 30)),
    ("AWS Outage Analysis: December 7, 2021", date(2021, 12, 9), date(2021, 12, 7)),
    ("GitHub incident 2022-03-23", date(2022, 3, 23), date(2022, 3, 23)),
    ("Cloudflare outage on 18 November 2025", date(2025, 11, 19), date(2025, 11, 18)),
    ("After Wednesday's update", date(2024, 8, 17), date(2024, 8, 14)),
    ("Claude is down", date(2026, 8, 18), None),
    ("Sonnet 4.6 elevated errors", date(2026, 4, 8), None),
])
def test_named_date(text: str, written: date, day: date | None) -> None:
    assert named_date(text, datetime(written.year, written.month, written.day, 12,
                                     tzinfo=UTC)) == day


def test_outage_vocabulary() -> None:
    assert is_outage("Ask HN: Is GitHub down?") and is_outage("Elevated errors on Opus 5")
    assert not is_outage("Show HN: a GitHub profile generator")
