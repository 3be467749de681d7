"""Search quality on real data: Recall@5 and MRR@10 for keyword, semantic and hybrid modes.

Usage: python bench/eval_search.py [--home DIR] [--backend onnx-int8|onnx|torch]
                                   [--corpus ../shared/corpus] [--json FILE] [--tune]

Two evaluation sets (see tests/fixtures/search/LABELS.md for how they were made):

1. Hand-labeled status-page incidents: 18 topics (tests/fixtures/search/labels.json), each a
   natural query plus the incidents a person judged to answer it (same provider, same
   component and same kind of failure), and 828 incident pairs judged one by one
   (tests/fixtures/search/pairs.json). Tasks:
   - search: `kb search QUERY --provider P` must put the topic's incidents in its top 5;
   - similar, judged pairs: `kb similar Q` for 194 incidents (ten members of each topic and
     40 incidents of no topic); relevant = the topic's other members plus every incident
     judged related to Q. The pairs were pooled from the top 5 of the three modes and judged
     blind (see LABELS.md); a top-5 result nobody judged counts as a miss and is reported;
   - similar, topic labels only: the same topic queries, relevant = the topic's members
     only (the earlier, stricter measure: a related incident of another topic is a miss).
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

from kb.config import PACKAGED_SOURCES

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LABELS = ROOT / "tests" / "fixtures" / "search" / "labels.json"
PAIRS = ROOT / "tests" / "fixtures" / "search" / "pairs.json"
FOLDERS = ("statuspage_incident_json/github", "statuspage_json", "statuspage_atom",
           "statuspage_rss", "incidentio_atom")
MODES = ("keyword", "semantic", "hybrid")
# The exact-identifier task asks its queries of every provider at once, with the two cloud
# providers whose incidents are full of regions and product names added to the KB.
IDENTIFIER_FOLDERS = ("aws_health_json", "gcp_incidents_json")
IDENTIFIERS = ROOT / "bench" / "data" / "search_identifiers.json"
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
        sources = load_sources(PACKAGED_SOURCES)
        ingest(Line(store, Archive(home / "raw"), sources), [corpus / f for f in FOLDERS])
    spec = resolve_model({"KB_EMBED_BACKEND": backend})
    report = embed_missing(store, home, spec=spec)
    print(f"# {report.summary()} ({report.seconds:.0f} s)", file=sys.stderr)
    return store, spec


def build_identifiers(home: Path, corpus: Path, spec):  # type: ignore[no-untyped-def]
    """The KB of the exact-identifier task: a copy of the main KB in `home`/identifiers (its
    vectors included) plus the AWS and Google Cloud folders, embedded (reused when present)."""
    import sqlite3

    from kb.config import load_sources
    from kb.embed.stage import embed_missing
    from kb.pipeline import Line, ingest
    from kb.store import Store
    from scrapers.archive import Archive

    folder = home / "identifiers"
    if not (folder / "complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{home / 'kb.db'}?mode=ro", uri=True)
        target = sqlite3.connect(folder / "kb.db")
        source.backup(target)
        target.close()
        source.close()
        store, _ = Store.open(f"sqlite:///{folder / 'kb.db'}", write=True)
        sources = load_sources(PACKAGED_SOURCES)
        ingest(Line(store, Archive(folder / "raw"), sources),
               [corpus / f for f in IDENTIFIER_FOLDERS])
        report = embed_missing(store, home, spec=spec)
        print(f"# identifiers KB: {report.summary()}", file=sys.stderr)
        store.close()
        (folder / "complete").write_text("ok\n")
    store, _ = Store.open(f"sqlite:///{folder / 'kb.db'}")
    return store


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


def similar_queries(topics: Sequence[dict]) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    """(incident, topic) pairs asking `kb similar`: ten members spread over each topic, then
    the judged set's own extra queries (incidents of no topic), in file order."""
    queries: list[tuple[str, str | None]] = []
    for topic in topics:
        queries.extend((member, topic["id"]) for member in spread(topic["relevant"], 10))
    if PAIRS.is_file():
        known = {key for key, _ in queries}
        queries.extend((q["key"], None) for q in json.loads(PAIRS.read_text())["queries"]
                       if q["topic"] is None and q["key"] not in known)
    return queries


def judged_pairs() -> dict[frozenset[str], bool | None]:
    """The hand-judged pairs (tests/fixtures/search/pairs.json): related true/false/null."""
    if not PAIRS.is_file():
        return {}
    return {frozenset((p["a"], p["b"])): p["related"]
            for p in json.loads(PAIRS.read_text())["pairs"]}


