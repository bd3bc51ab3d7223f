"""The relational store on its own tables (no migrations: those are the platform's): SQLite WAL,
unique constraints, units of work."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from persona.store import Base, Creator, Database, DatabaseConfig, Post


@pytest.fixture
def db(tmp_path):
    database = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'p.db'}"))
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def test_sqlite_runs_in_wal_mode(db):
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_same_post_twice_violates_the_unique_constraint(db):
    with db.session() as session:
        session.add(Creator(id="a", display_name="A", settings={}))
    row = {"creator_id": "a", "content_hash": "h", "text": "t", "clean_text": "t"}
    with db.session() as session:
        session.add(Post(**row))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(Post(**row))


def test_a_failed_unit_of_work_leaves_nothing(db):
    with pytest.raises(RuntimeError), db.session() as session:
        session.add(Creator(id="b", display_name="B", settings={}))
        session.flush()
        raise RuntimeError("crash mid-way")
    with db.session() as session:
        assert session.get(Creator, "b") is None
