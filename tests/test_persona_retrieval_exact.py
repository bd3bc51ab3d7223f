"""Exact in-memory search: same hits as Chroma, and a write from another process is seen."""

from __future__ import annotations

import numpy as np
import pytest

from persona.retrieval.embeddings import EmbeddingsConfig, create_embeddings
from persona.retrieval.exact import Rows, RowsCache
from persona.retrieval.index import IndexEntry, PostIndex, VectorStoreConfig

POSTS = [
    ("1", "my dog Biscuit loves long walks by the river", "post"),
    ("2", "the new lemon tart recipe is up on the blog", "post"),
    ("3", "thank you so much!", "reply"),
    ("4", "training for the marathon in the rain today", "post"),
    ("5", "love you all, see you at the launch", "reply"),
    ("6", "what do you feed your puppy?", "fan_msg"),
]


@pytest.fixture(scope="module")
def embeddings():
    return create_embeddings(EmbeddingsConfig(threads=1))


@pytest.fixture
def index(tmp_path, embeddings):
    index = PostIndex(VectorStoreConfig(path=tmp_path / "chroma"), embeddings)
    index.upsert("a", [IndexEntry(i, t, k, {"post_id": int(i)}) for i, t, k in POSTS])
    return index


def _rows(n: int, kinds: list[str], seed: int = 0) -> Rows:
    vectors = np.random.default_rng(seed).normal(size=(n, 8))
    ids = [str(i) for i in range(n)]
    return Rows.build("t", ids, ids, [{"kind": kinds[i % len(kinds)]} for i in range(n)], vectors)


def test_top_matches_a_full_sort_per_kind():
    rows = _rows(300, ["post", "reply", "fan_msg"])
    query = np.random.default_rng(1).normal(size=8)
    found = rows.top(query, {"post": 5, "reply": 2, None: 7, "absent": 3, "fan_msg": 500})
    unit = rows.matrix @ (query / np.linalg.norm(query))
    for kind, k in (("post", 5), ("reply", 2), (None, 7), ("fan_msg", 500)):
        pool = [i for i in range(300) if kind is None or rows.metadatas[i]["kind"] == kind]
        expected = sorted(pool, key=lambda i: -unit[i])[:k]
        assert [i for i, _ in found[kind]] == expected
        assert [s for _, s in found[kind]] == pytest.approx([unit[i] for i in expected], abs=1e-6)
    assert found["absent"] == []
    assert Rows.build("t", [], [], [], []).top(query, {"post": 3}) == {"post": []}


def test_rows_cache_reloads_on_a_new_token_and_keeps_to_its_budget():
    cache = RowsCache(max_rows=250)
    loads: list[str] = []

    def loader(key: str, token: str, n: int):
        def load() -> Rows:
            loads.append(key)
            return Rows.build(token, *[[str(i) for i in range(n)]] * 2, [{}] * n, np.ones((n, 4)))

        return load

    assert len(cache.get("a", "v1", loader("a", "v1", 100))) == 100
    cache.get("a", "v1", loader("a", "v1", 100))
    assert loads == ["a"]
    cache.get("a", "v2", loader("a", "v2", 100))
    assert loads == ["a", "a"]
    cache.get("b", "v1", loader("b", "v1", 100))
    cache.get("c", "v1", loader("c", "v1", 100))  # over 250 rows: "a" (least recent) goes
    cache.get("b", "v1", loader("b", "v1", 100))
    cache.get("a", "v2", loader("a", "v2", 100))
    assert loads == ["a", "a", "b", "c", "a"]
    # Too big to keep: used once, not stored.
    assert len(cache.get("d", "v1", loader("d", "v1", 300))) == 300
    cache.get("d", "v1", loader("d", "v1", 300))
    assert loads[-2:] == ["d", "d"]
    # A load that saw a write meanwhile (another token) is not used.
    assert cache.get("e", "v1", loader("e", "v0", 10)) is None


def test_search_kinds_gives_chromas_hits(index, embeddings):
    for message in ("how is your puppy doing?", "recipe please", "good luck with the race"):
        query = embeddings.embed_query(message)
        wanted = {"post": 2, "reply": 1, "fan_msg": 3, None: 4}
        found = index.search_kinds("a", query, wanted)
        for kind, k in wanted.items():
            chroma = index._query("a", query, k, kind)
            assert [h.id for h in found[kind]] == [h.id for h in chroma]
            assert [h.text for h in found[kind]] == [h.text for h in chroma]
            assert [h.metadata for h in found[kind]] == [h.metadata for h in chroma]
            assert [h.score for h in found[kind]] == pytest.approx(
                [h.score for h in chroma], abs=1e-6
            )


def test_writes_by_another_process_are_seen(tmp_path, index, embeddings):
    query = embeddings.embed_query("my cat Pixel")
    assert [h.id for h in index.search("a", query, 1, "post")] != ["7"]
    # Another worker (its own PostIndex) deletes one post and adds one: same row count.
    other = PostIndex(VectorStoreConfig(path=tmp_path / "chroma"), embeddings)
    other.delete("a", ["4"])
    other.upsert("a", [IndexEntry("7", "my cat Pixel sleeps all day", "post")])
    assert index.count("a") == len(POSTS)
    assert [h.id for h in index.search("a", query, 1, "post")] == ["7"]
    assert "4" not in {h.id for h in index.search("a", query, 10)}


def test_exact_search_can_be_turned_off(tmp_path, embeddings):
    index = PostIndex(VectorStoreConfig(path=tmp_path / "chroma", exact_search_rows=0), embeddings)
    index.upsert("a", [IndexEntry(i, t, k) for i, t, k in POSTS])
    query = embeddings.embed_query("puppy")
    assert index._rows("a") is None
    assert [h.id for h in index.search("a", query, 2, "post")] == [
        h.id for h in index._query("a", query, 2, "post")
    ]
