"""Weights of the `kb similar` reranker (kb.embed.rerank), written by
bench/train_similar.py --write (do not edit by hand): logistic regression on the
judged pairs, 197 queries, the first 15 hybrid candidates each.
Cross-validated (5 folds of topics): Recall@5 0.859 -> 0.855, MRR@10 0.924 -> 0.944.
"""

MODEL: dict[str, object] = {
    "features": ['rrf', 'cosine', 'keyword', 'semantic_rr', 'keyword_rr', 'components', 'causes',
        'causes_known', 'same_provider', 'log_days', 'source_title_only', 'candidate_title_only',
        'both_title_only', 'same_title', 'candidate_words'],
    "rerank_depth": 15,
    "mean": [0.0943495, 0.738952, 0.395982, 0.152617, 0.115164, 0.443112, 0.232092, 1, 0.922504,
        4.87333, 0.0761421, 0.0856176, 0.042978, 0.0774958, 3.5027],
    "scale": [0.0193626, 0.138064, 0.242716, 0.121781, 0.133869, 0.472751, 0.380839, 1, 0.267376,
        2.03379, 0.265225, 0.279799, 0.202808, 0.267376, 1.46165],
    "weights": [1.05857, 0.850902, 0.301754, 0.0533611, 0.447316, -0.240788, 0.624128, 0,
        0.248108, 0.1777, -0.0133715, -0.0753146, -0.105869, -0.128394, -0.0364143],
    "bias": 0.75038,
}
