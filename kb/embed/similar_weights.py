"""Weights of the `kb similar` reranker (kb.embed.rerank), written by
bench/train_similar.py --write (do not edit by hand): logistic regression on the
judged pairs, 197 queries, the first 15 hybrid candidates each.
Cross-validated (5 folds of topics): Recall@5 0.860 -> 0.860, MRR@10 0.929 -> 0.945.
"""

MODEL: dict[str, object] = {
    "features": ['rrf', 'cosine', 'keyword', 'semantic_rr', 'keyword_rr', 'components', 'causes',
        'causes_known', 'same_provider', 'log_days', 'source_title_only', 'candidate_title_only',
        'both_title_only', 'same_title', 'candidate_words'],
    "rerank_depth": 15,
    "mean": [0.0943101, 0.73897, 0.395742, 0.152522, 0.115259, 0.443749, 0.230513, 1, 0.922166,
        4.88558, 0.0761421, 0.0856176, 0.042978, 0.0778342, 3.5002],
    "scale": [0.0193691, 0.138121, 0.242782, 0.121841, 0.133969, 0.472837, 0.380051, 1, 0.26791,
        2.03755, 0.265225, 0.279799, 0.202808, 0.26791, 1.46195],
    "weights": [0.987372, 0.83493, 0.367425, 0.0980804, 0.438217, -0.270905, 0.595767, 0,
        0.251436, 0.17355, -0.0243759, -0.0490417, -0.116585, -0.135149, -0.0174751],
    "bias": 0.744761,
}
