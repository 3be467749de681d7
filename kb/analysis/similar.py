"""The optional embedding step of cause tagging: what the rules miss, by similarity to labeled
example sentences (cause_examples.toml).

Used only when kb.embed is importable and its model is available on disk (nothing is ever
downloaded); otherwise `load_similarity` returns None and a one-line reason, and tagging is
rules-only. It runs only on incidents the rules left ``unknown`` (rules carry evidence a
reader can check; similarity is the weaker signal), and every tag it adds says so: method
``embedding``, the nearest example in `detail`, the cosine in `score`.

numpy and the encoder are imported inside the functions: `kb --help` never loads them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.analysis.causes import MAX_EVIDENCE, Cause, CauseTag

# Labelled examples shipped with the package (product data, not a setting: read here, not by
# kb.config).
EXAMPLES = Path(__file__).with_name("cause_examples.toml")


@dataclass(frozen=True)
class Examples:
    sentences: tuple[str, ...]
    tags: tuple[Cause, ...]
    threshold: float
    margin: float = 0.0
    background: tuple[str, ...] = ()


def load_examples(path: Path = EXAMPLES) -> Examples:
    """The labeled example sentences and the similarity threshold."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    sentences: list[str] = []
    tags: list[Cause] = []
    for tag, items in data["examples"].items():
        for sentence in items:
            sentences.append(sentence)
            tags.append(Cause(tag))
    return Examples(tuple(sentences), tuple(tags), float(data["threshold"]),
                    float(data.get("margin", 0.0)), tuple(data.get("background", ())))


class SimilarityTagger:
    """Tags an incident's sentences by their nearest labeled examples."""

    def __init__(self, encoder: Any, examples: Examples | None = None) -> None:
        self.encoder = encoder
        self.examples = examples or load_examples()
        self.matrix = encoder.encode(list(self.examples.sentences))  # unit rows
        self.background = (encoder.encode(list(self.examples.background))
                           if self.examples.background else None)

    @property
    def name(self) -> str:
        """Part of the stored tagger id: changing model or examples re-tags everything."""
        return similarity_name(self.encoder.model_id, self.examples)

    def tag(self, prose: Sequence[str]) -> list[CauseTag]:
        """Embedding tags for one incident's sentences (empty when nothing is close enough)."""
        texts = [s for s in prose if len(s.split()) >= 3]  # "Resolved." carries no cause
        if not texts:
            return []
        vectors = self.encoder.encode(texts)
        sims = vectors @ self.matrix.T  # sentences × examples
        floor = [self.examples.threshold] * len(texts)
        if self.background is not None:
            noise = (vectors @ self.background.T).max(axis=1)
            floor = [max(f, float(n) + self.examples.margin) for f, n in zip(floor, noise,
                                                                                strict=True)]
        best: dict[Cause, tuple[float, int, int]] = {}
        for row in range(sims.shape[0]):
            for col in range(sims.shape[1]):
                score = float(sims[row, col])
                tag = self.examples.tags[col]
                if score >= floor[row] and score > best.get(tag, (0.0, 0, 0))[0]:
                    best[tag] = (score, row, col)
        out = []
        for tag in Cause:
            if tag in best:
                score, row, col = best[tag]
                sentence = " ".join(texts[row].split())[:MAX_EVIDENCE]
                out.append(CauseTag(tag, "embedding", sentence,
                                    f"nearest example: {self.examples.sentences[col]!r}",
                                    # a likeness says what a sentence is about, not
                                    # whether it states a cause
                                    "unknown", round(score, 4)))
        return out


def similarity_name(model_id: str, examples: Examples) -> str:
    return (f"emb:{model_id}:t{examples.threshold:g}:m{examples.margin:g}"
            f":n{len(examples.sentences)}+{len(examples.background)}")


def expected_name(home: Path, env: Mapping[str, str] | None = None, *,
                  only_ready: bool = False) -> tuple[str | None, str]:
    """(the name a SimilarityTagger would have, or None; why not) without loading a model,
    cheap enough to decide whether a run has anything to do.

    `only_ready` (the `kb update` stage): only a real model whose files are ready to load
    counts. An ONNX model not yet exported (`kb embed` does that once, ~10 s) or the tests'
    fake-hash encoder would make every update of a fresh KB slow or its tags odd.
    """
    try:
        from kb.embed.encoder import FAKE_MODEL, resolve_model

        spec = resolve_model(env)
    except ImportError as exc:
        return None, f"kb.embed is not available ({exc.name})"
    except Exception as exc:  # not installed, not configured: the step would be skipped
        return None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if only_ready:
        if spec.name == FAKE_MODEL:
            return None, "the fake-hash test encoder is not used for cause tags"
        if spec.backend.startswith("onnx"):
            from kb.embed.onnx_export import cache_folder

            wanted = "model.int8.onnx" if spec.backend == "onnx-int8" else "model.onnx"
            if not (cache_folder(spec, home) / wanted).is_file():
                return None, "the model is not exported yet (`kb embed` or `kb causes " \
                             "--refresh` does it once)"
    return similarity_name(spec.model_id, load_examples()), ""


def load_similarity(home: Path, env: Mapping[str, str] | None = None,
                    ) -> tuple[SimilarityTagger | None, str]:
    """(tagger, note), or (None, why the step is skipped). Never raises for a missing
    package or model: the rules still run."""
    try:
        from kb.embed.encoder import load_encoder, resolve_model
    except ImportError as exc:
        return None, f"embedding step skipped: kb.embed is not available ({exc.name})"
    try:
        spec = resolve_model(env)
        encoder = load_encoder(spec, home)
        tagger = SimilarityTagger(encoder)
    except ImportError as exc:
        return None, f"embedding step skipped: {exc.name} is not installed"
    except Exception as exc:  # a broken or missing model must not stop rule tagging
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"embedding step skipped: {first}"
    examples = tagger.examples
    return tagger, (f"rules, then nearest of {len(examples.sentences)} labelled sentences by "
                    f"{tagger.encoder.model_id} (cosine ≥ {examples.threshold:g})")
