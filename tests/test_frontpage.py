"""Recorded front pages and feed logs (scrapers/frontpage.py) on real slices of the corpus, and
through the real CLI: only their outage stories are stored, and those link."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scrapers import frontpage, registry
from scrapers.errors import ParseError
from scrapers.records import RawDoc
from tests.conftest import invoke_kb

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "signals"
NOW = datetime(2026, 9, 1, tzinfo=UTC)


def parsed(name: str):  # type: ignore[no-untyped-def]
    body = (FIX / name).read_bytes()
    assert registry.detect(body, name) is frontpage
    return frontpage.parse(RawDoc(body, f"file:///x/{name}", NOW))


def test_daily_hn_list_every_story_with_its_utc_time() -> None:
    doc = parsed("frontpage_hn_2026-08-17_head.md")
    assert len(doc.signals) == 74 and not doc.warnings
    by_id = {s.native_id: s for s in doc.signals}
    story = by_id["49330684"]
    assert (story.source, story.title) == ("hackernews", "Incident with Github.com")
    assert story.url == "https://www.githubstatus.com/incidents/zkxwbgr0cnmx"
    assert story.created_at == datetime(2026, 8, 17, 13, 40, 55, tzinfo=UTC)
    assert by_id["49330632"].url is None  # a text post: the thread is the discussion URL


def test_lobsters_list_keyed_by_short_id() -> None:
    doc = parsed("frontpage_lobsters_2023-09-15_head.md")
    first = doc.signals[0]
    assert (first.source, first.native_id) == ("lobsters", "n5ivuk")
    assert first.url == "https://two-wrongs.com/getting-used-to-microservices.html"


def test_removals_log_time_is_unknown_the_day_noted() -> None:
    doc = parsed("frontpage_removals_2024-04_head.md")
    assert len(doc.signals) == 36 and not doc.warnings
    first = doc.signals[0]
    assert (first.native_id, first.points, first.comments) == ("39888894", 7, 0)
    assert first.created_at is None  # the day of removal only: an exact time read elsewhere wins
    assert first.notes == ("time: unknown; removed from the front page on 2024-04-01",)
    assert any(s.points is None for s in doc.signals)  # "#25 ->": unknown, never 0


def test_index_json_snapshot() -> None:
    doc = parsed("frontpage_kherrick_20260818T002916Z_d9cba43f6e09_index.json")
    assert len(doc.signals) == 30
    assert doc.signals[0].native_id == "49339359"
    assert doc.signals[0].created_at == datetime(2026, 8, 17, 23, 58, 19, tzinfo=UTC)


def test_hn_json_scrape_uses_the_snapshot_time_as_upper_bound() -> None:
    doc = parsed("frontpage_christianfei_20211222T125718Z_bfe9dafcb8d4_hn.json")
    assert len(doc.signals) == 28  # 30 entries: a job ad skipped, an empty title warned
    assert len(doc.warnings) == 1 and "entry #19" in doc.warnings[0]
    first = doc.signals[0]
    assert (first.native_id, first.points, first.comments, first.author) == (
        "29647457", 226, 148, "kerm1t")
    assert first.created_at == datetime(2021, 12, 22, 12, 57, 18, tzinfo=UTC)
    assert "upper bound" in first.notes[0]


def test_hostile_input_is_one_line() -> None:
    with pytest.raises(ParseError):
        frontpage.parse(RawDoc(b'[[["x", "y"]], 3]', "file:///bad.json", NOW))
    assert not frontpage.sniff(b"# A readme\n\n* [a link](https://example.com)\n")


def test_cli_stores_only_outage_stories_of_a_front_page_and_links_them(tmp_path: Path) -> None:
    def kb(*args: str) -> subprocess.CompletedProcess[str]:
        return invoke_kb(tmp_path, *args)

    result = kb("ingest", str(FIX / "github_history_slice.atom"),
                str(FIX / "frontpage_hn_2026-08-17_head.md"), "--json")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)["sources"]["signals-frontpage"]
    assert 0 < counts["new"] < 74  # the day's other stories are not signals
    assert kb("link").returncode == 0
    rows = json.loads(kb("signals", "--provider", "github", "--json").stdout)
    linked = {r["title"]: {k["incident"] for k in r["links"]} for r in rows}
    assert linked["Incident with Github.com"] == {"github/zkxwbgr0cnmx"}
    assert linked["GitHub down again? no PR access"] == {"github/zkxwbgr0cnmx"}
