"""Regenerate signal_links.jsonl from the corpus's signal records (see LABELS.md).

    .venv/bin/python bench/data/make_labels.py KB_DB

KB_DB is a SQLite KB holding the corpus incidents (the folders bench_link.py imports). Three
methods, applied in this order to each story:
- hand: hand_labels.json (a person read the story and the candidate incidents);
- status-link: the story's URL is a status page incident: that incident if the KB holds it,
  none otherwise (it names an incident the KB lacks, so any link would be wrong);
- no-candidates: no incident of a provider the story names, from 4 days before to 1 day
  after it, is in the KB: none. A story with candidates and no hand label stops the script.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_link import news_time, story_time  # noqa: E402

CORPUS = HERE.parents[2] / "shared" / "corpus" / "signals"
STATUS_PAGE = re.compile(r"/incidents/|status\.[a-z.]+/_event/")


def main(db_path: str) -> None:
    db = sqlite3.connect(db_path)
    stored = {r[0] for r in db.execute("SELECT key FROM incidents WHERE kind = 'incident'")}
    hand = {(h["source"], h["native_id"]): h for h in
            json.loads((HERE / "hand_labels.json").read_text(encoding="utf-8"))}
    rows: list[dict] = []

    def near(at: datetime, providers: set[str]) -> list[str]:
        low = (at - timedelta(days=4)).replace(tzinfo=None).isoformat(" ")
        high = (at + timedelta(days=1)).replace(tzinfo=None).isoformat(" ")
        found = db.execute("SELECT key FROM incidents WHERE kind = 'incident' AND "
                           "first_post_at BETWEEN ? AND ?", (low, high))
        return [k for (k,) in found if k.split("/")[0] in providers]

    def add(source: str, native: str, title: str, at: datetime, providers: set[str],
            url: str | None, links: list[tuple[str, str]], upper: bool = False) -> None:
        key = (source, native)
        if any((r["source"], r["native_id"]) == key for r in rows):
            return  # one item twice in the corpus (an updated article, same URL): stored once
        if key in hand:
            incidents, method, note = hand[key]["incidents"], "hand", hand[key]["note"]
        elif links:
            keys = [f"{provider}/{native_id}" for provider, native_id in links]
            incidents, method = [k for k in keys if k in stored], "status-link"
            note = "; ".join(f"names {k}, not in the KB" for k in keys if k not in stored) \
                or "the story's URL is the incident's status page"
        else:
            candidates = near(at, providers)
            if candidates:
                raise SystemExit(f"no hand label for {key} {title!r}: {candidates}")
            incidents, method = [], "no-candidates"
            note = "no incident of the providers it names within 4 days before to 1 day after"
        rows.append({"source": source, "native_id": native, "title": title,
                     "created_at": at.isoformat(), "providers": sorted(providers),
                     "incidents": incidents,
                     "status_link": bool(links) or bool(STATUS_PAGE.search(url or "")),
                     "time_upper_bound": upper, "method": method, "note": note})

    def read(name: str) -> list[dict]:
        with (CORPUS / name).open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    for name in ("hn_stories.jsonl", "hn_stories_2019_2022_frontpage.jsonl"):
        for r in read(name):
            at = story_time(r)
            if at is None:
                continue
            links = [(x["status_page_provider"], x["incident_id"])
                     for x in r.get("status_page_links") or [] if x.get("incident_id")]
            add("hackernews", str(r["id"]), r["title"], at,
                set(r.get("providers") or [r["provider"]]), r.get("url"), links,
                upper=not r.get("created_at"))
    for r in read("news_items.jsonl"):
        at = news_time(r)
        if at is not None:
            add("news", str(r["id"]), r["title"], at, set(r.get("providers") or [r["provider"]]),
                r["url"], [])
    for r in read("lobsters_stories.jsonl"):
        at = datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
        hit = re.search(r"githubstatus\.com/incidents/(\w+)", r["url"])
        add("lobsters", r["id"], r["title"], at, set(r.get("providers") or [r["provider"]]),
            r["url"], [("github", hit.group(1))] if hit else [])
    with (HERE / "signal_links.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(len(rows), dict(Counter(r["method"] for r in rows)),
          sum(1 for r in rows if r["incidents"]), "with an incident")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "kb.db")
