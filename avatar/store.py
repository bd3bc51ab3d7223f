"""Avatar jobs, outputs and profile pictures in the platform's relational database.

Our own DeclarativeBase (tables prefixed `avatar_`), so that the avatar studio stays a library:
the caller passes a SQLAlchemy Engine, and the Alembic migration 0002_avatar creates the
tables in production. No photo, embedding or other biometric data is stored here: only
verdicts, file names and timestamps.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from persona.store.types import UTCDateTime


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


# Jobs in these states count against the daily limit (failed and cancelled ones do not:
# the creator got nothing from them).
COUNTED_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.DONE)


class AvatarBase(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class AvatarJob(AvatarBase):
    __tablename__ = "avatar_jobs"
    __table_args__ = (
        Index("ix_avatar_jobs_creator_created", "creator_id", "created_at"),
        Index("ix_avatar_jobs_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    creator_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    backend: Mapped[str] = mapped_column(String(32))
    styles: Mapped[list[Any]] = mapped_column(JSON)
    # Per-photo verdicts as shown to the creator (codes, messages, measurements).
    verdicts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    images_total: Mapped[int] = mapped_column(Integer)
    images_done: Mapped[int] = mapped_column(Integer, default=0)
    images_dropped: Mapped[int] = mapped_column(Integer, default=0)
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    visible_mark: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # A sentence for the creator when the job failed, was cancelled or made fewer avatars.
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    output_retention_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The uploads are gone by this time at the latest, whatever the job's state.
    uploads_expire_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploads_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Deleted by the creator: hidden and its avatars gone, but it still counts for the day.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Likeness and diversity of the finished set (avatar.diversity.JobReport), for the creator.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    outputs: Mapped[list[AvatarOutput]] = relationship(
        back_populates="job", cascade="all, delete-orphan", passive_deletes=True
    )


class AvatarOutput(AvatarBase):
    __tablename__ = "avatar_outputs"
    __table_args__ = (
        Index("ix_avatar_outputs_job_rank", "job_id", "rank"),
        Index("ix_avatar_outputs_expires", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("avatar_jobs.id", ondelete="CASCADE"))
    creator_id: Mapped[str] = mapped_column(String(64))
    style: Mapped[str] = mapped_column(String(64))
    photo_index: Mapped[int] = mapped_column(Integer)
    variant: Mapped[int] = mapped_column(Integer)
    similarity: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    # Relative to <data_dir>/avatar.
    path: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(16))
    chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Unchosen outputs are deleted at this time; None while the job runs or once chosen.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    job: Mapped[AvatarJob] = relationship(back_populates="outputs")


class AvatarProfilePicture(AvatarBase):
    __tablename__ = "avatar_profile_pictures"

    creator_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    output_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A copy under profiles/, so that it outlives its job's retention.
    path: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
