"""The platform's migrations (Alembic, channels/migrations): from scratch to head, twice."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from channels.migrate import current_heads, expected_heads, upgrade
from persona.store import Database, DatabaseConfig


@pytest.fixture
def db(tmp_path):
    database = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'p.db'}"))
    upgrade(database.engine)
    yield database
    database.dispose()


def test_migrations_create_every_table_and_reach_head(db):
    tables = set(inspect(db.engine).get_table_names())
    assert {"creators", "posts", "fans", "conversations", "messages", "voice_evals"} <= tables
    assert current_heads(db.engine) == expected_heads()


def test_upgrade_twice_is_a_no_op(db):
    upgrade(db.engine)
    assert current_heads(db.engine) == expected_heads()
