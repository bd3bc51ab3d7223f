"""The ingest pipeline end to end: real SQLite, real MiniLM, real Chroma."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from channels.services import Services
from ingest.pipeline import ingest_file
from ingest.sources import IngestFormatError
from persona.retrieval.index import collection_name
from persona.store import Creator, Post
from tests.conftest import make_settings


@pytest.fixture
def services(tmp_path):
    built = Services.build(make_settings(tmp_path / "data"))
    yield built
    built.close()


def _posts(services, creator=None) -> int:
    with services.db.session() as session:
        query = select(func.count(Post.id))
        if creator:
            query = query.where(Post.creator_id == creator)
        return session.scalar(query) or 0


def _write_jsonl(path, rows) -> None:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")


ROWS = [
    {"id": "1", "text": "Sunday live at 6pm, on fait des crêpes 🥞"},
    {"id": "2", "text": "@lea merci !! 💛", "reply_to": "ta recette est trop bonne"},
    {"id": "3", "text": "New video: my three favourite pasta sauces https://example.com/v"},
    {"id": "4", "text": "Sunday live at 6pm, on fait des crêpes 🥞"},  # duplicate of 1
]


def test_ingest_then_reingest_adds_nothing(services, tmp_path):
    source = tmp_path / "posts.jsonl"
    _write_jsonl(source, ROWS)
    first = ingest_file(services.ingestor(), source, creator="mia")
    assert first.added == 3
    assert first.creators["mia"].duplicates == 1
    second = ingest_file(services.ingestor(), source, creator="mia")
    assert second.added == 0
    assert _posts(services) == 3
    # the reply and the fan message it answered are both searchable
    assert services.index.count("mia") == 4
    with services.db.session() as session:
        creator = session.get(Creator, "mia")
        assert creator.profile and creator.profile_updated_at is not None
        reply = session.scalars(select(Post).where(Post.kind == "reply")).one()
        assert reply.reply_to_text == "ta recette est trop bonne"
        assert reply.text.startswith("@lea")  # the original is kept
        assert not reply.clean_text.startswith("@")


def test_malformed_file_names_the_line_and_writes_nothing(services, tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_text('{"id": "1", "text": "fine"}\n{"id": "2", "text": \n')
    with pytest.raises(IngestFormatError) as info:
        ingest_file(services.ingestor(), source, creator="mia")
    assert "bad.jsonl" in str(info.value) and "2" in str(info.value)
    assert _posts(services) == 0
    with services.db.session() as session:
        assert session.get(Creator, "mia") is None


def test_failure_while_indexing_rolls_back_database_and_index(services, tmp_path, monkeypatch):
    source = tmp_path / "posts.jsonl"
    _write_jsonl(
        source, [{"id": str(i), "text": f"post number {i} about cake"} for i in range(600)]
    )
    calls = {"n": 0}
    real_upsert = services.index.upsert

    def failing_upsert(creator_id, entries, vectors=None):
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch fails: the first is already in Chroma
            raise RuntimeError("disk full")
        return real_upsert(creator_id, entries, vectors)

    monkeypatch.setattr(services.index, "upsert", failing_upsert)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_file(services.ingestor(), source, creator="mia")
    assert _posts(services) == 0
    assert services.index.count("mia") == 0
    monkeypatch.setattr(services.index, "upsert", real_upsert)
    assert ingest_file(services.ingestor(), source, creator="mia").added == 600
    assert services.index.count("mia") == 600


def test_demo_creator_is_ingested_with_replies(demo_dir):
    services = Services.build(make_settings(demo_dir))
    try:
        from ingest.demo import DEMO_CREATOR_ID

        assert _posts(services, DEMO_CREATOR_ID) >= 300
        assert services.index.count(DEMO_CREATOR_ID) > _posts(services, DEMO_CREATOR_ID)
        assert collection_name(DEMO_CREATOR_ID) in {
            c.name for c in services.index.client.list_collections()
        }
    finally:
        services.close()


@pytest.mark.shared_data
@pytest.mark.slow
def test_dev_tweets_make_six_creators_and_reingest_adds_zero(shared_tweets, tmp_path):
    services = Services.build(make_settings(tmp_path / "data", embed_threads=2))
    try:
        report = ingest_file(services.ingestor(), shared_tweets, creator_column="name")
        assert len(report.creators) == 6
        assert report.parsed == 7138
        assert _posts(services) == report.added
        again = ingest_file(services.ingestor(), shared_tweets, creator_column="name")
        assert again.added == 0
        with services.db.session() as session:
            replies = session.scalar(
                select(func.count(Post.id)).where(
                    Post.creator_id == "khloekardashian", Post.kind == "reply"
                )
            )
        assert replies > 100
    finally:
        services.close()
