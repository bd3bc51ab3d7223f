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


def test_migration_0002_creates_exactly_the_model_tables(tmp_path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from channels.migrate import upgrade

    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"avatar_jobs", "avatar_outputs", "avatar_profile_pictures"} <= tables
    with engine.connect() as connection:
        heads = {
            row[0] for row in connection.exec_driver_sql("select version_num from alembic_version")
        }
        diff = compare_metadata(MigrationContext.configure(connection), AvatarBase.metadata)
    assert "0002_avatar" in heads
    assert [d for d in diff if "avatar_" in str(d)] == []
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
