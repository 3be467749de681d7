"""Search quality on real data: Recall@5 and MRR@10 for keyword, semantic and hybrid modes.

Usage: python bench/eval_search.py [--home DIR] [--backend onnx-int8|onnx|torch]
                                   [--corpus ../shared/corpus] [--json FILE]

Two evaluation sets (see tests/fixtures/search/LABELS.md for how they were made):

1. Hand-labeled status-page incidents (tests/fixtures/search/labels.json): 18 topics, each a
   natural query plus the incidents a person judged to answer it (same provider, same
   component and same kind of failure). Two tasks:
   - search: `kb search QUERY --provider P` must put the topic's incidents in its top 5;
   - similar: `kb similar MEMBER` (up to 10 members per topic) must find the other members.
2. The 242 categorised public postmortems (../shared/corpus/postmortems/icco): each
   postmortem queries `similar`; relevant = the others sharing one of a fixed list of specific
   cause keywords in their front matter (automatic labels, not checked one by one).

Recall@5 = |relevant ∩ top 5| / min(5, |relevant|); MRR@10 = 1 / rank of the first relevant
result in the top 10 (0 when none). Both are averaged per topic first, then over topics, so a
topic with 146 members weighs as much as one with 2.

The KB is built once in --home (default: a folder under the system temp dir): the corpus is
ingested and embedded with the chosen backend, then reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LABELS = ROOT / "tests" / "fixtures" / "search" / "labels.json"
FOLDERS = ("statuspage_incident_json/github", "statuspage_json", "statuspage_atom",
           "statuspage_rss", "incidentio_atom")
MODES = ("keyword", "semantic", "hybrid")
# Front-matter keywords that name a cause or mechanism (not a company, product or "outage").
CAUSE_KEYWORDS = ("dns", "bgp", "leap second", "power outage", "power loss", "generator",
                  "packet loss", "deadlock", "memory leak", "network partition", "redis",
                  "zookeeper", "pacemaker", "replication", "failover", "data loss", "ebs",
                  "load balancer", "elb", "cascading failure", "configuration change",
                  "certificate", "ddos", "rate limiting", "split brain", "disk full")


def build(home: Path, corpus: Path, backend: str):  # type: ignore[no-untyped-def]
    """A store at `home` holding the corpus, embedded with `backend` (reused when present)."""
    from kb.config import load_sources
    from kb.embed.encoder import resolve_model
    from kb.embed.stage import embed_missing
    from kb.pipeline import Line, ingest
    from kb.store import Store
    from scrapers.archive import Archive

    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'kb.db'}"
    store, _ = Store.open(url, write=True)
    if not any(True for _ in store.incidents(limit=1)):
        sources = load_sources(ROOT / "data" / "sources.toml")
        ingest(Line(store, Archive(home / "raw"), sources), [corpus / f for f in FOLDERS])
    spec = resolve_model({"KB_EMBED_BACKEND": backend})
    report = embed_missing(store, home, spec=spec)
    print(f"# {report.summary()} ({report.seconds:.0f} s)", file=sys.stderr)
    return store, spec


def recall_mrr(ranked: Sequence[str], relevant: set[str]) -> tuple[float, float]:
    if not relevant:
        raise ValueError("a query with no relevant item")
    hits = sum(1 for key in ranked[:5] if key in relevant)
    recall = hits / min(5, len(relevant))
    first = next((rank for rank, key in enumerate(ranked[:10], 1) if key in relevant), None)
    return recall, (1.0 / first if first else 0.0)


def spread(items: Sequence[str], n: int) -> list[str]:
    """n members evenly spread over the sorted list (deterministic)."""
    items = sorted(items)
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def evaluate_labels(store, home: Path, spec) -> dict[str, dict[str, dict[str, float]]]:  # type: ignore[no-untyped-def]
    from kb.embed.search import Searcher, is_duplicate
    from kb.store.vectors import SearchFilters

    topics = json.loads(LABELS.read_text())["topics"]
    searcher = Searcher(store, home, spec=spec)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for mode in MODES:
        per_task: dict[str, list[tuple[float, float]]] = {"search": [], "similar": [],
                                                          "similar_same_provider": []}
        for topic in topics:
            relevant = set(topic["relevant"])
            result = searcher.search(topic["query"], mode=mode, k=10,
                                     filters=SearchFilters(provider=topic["provider"]))
            per_task["search"].append(recall_mrr([h.key for h in result.hits], relevant))
            for task in ("similar", "similar_same_provider"):
                scores = []
                for member in spread(topic["relevant"], 10):
                    source = store.get(member)
                    others = {k for k in relevant - {member}
                              if not is_duplicate(source, store.get(k), None)}
                    if not others:
                        continue
                    same = SearchFilters(provider=source.provider) if task != "similar" \
                        else None
                    found = searcher.similar(member, k=10, mode=mode, filters=same)
                    scores.append(recall_mrr([h.key for h in found.hits], others))
                if scores:
                    per_task[task].append((statistics.mean(s[0] for s in scores),
                                           statistics.mean(s[1] for s in scores)))
        out[mode] = {task: {"recall@5": statistics.mean(v[0] for v in values),
                            "mrr@10": statistics.mean(v[1] for v in values),
                            "topics": len(values)}
                     for task, values in per_task.items()}
    return out


def postmortem_incidents(folder: Path):  # type: ignore[no-untyped-def]
    """The icco postmortems as incidents (title + summary + text) and their cause keywords."""
    from kb.model import Incident, Kind, Lifecycle, Phase, Severity, Update

    incidents, causes = [], {}
    base = datetime(2000, 1, 1, tzinfo=UTC)
    for index, path in enumerate(sorted(folder.glob("*.md"))):
        text = path.read_text(encoding="utf-8")
        parts = text.split("---", 2)
        if len(parts) < 3:
            continue
        front, body = parts[1], parts[2]
        title = re.search(r"^title: (.*)$", front, re.M)
        summary = re.search(r"^summary: (.*)$", front, re.M)
        block = re.search(r"keywords:\n((?:- .*\n)+)", front)
        keywords = {k.strip().lower() for k in re.findall(r"- (.*)", block.group(1))} if block \
            else set()
        native = path.stem
        at = base + timedelta(days=10 * index)  # apart in time: never each other's duplicate
        prose = ((summary.group(1) if summary else "") + "\n" + body.replace("---", " ")).strip()
        incidents.append(Incident(
            provider="postmortems", native_id=native, title=title.group(1) if title else native,
            kind=Kind.INCIDENT, status="resolved", severity=Severity.NONE,
            lifecycle=Lifecycle(first_post_at=at, resolved_at=at + timedelta(hours=1)),
            updates=(Update(at=at, phase=Phase.POSTMORTEM, label="Postmortem", body=prose,
                            text=prose),),
        ))
        causes[f"postmortems/{native}"] = keywords & set(CAUSE_KEYWORDS)
    return incidents, causes


def evaluate_postmortems(corpus: Path, spec, model_home: Path  # type: ignore[no-untyped-def]
                         ) -> dict[str, dict[str, float]]:
    """`model_home` holds the cached ONNX export of the main KB: no second export."""
    from kb.embed.search import Searcher
    from kb.embed.stage import embed_missing
    from kb.pipeline import content_hash
    from kb.store import Store
    from kb.store.repo import IncidentWrite

    incidents, causes = postmortem_incidents(corpus / "postmortems" / "icco" / "data")
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = Store.open(f"sqlite:///{Path(tmp) / 'kb.db'}", write=True)
        store.write_batch([IncidentWrite(i, content_hash(i), []) for i in incidents], [])
        embed_missing(store, model_home, spec=spec)
        searcher = Searcher(store, model_home, spec=spec)
        out = {}
        for mode in MODES:
            scores = []
            for key, mine in sorted(causes.items()):
                relevant = {k for k, theirs in causes.items() if k != key and mine & theirs}
                if not relevant:
                    continue
                found = searcher.similar(key, k=10, mode=mode)
                scores.append(recall_mrr([h.key for h in found.hits], relevant))
            out[mode] = {"recall@5": statistics.mean(s[0] for s in scores),
                         "mrr@10": statistics.mean(s[1] for s in scores), "queries": len(scores)}
        store.close()
    return out


def markdown(results: dict) -> str:  # type: ignore[type-arg]
    lines = [f"Backend: {results['model_id']}", "",
             "| mode | search R@5 / MRR | similar, same provider R@5 / MRR | similar, all "
             "providers R@5 / MRR | postmortems R@5 / MRR |", "|---|---|---|---|---|"]
    for mode in MODES:
        lab, pm = results["labels"][mode], results["postmortems"][mode]
        cells = [f"{lab[t]['recall@5']:.3f} / {lab[t]['mrr@10']:.3f}"
                 for t in ("search", "similar_same_provider", "similar")]
        cells.append(f"{pm['recall@5']:.3f} / {pm['mrr@10']:.3f}")
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"corpus not found: {args.corpus}")
    home = args.home or Path(tempfile.gettempdir()) / f"kb-eval-{args.backend}"
    store, spec = build(home, args.corpus, args.backend)
    results = {"model_id": spec.model_id, "labels": evaluate_labels(store, home, spec),
               "postmortems": evaluate_postmortems(args.corpus, spec, home)}
    store.close()
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
