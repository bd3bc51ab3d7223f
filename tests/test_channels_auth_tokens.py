"""The one API-token check (`channels.auth_tokens`) and the migration that moved the token's
hash out of the settings JSON into a column. Real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from channels.auth_tokens import (
    TokenRejected,
    authenticate_creator,
    hash_token,
    new_api_token,
    token_matches,
)
from channels.migrate import alembic_config, upgrade
from persona.store import Creator
from persona.store.db import Database, DatabaseConfig

CREATOR = "mia"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(DatabaseConfig(f"sqlite:///{tmp_path / 'tokens.db'}"))
    upgrade(database.engine)
    with database.session() as session:
        session.add(Creator(id=CREATOR, display_name="Mia", settings={"paused": False}))
        session.add(Creator(id="other", display_name="Other", settings={}))
    yield database
    database.dispose()


def test_the_token_is_the_creators_and_only_theirs(db: Database) -> None:
    token = new_api_token(SimpleNamespace(db=db), CREATOR)
    other = new_api_token(SimpleNamespace(db=db), "other")
    assert authenticate_creator(db, CREATOR, token).id == CREATOR
    with db.session() as session:
        row = session.get(Creator, CREATOR)
        # The hash lives in its own column, never in the settings the creator edits.
        assert row.api_token_sha256 == hash_token(token)
        assert row.settings == {"paused": False}
    for bearer in (other, token + "x", "pk_" + "a" * 43):
        with pytest.raises(TokenRejected) as wrong:
            authenticate_creator(db, CREATOR, bearer)
        assert wrong.value.reason == "wrong" and wrong.value.creator.id == CREATOR
    for missing in (None, ""):
        with pytest.raises(TokenRejected) as rejected:
            authenticate_creator(db, CREATOR, missing)
        assert rejected.value.reason == "missing" and rejected.value.creator is None
    with pytest.raises(TokenRejected) as unknown:
        authenticate_creator(db, "nobody", token)
    assert unknown.value.reason == "wrong" and unknown.value.creator is None
    # A new token replaces the old one.
    fresh = new_api_token(SimpleNamespace(db=db), CREATOR)
    assert authenticate_creator(db, CREATOR, fresh).id == CREATOR
    with pytest.raises(TokenRejected):
        authenticate_creator(db, CREATOR, token)
    with pytest.raises(LookupError):
        new_api_token(SimpleNamespace(db=db), "nobody")


def test_a_creator_without_a_token_accepts_none(db: Database) -> None:
    assert not token_matches(None, "anything")
    assert not token_matches("", "")
    with pytest.raises(TokenRejected, match="wrong"):
        authenticate_creator(db, "other", "pk_guess")


def test_the_migration_moves_the_hash_out_of_the_json_and_back(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        check_token_migration(engine)
    finally:
        engine.dispose()


def check_token_migration(engine: sa.Engine) -> None:
    """0014 on an empty database (SQLite here, PostgreSQL in the production tests): the hash
    leaves the JSON for its column, the other keys stay; downgrade puts it back."""
    from alembic import command

    upgrade(engine, "0013_avatar_report")
    creators = sa.table(
        "creators",
        sa.column("id", sa.String),
        sa.column("display_name", sa.String),
        sa.column("created_at", sa.DateTime),
        sa.column("settings", sa.JSON),
    )
    now = datetime.now(UTC)
    stored = {"api_token_sha256": "a" * 64, "paused": True, "someday": {"kept": 1}}
    with engine.begin() as connection:
        connection.execute(
            creators.insert(),
            [
                {"id": CREATOR, "display_name": "Mia", "settings": stored, "created_at": now},
                {
                    "id": "none",
                    "display_name": "No token",
                    "settings": {"style_hint": "warm"},
                    "created_at": now,
                },
                {
                    "id": "null",
                    "display_name": "Null settings",
                    "settings": None,
                    "created_at": now,
                },
            ],
        )
    upgrade(engine, "0014_creator_api_token")
    migrated = sa.table(
        "creators",
        sa.column("id", sa.String),
        sa.column("settings", sa.JSON),
        sa.column("api_token_sha256", sa.String),
    )
    with engine.connect() as connection:
        rows = {r.id: r for r in connection.execute(sa.select(migrated))}
    assert rows[CREATOR].api_token_sha256 == "a" * 64
    assert rows[CREATOR].settings == {"paused": True, "someday": {"kept": 1}}
    assert rows["none"].api_token_sha256 is None and rows["null"].api_token_sha256 is None

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013_avatar_report")
    with engine.connect() as connection:
        assert "api_token_sha256" not in {
            c["name"] for c in sa.inspect(connection).get_columns("creators")
        }
        back = {
            r.id: r.settings
            for r in connection.execute(sa.select(creators.c.id, creators.c.settings))
        }
    assert back[CREATOR] == stored
    assert back["none"] == {"style_hint": "warm"}
    upgrade(engine)  # and up again, as a redeploy would
