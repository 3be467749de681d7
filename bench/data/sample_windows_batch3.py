"""Draw the third batch of impact-window sentences to label (`labels_windows.jsonl`, rows
with `"batch": 3`), from what batches 1 and 2 did not use, as far as ../shared/corpus allows:
sentences of `postmortems/icco` reports not labelled before (those with a clock time from
every dated report, since the reports no batch used hold almost none; the others from
reports no batch used), the one-paragraph summaries of
`postmortems/danluu`, the news summaries of `signals/news_items.jsonl`, Vultr alert notes,
and the updates of the Statuspage feeds and snapshots (Symantec WSS, Sauce Labs, Atlassian,
DigitalOcean, StreamYard, Oracle Cloud, Cloudflare) that neither batch drew.

    python bench/data/sample_windows_batch3.py ../shared/corpus > /tmp/candidates3.jsonl
    python bench/data/sample_windows_batch3.py --supplement ../shared/corpus  # second draw

The first draw's rows that repeat text batch 1 labelled inside longer rows were moved to
`labels_windows_batch3_repeats.jsonl`; the second draw (`--supplement`, rows `"draw": 2`)
takes only text no labelled row holds, and adds Google Cloud and AWS status updates as
`"part": "B"` (see bench/data/LABELS.md).

Text that the rules were written against (Google Cloud, AWS, GitHub, OpenAI, Anthropic status
text) is left out, as before. Selection is by the order of sha256("window-sample-3:" + key)
with a quota per source; most of each quota goes to text with a clock time (the rows a window
reader can get wrong), so that the batch holds enough windows. Key and split as before:
key = sha256("window:" + source + "|" + text)[:12], `int(key, 16) % 10 < 4` → heldout, fixed by
the key before any label or rule is seen. Printed rows carry everything but the label.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sample_windows import (  # the batch-2 readers of the same sources
    CLOCK,
    LABELS,
    ROOT,
    TIMEISH,
    _feed_updates,
    _row,
    postmortems,
    sentences,
    summaries,
)

QUOTA = {"postmortem clock times": 190, "postmortems": 30, "danluu": 30, "news": 25,
         "vultr": 15, "symantec-wss": 12, "saucelabs-us-west": 8, "atlassian-statuspage": 8,
         "digitalocean": 6, "streamyard": 4, "oracle-cloud-infrastructure": 10,
         "cloudflare": 8}
DANLUU_DATE = datetime(2025, 12, 20, tzinfo=UTC)  # the README's commit date (SOURCES.md)
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November"
           "|December")
_FULL_DATE = re.compile(
    rf"\b(?P<d1>\d{{1,2}})\s+(?P<m1>{_MONTHS})\s+(?P<y1>\d{{4}})\b"
    rf"|\b(?P<m2>{_MONTHS})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})\b"
    r"|\b(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2})\b")


def _first_full_date(text: str) -> datetime | None:
    m = _FULL_DATE.search(text)
    if not m:
        return None
    if m["y3"]:
        return datetime(int(m["y3"]), int(m["m3"]), int(m["d3"]), tzinfo=UTC)
    month, day, year = (m["m1"], m["d1"], m["y1"]) if m["y1"] else (m["m2"], m["d2"], m["y2"])
    return datetime.strptime(f"{month} {day} {year}", "%B %d %Y").replace(tzinfo=UTC)


def _order(key: str) -> str:
    return hashlib.sha256(f"window-sample-3:{key}".encode()).hexdigest()


def danluu(corpus: Path) -> list[dict]:
    """Sentences of the list's one-paragraph summaries, with no context: a window counts only
    where the sentence itself dates it. A sentence with a full date is read as posted two days
    after it (as a postmortem sentence is after its report's date); one without, on the
    list's commit date."""
    source = "postmortems/danluu/README.md"
    found = []
    for line in (corpus / source).read_text(encoding="utf-8").splitlines():
        m = re.match(r"\[([^\]]+)\]\([^)]*\)\.?\s*(.+)", line.strip())
        if not m:
            continue
        for sentence in sentences(m[2]):
            if 30 <= len(sentence) <= 600:
                posted = _first_full_date(sentence)
                posted = posted + timedelta(days=2) if posted else DANLUU_DATE
                found.append(_row("postmortem-list:" + m[1][:20], source, posted, sentence))
    return found


def news(corpus: Path) -> list[dict]:
    """News items' summaries (else titles), posted at 23:59 UTC of their day (the day is all
    they give), as the signal labels place them."""
    source = "signals/news_items.jsonl"
    found = []
    for line in (corpus / source).open(encoding="utf-8"):
        item = json.loads(line)
        day = item.get("published_date") or (item.get("created_at") or "")[:10]
        if len(day) != 10:  # no day, or a month only: nothing to read a time against
            continue
        posted = datetime.fromisoformat(day).replace(hour=23, minute=59, tzinfo=UTC)
        text = item.get("summary") or item.get("title")
        if text:
            found.append(_row("news:" + (item.get("provider") or "?"), source, posted, text))
    return found


def vultr(corpus: Path) -> list[dict]:
    """Sentences of Vultr alert entries, posted at the entry's time."""
    found = []
    for path in sorted((corpus / "vultr_alerts/vultr").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for alert in data.get("service_alerts", []):
            for entry in alert.get("entries", []):
                when = entry.get("updated_at") or alert.get("start_date")
                if not when or not entry.get("message"):
                    continue
                posted = datetime.fromisoformat(when)
                for sentence in sentences(entry["message"]):
                    if 20 <= len(sentence) <= 600:
                        found.append(_row("vultr", str(path.relative_to(corpus)), posted,
                                          sentence))
    return found


def feeds(corpus: Path, provider: str) -> list[dict]:
    paths = sorted((corpus / "statuspage_atom" / provider).glob("*.atom")) + sorted(
        (corpus / "statuspage_rss" / provider).glob("*.rss"))
    return [r for p in paths for r in _feed_updates(p, corpus, provider)]


def gcp(corpus: Path) -> list[dict]:
    """Google Cloud incident updates of at most 600 characters (a sentence-sized update: the
    long mini-reports hold several windows and no single truth), posted at their `when`."""
    source = "gcp_incidents_json/google-cloud/incidents.json"
    found = []
    for incident in json.loads((corpus / source).read_text(encoding="utf-8")):
        for u in incident.get("updates", []):
            text = (u.get("text") or "").strip()
            if text and len(text) <= 600 and u.get("when"):
                found.append(_row("google-cloud", source, datetime.fromisoformat(u["when"]),
                                  text))
    return found


_AWS_ENTRY = re.compile(r'<span class="yellowfg">\s*(?P<t>\d{1,2}:\d{2}\s*[AP]M)\s+(?P<z>P[DS]T)'
                        r"\s*</span>(?:&nbsp;|\s)*(?P<body>.*?)</div>", re.S)


def aws(corpus: Path) -> list[dict]:
    """Entries of AWS Health's archived events: each `<span>12:53 PM PDT</span>` entry is an
    update; the event's `date` (epoch) is its first entry, later entries follow in order (a
    time earlier than the one before is the next day)."""
    source = "aws_health_json/aws/data.json"
    found = []
    for event in json.loads((corpus / source).read_text(encoding="utf-8"))["archive"]:
        first = datetime.fromtimestamp(int(event["date"]), UTC)
        previous = None
        for m in _AWS_ENTRY.finditer(event.get("description") or ""):
            offset = timedelta(hours=-7 if m["z"] == "PDT" else -8)
            local_day = (first + offset).date()
            clock = datetime.strptime(m["t"].replace(" ", ""), "%I:%M%p").time()
            when = datetime.combine(local_day, clock, UTC) - offset
            while previous and when < previous:
                when += timedelta(days=1)
            previous = when
            body = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", m["body"]))).strip()
            if 20 <= len(body) <= 600:
                found.append(_row("aws", source, when, body))
    return found


def _fresh(labelled: list[str]) -> Callable[[dict], bool]:
    """Whether a row's text was never labelled, as a whole or inside a longer labelled row
    (batch 1 labelled runs of several sentences of the same reports), nor is a test fixture."""
    blob = "\n".join(labelled)
    fixtures = "\n".join(_norm(p.read_text(encoding="utf-8", errors="replace"))
                          for p in (ROOT / "tests" / "fixtures").rglob("*") if p.is_file()
                          and p.suffix in {".json", ".jsonl", ".atom", ".rss", ".md", ".txt"})

    def fresh(r: dict) -> bool:
        t = _norm(r["text"])
        return t not in blob and t not in fixtures and not any(o in t for o in labelled)
    return fresh


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _draw(rows: list[dict], quota: int, known: set[str], share_timed: float) -> list[dict]:
    unique: dict[str, dict] = {}
    for r in rows:
        if r["text"] not in known:
            unique.setdefault(r["text"], r)
    ordered = sorted(unique.values(), key=lambda r: _order(r["key"]))
    timed = [r for r in ordered if CLOCK.search(r["text"])]
    plain = [r for r in ordered if not CLOCK.search(r["text"])]
    n_timed = min(len(timed), round(quota * share_timed))
    return timed[:n_timed] + plain[: quota - n_timed]


SUPPLEMENT = {"postmortem clock times": 40, "danluu": 5, "oracle-cloud-infrastructure": 3,
              "google-cloud": 125, "aws": 90}


def supplement(corpus: Path) -> int:
    """The second draw of batch 3, made after 165 rows of the first turned out to repeat text
    that batch 1 had labelled inside longer rows (moved to `labels_windows_batch3_repeats.jsonl`):
    what is left of the same sources that no row holds, then Google Cloud and AWS status
    updates of incidents the test fixtures do not use (`"part": "B"`: providers whose status
    text the rules were first written against, reported apart)."""
    rows = [json.loads(line) for path in sorted(LABELS.parent.glob("labels_windows*.jsonl"))
            for line in path.open(encoding="utf-8") if line.strip()]
    labelled = [_norm(r["text"]) for r in rows if r.get("draw") != 2]  # this draw's own rows
    # are not "labelled before": rerun, it draws them again
    fresh = _fresh(labelled)
    known = set()
    pools = {"postmortem clock times": [r for r in postmortems(corpus, set())
                                        if CLOCK.search(r["text"])],
             "danluu": [r for r in danluu(corpus) if CLOCK.search(r["text"])],
             "oracle-cloud-infrastructure": summaries(corpus, "oracle-cloud-infrastructure"),
             "google-cloud": gcp(corpus), "aws": aws(corpus)}
    for name, pool in pools.items():
        drawn = _draw([r for r in pool if fresh(r)], SUPPLEMENT[name], known, 0.85)
        known |= {r["text"] for r in drawn}
        print(f"{name}: {len(pool)} candidates, {len(drawn)} drawn", file=sys.stderr)
        for r in drawn:
            r["batch"], r["draw"] = 3, 2
            if name in ("google-cloud", "aws"):
                r["part"] = "B"
            print(json.dumps(r, ensure_ascii=False))
    return 0


def main(corpus: Path) -> int:
    labelled = [json.loads(line) for line in LABELS.open(encoding="utf-8") if line.strip()]
    earlier = [r for r in labelled if r.get("batch", 1) in (1, 2)]
    used = {r["source"] for r in earlier if r["source"].startswith("postmortems/icco")}
    known = {r["text"] for r in earlier}
    # the reports no batch used hold almost no clock times (one sentence): the clock-time
    # draw takes the sentences not yet labelled of every dated report, most of them from
    # reports that batches 1-2 drew other sentences from
    every = postmortems(corpus, set())
    pools = {"postmortem clock times": ([r for r in every if CLOCK.search(r["text"])], 1.0),
             "postmortems": (postmortems(corpus, used), 0.0), "danluu": (danluu(corpus), 0.5),
             "news": (news(corpus), 0.5), "vultr": (vultr(corpus), 0.6)}
    for provider in ("symantec-wss", "saucelabs-us-west", "atlassian-statuspage",
                     "digitalocean", "streamyard"):
        pools[provider] = (feeds(corpus, provider), 0.6)
    for provider in ("oracle-cloud-infrastructure", "cloudflare"):
        pools[provider] = (summaries(corpus, provider), 0.6)
    for name, (pool, share) in pools.items():
        drawn = _draw(pool, QUOTA[name], known, share)
        known |= {r["text"] for r in drawn}
        print(f"{name}: {len(pool)} candidates, {len(drawn)} drawn "
              f"({sum(bool(TIMEISH.search(r['text'])) for r in drawn)} time-ish)",
              file=sys.stderr)
        for r in drawn:
            r["batch"] = 3
            print(json.dumps(r, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    _args = [a for a in sys.argv[1:] if a != "--supplement"]
    _corpus = Path(_args[0]) if _args else ROOT.parent / "shared" / "corpus"
    raise SystemExit(supplement(_corpus) if "--supplement" in sys.argv else main(_corpus))
