"""Learn the `kb similar` reranker from the judged pairs, cross-validated on unseen topics.

Usage: python bench/train_similar.py [--home DIR] [--corpus ../shared/corpus] [--folds 5]
                                     [--depth 50] [--json FILE] [--experiments] [--write]

1. The evaluation KB of bench/eval_search.py (the corpus, embedded with ONNX int8) gets its
   cause tags as `kb update` would make them (rules; kb.analysis.stage.refresh_causes).
2. For every `kb similar` query of the judged task (SimilarTask: 197 queries in 55 groups),
   the first --depth hybrid candidates (itself and its duplicates left out) and their
   features (kb.embed.rerank.FEATURES). Label 1 = relevant to the query (a topic co-member
   or a pair judged related), 0 = judged not related or never judged (the evaluation counts
   an unjudged result as a miss, so training does too).
3. Grouped K-fold cross-validation: the groups (a topic, or an extra query of no topic) are
   split into folds by a hash of their name, fixed before any training, so no query's pairs
   and no topic's members are on both sides. A query is (incident, topic): an incident of
   two topics is asked once per topic, in each topic's fold, and is not trained on while
   it is held out under the other. For each fold: a logistic regression (L2,
   standardized features, Newton's method in numpy) learned on the other folds reranks the
   held-out fold's candidates; Recall@5 / MRR@10 of the fused order and of the reranked
   order are scored on the held-out queries only. Mean and spread over the folds reported.
4. `--experiments`: the feature families, learners, MMR orders and query expansion tried
   for #14 and not shipped, over the same folds (bench/similar_experiments.py).
5. `--write`: the model learned on all queries is written to kb/embed/similar_weights.py,
   which `kb similar` loads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
WEIGHTS = ROOT / "kb" / "embed" / "similar_weights.py"
RERANK_DEPTH = 15  # of 10, 15, 20, 30 the best held-out Recall@5 (docs/search.md)
L2 = 1.0  # ridge penalty on the standardized weights (not tuned: a plain default)


def fit(x, y, l2: float = L2):  # type: ignore[no-untyped-def]
    """Logistic regression by Newton's method: (mean, scale, weights, bias)."""
    import numpy as np

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0  # the bias is not shrunk
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, w[1:], float(w[0])


