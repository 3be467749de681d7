"""Precision and recall of the signal ↔ incident linker on labeled real pairs.

Usage: python bench/bench_link.py [--corpus ../shared/corpus] [--runs 3] [--write-docs]

1. Imports the GitHub, Anthropic, OpenAI and DigitalOcean incidents of the corpus into a
   temporary KB (the same pipeline as `kb ingest`).
2. Turns the corpus's real HN stories (exact UTC times; 2020–2022 front-page ones with their
   first front-page sighting, an upper bound) into Algolia HN search pages, and its news and
   lobste.rs items into RSS feeds, and feeds those through the pipeline too (parse → store).
3. Runs the link stage and compares its links with bench/data/signal_links.jsonl
   (bench/data/LABELS.md says how the labels were made).

Scoring, per labeled story: a predicted link is correct when its incident is among the
story's labeled incidents; precision = correct links / predicted links; recall = stories with
a labeled incident that got a correct link / stories with a labeled incident. Reported for all
stories, for those whose URL is not the status page incident, for the front-page set, and
"blind": status-linked stories with their URL replaced by the HN thread, so that only time,
names and text can link them. Targets (issue 8): precision ≥ 0.9, recall ≥ 0.8.
With --write-docs the table replaces the results section of docs/signals.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from kb.config import PACKAGED_SOURCES

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "bench" / "data" / "signal_links.jsonl"
DOCS = ROOT / "docs" / "signals.md"
INCIDENT_FOLDERS = (
    "statuspage_incident_json/github", "statuspage_atom/github", "statuspage_json/anthropic",
    "statuspage_atom/anthropic", "statuspage_json/openai", "incidentio_atom/openai",
    "statuspage_atom/digitalocean", "statuspage_rss/digitalocean",
)
MARK_START = "<!-- bench_link results: start -->"
MARK_END = "<!-- bench_link results: end -->"


# --------------------------------------------------------------------------- corpus → payloads


def story_time(row: dict) -> datetime | None:
    """Exact creation time, else the first front-page sighting (an upper bound)."""
    stamp = row.get("created_at") or row.get("first_seen_on_front_page_at")
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


def algolia_hit(row: dict) -> dict:
    """One story as an Algolia HN search hit (the documented field set). Fields the corpus
    does not know (author of most stories, points, comments) are null, never invented."""
    when = story_time(row)
    assert when is not None
    object_id = str(row["id"])
    url = row.get("url")
    if url and "news.ycombinator.com/item" in url:
        url = None  # a text post: the API gives no url
    author = row.get("author")
    tags = ["story", f"story_{object_id}"] + ([f"author_{author}"] if author else [])
    if row["title"].lower().startswith("ask hn"):
        tags.append("ask_hn")
    hit = {
        "_highlightResult": {"title": {"matchLevel": "none", "matchedWords": [],
                                       "value": row["title"]}},
        "_tags": tags, "author": author, "children": [],
        "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "created_at_i": int(when.timestamp()),
        "num_comments": row.get("num_comments"), "objectID": object_id,
        "points": row.get("points"), "story_id": int(object_id), "title": row["title"],
        "updated_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if url:
        hit["url"] = url
    return hit


def algolia_page(rows: list[dict], query: str) -> bytes:
    """A `search_by_date` response holding these stories, newest first, as one page."""
    hits = sorted((algolia_hit(r) for r in rows), key=lambda h: -h["created_at_i"])
    page = {"exhaustive": {"nbHits": True, "typo": True}, "exhaustiveNbHits": True,
            "exhaustiveTypo": True, "hits": hits, "hitsPerPage": max(1, len(hits)),
            "nbHits": len(hits), "nbPages": 1, "page": 0,
            "params": f"query={query}&tags=story&hitsPerPage={max(1, len(hits))}",
            "processingTimeMS": 1, "query": query, "serverTimeMS": 1}
    return json.dumps(page, ensure_ascii=False).encode()


def news_time(row: dict) -> datetime | None:
    """Exact time, else the HN submission that linked it, else the end of its day."""
    for key in ("created_at", "published_upper_bound"):
        if row.get(key):
            stamp = datetime.fromisoformat(row[key].replace("Z", "+00:00"))
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    day = row.get("published_date") or ""
    if len(day) == 10:
        return datetime.fromisoformat(day + "T23:59:59+00:00")
    return None  # month precision: cannot be placed


def rss_feed(title: str, link: str, rows: list[dict]) -> bytes:
    """An RSS 2.0 feed of these items (title, link, pubDate, summary as the corpus gives)."""
    items = []
    for row in rows:
        when = news_time(row)
        if when is None:
            continue
        comments = (f"<comments>{escape(row['discussion_url'])}</comments>"
                    if row.get("discussion_url") else "")
        items.append(
            f"<item><title>{escape(row['title'])}</title><link>{escape(row['url'])}</link>"
            f"<guid isPermaLink=\"false\">{escape(str(row['id']))}</guid>"
            f"<pubDate>{format_datetime(when)}</pubDate>{comments}"
            f"<description>{escape(row.get('summary') or '')}</description></item>")
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>"
            f"<title>{escape(title)}</title><link>{escape(link)}</link>"
            f"<description>{escape(title)}</description>{''.join(items)}</channel></rss>"
            ).encode()


def corpus_payloads(corpus: Path) -> list[tuple[str, bytes]]:
    """(url, body) of the recorded-shape payloads built from the corpus's signal records."""
    signals = corpus / "signals"
    read = lambda name: [json.loads(line) for line in (signals / name).open()]  # noqa: E731
    stories = [r for r in read("hn_stories.jsonl") + read("hn_stories_2019_2022_frontpage.jsonl")
               if story_time(r) is not None]
    news = read("news_items.jsonl")
    lobsters = read("lobsters_stories.jsonl")
    payloads = [("https://hn.algolia.com/api/v1/search_by_date?query=outage&tags=story",
                 algolia_page(stories, "outage"))]
    by_site: dict[str, list[dict]] = {}
    for row in news:
        by_site.setdefault(row["source"], []).append(row)
    for site, rows in sorted(by_site.items()):
        payloads.append((f"https://feeds.example/{site}", rss_feed(site, f"https://{site}", rows)))
    payloads.append(("https://lobste.rs/rss", rss_feed("Lobsters", "https://lobste.rs", lobsters)))
    return payloads


