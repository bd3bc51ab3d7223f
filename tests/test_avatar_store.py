"""Avatar tables: the Alembic migration matches the models; timestamps stay UTC-aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from avatar.store import AvatarBase, AvatarJob, JobState


def job(created: datetime) -> AvatarJob:
    return AvatarJob(
        id="j1",
        creator_id="ana",
        backend="art",
        styles=["duotone", "comic"],
        verdicts=[],
        images_total=30,
        output_retention_s=60,
        created_at=created,
        uploads_expire_at=created + timedelta(minutes=5),
    )


def test_avatar_migrations_create_exactly_the_model_tables(tmp_path) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from channels.migrate import alembic_config, upgrade

    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine, "0013_avatar_report")  # 0002 made the tables, 0013 added the job report
    assert {"avatar_jobs", "avatar_outputs", "avatar_profile_pictures"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), AvatarBase.metadata)
    assert [d for d in diff if "avatar_" in str(d)] == []

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001_initial")
    assert not any(t.startswith("avatar_") for t in inspect(engine).get_table_names())
    engine.dispose()


def test_timestamps_come_back_aware_in_utc(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    AvatarBase.metadata.create_all(engine)
    paris = timezone(timedelta(hours=1))
    with Session(engine) as session:
        session.add(job(datetime(2026, 11, 23, 10, 0, tzinfo=paris)))
        session.commit()
    with Session(engine) as session:
        row = session.get(AvatarJob, "j1")
        assert row.created_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        assert row.created_at.tzinfo is not None
        assert JobState(row.state) is JobState.QUEUED
    engine.dispose()


def test_naive_timestamps_are_refused(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    AvatarBase.metadata.create_all(engine)
    with Session(engine) as session, pytest.raises(StatementError, match="timezone-aware"):
        session.add(job(datetime(2026, 11, 23, 10, 0)))
        session.commit()
    engine.dispose()
