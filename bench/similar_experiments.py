"""What else was tried for the `kb similar` reranker, cross-validated the same way as the
shipped one (bench/train_similar.py --experiments; figures in docs/search.md "Quality").

Nothing here ships: these feature families and learners did not raise the cross-validated
Recall@5 beyond the fold noise, so `kb similar` keeps the features of kb.embed.rerank. The
code stays so that the claim can be rerun when the labels grow.

Extra features, for the first RERANK candidates of each query (computed once per query,
before any fold is cut):
- separate cosines from the same model (all-MiniLM-L6-v2): title↔title, body↔body (the
  document without its title and "Affected:" line), the source's title against the
  candidate's body and the reverse, first informative sentence against first sentence;
- BM25 of the source's title words against the candidate's title (document frequencies over
  every title of the KB) and the Jaccard of the title words;
- same provider × title cosine, components × body cosine; components weighted by their
  rarity (an IDF-weighted Jaccard: sharing "Login" says more than "Git Operations");
- list-wise: the best cosine to a candidate ranked above (near-duplicate of a higher one,
  MMR-like), the cosine to the centroid of the first five candidates, the mean cosine to the
  other first 15, 1 / fused rank; and each query's cosines, fused scores and BM25 as
  z-scores within its own candidate list.
Query expansion (`query_expansion`): pseudo-relevance feedback, the document vector moved
towards its first hybrid neighbours before the semantic ranking is redone and fused again.
Untrained reorderings: maximal marginal relevance over the first RERANK candidates (fused
score against the document cosine to one already placed, λ 0.7), and its reverse.
Learners: the logistic regression of train_similar (L2 1 and 30), a pairwise logistic
regression (RankNet-like, on the differences of a related and an unrelated candidate of one
query), and gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier, depth 2,
when scikit-learn is installed; it is not a dependency of kb).

Each variant is scored on the held-out folds only; `unjudged` counts the top-5 results
nobody judged (counted as misses, as in every figure), and `optimistic` is Recall@5 with
every such result counted as related instead: an upper bound of what judging them could add.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

RERANK = 15  # the depth the shipped reranker reorders
MMR_LAMBDA = 0.7  # fixed before the run (a common default), not tuned on these folds
DEPTH = 30  # candidates kept per query (the rest of the top 10 comes from here)
_WORD = re.compile(r"\w+")
_STOP = frozenset(("the", "a", "an", "of", "for", "to", "in", "on", "and", "with", "is", "are",
                   "some", "incident"))

EXTRA = ("title_cos", "has_titles", "body_cos", "has_bodies", "qtitle_cbody", "qbody_ctitle",
         "first_cos", "title_bm25", "title_jaccard", "same_provider_x_title",
         "components_x_body", "components_idf", "dup_of_higher", "centroid5", "mean_cos15",
         "inv_rank", "cosine_z", "rrf_z", "keyword_z")


def fold_of(group: str, folds: int) -> int:
    return int(hashlib.sha1(group.encode()).hexdigest(), 16) % folds


class _Texts:
    """The per-incident pieces the extra features compare, encoded once."""

    def __init__(self, store, searcher, keys: Sequence[str]) -> None:  # type: ignore[no-untyped-def]
        from kb.embed.document import build_document

        self.incident, self.title, self.words = {}, {}, {}
        titles, bodies, firsts = {}, {}, {}
        for key in keys:
            incident = store.get(key)
            document = build_document(incident)
            body = [s for s in document.sentences
                    if s != document.title and not s.startswith("Affected: ")]
            self.incident[key] = incident
            if document.title in document.sentences:  # a real title, not a date-only one
                titles[key] = document.title
                self.words[key] = set(_WORD.findall(document.title.lower())) - _STOP
            if body:
                bodies[key] = " ".join(body)[:1500]
                firsts[key] = body[0]
        encoder = searcher.encoder()
        started = time.process_time()
        self.title_vec = self._encode(encoder, titles)
        self.body_vec = self._encode(encoder, bodies)
        self.first_vec = self._encode(encoder, firsts)
        self.encode_cpu = time.process_time() - started
        self.texts_encoded = len(titles) + len(bodies) + len(firsts)
        # Stored document vectors (the ones `kb similar` ranks with). Private on purpose:
        # this bench reads the same index the Searcher ranks with, not a second copy.
        index = searcher._vectors()
        self.doc_vec = {key: index.vector(key) for key in keys}
        self.title_df: Counter[str] = Counter()
        self.component_df: Counter[str] = Counter()
        self.n = 0
        for incident in store.incidents():
            self.n += 1
            self.title_df.update(set(_WORD.findall(build_document(incident).title.lower())))
            self.component_df.update({c.name.lower() for c in incident.components})

    @staticmethod
    def _encode(encoder, texts: dict[str, str]) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
        keys = sorted(texts)
        return dict(zip(keys, encoder.encode([texts[k] for k in keys]), strict=True)) if keys \
            else {}

    def bm25_title(self, query: str, candidate: str) -> float:
        words = self.words.get(query, set())
        title = [w for w in _WORD.findall(self.incident[candidate].title.lower())] \
            if candidate in self.words else []
        if not words or not title:
            return 0.0
        tf = Counter(title)
        total = 0.0
        for word in words & set(title):
            df = self.title_df.get(word, 0)
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            total += idf * tf[word] * 2.2 / (tf[word] + 1.2 * (0.25 + 0.75 * len(title) / 6))
        return total

    def component_idf(self, a: str, b: str) -> float:
        ca = {c.name.lower() for c in self.incident[a].components}
        cb = {c.name.lower() for c in self.incident[b].components}

        def weight(names: set[str]) -> float:
            return sum(math.log(self.n / (1 + self.component_df[c])) for c in names)

        union = weight(ca | cb)
        return weight(ca & cb) / union if union > 0 else 0.0


def _cos(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    return float(a @ b) if a is not None and b is not None else None


def extra_features(texts: _Texts, query: str, rows: Sequence[tuple[str, list[float]]]
                   ) -> list[list[float]]:
    """The EXTRA features of each (candidate, base features) of one query, in order."""
    from kb.embed.rerank import FEATURES

    at = {name: i for i, name in enumerate(FEATURES)}
    keys = [other for other, _ in rows]
    docs = [texts.doc_vec.get(k) for k in keys]
    head = rows[:RERANK]
    bm25 = [texts.bm25_title(query, k) for k in keys]
    best_bm25 = max(bm25, default=0.0) or 1.0

    def z(name: str) -> tuple[float, float]:
        values = np.array([row[at[name]] for _, row in head])
        return float(values.mean()), float(values.std()) or 1.0

    zs = {name: z(name) for name in ("cosine", "rrf", "keyword")}
    qw = texts.words.get(query, set())
    out = []
    for i, (other, base) in enumerate(rows):
        t = _cos(texts.title_vec.get(query), texts.title_vec.get(other))
        b = _cos(texts.body_vec.get(query), texts.body_vec.get(other))
        ow = texts.words.get(other, set())
        higher = [c for j in range(i) if (c := _cos(docs[i], docs[j])) is not None]
        top5 = [docs[j] for j in range(min(5, len(keys))) if j != i and docs[j] is not None]
        centroid = None
        if top5 and docs[i] is not None:
            mean = np.mean(top5, axis=0)
            centroid = float(docs[i] @ mean / (np.linalg.norm(mean) or 1.0))
        others = [c for j in range(min(RERANK, len(keys))) if j != i
                  and (c := _cos(docs[i], docs[j])) is not None]
        out.append([
            t or 0.0, 1.0 if t is not None else 0.0,
            b or 0.0, 1.0 if b is not None else 0.0,
            _cos(texts.title_vec.get(query), texts.body_vec.get(other)) or 0.0,
            _cos(texts.body_vec.get(query), texts.title_vec.get(other)) or 0.0,
            _cos(texts.first_vec.get(query), texts.first_vec.get(other)) or 0.0,
            bm25[i] / best_bm25,
            len(qw & ow) / len(qw | ow) if qw | ow else 0.0,
            base[at["same_provider"]] * (t or 0.0),
            base[at["components"]] * (b or 0.0),
            texts.component_idf(query, other),
            max(higher, default=0.0),
            centroid or 0.0,
            statistics.mean(others) if others else 0.0,
            1.0 / (i + 1),
            *((base[at[name]] - m) / s for name, (m, s) in zs.items()),
        ])
    return out


def _recall_mrr(ranked: Sequence[str], relevant: set[str]) -> tuple[float, float]:
    hits = sum(1 for key in ranked[:5] if key in relevant)
    first = next((r for r, key in enumerate(ranked[:10], 1) if key in relevant), None)
    return hits / min(5, len(relevant)), (1.0 / first if first else 0.0)


def _fit_logit(x: np.ndarray, y: np.ndarray, _groups: Sequence[str], l2: float
               ) -> Callable[[np.ndarray], np.ndarray]:
    from train_similar import fit

    mean, scale, weights, bias = fit(x, y, l2)
    return lambda rows: bias + ((rows - mean) / scale) @ weights


def _fit_pairwise(x: np.ndarray, y: np.ndarray, groups: Sequence[str], l2: float
                  ) -> Callable[[np.ndarray], np.ndarray]:
    """Logistic regression on (related − unrelated) differences within one query."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    by: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        by.setdefault(group, []).append(i)
    diffs = [z[p] - z[n] for rows in by.values() for p in rows if y[p] == 1
             for n in rows if y[n] == 0]
    if not diffs:
        return lambda rows: np.zeros(len(rows))
    d = np.vstack([np.array(diffs), -np.array(diffs)])
    t = np.r_[np.ones(len(diffs)), np.zeros(len(diffs))]
    w = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(d @ w, -50, 50)))
        step = np.linalg.solve((d * (p * (1 - p))[:, None]).T @ d + l2 * np.eye(len(w)),
                               d.T @ (p - t) + l2 * w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return lambda rows: ((rows - mean) / scale) @ w


def _fit_trees(x: np.ndarray, y: np.ndarray, _groups: Sequence[str], _l2: float
               ) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_depth=2, learning_rate=0.05, max_iter=100,
                                           l2_regularization=1.0, min_samples_leaf=40,
                                           random_state=0)
    model.fit(x, y)
    return lambda rows: model.predict_proba(rows)[:, 1]