# --------------------------------------------------------------------------- the run


def label_key(row: dict) -> tuple[str, str]:
    return row["source"], row["native_id"]


def evaluate(links_by_item: dict[tuple[str, str], set[str]], labels: list[dict]) -> dict:
    predicted = correct = wanted = found = 0
    misses, wrong = [], []
    for row in labels:
        gold = set(row["incidents"])
        got = links_by_item.get(label_key(row), set())
        predicted += len(got)
        good = got & gold
        correct += len(good)
        wrong += [(row["title"], k) for k in sorted(got - gold)]
        if gold:
            wanted += 1
            if good:
                found += 1
            else:
                misses.append(row["title"])
    return {"stories": len(labels), "positives": wanted, "predicted": predicted,
            "correct": correct,
            "precision": correct / predicted if predicted else 1.0,
            "recall": found / wanted if wanted else 1.0, "misses": misses, "wrong": wrong}


def run(corpus: Path) -> tuple[dict[str, dict], float]:
    from kb.config import load_sources
    from kb.pipeline import Line, ingest
    from kb.signals.config import load_signal_config
    from kb.signals.stage import link_all, relink
    from kb.signals.stories import build_signals
    from kb.store import Store
    from kb.store.signals import links as stored_links
    from kb.store.signals import load_items, signals
    from scrapers.archive import Archive
    from scrapers.records import RawDoc

    sources = load_sources(PACKAGED_SOURCES)
    config = load_signal_config(PACKAGED_SOURCES, sources)
    labels = [json.loads(line) for line in LABELS.open()]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        store, _ = Store.open(f"sqlite:///{Path(tmp) / 'kb.db'}", write=True)
        line = Line(store, Archive(Path(tmp) / "raw"), sources)
        ingest(line, [corpus / f for f in INCIDENT_FOLDERS if (corpus / f).exists()])
        fetched = datetime(2026, 10, 1, tzinfo=UTC)
        for url, body in corpus_payloads(corpus):
            line.feed(RawDoc(body=body, url=url, fetched_at=fetched), provider=None, label=url)
        line.flush()
        started = time.perf_counter()
        relink(store, config, force=True)
        seconds = time.perf_counter() - started
        members = {(src.source, src.native_id): s.id for s in signals(store) for src in s.sources}
        by_signal: dict[str, set[str]] = {}
        for link in stored_links(store):
            by_signal.setdefault(link.signal_id, set()).add(link.incident_key)
        predicted = {item: by_signal.get(sid, set()) for item, sid in members.items()}
        # Blind: status-linked stories lose their URL (the HN thread page stands in).
        status_linked = {label_key(r) for r in labels if r["status_link"]}
        items = [replace(i, record=replace(i.record, url=i.record.discussion_url))
                 if (i.record.source, i.record.native_id) in status_linked else i
                 for i in load_items(store)]
        blind_signals = build_signals(items, config)
        blind_links, _ = link_all(blind_signals, list(store.incidents()), config)
        blind_by_signal: dict[str, set[str]] = {}
        for link in blind_links:
            blind_by_signal.setdefault(link.signal_id, set()).add(link.incident_key)
        blind = {(src.source, src.native_id): blind_by_signal.get(s.id, set())
                 for s in blind_signals for src in s.sources}
        store.close()
    exact = [r for r in labels if not r.get("time_upper_bound")]
    results = {
        "all stories": evaluate(predicted, labels),
        "exact-time stories": evaluate(predicted, exact),
        "not linking to the status page": evaluate(predicted,
                                                   [r for r in labels if not r["status_link"]]),
        "linking to the status page": evaluate(predicted, [r for r in labels if r["status_link"]]),
        "front page 2020–2022 (time = upper bound)": evaluate(
            predicted, [r for r in labels if r.get("time_upper_bound")]),
        "blind: status-linked, URL removed": evaluate(
            blind, [r for r in labels if r["status_link"]]),
    }
    return results, seconds


