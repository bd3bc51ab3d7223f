"""Plain records the service returns (the API turns them into pydantic models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from avatar.checks import PhotoVerdict
from avatar.store import AvatarJob, AvatarOutput, JobState


@dataclass(frozen=True, slots=True)
class StyleInfo:
    id: str
    name: str
    description: str
    technique: str
    backend: str


@dataclass(slots=True)
class JobStatus:
    id: str
    creator_id: str
    state: JobState
    backend: str
    styles: list[str]
    percent: float
    images_done: int
    images_total: int
    images_dropped: int
    message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    uploads_expire_at: datetime
    uploads_deleted: bool
    # When the avatars the creator did not choose will be deleted (known once the job ends).
    outputs_expire_at: datetime | None
    verdicts: list[dict] = field(default_factory=list)
    # Likeness and diversity of the avatars once the job is done (avatar.diversity.JobReport).
    report: dict | None = None

    @property
    def finished(self) -> bool:
        return self.state.finished

    @classmethod
    def of(cls, job: AvatarJob) -> JobStatus:
        state = JobState(job.state)
        expires = None
        if job.finished_at is not None and state is JobState.DONE:
            expires = job.finished_at + timedelta(seconds=job.output_retention_s)
        return cls(
            id=job.id,
            creator_id=job.creator_id,
            state=state,
            backend=job.backend,
            styles=list(job.styles),
            percent=round(job.percent, 1),
            images_done=job.images_done,
            images_total=job.images_total,
            images_dropped=job.images_dropped,
            message=job.message,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            uploads_expire_at=job.uploads_expire_at,
            uploads_deleted=job.uploads_deleted_at is not None,
            outputs_expire_at=expires,
            verdicts=list(job.verdicts or []),
            report=dict(job.report) if job.report else None,
        )


@dataclass(frozen=True, slots=True)
class OutputInfo:
    id: str
    job_id: str
    style: str
    rank: int
    similarity: float
    chosen: bool
    label: str
    created_at: datetime
    # None once chosen (kept until the creator deletes it) or while the job runs.
    expires_at: datetime | None

    @classmethod
    def of(cls, row: AvatarOutput) -> OutputInfo:
        return cls(
            id=row.id,
            job_id=row.job_id,
            style=row.style,
            rank=row.rank,
            similarity=round(row.similarity, 3),
            chosen=row.chosen,
            label=row.label,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )


@dataclass(slots=True)
class Submission:
    """The outcome of an upload: a job when enough photos passed, and every photo's verdict."""

    job: JobStatus | None
    verdicts: list[PhotoVerdict]
    message: str


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int | None
    used: int
    next_allowed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProfilePicture:
    creator_id: str
    output_id: str | None
    path: Path
    updated_at: datetime


@dataclass(slots=True)
class SweepReport:
    uploads_deleted: int = 0
    outputs_deleted: int = 0
    orphans_deleted: int = 0
    jobs_failed: int = 0
    jobs_requeued: int = 0

    @property
    def total(self) -> int:
        return self.uploads_deleted + self.outputs_deleted + self.orphans_deleted
