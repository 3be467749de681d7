"""Reranking `kb similar`'s fused candidates with a small learned linear model.

Reciprocal rank fusion only sees two ranks. Which neighbours a person calls "the same kind
of incident" also depends on things both rankings ignore: the same components, the same
stated cause, the same provider, how far apart in time, and whether either side has any text
beyond its title (a bare "Incident with Codespaces" is not the same as a specific Codespaces
failure). `pair_features` turns one (source, candidate) pair into those numbers;
`Reranker` scores them with a logistic regression whose weights were learned from the
judged pairs of tests/fixtures/search by `bench/train_similar.py` (cross-validated on topics
it was not trained on; see docs/search.md) and stored in `kb.embed.similar_weights`.
No model file and no new dependency: a dot product per candidate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from kb.embed.document import Document
from kb.model import Incident

# The order of the feature vector; the stored weights name them, and a mismatch is refused.
FEATURES = (
    "rrf",  # the fused score the ranking had before (semantic weight 2, keyword 1, k = 20)
    "cosine",  # document cosine of the pair (0 when a vector is missing)
    "keyword",  # BM25 of the source's words in the candidate, over the best candidate's
    "semantic_rr",  # 1 / semantic rank (0 when outside the semantic top 100)
    "keyword_rr",  # 1 / keyword rank (0 when outside the keyword top 100)
    "components",  # Jaccard of the component names
    "causes",  # Jaccard of the stored cause tags ("unknown" left out)
    "causes_known",  # 1 when both sides carry current cause tags
    "same_provider",
    "log_days",  # log(1 + days between first posts)
    "source_title_only",  # the source has no text beyond its title and components
    "candidate_title_only",
    "both_title_only",
    "same_title",  # the same title (words, any case), and not a date-only one
    "candidate_words",  # log(1 + words of the candidate's text beyond its title)
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Side:
    """What the features need of one incident."""

    incident: Incident
    title_key: str  # words of the title, lower-cased; "" for a date-only title
    components: frozenset[str]
    causes: frozenset[str] | None  # None: no current cause tags
    body_words: int  # words beyond the title and the "Affected:" line


def side(incident: Incident, document: Document, causes: Collection[str] | None) -> Side:
    """The parts of one incident the features compare."""
    body = [s for s in document.sentences if s != document.title and not
            s.startswith("Affected: ")]
    return Side(
        incident=incident,
        title_key=" ".join(_WORD.findall(document.title.lower())) if document.title in
        document.sentences else "",
        components=frozenset(" ".join(_WORD.findall(c.name.lower())) for c in
                             incident.components) - {""},
        causes=None if causes is None else frozenset(causes) - {"unknown"},
        body_words=sum(len(s.split()) for s in body),
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def pair_features(source: Side, candidate: Side, *, rrf: float, cosine: float | None,
                  keyword: float | None, best_keyword: float, semantic_rank: int | None,
                  keyword_rank: int | None) -> list[float]:
    """The feature vector of one (source, candidate) pair, in the order of FEATURES."""
    a, b = source.incident.lifecycle.first_post_at, candidate.incident.lifecycle.first_post_at
    days = abs((a - b).total_seconds()) / 86400 if a is not None and b is not None else 3650.0
    known = source.causes is not None and candidate.causes is not None
    src_bare, cand_bare = source.body_words == 0, candidate.body_words == 0
    return [
        rrf,
        cosine if cosine is not None else 0.0,
        (keyword / best_keyword) if keyword is not None and best_keyword > 0 else 0.0,
        1.0 / semantic_rank if semantic_rank else 0.0,
        1.0 / keyword_rank if keyword_rank else 0.0,
        _jaccard(source.components, candidate.components),
        _jaccard(source.causes, candidate.causes) if known else 0.0,  # type: ignore[arg-type]
        1.0 if known else 0.0,
        1.0 if source.incident.provider == candidate.incident.provider else 0.0,
        math.log1p(days),
        1.0 if src_bare else 0.0,
        1.0 if cand_bare else 0.0,
        1.0 if src_bare and cand_bare else 0.0,
        1.0 if source.title_key and source.title_key == candidate.title_key else 0.0,
        math.log1p(candidate.body_words),
    ]


@dataclass(frozen=True)
class Reranker:
    """Logistic regression over standardized features: P(related) = σ(b + Σ wᵢ (xᵢ − μᵢ)/σᵢ)."""

    names: tuple[str, ...]
    depth: int  # how many of the fused candidates (duplicates left out) it reorders
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Reranker:
        names = tuple(data["features"])  # type: ignore[arg-type]
        if names != FEATURES:
            raise ValueError(f"reranker weights are for features {names}, not {FEATURES}: "
                             "run bench/train_similar.py")
        return cls(names, int(data["rerank_depth"]),  # type: ignore[call-overload]
                   tuple(data["mean"]), tuple(data["scale"]),  # type: ignore[arg-type]
                   tuple(data["weights"]), float(data["bias"]))  # type: ignore[arg-type]

    def score(self, features: Sequence[float]) -> float:
        z = self.bias + sum(w * (x - m) / s for w, x, m, s in
                            zip(self.weights, features, self.mean, self.scale, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def default_reranker() -> Reranker | None:
    """The shipped model (kb.embed.similar_weights), or None where none was trained."""
    from kb.embed.similar_weights import MODEL

    return Reranker.from_mapping(MODEL) if MODEL else None