def table(results: dict[str, dict], seconds: list[float]) -> str:
    lines = ["| set | stories | with an incident | links made | correct | precision | recall |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['stories']} | {r['positives']} | {r['predicted']} | "
                     f"{r['correct']} | {r['precision']:.3f} | {r['recall']:.3f} |")
    lines.append("")
    lines.append(f"Link stage over the whole set: median {statistics.median(seconds):.2f} s "
                 f"over {len(seconds)} runs (min {min(seconds):.2f} s), 2-core machine.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if not (args.corpus / "signals").is_dir():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    seconds = []
    results: dict[str, dict] = {}
    for _ in range(max(1, args.runs)):
        results, took = run(args.corpus)
        seconds.append(took)
    text = table(results, seconds)
    print(text)
    for name, r in results.items():
        for title in r["misses"]:
            print(f"  missed ({name}): {title}")
        for title, key in r["wrong"]:
            print(f"  wrong  ({name}): {title} → {key}")
    if args.write_docs:
        doc = DOCS.read_text(encoding="utf-8")
        start, end = doc.index(MARK_START) + len(MARK_START), doc.index(MARK_END)
        DOCS.write_text(doc[:start] + "\n" + text + "\n" + doc[end:], encoding="utf-8")
    gate = results["all stories"], results["not linking to the status page"]
    return 0 if all(r["precision"] >= 0.9 and r["recall"] >= 0.8 for r in gate) else 1


if __name__ == "__main__":
    sys.exit(main())
