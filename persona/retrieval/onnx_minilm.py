"""MiniLM on onnxruntime for the query path: one short text in ~4 ms instead of ~12 ms with
torch on our CPUs (the small matrix products are where torch loses).

The ONNX graph is exported from the packaged model (torch.onnx, which needs the `onnx`
package), checked against sentence-transformers on probe texts, and cached on disk when a
cache folder is given. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts the export is checked on: short, emoji, non-English, past the 256-token limit.
PROBES = (
    "I love you so much!!",
    "what's your favourite recipe? 🍋",
    "¿cuándo sale el próximo vídeo?",
    "a long message " * 200,
)
TOLERANCE = 1e-4

# One session per model and thread count in a process: the graph is immutable and a session
# runs from several threads, so engines (and tests) built side by side share it.
_sessions: dict[tuple[str, int], OnnxMiniLM] = {}
_sessions_lock = threading.Lock()


def shared_encoder(
    load_model: Callable[[], Any], model_dir: Path, cache_dir: Path | None, threads: int
) -> OnnxMiniLM:
    """The process's encoder for this model, built (and checked) on first use."""
    key = (_cache_key(model_dir), threads)
    with _sessions_lock:
        encoder = _sessions.get(key)
        if encoder is None:
            encoder = OnnxMiniLM.from_sentence_transformer(
                load_model(), model_dir, cache_dir, threads
            )
            _sessions[key] = encoder
        return encoder


class OnnxMiniLM:
    """Mean-pooled, L2-normalised sentence vectors, as sentence-transformers computes them."""

    def __init__(self, session: Any, tokenizer: Any, max_length: int) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.max_length = max_length

    def encode(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        feeds = {name: enc[name].astype(np.int64) for name in _INPUTS}
        hidden = self.session.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    @classmethod
    def from_sentence_transformer(
        cls, model: Any, model_dir: Path, cache_dir: Path | None, threads: int
    ) -> OnnxMiniLM:
        """Build from a loaded SentenceTransformer; raises if the export does not match it."""
        import onnxruntime as ort

        path = cache_dir / f"minilm-{_cache_key(model_dir)}.onnx" if cache_dir else None
        data = path.read_bytes() if path is not None and path.exists() else _export(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Spinning threads steal the other core on a shared 2-core box.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        encoder = cls(session, model.tokenizer, int(model.max_seq_length))
        expected = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
        diff = float(np.abs(encoder.encode(list(PROBES)) - expected).max())
        if diff > TOLERANCE:
            raise RuntimeError(f"ONNX MiniLM differs from sentence-transformers by {diff:.2e}")
        if path is not None and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)  # atomic: another process never reads half a file
        return encoder


def _cache_key(model_dir: Path) -> str:
    import onnxruntime
    import torch

    weights = model_dir / "model.safetensors"
    stat = weights.stat() if weights.exists() else None
    parts = [
        str(model_dir.resolve()),
        str(stat.st_size if stat else 0),
        str(stat.st_mtime_ns if stat else 0),
        torch.__version__,
        onnxruntime.__version__,
    ]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def _export(model: Any) -> bytes:
    import torch

    bert = model[0].auto_model.eval()

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = model.tokenizer(["hello there"], return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and legacy-exporter notices, all benign here
        torch.onnx.export(
            _Hidden(),
            tuple(sample[name] for name in _INPUTS),
            buffer,
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    log.info("exported MiniLM to ONNX", extra={"bytes": buffer.tell()})
    return buffer.getvalue()