def fold_of(group: str, folds: int) -> int:
    return int(hashlib.sha1(group.encode()).hexdigest(), 16) % folds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path,
                        default=Path(tempfile.gettempdir()) / "kb-eval-onnx-int8")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--rerank", type=int, nargs="+", default=[RERANK_DEPTH],
                        help="rerank the first N candidates (the rest keep their order); "
                             "several values are each cross-validated, the first is written")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--unjudged", type=Path,
                        help="write the (query, result) pairs nobody judged that a top 5 "
                             "(fused or reranked, any fold) shows, to judge and add to the "
                             "pool (tests/fixtures/search/pairs.json)")
    parser.add_argument("--experiments", action="store_true",
                        help="also cross-validate the extra feature families and learners "
                             "that were tried and not shipped (docs/search.md)")
    parser.add_argument("--write", action="store_true",
                        help="write the model learned on all queries to " + str(WEIGHTS))
    args = parser.parse_args()
    import numpy as np
    from eval_search import LABELS, SimilarTask, build

    from kb.analysis.stage import refresh_causes
    from kb.embed.rerank import FEATURES, Reranker
    from kb.embed.search import Searcher

    store, spec = build(args.home, args.corpus, "onnx-int8")
    tagged, _rows = refresh_causes(store)
    print(f"# cause tags made for {tagged} incident(s)", file=sys.stderr)
    topics = json.loads(LABELS.read_text())["topics"]
    task = SimilarTask(store, topics, judged=True)
    searcher = Searcher(store, args.home, spec=spec)
    table = {key: searcher.similar_features(key, depth=args.depth)
             for key, _g, _r in task.queries}
    # A query is (key, group, relevant): six incidents are members of two topics and so ask
    # twice, once per topic, with different relevant sets; each is its own query, in the
    # fold of its own group.
    queries = list(task.queries)

    def arrays(queries, depth: int):  # type: ignore[no-untyped-def]
        rows = [(row, 1.0 if other in rel else 0.0)
                for key, _g, rel in queries for other, row in table[key][:depth]]
        return np.array([r for r, _ in rows], dtype=float), np.array([y for _, y in rows])

    def model_of(queries, depth: int) -> Reranker:  # type: ignore[no-untyped-def]
        mean, scale, weights, bias = fit(*arrays(queries, depth))
        return Reranker(FEATURES, depth, tuple(mean), tuple(scale), tuple(weights), bias)

    unjudged: set[tuple[str, str]] = set()

    def scored(queries, model: Reranker | None, depth: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
        ranked = {}
        for key, _g, rel in queries:
            if key not in ranked:
                head, rest = table[key][:depth], table[key][depth:]
                if model is not None:
                    head = sorted(head, key=lambda r: (-model.score(r[1]), r[0]))
                ranked[key] = [other for other, _ in head + rest][:10]
            known = rel | task.judged.get(key, set())
            unjudged.update((key, other) for other in ranked[key][:5] if other not in known)
        sub = SimilarTask.__new__(SimilarTask)
        sub.queries = queries
        sub.judged = task.judged
        return sub.score(ranked)

    def split(fold: int) -> tuple[list, list]:  # type: ignore[type-arg]
        """The held-out queries of `fold` and the training queries: the other folds' queries
        less any whose incident is also held out (asked there under its other topic)."""
        test = [q for q in queries if fold_of(q[1], args.folds) == fold]
        held = {key for key, _g, _r in test}
        return test, [q for q in queries
                      if fold_of(q[1], args.folds) != fold and q[0] not in held]

    result: dict = {"depth": args.depth, "l2": L2, "runs": {}}  # type: ignore[type-arg]
    for depth in args.rerank:
        folds = []
        for fold in range(args.folds):
            test, train = split(fold)
            before = scored(test, None, depth)
            after = scored(test, model_of(train, depth), depth)
            folds.append({"fold": fold + 1, "groups": before["topics"], "queries": len(test),
                          "before": before, "after": after})
            print(f"rerank {depth}, fold {fold + 1}: {before['topics']} groups, {len(test)} "
                  f"queries: R@5 {before['recall@5']:.3f} -> {after['recall@5']:.3f}, MRR "
                  f"{before['mrr@10']:.3f} -> {after['mrr@10']:.3f}, unjudged in top 5 "
                  f"{before['unjudged_in_top5']} -> {after['unjudged_in_top5']}")
        summary = {}
        for side in ("before", "after"):
            for metric in ("recall@5", "mrr@10"):
                values = [f[side][metric] for f in folds]
                summary[f"{side}_{metric}"] = {"mean": statistics.mean(values),
                                               "sd": statistics.stdev(values),
                                               "min": min(values), "max": max(values)}
            summary[f"{side}_unjudged_in_top5"] = sum(f[side]["unjudged_in_top5"]
                                                      for f in folds)
        for metric in ("recall@5", "mrr@10"):
            b, a = summary[f"before_{metric}"], summary[f"after_{metric}"]
            print(f"rerank {depth}: {metric}: fused {b['mean']:.3f} ± {b['sd']:.3f} -> "
                  f"reranked {a['mean']:.3f} ± {a['sd']:.3f} (held-out folds, mean ± sd; "
                  f"range {a['min']:.3f}-{a['max']:.3f})")
        result["runs"][str(depth)] = {"folds": folds, "summary": summary}
    if args.experiments:
        from similar_experiments import experiments

        result["experiments"] = experiments(searcher, store, task, table, split, args.folds)
    depth = args.rerank[0]
    summary = result["runs"][str(depth)]["summary"]
    final = model_of(queries, depth)
    print(f"weights (standardized, rerank {depth}):", {n: round(float(w), 3) for n, w in
                                      zip(FEATURES, final.weights, strict=True)})
    result["model"] = {"features": list(FEATURES), "rerank_depth": depth,
                       "mean": list(final.mean), "scale": list(final.scale),
                       "weights": list(final.weights), "bias": final.bias}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.unjudged:
        args.unjudged.write_text(json.dumps(sorted(unjudged), indent=1) + "\n")
        print(f"# {len(unjudged)} unjudged pair(s) written to {args.unjudged}", file=sys.stderr)
    if args.write:
        lines = [
            '"""Weights of the `kb similar` reranker (kb.embed.rerank), written by',
            "bench/train_similar.py --write (do not edit by hand): logistic regression on the",
            f"judged pairs, {len(queries)} queries, the first {depth} hybrid candidates each.",
            f"Cross-validated ({args.folds} folds of topics): Recall@5 "
            f"{summary['before_recall@5']['mean']:.3f} -> "
            f"{summary['after_recall@5']['mean']:.3f}, MRR@10 "
            f"{summary['before_mrr@10']['mean']:.3f} -> {summary['after_mrr@10']['mean']:.3f}.",
            '"""', "", "MODEL: dict[str, object] = {",
            f"    \"features\": {list(FEATURES)!r},",
            f"    \"rerank_depth\": {depth},",
        ]
        for name in ("mean", "scale", "weights"):
            values = ", ".join(f"{v:.6g}" for v in result["model"][name])  # type: ignore[index]
            lines.append(f"    \"{name}\": [{values}],")
        lines += [f"    \"bias\": {final.bias:.6g},", "}", ""]
        text = "\n".join(lines)
        # Long lines wrapped the way ruff accepts them (one value list per line is fine up
        # to 100 columns; longer ones are split at commas).
        WEIGHTS.write_text(_wrap(text))
        print(f"# wrote {WEIGHTS}", file=sys.stderr)
    store.close()


def _wrap(text: str, width: int = 99) -> str:
    out = []
    for line in text.splitlines():
        while len(line) > width:
            cut = line.rfind(", ", 0, width) + 1
            out.append(line[:cut])
            line = "        " + line[cut:].lstrip()
        out.append(line)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
