"""Draw the fourth batch of impact-window texts to label (`labels_windows.jsonl`, rows with
`"batch": 4`): the status-page updates of GitHub, OpenAI and Anthropic, which stayed out of
batches 1-3, plus what is left unlabelled of the Statuspage feeds and snapshots, and Vultr
alerts, that batch 3 drew from.

    python bench/data/sample_windows_batch4.py ../shared/corpus > /tmp/candidates4.jsonl

Only text that no labelled row holds (as a whole or inside a longer row) and no test fixture
holds is drawn (`tests/fixtures/impact_windows.jsonl` holds 45 GitHub, OpenAI and Anthropic
updates the rules were first written against). Update bodies are HTML-stripped as the
normalizer's plain text is (`<br>`, `</p>`, `</li>` → newline); GitHub's 2010-2013 bodies that
embed a whole `<li>` timeline (several updates in one body, no single truth) and bodies over
600 characters are left out. Selection is by the order of sha256("window-sample-4:" + key)
with a quota per source, 85 % of each quota (as far as it goes) text with a clock time, the
rows a window reader can get wrong; the rest text without one. The key is
sha256("window:" + source + "|" + text)[:12] as before. Every row of batch 4 is held out
(`"split": "heldout"`, decided before labelling): batches 1-3 are the tuning data.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sample_windows import CLOCK, LABELS, ROOT, _row, summaries
from sample_windows_batch3 import _fresh, _norm, feeds, vultr

QUOTA = {"github-atom": 120, "github": 40, "anthropic": 45, "openai": 25, "vultr": 30,
         "oracle-cloud-infrastructure": 5, "cloudflare": 8, "symantec-wss": 6,
         "saucelabs-us-west": 4, "atlassian-statuspage": 4, "digitalocean": 6}
SHARE_TIMED = 0.85
MAX_CHARS = 1000
# Anthropic's feed writes `<var data-var='date'> 7</var>` (a space inside): the batch-2
# reader's pattern, with room for it
_UPDATE = re.compile(
    r"<small>(?P<mon>\w{3})\s*(?:<var[^>]*>)?\s*(?P<d>\d+)(?:</var>)?,\s*(?:<var[^>]*>)?"
    r"\s*(?P<t>\d\d:\d\d)(?:</var>)?\s*(?P<z>UTC)</small><br\s*/?>\s*<strong>[^<]*</strong>"
    r"\s*-\s*(?P<body>.*?)</p>", re.S)


def _order(key: str) -> str:
    return hashlib.sha256(f"window-sample-4:{key}".encode()).hexdigest()


def plain(body: str) -> str:
    """An update body as plain text: block ends to newlines, tags dropped, entities read."""
    text = re.sub(r"<br\s*/?>|</p>|</li>", "\n", body, flags=re.I)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _held(row: dict) -> dict:
    row["split"], row["batch"] = "heldout", 4
    return row


def statuspage_json(corpus: Path, provider: str) -> list[dict]:
    """Updates of the Statuspage incident JSON (GitHub's one file per incident, Anthropic's and
    OpenAI's backfills), posted at `display_at` as the parser reads them."""
    if provider == "github":
        paths = sorted((corpus / "statuspage_incident_json/github/incidents").glob("*.json"))
    else:
        paths = sorted((corpus / "statuspage_json" / provider).glob("incidents_backfill*.json"))
    found = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        incidents = [data["incident"]] if "incident" in data else data["incidents"]
        for incident in incidents:
            for u in incident.get("incident_updates", []):
                body = u.get("body") or ""
                when = u.get("display_at") or u.get("created_at")
                if not when or "<li" in body.lower():
                    continue
                text = plain(body)
                if 20 <= len(text) <= MAX_CHARS:
                    found.append(_row(provider, str(path.relative_to(corpus)),
                                      datetime.fromisoformat(when.replace("Z", "+00:00")), text))
    return found


def incidentio_atom(corpus: Path) -> list[dict]:
    """OpenAI's incident.io feed: one update per entry (the newest), posted at `<updated>`;
    the `Status:` line and the affected-components list are not the update's text."""
    found = []
    for path in sorted((corpus / "incidentio_atom/openai").glob("*.atom")):
        raw = path.read_text(encoding="utf-8")
        for entry in re.findall(r"<entry>(.*?)</entry>", raw, re.S):
            when = re.search(r"<updated>([^<]+)<", entry)
            content = re.search(r"<content[^>]*><!\[CDATA\[(.*?)\]\]></content>", entry, re.S)
            if not when or not content:
                continue
            body = re.sub(r"<b>Status:[^<]*</b>", "", content[1])
            body = re.split(r"<b>Affected components</b>", body)[0]
            text = plain(body)
            if 20 <= len(text) <= MAX_CHARS:
                found.append(_row("openai", str(path.relative_to(corpus)),
                                  datetime.fromisoformat(when[1].replace("Z", "+00:00")), text))
    return found


def atom_updates(corpus: Path, provider: str) -> list[dict]:
    """Updates of a Statuspage Atom feed whose stamps are UTC, posted at their stamp (the year
    is the entry's `<published>` year)."""
    found = []
    for path in sorted((corpus / "statuspage_atom" / provider).glob("*.atom")):
        raw = path.read_text(encoding="utf-8")
        for entry in re.findall(r"<entry>(.*?)</entry>", raw, re.S):
            pub = re.search(r"<published>(\d{4})", entry)
            content = re.search(r"<content[^>]*>(.*?)</content>", entry, re.S)
            if not pub or not content:
                continue
            for u in _UPDATE.finditer(html.unescape(content[1])):
                when = datetime.strptime(f"{u['mon']} {u['d']} {pub[1]} {u['t']}",
                                         "%b %d %Y %H:%M").replace(tzinfo=UTC)
                text = plain(u["body"])
                if 20 <= len(text) <= MAX_CHARS:
                    found.append(_row(provider, str(path.relative_to(corpus)), when, text))
    return found


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in _strings(v)] if isinstance(value, list) else []


