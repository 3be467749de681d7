"""Which model runs and how: the value the encoder, the ONNX export and the stored vectors
agree on (its own module, so the export needs nothing of the encoder that calls it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelSpec:
    """A model and the backend that runs it. `model_id` names the vector space."""

    name: str
    path: Path | None  # local folder of a sentence-transformers model; None for fake-hash
    backend: str  # onnx-int8 | onnx | torch | fake

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.backend}"
