"""Real MiniLM embeddings from the package, real embedded Chroma."""

from __future__ import annotations

import pytest

from persona.retrieval.embeddings import EmbeddingsConfig, create_embeddings
from persona.retrieval.index import IndexEntry, PostIndex, VectorStoreConfig, collection_name


@pytest.fixture(scope="module")
def embeddings():
    return create_embeddings(EmbeddingsConfig(threads=1))


@pytest.fixture
def index(tmp_path, embeddings):
    return PostIndex(VectorStoreConfig(path=tmp_path / "chroma"), embeddings)


def test_embeddings_are_normalised_384_d(embeddings):
    vector = embeddings.embed_query("hello there")
    assert len(vector) == 384
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-3


def test_search_finds_the_closest_post_per_creator(index):
    index.upsert(
        "a",
        [
            IndexEntry("1", "my dog Biscuit loves long walks by the river", "post"),
            IndexEntry("2", "the new lemon tart recipe is up on the blog", "post"),
            IndexEntry("3", "thank you so much!", "reply"),
        ],
    )
    index.upsert("b", [IndexEntry("9", "my dog hates walks in the rain", "post")])
    query = index.embeddings.embed_query("how is your puppy doing?")
    hits = index.search("a", query, k=2, kind="post")
    assert hits[0].id == "1"
    assert all(h.kind == "post" for h in hits)
    # One collection per creator: b's post never shows up for a.
    assert {h.id for h in index.search("a", query, k=10)} == {"1", "2", "3"}


def test_upsert_is_idempotent(index):
    entry = IndexEntry("x", "same text", "post", {"post_id": 1})
    index.upsert("a", [entry])
    index.upsert("a", [entry])
    assert index.count("a") == 1


def test_delete_and_drop(index):
    index.upsert("a", [IndexEntry("x", "one", "post"), IndexEntry("y", "two", "post")])
    index.delete("a", ["x"])
    assert index.count("a") == 1
    index.drop("a")
    assert index.count("a") == 0


def test_collection_names_are_valid_for_any_creator_id():
    for creator in ("KimKardashian", "camille.cuisine", "a", "é👀", "x" * 200):
        name = collection_name(creator)
        assert 3 <= len(name) <= 512
        assert name[0].isalnum() and name[-1].isalnum()
    assert collection_name("Kim") != collection_name("kim")
