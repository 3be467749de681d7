"""Synthetic status pages at scale: Statuspage-shaped `incidents.json` payload files whose
sizes follow the recorded corpus, so `kb ingest` measures its real path at 100k and 1M.

Usage:
    python bench/synthetic.py profile [--corpus ../shared/corpus]   # refresh the profile
    python bench/synthetic.py generate OUT --count 100000 [--seed 19] [--providers 300]

`profile` reads the corpus' Statuspage JSON (GitHub's per-incident files, Anthropic's and
OpenAI's incidents.json) and writes bench/data/synthetic_profile.json: the distributions the
generator draws from (whole phase sequences, hence updates per incident and their phases;
update body lengths; minutes between updates; title lengths; components per incident;
impact; the share of HTML bodies; the corpus' most frequent words). Only figures and single
words leave the corpus, never a sentence.

`generate` writes OUT/<provider>/incidents-NNNNNN.json, 50 incidents per file (a real
incidents.json holds the 50 newest), one file at a time: memory is one file whatever the
count. Deterministic: the same seed, count and provider count give byte-identical files,
and file N depends only on (seed, N), so a run can be cut short or resumed.

What is NOT from the corpus, because the corpus cannot say: how incidents spread over
providers (a mirror of thousands of pages; here a Zipf law, s = 1.1, over `--providers`
synthetic pages), the component names (eight per provider, from a fixed list) and the words'
order (drawn independently by frequency, so the text has the corpus' vocabulary and lengths
but no grammar: search quality is not measured on it, only speed).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import itertools
import json
import math
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "bench" / "data" / "synthetic_profile.json"
PER_FILE = 50  # incidents per payload: what a Statuspage incidents.json holds
ZIPF_S = 1.1
END = datetime(2026, 9, 15, tzinfo=UTC)  # the newest synthetic incident is before this
SPAN_DAYS = 6 * 365
COMPONENT_WORDS = ["API", "Dashboard", "Webhooks", "Login", "Billing", "Git Operations",
                   "Actions", "Pages", "Packages", "DNS", "CDN", "Object storage", "Compute",
                   "Databases", "Networking", "Notifications", "Search", "Realtime",
                   "EU region", "US region", "Asia region", "Mobile app", "Console", "Builds"]
QUANTILES = 200  # length/gap distributions are kept as this many quantiles


# -- profile: what the corpus says -------------------------------------------------------

def _corpus_incidents(corpus: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((corpus / "statuspage_incident_json").glob("*/incidents/*.json")):
        incident = json.loads(path.read_bytes()).get("incident")
        if isinstance(incident, dict):
            yield incident
    for path in sorted((corpus / "statuspage_json").glob("*/incidents*.json")):
        for incident in json.loads(path.read_bytes()).get("incidents") or []:
            if isinstance(incident, dict):
                yield incident


def _quantiles(values: list[float]) -> list[float]:
    values = sorted(values)
    return [values[min(len(values) - 1, round(q * (len(values) - 1) / (QUANTILES - 1)))]
            for q in range(QUANTILES)]


def _stamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def build_profile(corpus: Path) -> dict[str, Any]:
    """The distributions of the corpus' Statuspage incidents (see the module docstring)."""
    sequences: Counter[str] = Counter()
    components: Counter[int] = Counter()
    impacts: Counter[str] = Counter()
    bodies: list[float] = []
    titles: list[float] = []
    gaps: list[float] = []
    words: Counter[str] = Counter()
    html = incidents = 0
    for incident in _corpus_incidents(corpus):
        updates = sorted(incident.get("incident_updates") or [],
                         key=lambda u: u.get("display_at") or u.get("created_at") or "")
        if not updates:
            continue
        incidents += 1
        sequences[",".join(str(u.get("status") or "update") for u in updates)] += 1
        components[len(incident.get("components") or [])] += 1
        impacts[str(incident.get("impact") or "none")] += 1
        titles.append(len(incident.get("name") or ""))
        times = [_stamp(u.get("display_at") or u.get("created_at")) for u in updates]
        gaps += [max(0.0, (b - a).total_seconds() / 60) for a, b in itertools.pairwise(times)
                 if a and b]
        for update in updates:
            body = str(update.get("body") or "")
            html += bool(re.search(r"<[a-z]+[ >]", body))
            bodies.append(len(body))
            words.update(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{1,20}", body))
    if not incidents:
        raise SystemExit(f"{corpus}: no Statuspage incidents found")
    return {
        "source": "../shared/corpus statuspage_incident_json + statuspage_json "
                  f"({incidents} incidents, {len(bodies)} updates)",
        "incidents": incidents,
        "sequences": sequences.most_common(),
        "components": sorted(components.items()),
        "impacts": sorted(impacts.items()),
        "html_share": round(html / len(bodies), 4),
        "body_chars": _quantiles(bodies),
        "title_chars": _quantiles(titles),
        "gap_minutes": _quantiles(gaps),
        "words": words.most_common(2000),
    }


# -- generation -----------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """The profile file, ready to sample from."""

    sequences: list[list[str]]
    sequence_weights: list[int]
    components: list[int]
    component_weights: list[int]
    impacts: list[str]
    impact_weights: list[int]
    html_share: float
    body_chars: list[float]
    title_chars: list[float]
    gap_minutes: list[float]
    words: list[str]
    word_cumulative: list[int]

    @classmethod
    def load(cls, path: Path = PROFILE) -> Profile:
        data = json.loads(path.read_text())
        return cls(
            sequences=[s.split(",") for s, _ in data["sequences"]],
            sequence_weights=[n for _, n in data["sequences"]],
            components=[int(c) for c, _ in data["components"]],
            component_weights=[n for _, n in data["components"]],
            impacts=[i for i, _ in data["impacts"]],
            impact_weights=[n for _, n in data["impacts"]],
            html_share=data["html_share"],
            body_chars=data["body_chars"], title_chars=data["title_chars"],
            gap_minutes=data["gap_minutes"],
            words=[w for w, _ in data["words"]],
            word_cumulative=list(itertools.accumulate(n for _, n in data["words"])),
        )


def _draw(rng: random.Random, quantiles: list[float]) -> float:
    """A value of the distribution kept as quantiles (linear between them)."""
    x = rng.random() * (len(quantiles) - 1)
    low = int(x)
    high = min(low + 1, len(quantiles) - 1)
    return quantiles[low] + (quantiles[high] - quantiles[low]) * (x - low)


def _text(rng: random.Random, profile: Profile, chars: int) -> str:
    total = profile.word_cumulative[-1]
    out: list[str] = []
    size = 0
    while size < chars:
        word = profile.words[bisect.bisect_right(profile.word_cumulative,
                                                 rng.random() * total - 1e-9)]
        out.append(word)
        size += len(word) + 1
    text = " ".join(out)[: max(1, chars)]
    return text[:1].upper() + text[1:] + "."


def provider_slugs(count: int) -> list[str]:
    """`count` synthetic provider slugs, stable for a count (p0001-...)."""
    return [f"p{n:04d}-{hashlib.sha256(str(n).encode()).hexdigest()[:4]}"
            for n in range(1, count + 1)]


def _provider_of_file(seed: int, index: int, cumulative: list[float]) -> int:
    rng = random.Random(f"{seed}-provider-{index}")
    return bisect.bisect_right(cumulative, rng.random() * cumulative[-1])


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def payload(profile: Profile, seed: int, index: int, slug: str, count: int) -> dict[str, Any]:
    """File `index`'s payload: `count` incidents of provider `slug`, newest first."""
    rng = random.Random(f"{seed}-file-{index}")
    names = rng.sample(COMPONENT_WORDS, 8)
    host = f"status.{slug}.test"
    incidents = []
    for n in range(count):
        native = hashlib.sha256(f"{seed}-{index}-{n}".encode()).hexdigest()[:12]
        start = END - timedelta(minutes=rng.randint(0, SPAN_DAYS * 24 * 60))
        statuses = rng.choices(profile.sequences, profile.sequence_weights)[0]
        picked = rng.sample(names, min(len(names), rng.choices(
            profile.components, profile.component_weights)[0]))
        at, updates = start, []
        for u, status in enumerate(statuses):
            if u:
                at += timedelta(minutes=_draw(rng, profile.gap_minutes))
            body = _text(rng, profile, round(_draw(rng, profile.body_chars)))
            if rng.random() < profile.html_share:
                body = f"<p>{body}</p><ul><li><strong>{picked[0] if picked else 'API'}"\
                       f"</strong> - {body[:80]}</li></ul>"
            updates.append({
                "id": hashlib.sha256(f"{native}-{u}".encode()).hexdigest()[:12],
                "status": status, "body": body, "incident_id": native,
                "created_at": _iso(at), "updated_at": _iso(at), "display_at": _iso(at),
                "affected_components": [
                    {"code": hashlib.sha256(c.encode()).hexdigest()[:12], "name": c,
                     "old_status": "operational", "new_status": "degraded_performance"}
                    for c in picked] if u == 0 and picked else None,
            })
        resolved = at if statuses[-1] in ("resolved", "postmortem", "completed") else None
        title = _text(rng, profile, max(8, round(_draw(rng, profile.title_chars))))[:-1]
        incidents.append({
            "id": native, "name": title,
            "status": statuses[-1], "impact": rng.choices(profile.impacts,
                                                           profile.impact_weights)[0],
            "created_at": _iso(start), "updated_at": _iso(at), "started_at": _iso(start),
            "monitoring_at": None, "resolved_at": _iso(resolved) if resolved else None,
            "shortlink": f"https://{host}/i/{native}", "page_id": slug,
            "components": [{"id": hashlib.sha256(c.encode()).hexdigest()[:12], "name": c,
                            "status": "operational"} for c in picked],
            "incident_updates": list(reversed(updates)),
        })
    incidents.sort(key=lambda i: i["created_at"], reverse=True)
    return {
        "_meta": {"provider": slug, "source_platform": "statuspage", "kind": "synthetic",
                  "source_url": f"https://{host}/api/v2/incidents.json"},
        "page": {"id": slug, "name": slug.split("-")[0].upper(), "url": f"https://{host}",
                 "time_zone": "Etc/UTC", "updated_at": _iso(END)},
        "incidents": incidents,
    }


@dataclass
class Generated:
    files: int = 0
    incidents: int = 0
    updates: int = 0
    bytes: int = 0


def generate(out: Path, count: int, *, seed: int = 19, providers: int = 300,
             per_file: int = PER_FILE, profile: Profile | None = None) -> Generated:
    """Write `count` incidents as payload files under `out` (see the module docstring).
    A file already there with the same bytes is left alone (a rerun writes nothing)."""
    profile = profile or Profile.load()
    slugs = provider_slugs(providers)
    cumulative = list(itertools.accumulate(1 / (r ** ZIPF_S) for r in range(1, providers + 1)))
    done = Generated()
    for index in range(math.ceil(count / per_file)):
        size = min(per_file, count - index * per_file)
        slug = slugs[_provider_of_file(seed, index, cumulative)]
        data = json.dumps(payload(profile, seed, index, slug, size), indent=1).encode()
        path = out / slug / f"incidents-{index:06d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
        done.files += 1
        done.incidents += size
        done.updates += data.count(b'"display_at"')
        done.bytes += len(data)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prof = sub.add_parser("profile", help="rewrite bench/data/synthetic_profile.json")
    prof.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    gen = sub.add_parser("generate", help="write payload files")
    gen.add_argument("out", type=Path)
    gen.add_argument("--count", type=int, default=100_000)
    gen.add_argument("--seed", type=int, default=19)
    gen.add_argument("--providers", type=int, default=300)
    args = parser.parse_args(argv)
    if args.command == "profile":
        PROFILE.write_text(json.dumps(build_profile(args.corpus), indent=0) + "\n")
        print(f"wrote {PROFILE}")
        return
    made = generate(args.out, args.count, seed=args.seed, providers=args.providers)
    print(f"{made.files} files, {made.incidents} incidents, {made.updates} updates, "
          f"{made.bytes / 1e6:.0f} MB in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
