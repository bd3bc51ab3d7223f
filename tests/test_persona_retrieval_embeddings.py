"""Query embeddings: the ONNX path gives sentence-transformers' vectors; the LRU cache."""

from __future__ import annotations

import numpy as np
import pytest

from persona.retrieval.embeddings import EmbeddingsConfig, MiniLMEmbeddings, create_embeddings
from persona.retrieval.onnx_minilm import OnnxMiniLM

MESSAGES = [
    "I love you!!",
    "what's your favourite recipe? 🍋",
    "Tu fais quoi ce week-end ?",
    "",
    "so " * 400,  # past the 256-token limit: truncated the same way
]


@pytest.fixture(scope="module")
def onnx_embeddings(tmp_path_factory):
    cache = tmp_path_factory.mktemp("models")
    embeddings = create_embeddings(EmbeddingsConfig(threads=1, cache_dir=cache))
    embeddings.warm_up()
    return embeddings, cache


def test_onnx_query_vectors_equal_sentence_transformers(onnx_embeddings):
    embeddings, _ = onnx_embeddings
    assert isinstance(embeddings.query_encoder(), OnnxMiniLM)
    got = np.array([embeddings.embed_query(m) for m in MESSAGES])
    expected = embeddings.encode(MESSAGES)
    assert np.abs(got - expected).max() < 1e-5


def test_export_is_kept_on_disk_and_reused(onnx_embeddings, tmp_path):
    embeddings, _ = onnx_embeddings
    OnnxMiniLM.from_sentence_transformer(embeddings.model, embeddings.model_dir, tmp_path, 1)
    (saved,) = tmp_path.glob("minilm-*.onnx")
    stamp = saved.stat().st_mtime_ns
    encoder = OnnxMiniLM.from_sentence_transformer(
        embeddings.model, embeddings.model_dir, tmp_path, 1
    )
    assert saved.stat().st_mtime_ns == stamp
    assert np.abs(encoder.encode(["hello"]) - embeddings.encode(["hello"])).max() < 1e-5


def test_torch_runtime_gives_the_same_vectors(onnx_embeddings):
    onnx, _ = onnx_embeddings
    torch = MiniLMEmbeddings(EmbeddingsConfig(threads=1, query_runtime="torch"))
    assert torch.query_encoder() is torch
    a, b = np.array(torch.embed_query("hi there")), np.array(onnx.embed_query("hi there"))
    assert np.abs(a - b).max() < 1e-5


class _Counting:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += texts
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def test_query_cache_is_bounded_and_hands_out_copies():
    embeddings = MiniLMEmbeddings(EmbeddingsConfig(query_cache_size=2))
    counting = _Counting()
    embeddings._query_encoder = counting
    first = embeddings.embed_query("I love you!!")
    first.append(99.0)  # a caller changing its list must not change the cache
    assert embeddings.embed_query("I love you!!") == [12.0, 1.0]
    assert counting.calls == ["I love you!!"]
    embeddings.embed_query("b")
    embeddings.embed_query("c")  # evicts the least recently used: "I love you!!"
    embeddings.embed_query("c")
    embeddings.embed_query("I love you!!")
    assert counting.calls == ["I love you!!", "b", "c", "I love you!!"]


def test_query_cache_can_be_off():
    embeddings = MiniLMEmbeddings(EmbeddingsConfig(query_cache_size=0))
    counting = _Counting()
    embeddings._query_encoder = counting
    embeddings.embed_query("x")
    embeddings.embed_query("x")
    assert counting.calls == ["x", "x"]