class SimilarTask:
    """`kb similar` over the judged queries: relevant = the query's topic co-members (none for
    a query of no topic) and, with `judged`, every pair judged related. Scores are averaged
    per topic (each extra query is its own group), so a 146-member topic weighs one."""

    def __init__(self, store, topics: Sequence[dict], *, judged: bool) -> None:  # type: ignore[no-untyped-def,type-arg]
        from kb.embed.search import is_duplicate

        members = {t["id"]: set(t["relevant"]) for t in topics}
        pairs = judged_pairs() if judged else {}
        related: dict[str, set[str]] = {}
        self.judged: dict[str, set[str]] = {}  # every candidate judged either way
        for pair, verdict in pairs.items():
            a, b = sorted(pair)
            for one, other in ((a, b), (b, a)):
                self.judged.setdefault(one, set()).add(other)
                if verdict:
                    related.setdefault(one, set()).add(other)
        self.queries: list[tuple[str, str, set[str]]] = []
        for key, topic in similar_queries(topics):
            if topic is None and not judged:
                continue
            source = store.get(key)
            relevant = (members.get(topic, set()) | related.get(key, set())) - {key}
            relevant = {k for k in relevant if not is_duplicate(source, store.get(k), None)}
            if relevant:
                self.queries.append((key, topic or f"extra:{key}", relevant))
        self.topic_members = members

    def score(self, rankings: dict[str, list[str]]) -> dict[str, float]:
        """Recall@5 and MRR@10 of `rankings` (query key → ranked keys), with the number of
        top-5 results nobody judged for that query (counted as not relevant)."""
        groups: dict[str, list[tuple[float, float]]] = {}
        unjudged = 0
        for key, group, relevant in self.queries:
            ranked = rankings[key]
            groups.setdefault(group, []).append(recall_mrr(ranked, relevant))
            known = relevant | self.judged.get(key, set())
            unjudged += sum(1 for other in ranked[:5] if other not in known)
        return {"recall@5": statistics.mean(statistics.mean(s[0] for s in v)
                                            for v in groups.values()),
                "mrr@10": statistics.mean(statistics.mean(s[1] for s in v)
                                          for v in groups.values()),
                "topics": len(groups), "queries": len(self.queries),
                "unjudged_in_top5": unjudged}


def evaluate_labels(store, home: Path, spec) -> dict[str, dict[str, dict[str, float]]]:  # type: ignore[no-untyped-def]
    from kb.embed.search import Searcher
    from kb.store.vectors import SearchFilters

    topics = json.loads(LABELS.read_text())["topics"]
    searcher = Searcher(store, home, spec=spec)
    tasks = {"similar_topics": SimilarTask(store, topics, judged=False),
             "similar": SimilarTask(store, topics, judged=True)}
    fused = Searcher(store, home, spec=spec, rerank_similar=False)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name_, mode, who in [(m, m, searcher) for m in MODES] + [
            ("hybrid, no reranker", "hybrid", fused)]:
        search = []
        for topic in topics:
            result = who.search(topic["query"], mode=mode, k=10,
                                filters=SearchFilters(provider=topic["provider"]))
            search.append(recall_mrr([h.key for h in result.hits], set(topic["relevant"])))
        out[name_] = {"search": {"recall@5": statistics.mean(s[0] for s in search),
                                 "mrr@10": statistics.mean(s[1] for s in search),
                                 "topics": len(search)}}
        for name, task in tasks.items():
            rankings = {key: [h.key for h in who.similar(key, k=10, mode=mode,
                                                         explain=False).hits]
                        for key, _g, _r in task.queries}
            out[name_][name] = task.score(rankings)
    return out