LEARNERS = {"logistic": _fit_logit, "pairwise": _fit_pairwise, "trees": _fit_trees}


def experiments(searcher, store, task, table, split, folds: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Cross-validate every variant over the folds of train_similar (`split(fold)` gives the
    held-out and the training queries); returns {name: figures}, one line printed each."""
    from kb.embed.rerank import FEATURES

    keys = {key for key, _g, _r in task.queries} | {
        o for key, _g, _r in task.queries for o, _ in table[key][:DEPTH]}
    started = time.process_time()
    texts = _Texts(store, searcher, sorted(keys))
    names = [*FEATURES, *EXTRA]
    rows = {key: [(o, [*base, *extra]) for (o, base), extra in
                  zip(table[key][:DEPTH], extra_features(texts, key, table[key][:DEPTH]),
                      strict=True)]
            for key in {key for key, _g, _r in task.queries}}
    prepared = time.process_time() - started

    def ranked(model, cols: list[int], queries) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
        out = {}
        for key, _g, _r in queries:
            head, rest = rows[key][:RERANK], rows[key][RERANK:]
            if model is not None and head:
                score = model(np.array([[r[c] for c in cols] for _, r in head]))
                head = [head[i] for i in sorted(range(len(head)),
                                                key=lambda i: (-score[i], head[i][0]))]
            out[key] = [o for o, _ in head + rest][:10]
        return out

    def mmr_ranked(queries, sign: float) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
        """Greedy maximal marginal relevance over the first RERANK candidates, no training:
        next = argmax λ·(fused score / best fused score) + sign·(1 − λ)·(best cosine to one
        already placed). sign −1 is MMR (diversity: near-duplicates of a placed candidate
        sink), +1 its reverse (candidates like a placed one rise)."""
        out = {}
        for key, _g, _r in queries:
            head, rest = rows[key][:RERANK], rows[key][RERANK:]
            best = max((r[0] for _, r in head), default=0.0) or 1.0
            left, placed = list(head), []  # type: ignore[var-annotated]

            def value(item, placed=placed, best=best):  # type: ignore[no-untyped-def]
                vec = texts.doc_vec.get(item[0])
                near = max((c for p in placed if (c := _cos(vec, texts.doc_vec.get(p[0])))
                            is not None), default=0.0)
                return MMR_LAMBDA * item[1][0] / best + sign * (1 - MMR_LAMBDA) * near

            while left:
                pick = max(left, key=lambda item: (value(item), item[0]))
                placed.append(pick)
                left.remove(pick)
            out[key] = [o for o, _ in placed + rest][:10]
        return out

    def figures(rankings: dict[str, list[str]], queries) -> tuple[float, float, float, int]:  # type: ignore[no-untyped-def]
        groups: dict[str, list[tuple[float, float, float]]] = {}
        unjudged = 0
        for key, group, rel in queries:
            known = rel | task.judged.get(key, set())
            open_ = {o for o in rankings[key][:5] if o not in known}
            unjudged += len(open_)
            r, m = _recall_mrr(rankings[key], rel)
            groups.setdefault(group, []).append((r, m, _recall_mrr(rankings[key], rel | open_)[0]))
        mean = [statistics.mean(statistics.mean(s[i] for s in v) for v in groups.values())
                for i in range(3)]
        return mean[0], mean[1], mean[2], unjudged

    def run(name: str, features: Sequence[str], learner: str | None, l2: float = 1.0) -> dict:  # type: ignore[type-arg]
        cols = [names.index(f) for f in features]
        per_fold = []
        for fold in range(folds):
            test, train = split(fold)
            model = None
            if learner in ("mmr", "reverse mmr"):
                rankings = mmr_ranked(test, -1.0 if learner == "mmr" else 1.0)
                per_fold.append(figures(rankings, test))
                continue
            if learner is not None:
                x = np.array([[r[c] for c in cols] for k, _g, _r in train
                              for _, r in rows[k][:RERANK]])
                y = np.array([1.0 if o in rel else 0.0 for k, _g, rel in train
                              for o, _ in rows[k][:RERANK]])
                groups = [f"{k} {g}" for k, g, _r in train for _ in rows[k][:RERANK]]
                model = LEARNERS[learner](x, y, groups, l2)
            per_fold.append(figures(ranked(model, cols, test), test))
        recall = [f[0] for f in per_fold]
        change = [f[0] - b for f, b in zip(per_fold, fused_folds or recall, strict=True)]
        out = {"features": list(features), "learner": learner, "l2": l2,
               "recall@5": statistics.mean(recall), "recall@5_sd": statistics.stdev(recall),
               "recall@5_folds": recall, "mrr@10": statistics.mean(f[1] for f in per_fold),
               "optimistic_recall@5": statistics.mean(f[2] for f in per_fold),
               "unjudged_in_top5": sum(f[3] for f in per_fold),
               "change_vs_fused": statistics.mean(change),
               "change_vs_fused_sd": statistics.stdev(change)}
        print(f"{name:44s} R@5 {out['recall@5']:.3f} ± {out['recall@5_sd']:.3f} (vs fused "
              f"{out['change_vs_fused']:+.3f} ± {out['change_vs_fused_sd']:.3f}) MRR "
              f"{out['mrr@10']:.3f} unjudged {out['unjudged_in_top5']:2d} optimistic "
              f"{out['optimistic_recall@5']:.3f}", file=sys.stderr, flush=True)
        return out

    fused_folds: list[float] = []
    result: dict = {"rerank": RERANK, "depth": DEPTH,  # type: ignore[type-arg]
                    "extra_cost": {"texts_encoded": texts.texts_encoded,
                                   "incidents": len(keys), "encode_cpu_s": texts.encode_cpu,
                                   "prepare_cpu_s": prepared,
                                   "queries": len(task.queries)},
                    "variants": {}}
    # The fused order first: every variant's per-fold change is measured against it.
    fused = run("fused order (no reranker)", list(FEATURES), None)
    fused_folds[:] = fused["recall@5_folds"]
    variants: list[tuple[str, Sequence[str], str | None, float]] = [
        ("fused order (no reranker)", list(FEATURES), None, 1.0),
        ("shipped features, logistic", list(FEATURES), "logistic", 1.0)]
    variants += [(f"shipped + {name}", [*FEATURES, name], "logistic", 1.0) for name in EXTRA]
    variants += [
        ("shipped + all extra, logistic", names, "logistic", 1.0),
        ("shipped + all extra, logistic L2 30", names, "logistic", 30.0),
        ("shipped + all extra, pairwise", names, "pairwise", 1.0),
        ("shipped + all extra, pairwise L2 30", names, "pairwise", 30.0),
        ("shipped features, pairwise", list(FEATURES), "pairwise", 1.0),
        ("rrf cosine keyword components_idf same_provider causes, L2 30",
         ["rrf", "cosine", "keyword", "components_idf", "same_provider", "causes"],
         "logistic", 30.0),
    ]
    variants += [("MMR over the first 15 (diversity), λ 0.7", [], "mmr", 0.0),
                 ("reverse MMR (like a placed one rises), λ 0.7", [], "reverse mmr", 0.0)]
    try:
        import sklearn  # noqa: F401

        variants += [("shipped features, trees", list(FEATURES), "trees", 0.0),
                     ("shipped + all extra, trees", names, "trees", 0.0)]
    except ImportError:
        print("# scikit-learn not installed: the tree learner is left out", file=sys.stderr)
    for name, features, learner, l2 in variants:
        result["variants"][name] = fused if learner is None else run(name, features, learner,
                                                                       l2)
    result["query_expansion"] = query_expansion(searcher, store, task, split, folds, figures)
    cost = result["extra_cost"]
    print(f"# extra features: {cost['texts_encoded']} texts of {cost['incidents']} incidents "
          f"encoded in {cost['encode_cpu_s']:.1f} s CPU", file=sys.stderr)
    return result


def query_expansion(searcher, store, task, split, folds: int, figures) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Pseudo-relevance feedback: the query's document vector moved towards the mean vector
    of its first m hybrid neighbours (q + β·mean, normalized), the semantic ranking redone
    with it and fused again with the unchanged keyword ranking (duplicates left out as
    `kb similar` does). Settings fixed before the run; each scored on the held-out folds."""
    from kb.embed.document import build_document
    from kb.embed.index import SEMANTIC_WEIGHT, query_terms, reciprocal_rank_fusion
    from kb.embed.search import CANDIDATES, is_duplicate
    from kb.store import keyword as keyword_index

    index = searcher._vectors()  # the index `kb similar` ranks with (see _Texts)
    incidents: dict = {}  # type: ignore[type-arg]

    def get(key: str):  # type: ignore[no-untyped-def]
        if key not in incidents:
            incidents[key] = store.get(key)
        return incidents[key]

    base = {}
    for key in {key for key, _g, _r in task.queries}:
        document = build_document(get(key))
        vector = index.vector(key)
        keyword = [k for k, _ in keyword_index.keyword_search(
            store, query_terms(document.text), CANDIDATES + 1)]
        base[key] = (vector, keyword)

    def ranking(key: str, vector) -> list[str]:  # type: ignore[no-untyped-def]
        semantic = [k for k, _ in index.search(vector, CANDIDATES + 1)]
        fused = [k for k, _ in reciprocal_rank_fusion([semantic, base[key][1]],
                                                      weights=(SEMANTIC_WEIGHT, 1.0))
                 if k != key]
        out = []
        for other in fused:
            theirs = index.vector(other)
            cosine = None if theirs is None else float(theirs @ base[key][0])
            if not is_duplicate(get(key), get(other), cosine):
                out.append(other)
            if len(out) == 10:
                break
        return out

    plain = {key: ranking(key, vector) for key, (vector, _kw) in base.items()}
    result = {}
    settings = [(0, 0.0), (3, 0.5), (5, 0.5), (10, 0.5), (3, 1.0), (5, 1.0)]
    for m, beta in settings:
        if m == 0:
            rankings = plain
        else:
            rankings = {}
            for key, (vector, _kw) in base.items():
                near = [v for k in plain[key][:m] if (v := index.vector(k)) is not None]
                moved = vector + beta * np.mean(near, axis=0)
                rankings[key] = ranking(key, moved / np.linalg.norm(moved))
        per_fold = [figures(rankings, split(fold)[0]) for fold in range(folds)]
        recall = [f[0] for f in per_fold]
        name = "no expansion (fused)" if m == 0 else f"first {m} neighbours, β {beta:g}"
        result[name] = {"recall@5": statistics.mean(recall),
                        "recall@5_sd": statistics.stdev(recall), "recall@5_folds": recall,
                        "mrr@10": statistics.mean(f[1] for f in per_fold),
                        "optimistic_recall@5": statistics.mean(f[2] for f in per_fold),
                        "unjudged_in_top5": sum(f[3] for f in per_fold)}
        print(f"expansion: {name:30s} R@5 {result[name]['recall@5']:.3f} ± "
              f"{result[name]['recall@5_sd']:.3f} MRR {result[name]['mrr@10']:.3f} unjudged "
              f"{result[name]['unjudged_in_top5']:2d} optimistic "
              f"{result[name]['optimistic_recall@5']:.3f}", file=sys.stderr, flush=True)
    return result
