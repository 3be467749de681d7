"""Draw the second batch of impact-window sentences to label (`labels_windows.jsonl`, rows
with `"batch": 2`), from providers and documents of ../shared/corpus that the first batch
did not use: the postmortems of `postmortems/icco` not yet sampled, DigitalOcean's
feed entries not yet sampled, StreamYard, Parse, and Cloudflare's `summary.json` snapshots.

    python bench/data/sample_windows.py ../shared/corpus > /tmp/candidates.jsonl

Printed rows carry everything but the label (`start`, `end` are null): they are labelled by
reading, then appended. Selection is by the order of sha256("window-sample:" + key), with a
quota per source, then a second draw of 60 postmortem sentences that state a clock time
(the first draw held few windows); about four in five drawn sentences mention a time or a
length (the rows a window reader can get wrong), the rest none. The key is
sha256("window:" + source + "|" + text)[:12]; the split is `int(key, 16) % 10 < 4` → heldout,
as for the first batch, so it is fixed by the key before any label or rule is seen.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kb.normalize.impact import sentences  # noqa: E402  (the project's own splitter)

LABELS = Path(__file__).with_name("labels_windows.jsonl")
TIMEISH = re.compile(r"\d{1,2}:\d{2}|\b\d{1,2}\s?[ap]\.?m\b|\bUTC\b|\b(?:minutes?|hours?)\b"
                     r"|\b\d{1,2}/\d{1,2}\b", re.I)
CLOCK = re.compile(r"\d{1,2}:\d{2}|\b\d{1,2}\s?[ap]\.?m\b", re.I)
QUOTA = {"postmortems": 105, "postmortem clock times": 60, "digitalocean": 28, "cloudflare": 12,
         "streamyard": 8, "parse": 7}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
_DATE = re.compile(r"\b(" + "|".join(MONTHS) + r")\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


def key_of(source: str, text: str) -> str:
    return hashlib.sha256(f"window:{source}|{text}".encode()).hexdigest()[:12]


def _order(key: str) -> str:
    return hashlib.sha256(f"window-sample:{key}".encode()).hexdigest()


def _row(provider: str, source: str, posted: datetime, text: str,
         context: str | None = None) -> dict:
    key = key_of(source, text)
    row = {"key": key, "split": "heldout" if int(key, 16) % 10 < 4 else "tune",
           "provider": provider, "source": source, "posted": posted.isoformat(),
           "start": None, "end": None, "text": text, "batch": 2}
    if context:
        row["context"] = context
    return row


def postmortems(corpus: Path, used: set[str]) -> list[dict]:
    """Sentences of the icco postmortems the first batch did not use; each is read after its
    document's opening date (the first full date of the body, else the front matter's
    start) and posted two days after it, as the first batch was."""
    found = []
    for path in sorted((corpus / "postmortems/icco/data").glob("*.md")):
        source = str(path.relative_to(corpus))
        if source in used:
            continue
        raw = path.read_text(encoding="utf-8")
        parts = raw.split("---", 2)
        if len(parts) < 3:
            continue
        front, body = parts[1], parts[2]
        m = _DATE.search(body)
        if m:
            day = datetime.strptime(f"{m[1]} {m[2]} {m[3]}", "%B %d %Y")
        else:
            s = re.search(r"^start_time:\s*'?(\d{4}-\d{2}-\d{2})", front, re.M)
            if not s:
                continue
            day = datetime.strptime(s[1], "%Y-%m-%d")
        context = f"On {MONTHS[day.month - 1]} {day.day}, {day.year}."
        posted = day.replace(tzinfo=UTC) + timedelta(days=2)
        slug = "postmortem:" + path.stem[:8]
        for sentence in sentences(body):
            if 30 <= len(sentence) <= 600:
                found.append(_row(slug, source, posted, sentence, context))
    return found


_UPDATE = re.compile(
    r"<small>(?P<mon>\w{3})\s*(?:<var[^>]*>)?(?P<d>\d+)(?:</var>)?,\s*(?:<var[^>]*>)?"
    r"(?P<t>\d\d:\d\d)(?:</var>)?\s*(?P<z>\w+)</small><br\s*/?><strong>[^<]*</strong>"
    r"\s*-\s*(?P<body>.*?)</p>", re.S)
_OFFSET = {"UTC": 0, "PST": -8, "PDT": -7}


def _feed_updates(path: Path, corpus: Path, provider: str) -> list[dict]:
    """Updates of a Statuspage Atom/RSS feed (UTC, PST or PDT stamps), as (posted, body)
    rows."""
    raw = path.read_text(encoding="utf-8")
    found = []
    for entry in re.findall(r"<(?:entry|item)>(.*?)</(?:entry|item)>", raw, re.S):
        pub = re.search(r"<(?:published|pubDate)>([^<]+)<", entry)
        content = re.search(r"<(?:content|description)[^>]*>(.*?)</(?:content|description)>",
                            entry, re.S)
        if not pub or not content:
            continue
        stamp = pub[1].strip()
        try:
            year = datetime.fromisoformat(stamp.replace("Z", "+00:00")).year
        except ValueError:
            year = int(re.search(r"\b(\d{4})\b", stamp)[1])
        text = html.unescape(content[1])
        if "CDATA" in text:
            text = text.replace("<![CDATA[", "").replace("]]>", "")
        for u in _UPDATE.finditer(text):
            if u["z"] not in _OFFSET:
                continue
            when = datetime.strptime(f"{u['mon']} {u['d']} {year} {u['t']}", "%b %d %Y %H:%M")
            when -= timedelta(hours=_OFFSET[u["z"]])
            body = re.sub(r"<[^>]+>", " ", u["body"])
            body = html.unescape(re.sub(r"[ \t]+", " ", body)).strip()
            if body:
                found.append(_row(provider, str(path.relative_to(corpus)),
                                  when.replace(tzinfo=UTC), body))
    return found


def summaries(corpus: Path, provider: str = "cloudflare") -> list[dict]:
    """Updates of a provider's summary.json snapshots, first snapshot holding each."""
    found, seen = [], set()
    for path in sorted((corpus / "statuspage_summary" / provider).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for incident in data.get("incidents", []) + data.get("scheduled_maintenances", []):
            for u in incident.get("incident_updates", []):
                if u["id"] in seen or not (u.get("body") or "").strip():
                    continue
                seen.add(u["id"])
                posted = datetime.fromisoformat(u["created_at"].replace("Z", "+00:00"))
                found.append(_row(provider, str(path.relative_to(corpus)), posted,
                                  u["body"].strip()))
    return found


def _draw(rows: list[dict], quota: int, known: set[str]) -> list[dict]:
    unique: dict[str, dict] = {}
    for r in rows:
        if r["text"] not in known:
            unique.setdefault(r["text"], r)
    ordered = sorted(unique.values(), key=lambda r: _order(r["key"]))
    timed = [r for r in ordered if TIMEISH.search(r["text"])]
    plain = [r for r in ordered if not TIMEISH.search(r["text"])]
    n_plain = max(min(len(plain), quota // 5), quota - len(timed))
    return timed[: quota - n_plain] + plain[:n_plain]


def main(corpus: Path) -> int:
    labelled = [json.loads(line) for line in LABELS.open(encoding="utf-8") if line.strip()]
    first = [r for r in labelled if r.get("batch", 1) == 1]  # batch 2 redrawn as it was
    used = {r["source"] for r in first}
    known = {r["text"] for r in first}
    pools = {
        "postmortems": postmortems(corpus, used),
        "digitalocean": [r for p in sorted((corpus / "statuspage_atom/digitalocean").glob("*"))
                         + sorted((corpus / "statuspage_rss/digitalocean").glob("*"))
                         for r in _feed_updates(p, corpus, "digitalocean")],
        "cloudflare": summaries(corpus),
        "streamyard": [r for p in sorted((corpus / "statuspage_rss/streamyard").glob("*"))
                       for r in _feed_updates(p, corpus, "streamyard")],
        "parse": [r for p in sorted((corpus / "statuspage_rss/parse").glob("*"))
                  for r in _feed_updates(p, corpus, "parse")],
    }
    # a second draw from the same postmortems, of sentences with a clock time only (the
    # first gave few windows); drawn after the first, so the first is unchanged
    pools["postmortem clock times"] = [r for r in pools["postmortems"] if CLOCK.search(r["text"])]
    for name, pool in pools.items():
        drawn = _draw(pool, QUOTA[name], known)
        if name == "postmortems":
            known |= {r["text"] for r in drawn}
        print(f"{name}: {len(pool)} candidates, {len(drawn)} drawn", file=sys.stderr)
        for r in drawn:
            print(json.dumps(r, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared"
                               / "corpus")))