def evaluate_identifiers(store, home: Path, spec) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The exact-identifier queries (bench/data/search_identifiers.json), asked of every
    provider at once: Recall@5 / MRR@10 per mode and split, hybrid with and without the
    exact-identifier tier ("hybrid, plain fusion" is the ranking before it)."""
    from kb.embed.search import Searcher

    topics = json.loads(IDENTIFIERS.read_text())["topics"]
    variants = {mode: (mode, True) for mode in MODES}
    variants["hybrid, plain fusion"] = ("hybrid", False)
    out: dict = {}  # type: ignore[type-arg]
    for name, (mode, exact) in variants.items():
        searcher = Searcher(store, home, spec=spec, exact_identifiers=exact)
        scores: dict[str, list[tuple[float, float]]] = {"tune": [], "held-out": []}
        per_query = {}
        for topic in topics:
            result = searcher.search(topic["query"], mode=mode, k=10, explain=False)
            ranked = [h.key for h in result.hits]
            score = recall_mrr(ranked, set(topic["relevant"]))
            scores[topic["split"]].append(score)
            per_query[topic["id"]] = {"recall@5": score[0], "mrr@10": score[1],
                                      "top5": ranked[:5]}
        out[name] = {split: {"recall@5": statistics.mean(s[0] for s in values),
                             "mrr@10": statistics.mean(s[1] for s in values),
                             "queries": len(values)}
                     for split, values in scores.items()}
        out[name]["per_query"] = per_query
    return out


def tune_fusion(store, home: Path, spec) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Two-fold cross-validation of the fusion constants (k, semantic weight) on the judged
    `kb similar` task: topics are split in two folds (alternating by id); the constants that
    score best on one fold are scored on the other. The held-out figures say what choosing
    constants on labels is worth without grading on the same labels."""
    from kb.embed.index import RRF_K, SEMANTIC_WEIGHT, reciprocal_rank_fusion
    from kb.embed.search import Searcher

    topics = json.loads(LABELS.read_text())["topics"]
    task = SimilarTask(store, topics, judged=True)
    searcher = Searcher(store, home, spec=spec)
    raw = {key: ([h.key for h in searcher.similar(key, k=100, mode="semantic",
                                                  explain=False).hits],
                 [h.key for h in searcher.similar(key, k=100, mode="keyword",
                                                  explain=False).hits])
           for key, _g, _r in task.queries}
    grid = [(k, w) for k in (5, 10, 20, 40, 60) for w in (1.0, 1.5, 2.0, 3.0)]
    groups = sorted({g for _k, g, _r in task.queries})
    folds = [set(groups[0::2]), set(groups[1::2])]

    def run(constants: tuple[int, float], fold: set[str]) -> float:
        k, weight = constants
        sub = SimilarTask.__new__(SimilarTask)
        sub.queries = [q for q in task.queries if q[1] in fold]
        sub.judged = task.judged
        fused = {key: [x for x, _ in reciprocal_rank_fusion(raw[key], k=k,
                                                            weights=(weight, 1.0))][:10]
                 for key, _g, _r in sub.queries}
        return sub.score(fused)["recall@5"]

    report: dict = {"default": {"k": RRF_K, "semantic_weight": SEMANTIC_WEIGHT}, "folds": []}  # type: ignore[type-arg]
    for tune, test in ((0, 1), (1, 0)):
        best = max(grid, key=lambda c: (run(c, folds[tune]), c == (RRF_K, SEMANTIC_WEIGHT)))
        report["folds"].append({
            "chosen": {"k": best[0], "semantic_weight": best[1]},
            "tuned_recall@5": run(best, folds[tune]),
            "held_out_recall@5": run(best, folds[test]),
            "default_held_out_recall@5": run((RRF_K, SEMANTIC_WEIGHT), folds[test]),
        })
    return report


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
             "| mode | search R@5 / MRR | similar, judged pairs R@5 / MRR | similar, topic "
             "labels only R@5 / MRR | postmortems R@5 / MRR |", "|---|---|---|---|---|"]
    for mode in [*MODES, "hybrid, no reranker"]:
        lab, pm = results["labels"][mode], results["postmortems"].get(mode)
        cells = [f"{lab[t]['recall@5']:.3f} / {lab[t]['mrr@10']:.3f}"
                 for t in ("search", "similar", "similar_topics")]
        cells.append(f"{pm['recall@5']:.3f} / {pm['mrr@10']:.3f}" if pm else "-")
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    similar = results["labels"]["hybrid"]["similar"]
    lines += ["", f"similar, judged: {similar['queries']} queries in {similar['topics']} groups; "
              f"hybrid top-5 results nobody judged (counted as misses): "
              f"{similar['unjudged_in_top5']}"]
    if "identifiers" in results:
        lines += ["", "| exact identifiers (all providers) | tune R@5 / MRR | held-out R@5 / "
                  "MRR |", "|---|---|---|"]
        for name, row in results["identifiers"].items():
            lines.append(f"| {name} | " + " | ".join(
                f"{row[s]['recall@5']:.3f} / {row[s]['mrr@10']:.3f} ({row[s]['queries']} q)"
                for s in ("tune", "held-out")) + " |")
    for n, fold in enumerate(results.get("tuning", {}).get("folds", []), 1):
        lines.append(f"fold {n}: chosen k={fold['chosen']['k']}, semantic weight "
                     f"{fold['chosen']['semantic_weight']:g}: R@5 {fold['tuned_recall@5']:.3f} "
                     f"where tuned, {fold['held_out_recall@5']:.3f} held out (default "
                     f"constants held out: {fold['default_held_out_recall@5']:.3f})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--tune", action="store_true",
                        help="also cross-validate the fusion constants (two folds of topics)")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"corpus not found: {args.corpus}")
    home = args.home or Path(tempfile.gettempdir()) / f"kb-eval-{args.backend}"
    store, spec = build(home, args.corpus, args.backend)
    results = {"model_id": spec.model_id, "labels": evaluate_labels(store, home, spec),
               "postmortems": evaluate_postmortems(args.corpus, spec, home)}
    wide = build_identifiers(home, args.corpus, spec)
    results["identifiers"] = evaluate_identifiers(wide, home, spec)
    wide.close()
    if args.tune:
        results["tuning"] = tune_fusion(store, home, spec)
    store.close()
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
