"""Job rows and their files, changed together: the bookkeeping shared by the service, the
worker and the sweeper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from avatar.errors import NotFoundError
from avatar.files import FileLayout, remove_tree
from avatar.records import JobStatus
from avatar.store import AvatarJob, JobState

# What the creator reads when a job ends without avatars (none of these count toward the day).
PHOTOS_EXPIRED = (
    "Your photos were deleted for privacy before this job could start. It does not count "
    "toward your daily limit; please upload them again."
)
RESTART_AFTER_EXPIRY = (
    "The server restarted while making your avatars, and your photos had already been "
    "deleted for privacy. This job does not count toward your daily limit; please upload "
    "them again."
)
CANCELLED = "You cancelled this job."
NO_LIKENESS = (
    "None of the avatars looked enough like you, so we kept none. Try clearer, front-facing "
    "photos. This job does not count toward your daily limit."
)
BACKEND_DOWN = (
    "Avatar making is not available on this server right now. This job does not count "
    "toward your daily limit."
)
FAILED_INTERNAL = (
    "Something went wrong on our side while making your avatars. This job does not count "
    "toward your daily limit; please try again."
)


class JobBook:
    def __init__(self, engine: Engine, files: FileLayout, clock: Callable[[], datetime]) -> None:
        self.files = files
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self._sessions.begin() as session:
            yield session

    def owned(self, session: Session, creator_id: str, job_id: str) -> AvatarJob:
        job = session.get(AvatarJob, job_id)
        if job is None or job.creator_id != creator_id or job.deleted_at is not None:
            raise NotFoundError(f"no avatar job {job_id!r} for this creator")
        return job

    def status(self, job_id: str) -> JobStatus:
        with self.reading() as session:
            job = session.get(AvatarJob, job_id)
            if job is None:
                raise NotFoundError(f"no avatar job {job_id!r}")
            return JobStatus.of(job)

    def claim_next(self) -> str | None:
        """Move the oldest queued job to running and return its id (None when none waits)."""
        with self.writing() as session:
            candidates = session.scalars(
                select(AvatarJob.id)
                .where(AvatarJob.state == JobState.QUEUED.value)
                .order_by(AvatarJob.created_at)
                .limit(5)
            ).all()
            now = self.clock()
            for job_id in candidates:
                # Conditional update: with several API workers only one claims the job.
                claimed = session.execute(
                    update(AvatarJob)
                    .where(AvatarJob.id == job_id, AvatarJob.state == JobState.QUEUED.value)
                    .values(state=JobState.RUNNING.value, started_at=now, heartbeat_at=now)
                )
                if claimed.rowcount == 1:
                    return job_id
        return None

    def finish(
        self, job: AvatarJob, state: JobState, message: str | None, now: datetime | None = None
    ) -> None:
        job.state = state.value
        job.message = message
        job.finished_at = now or self.clock()
        if state is JobState.DONE:
            job.percent = 100.0

    def end(self, job_id: str, state: JobState, message: str) -> None:
        with self.writing() as session:
            job = session.get(AvatarJob, job_id)
            if job is not None:
                self.finish(job, state, message)

    def requeue(self, job_id: str) -> JobState | None:
        """Put a running job back in the queue while its selfies last, else fail it.

        Returns the new state, or None when the job was not running (nothing changed).
        """
        with self.writing() as session:
            job = session.get(AvatarJob, job_id)
            if job is None or job.state != JobState.RUNNING.value:
                return None
            if job.uploads_deleted_at is not None or job.uploads_expire_at <= self.clock():
                self.finish(job, JobState.FAILED, RESTART_AFTER_EXPIRY)
                return JobState.FAILED
            job.state = JobState.QUEUED.value
            job.percent = 0.0
            job.images_done = job.images_dropped = 0
            return JobState.QUEUED

    def delete_uploads(self, job_id: str) -> bool:
        """Remove the job's selfies and record when; True when files were there."""
        removed = remove_tree(self.files.uploads_dir(job_id))
        with self.writing() as session:
            job = session.get(AvatarJob, job_id)
            if job is not None and job.uploads_deleted_at is None:
                job.uploads_deleted_at = self.clock()
        return removed

    def discard_outputs(self, job_id: str) -> None:
        """Remove every avatar of the job, files and rows (cancel, failure, restart)."""
        remove_tree(self.files.outputs_dir(job_id))
        with self.writing() as session:
            job = session.get(AvatarJob, job_id)
            if job is not None:
                for output in list(job.outputs):
                    session.delete(output)
                job.images_done = 0
