"""The corpus's compiled signal records (JSON Lines): recognised by content, parsed with honest
times, and through the real CLI stored and linked so that `kb signals --provider github`
shows the linked stories."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from scrapers import registry, signal_records
from scrapers.errors import ParseError, UnknownFormat
from scrapers.records import RawDoc
from tests.conftest import invoke_kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "signals"
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def parsed(name: str):  # type: ignore[no-untyped-def]
    body = (FIX / name).read_bytes()
    assert registry.detect(body, name) is signal_records
    return signal_records.parse(RawDoc(body, f"file:///{name}", NOW))


def test_hn_stories_keep_their_ids_times_and_links() -> None:
    doc = parsed("corpus_hn_stories_slice.jsonl")
    assert doc.format == "signal_records" and not doc.warnings
    assert len(doc.signals) == 8
    first = doc.signals[2]
    assert (first.source, first.native_id) == ("hackernews", "49330597")  # as Algolia keys it
    assert first.title == "Incident with Github.com"
    assert first.created_at == datetime(2026, 8, 17, 13, 35, 6, tzinfo=UTC)
    assert first.discussion_url == "https://news.ycombinator.com/item?id=49330597"
    assert first.points is None  # unknown stays unknown, never 0


def test_front_page_time_is_an_upper_bound_said_in_notes() -> None:
    (story,) = parsed("corpus_hn_frontpage_slice.jsonl").signals
    assert story.created_at == datetime(2020, 11, 25, 15, 47, 44, tzinfo=UTC)
    assert any("upper bound" in note for note in story.notes)


def test_news_items_times_as_exact_as_the_record_allows() -> None:
    slashdot, dated, bounded = parsed("corpus_news_items_slice.jsonl").signals
    assert slashdot.source == "news" and slashdot.site == "slashdot"
    assert slashdot.created_at == datetime(2023, 11, 2, 17, 15, tzinfo=UTC) and not slashdot.notes
    assert dated.created_at == datetime(2019, 7, 2, 23, 59, 59, tzinfo=UTC)
    assert "time of day unknown" in dated.notes[0]
    assert dated.native_id == dated.url  # merges with the article page's canonical URL
    assert bounded.created_at == datetime(2020, 11, 27, 0, 55, 24, tzinfo=UTC)
    assert "upper bound" in bounded.notes[0]


def test_lobsters_keyed_by_short_id() -> None:
    (story,) = parsed("corpus_lobsters_slice.jsonl").signals
    assert (story.source, story.native_id) == ("lobsters", "ljhgcd")  # the RSS guid
    assert story.url == "https://www.githubstatus.com/incidents/zkxwbgr0cnmx"
    assert story.discussion_url and story.discussion_url.startswith("https://lobste.rs/s/")


def test_hostile_lines_cost_only_themselves() -> None:
    good = (FIX / "corpus_lobsters_slice.jsonl").read_bytes()
    body = good + b'{"source": "hackernews", "id": "x", "title": 3}\n{broken\n'
    doc = signal_records.parse(RawDoc(body, "file:///mixed.jsonl", NOW))
    assert len(doc.signals) == 1 and len(doc.warnings) == 2
    assert all(w.startswith("file:///mixed.jsonl: line ") for w in doc.warnings)
    with pytest.raises(ParseError):
        signal_records.parse(RawDoc(b'{"source": "x", "id": 1, "title": null, '
                                    b'"raw_files": []}\n{bad\n', "file:///bad.jsonl", NOW))


def test_other_jsonl_is_not_claimed() -> None:
    index = b'{"url": "https://example.com/a", "date": "2024-01-01", "title": "x"}\n'
    with pytest.raises(UnknownFormat):
        registry.detect(index, "pages_corpus_index.jsonl")
    assert not signal_records.sniff(b'{"id": 1, "title": "t", "source": "s"}\n')


kb = partial(invoke_kb, COLUMNS="220")


def test_cli_ingests_links_and_lists_github_stories(tmp_path: Path) -> None:
    files = [FIX / "github_history_slice.atom", FIX / "corpus_hn_stories_slice.jsonl",
             FIX / "corpus_lobsters_slice.jsonl"]
    result = kb(tmp_path, "ingest", *map(str, files))
    assert result.returncode == 0, result.stderr
    assert "ignored" not in result.stdout + result.stderr
    assert kb(tmp_path, "link").returncode == 0
    listing = kb(tmp_path, "signals", "--provider", "github", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = {r["title"]: r for r in json.loads(listing.stdout)}
    linked = {t: {k["incident"] for k in r["links"]} for t, r in rows.items() if r["links"]}
    # the two HN stories and the lobste.rs report carrying the incident's status-page link
    # are one story (same URL), linked to that incident
    assert linked.get("Incident with Github.com") == {"github/zkxwbgr0cnmx"}
    merged = {(s["source"], s["native_id"]) for s in rows["Incident with Github.com"]["sources"]}
    assert merged == {("hackernews", "49330597"), ("hackernews", "49330684"),
                      ("lobsters", "ljhgcd")}
    assert len(linked) == 4  # every GitHub story of the slice links (all are about 08-17)
    assert all(keys <= {"github/zkxwbgr0cnmx", "github/gx7js8bd0jpz", "github/bhbcjn4n3jzp"}
               for keys in linked.values())
    assert "Claude Auth Is Down" not in rows  # an Anthropic story is not listed for GitHub
