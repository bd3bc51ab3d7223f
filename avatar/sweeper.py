"""Enforce the privacy deadlines from the database, so they hold across restarts.

1. running jobs whose worker stopped reporting (a restart) are resumed, or failed when their
   selfies are already gone;
2. selfies are deleted once their job has ended, or `upload_ttl_s` after upload at the latest
   (a queued job that lost its selfies fails: it cannot run);
3. avatars nobody chose are deleted when their retention ends;
4. files no row accounts for (a crash between writing and recording) are deleted.

Idempotent and safe to run at any time, from any process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import func, select

from avatar import jobbook
from avatar.config import AvatarConfig
from avatar.files import remove_file, remove_tree
from avatar.jobbook import JobBook
from avatar.records import SweepReport
from avatar.store import AvatarJob, AvatarOutput, JobState

log = logging.getLogger(__name__)

# A file under uploads/ or outputs/ that no row claims is removed once it is this old; younger
# ones may belong to an upload or an avatar being recorded right now.
ORPHAN_GRACE_S = 60


def sweep(book: JobBook, config: AvatarConfig, now: datetime) -> SweepReport:
    report = SweepReport()
    _recover_stale(book, config, now, report)
    _sweep_uploads(book, now, report)
    _sweep_outputs(book, now, report)
    _sweep_orphans(book, config, report)
    if report.total or report.jobs_failed or report.jobs_requeued:
        log.info("avatar sweep", extra=asdict(report))
    return report


def _recover_stale(book: JobBook, config: AvatarConfig, now: datetime, report: SweepReport) -> None:
    stale_before = now - timedelta(seconds=config.stale_job_s)
    with book.reading() as session:
        stale = session.scalars(
            select(AvatarJob.id).where(
                AvatarJob.state == JobState.RUNNING.value,
                func.coalesce(AvatarJob.heartbeat_at, AvatarJob.started_at) < stale_before,
            )
        ).all()
    for job_id in stale:
        # Whatever it made before dying is dropped: the job starts over, or ends.
        book.discard_outputs(job_id)
        state = book.requeue(job_id)
        if state is JobState.QUEUED:
            report.jobs_requeued += 1
        elif state is JobState.FAILED:
            report.jobs_failed += 1


def _sweep_uploads(book: JobBook, now: datetime, report: SweepReport) -> None:
    finished = [s.value for s in JobState if s.finished]
    with book.reading() as session:
        due = session.execute(
            select(AvatarJob.id, AvatarJob.state).where(
                AvatarJob.uploads_deleted_at.is_(None),
                (AvatarJob.uploads_expire_at <= now) | AvatarJob.state.in_(finished),
            )
        ).all()
    for job_id, state in due:
        if book.delete_uploads(job_id):
            report.uploads_deleted += 1
        if state == JobState.QUEUED.value:
            with book.writing() as session:
                job = session.get(AvatarJob, job_id)
                # A running job keeps going: its worker holds the pixels in memory.
                if job is not None and job.state == JobState.QUEUED.value:
                    book.finish(job, JobState.FAILED, jobbook.PHOTOS_EXPIRED, now)
                    report.jobs_failed += 1


def _sweep_outputs(book: JobBook, now: datetime, report: SweepReport) -> None:
    with book.writing() as session:
        due = session.scalars(
            select(AvatarOutput).where(
                AvatarOutput.deleted_at.is_(None),
                AvatarOutput.chosen.is_(False),
                AvatarOutput.expires_at.is_not(None),
                AvatarOutput.expires_at <= now,
            )
        ).all()
        for output in due:
            remove_file(book.files.resolve(output.path))
            output.deleted_at = now
            report.outputs_deleted += 1


def _sweep_orphans(book: JobBook, config: AvatarConfig, report: SweepReport) -> None:
    files = book.files
    cutoff = time.time() - min(ORPHAN_GRACE_S, config.upload_ttl_s)
    with book.reading() as session:
        live_uploads = set(
            session.scalars(select(AvatarJob.id).where(AvatarJob.uploads_deleted_at.is_(None)))
        )
        live_outputs = set(
            session.scalars(select(AvatarOutput.path).where(AvatarOutput.deleted_at.is_(None)))
        )
    if files.uploads.exists():
        for folder in files.uploads.iterdir():
            if folder.name not in live_uploads and folder.stat().st_mtime < cutoff:
                remove_tree(folder)
                report.orphans_deleted += 1
    if files.outputs.exists():
        for path in files.outputs.glob("*/*"):
            if files.relative(path) not in live_outputs and path.stat().st_mtime < cutoff:
                remove_file(path)
                report.orphans_deleted += 1
        for folder in files.outputs.iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