def fixture_texts() -> str:
    """Every test fixture's text as the reader would see it, normalized: the raw file, its
    JSON strings decoded (a body with line breaks is stored as `\\n` in JSON, which batch 3's
    raw-text check missed) and its markup stripped (feeds store HTML-escaped bodies)."""
    found = []
    for path in (ROOT / "tests" / "fixtures").rglob("*"):
        if not path.is_file() or path.suffix not in {".json", ".jsonl", ".atom", ".rss", ".md",
                                                      ".txt", ".xml", ".html"}:
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        found += [raw, plain(html.unescape(raw))]
        docs = raw.splitlines() if path.suffix == ".jsonl" else [raw]
        for doc in docs:
            with contextlib.suppress(ValueError):  # a fixture that is not JSON: raw text only
                found += [plain(s) for s in _strings(json.loads(doc))]
    return "\n".join(_norm(t) for t in found)


def _draw(rows: list[dict], quota: int, known: set[str]) -> list[dict]:
    unique: dict[str, dict] = {}
    for r in rows:
        if r["text"] not in known:
            unique.setdefault(r["text"], r)
    ordered = sorted(unique.values(), key=lambda r: _order(r["key"]))
    timed = [r for r in ordered if CLOCK.search(r["text"])]
    untimed = [r for r in ordered if not CLOCK.search(r["text"])]
    n_timed = min(len(timed), round(quota * SHARE_TIMED))
    return timed[:n_timed] + untimed[: quota - n_timed]


def main(corpus: Path) -> int:
    earlier = [json.loads(line) for path in sorted(LABELS.parent.glob("labels_windows*.jsonl"))
               for line in path.open(encoding="utf-8") if line.strip()]
    fresh = _fresh([_norm(r["text"]) for r in earlier if r.get("batch") != 4])
    fixtures = fixture_texts()
    known = {_norm(r["text"]) for r in earlier if r.get("batch") != 4}  # rerun: same draw
    pools = {
        "github-atom": atom_updates(corpus, "github"),
        "github": statuspage_json(corpus, "github"),
        "anthropic": statuspage_json(corpus, "anthropic") + atom_updates(corpus, "anthropic"),
        "openai": statuspage_json(corpus, "openai") + incidentio_atom(corpus),
        "oracle-cloud-infrastructure": summaries(corpus, "oracle-cloud-infrastructure"),
        "cloudflare": summaries(corpus, "cloudflare"),
        "vultr": vultr(corpus),
    }
    for provider in ("symantec-wss", "saucelabs-us-west", "atlassian-statuspage",
                     "digitalocean"):
        pools[provider] = feeds(corpus, provider)
    for name, pool in pools.items():
        for r in pool:  # feeds' bodies keep their line breaks as the reader sees them
            r["text"] = "\n".join(s.strip() for s in r["text"].splitlines() if s.strip())
        candidates = [r for r in pool if _norm(r["text"]) not in known and len(r["text"])
                      <= MAX_CHARS and fresh(r) and _norm(r["text"]) not in fixtures]
        drawn = _draw(candidates, QUOTA[name], known)
        known |= {_norm(r["text"]) for r in drawn}
        print(f"{name}: {len(pool)} updates, {len(candidates)} fresh, {len(drawn)} drawn "
              f"({sum(bool(CLOCK.search(r['text'])) for r in drawn)} with a clock time)",
              file=sys.stderr)
        for r in drawn:
            if name == "github-atom":
                r["provider"] = "github"
            print(json.dumps(_held(r), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1
                          else ROOT.parent / "shared" / "corpus"))
