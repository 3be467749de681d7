"""Export a sentence-transformers model to ONNX by hand, quantize it, cache it under
$KB_HOME/models/.

Why by hand: sentence-transformers' own `backend="onnx"` extra pins an older release of the
library (installing it downgrades 6.x to 5.x). The transformer body is traced once with
torch.onnx (TorchScript exporter), then `onnxruntime.quantization.quantize_dynamic` turns the
weights into int8, per channel, with reduce_range (7-bit weights: no overflow in the int16
accumulators of older x86 CPUs without VNNI). Pooling and normalization run in numpy.

The cache folder ($KB_HOME/models, or KB_MODEL_CACHE) is keyed by the model's name, the
backend, this exporter's version and the identity (size, modification time) of the model's
weight and config files: changing any of them exports again. Exporting imports torch
(seconds) and happens once per model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kb.config import load_settings
from kb.errors import ConfigError

if TYPE_CHECKING:
    from kb.embed.spec import ModelSpec

EXPORT_VERSION = 1
_IDENTITY_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
                   "modules.json", "sentence_bert_config.json")


def pooling_of(folder: Path) -> tuple[str, bool]:
    """(pooling mode, normalize) from the model's modules.json; ONNX serves only models made
    of Transformer → Pooling(mean|cls) → optional Normalize."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        modules = None
    if not isinstance(modules, list):
        return "mean", True  # a bare transformer: sentence-transformers also mean-pools
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules if isinstance(m, dict)]
    extra = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
    if extra:
        raise ConfigError(f"{folder}: modules {', '.join(extra)} are not supported by the ONNX "
                          "backend; set KB_EMBED_BACKEND=torch")
    mode = "mean"
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            config_path = folder / str(module.get("path", "")) / "config.json"
            try:
                config = json.loads(config_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                config = {}
            if config.get("pooling_mode_cls_token"):
                mode = "cls"
            elif not config.get("pooling_mode_mean_tokens", True):
                raise ConfigError(f"{folder}: only mean or CLS pooling is supported by the ONNX "
                                  "backend; set KB_EMBED_BACKEND=torch")
    return mode, "Normalize" in kinds


def cache_root(home: Path) -> Path:
    """KB_MODEL_CACHE when set (several KB homes, or a CI run, can share one export), else
    $KB_HOME/models."""
    shared = load_settings().embed.cache
    return shared.expanduser() if shared else home / "models"


def cache_folder(spec: ModelSpec, home: Path) -> Path:
    """<cache root>/<model slug>-<backend>-<identity hash>."""
    assert spec.path is not None
    identity = hashlib.sha256()
    identity.update(f"{spec.name}\n{spec.backend}\n{EXPORT_VERSION}\n".encode())
    for name in _IDENTITY_FILES:
        path = spec.path / name
        if path.is_file():
            stat = path.stat()
            identity.update(f"{name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(spec.name).name).strip("-") or "model"
    return cache_root(home) / f"{slug}-{spec.backend}-{identity.hexdigest()[:16]}"


def ensure_onnx(spec: ModelSpec, home: Path,
                note: Callable[[str], None] | None = None) -> Path:
    """The cached ONNX file for `spec`, exported (and quantized for onnx-int8) first if needed.
    Written to a temporary folder and renamed into place, so a crash or a second process never
    leaves half a model behind."""
    folder = cache_folder(spec, home)
    target = folder / ("model.int8.onnx" if spec.backend == "onnx-int8" else "model.onnx")
    if target.is_file():
        return target
    if note is not None:
        note(f"exporting {spec.name} to ONNX once (cached in {folder.parent})")
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        with _quiet():
            _export(spec, work / "model.onnx")
            if spec.backend == "onnx-int8":
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantize_dynamic(work / "model.onnx", work / "model.int8.onnx",
                                 per_channel=True, reduce_range=True,
                                 weight_type=QuantType.QInt8)
                (work / "model.onnx").unlink()  # 90 MB nobody reads
        (work / "export.json").write_text(json.dumps({
            "model": spec.name, "source": str(spec.path), "backend": spec.backend,
            "exporter": EXPORT_VERSION,
        }, indent=2), encoding="utf-8")
        try:
            os.replace(work, folder)
        except OSError:  # another process won the race: its export is as good as ours
            shutil.rmtree(work, ignore_errors=True)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    if not target.is_file():
        raise ConfigError(f"ONNX export of {spec.name} left no {target.name} in {folder}")
    return target


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The tracer's and quantizer's warnings concern graph shapes this exporter handles (fixed
    batch-independent control flow of an encoder); they would only alarm users of `kb embed`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def _export(spec: ModelSpec, output: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    model = AutoModel.from_pretrained(str(spec.path))
    model.eval()

    class Body(torch.nn.Module):
        """Keyword arguments to the model: its positional order differs across versions."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = torch.ones((2, 16), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(Body(model), (sample, sample, torch.zeros_like(sample)), str(output),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
