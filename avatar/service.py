"""The avatar studio's one entry point: intake, jobs, delivery, privacy deadlines.

    service = AvatarService(AvatarConfig(data_dir=...), engine)
    service.start()                      # worker thread; also sweeps deadlines periodically
    submission = service.submit("ana", uploads, ["painted-pastel", "duotone"])
    service.status("ana", submission.job.id).percent
    service.stop()

Every method that touches a job takes the creator id, and a job of another creator reads as
not found. Job state lives in the database, files under <data_dir>/avatar/, so a restart
loses nothing: `start()` takes over jobs whose worker died and enforces every deadline.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from avatar import jobbook
from avatar.backends import StyleBackend, style_backends
from avatar.checks import PhotoChecker
from avatar.compose import keep_face_detail, plan_take
from avatar.config import AvatarConfig
from avatar.errors import (
    BackendUnavailableError,
    DailyLimitError,
    IntakeError,
    JobStateError,
    NotFoundError,
    StyleError,
)
from avatar.faces import FaceModels, to_bgr
from avatar.files import FileLayout, remove_tree, write_atomic
from avatar.intake import Upload, apply_pixel_limit, check_pixels, encode_jpeg
from avatar.jobbook import JobBook
from avatar.labels import Labeler, add_visible_mark
from avatar.moderation import NudityChecker, NudityModel
from avatar.portrait import portrait_crop
from avatar.previews import preview_sitter
from avatar.records import (
    JobStatus,
    OutputInfo,
    ProfilePicture,
    Quota,
    StyleInfo,
    Submission,
    SweepReport,
)
from avatar.store import (
    COUNTED_STATES,
    AvatarJob,
    AvatarOutput,
    AvatarProfilePicture,
    JobState,
)
from avatar.sweeper import sweep
from avatar.worker import JobRunner, ProgressCallback

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class AvatarService:
    def __init__(
        self,
        config: AvatarConfig,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        backend: StyleBackend | None = None,
        nudity: NudityModel | None = None,
        faces: FaceModels | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        apply_pixel_limit(config.limits.max_pixels)
        self.files = FileLayout(config.root)
        self.book = JobBook(engine, self.files, clock)
        self._backend = backend
        self.faces = faces or FaceModels(threads=config.threads)
        self.checker = PhotoChecker(
            self.faces,
            nudity or NudityChecker(threads=config.threads),
            config.checks,
            config.limits,
        )
        self.labeler = Labeler(
            self.files.signing,
            c2pa_enabled=config.c2pa_enabled,
            cert_chain=config.c2pa_cert_chain,
            private_key=config.c2pa_private_key,
        )
        self._stop = threading.Event()
        self.runner = JobRunner(
            config,
            self.book,
            lambda: self.backend,
            self.faces,
            self.checker,
            self.labeler,
            stopping=self._stop.is_set,
        )
        self._submit_lock = threading.Lock()
        self._backend_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def backend(self) -> StyleBackend:
        with self._backend_lock:
            if self._backend is None:
                self._backend = style_backends.create(self.config.backend, self.config)
            return self._backend

    def start(self) -> None:
        """Take over jobs orphaned by a restart, enforce deadlines, start the worker thread."""
        self.files.root.mkdir(parents=True, exist_ok=True)
        self.sweep()
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="avatar-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current avatar; an unfinished job goes back to the queue."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._backend is not None:
            self._backend.close()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._last_sweep >= self.config.sweep_interval_s:
                    self.sweep()
                job_id = self.book.claim_next()
                if job_id is not None:
                    self.process(job_id)
                    continue
            except Exception:  # noqa: BLE001 - the worker must outlive one bad job
                log.exception("avatar worker error")
            self._wake.wait(min(1.0, self.config.sweep_interval_s))
            self._wake.clear()

    def run_pending(self, on_progress: ProgressCallback | None = None) -> list[str]:
        """Process every queued job in this thread (CLI, tests); returns their ids."""
        done: list[str] = []
        while (job_id := self.book.claim_next()) is not None:
            self.process(job_id, on_progress)
            done.append(job_id)
        return done

    def process(self, job_id: str, on_progress: ProgressCallback | None = None) -> JobStatus:
        """Make the avatars of one claimed job (see avatar.worker)."""
        return self.runner.process(job_id, on_progress)

    # -- catalog -----------------------------------------------------------------------------

    def styles(self) -> list[StyleInfo]:
        backend = self.backend
        return [
            StyleInfo(s.id, s.name, s.description, s.technique, backend.name)
            for s in backend.catalog()
        ]

    def availability(self) -> str | None:
        """None when avatars can be made here, else why not: the configured backend, and the
        face and nudity models every photo and avatar is checked with."""
        return self.backend.unavailable_reason() or self.checker.unavailable_reason()

    def _require_available(self) -> None:
        reason = self.availability()
        if reason:
            raise BackendUnavailableError(reason)

    def preview(self, style_id: str) -> Path:
        """The catalog picture of a style, rendered by the backend on first use."""
        backend = self.backend
        backend.style(style_id)
        composer = self.runner.composer()
        name = f"{style_id}.jpg" if composer is None else f"{style_id}-scene.jpg"
        path = self.files.previews(backend.name) / name
        if path.exists():
            return path
        self._require_available()
        sitter = preview_sitter()
        faces = self.faces.detect(to_bgr(sitter))
        size = self.config.output_size
        if faces and composer is not None:
            # The catalog shows what a job makes: the sitter in one of the style's scenes.
            plan = plan_take(0, 0, 0)
            composed = composer.compose(sitter, faces[0], style_id, plan, size, 0)
            image = backend.render(composed.image, style_id, 0, 0)
            image = keep_face_detail(image, composed, backend.face_detail(style_id))
        else:
            portrait = (
                portrait_crop(sitter, faces[0], size)
                if faces
                else sitter.resize((size, size), Image.Resampling.LANCZOS)
            )
            image = backend.render(portrait, style_id, 0, 0)
        image = add_visible_mark(image.resize((size // 2, size // 2), Image.Resampling.LANCZOS))
        write_atomic(path, self.labeler.encode(image, f"preview-{style_id}.jpg"))
        return path

    # -- intake ------------------------------------------------------------------------------

    def check_photos(self, uploads: Sequence[Upload]) -> Submission:
        """Run the checks only (no job, nothing stored): what the UI shows before starting."""
        self._check_upload_count(uploads)
        check_pixels(uploads, self.config.limits)
        self._require_available()
        result = self.checker.check(uploads)
        return Submission(None, result.verdicts, self._intake_message(len(result.accepted)))

    def submit(
        self,
        creator_id: str,
        uploads: Sequence[Upload],
        styles: Sequence[str],
        *,
        visible_mark: bool | None = None,
    ) -> Submission:
        """Check the selfies and queue a job when enough pass; every photo gets its verdict."""
        creator_id = self._check_creator(creator_id)
        styles = self._check_styles(styles)
        self._check_upload_count(uploads)
        check_pixels(uploads, self.config.limits)
        self._enforce_daily_limit(creator_id)
        self._require_available()
        result = self.checker.check(uploads)
        verdicts = [asdict(v) for v in result.verdicts]
        message = self._intake_message(len(result.accepted))
        if not result.enough(self.config.limits.min_photos):
            return Submission(None, result.verdicts, message)

        job_id = uuid.uuid4().hex
        folder = self.files.uploads_dir(job_id)
        for checked in result.accepted:
            write_atomic(folder / f"{checked.photo.index}.jpg", encode_jpeg(checked.photo.image))
        try:
            with self._submit_lock:
                # Again under the lock: two uploads at once must not both pass the limit.
                self._enforce_daily_limit(creator_id)
                now = self.clock()
                job = AvatarJob(
                    id=job_id,
                    creator_id=creator_id,
                    state=JobState.QUEUED,
                    backend=self.backend.name,
                    styles=list(styles),
                    verdicts=verdicts,
                    images_total=self.config.max_outputs,
                    visible_mark=self.config.visible_mark if visible_mark is None else visible_mark,
                    output_retention_s=self.config.output_retention_s,
                    created_at=now,
                    uploads_expire_at=now + timedelta(seconds=self.config.upload_ttl_s),
                )
                with self.book.writing() as session:
                    session.add(job)
        except BaseException:
            remove_tree(folder)
            raise
        self._wake.set()
        log.info("avatar job queued", extra={"job": job_id, "photos": len(result.accepted)})
        return Submission(JobStatus.of(job), result.verdicts, message)

    def _intake_message(self, accepted: int) -> str:
        need = self.config.limits.min_photos
        if accepted >= need:
            return f"{accepted} photos passed the checks; your avatars are being made."
        return (
            f"Only {accepted} of your photos can be used and we need at least {need}. "
            "Each photo below says why; replace those and try again."
        )

    def _check_creator(self, creator_id: str) -> str:
        creator_id = creator_id.strip()
        if not creator_id or len(creator_id) > 64:
            raise IntakeError("a creator id is 1 to 64 characters")
        return creator_id

    def _check_upload_count(self, uploads: Sequence[Upload]) -> None:
        limits = self.config.limits
        if not limits.min_photos <= len(uploads) <= limits.max_photos:
            raise IntakeError(
                f"upload {limits.min_photos} to {limits.max_photos} photos of yourself "
                f"(you sent {len(uploads)})"
            )

    def _check_styles(self, styles: Sequence[str]) -> list[str]:
        chosen = list(dict.fromkeys(s.strip() for s in styles if s.strip()))
        low, high = self.config.min_styles, self.config.max_styles
        if not low <= len(chosen) <= high:
            raise StyleError(f"pick {low} to {high} different styles (you picked {len(chosen)})")
        for style in chosen:
            self.backend.style(style)
        return chosen

    # -- daily limit -------------------------------------------------------------------------

    def quota(self, creator_id: str) -> Quota:
        limit = self.config.daily_limit
        since = self.clock() - timedelta(seconds=self.config.daily_window_s)
        with self.book.reading() as session:
            created = session.scalars(
                select(AvatarJob.created_at)
                .where(
                    AvatarJob.creator_id == creator_id,
                    AvatarJob.created_at > since,
                    AvatarJob.state.in_([s.value for s in COUNTED_STATES]),
                )
                .order_by(AvatarJob.created_at)
            ).all()
        next_at = None
        if limit is not None and len(created) >= limit:
            # The window frees up when the oldest counted job in it turns one window old.
            next_at = created[len(created) - limit] + timedelta(seconds=self.config.daily_window_s)
        return Quota(limit, len(created), next_at)

    def _enforce_daily_limit(self, creator_id: str) -> None:
        quota = self.quota(creator_id)
        if quota.limit is not None and quota.next_allowed_at is not None:
            raise DailyLimitError(quota.limit, quota.next_allowed_at)

    # -- jobs --------------------------------------------------------------------------------

    def status(self, creator_id: str, job_id: str) -> JobStatus:
        with self.book.reading() as session:
            return JobStatus.of(self.book.owned(session, creator_id, job_id))

    def jobs(self, creator_id: str, limit: int = 20) -> list[JobStatus]:
        with self.book.reading() as session:
            rows = session.scalars(
                select(AvatarJob)
                .where(AvatarJob.creator_id == creator_id, AvatarJob.deleted_at.is_(None))
                .order_by(AvatarJob.created_at.desc())
                .limit(limit)
            ).all()
            return [JobStatus.of(job) for job in rows]

    def cancel(self, creator_id: str, job_id: str) -> JobStatus:
        """Stop a job. Its photos and any avatars made so far are deleted."""
        with self.book.writing() as session:
            job = self.book.owned(session, creator_id, job_id)
            state = JobState(job.state)
            if state.finished:
                return JobStatus.of(job)
            job.cancel_requested = True
            if state is JobState.QUEUED:
                self.book.finish(job, JobState.CANCELLED, jobbook.CANCELLED)
            status = JobStatus.of(job)
        if status.finished:
            self.book.delete_uploads(job_id)
        return status

    def delete_job(self, creator_id: str, job_id: str) -> None:
        """Delete a finished job's avatars now and hide the job (the profile picture stays).

        The record stays, invisible, so that deleting a job does not give back the day's job.
        """
        with self.book.writing() as session:
            job = self.book.owned(session, creator_id, job_id)
            if not JobState(job.state).finished:
                raise JobStateError("this job is still running; cancel it first")
            job.deleted_at = self.clock()
        self.book.discard_outputs(job_id)
        self.book.delete_uploads(job_id)

    # -- outputs and delivery ----------------------------------------------------------------

    def outputs(self, creator_id: str, job_id: str) -> list[OutputInfo]:
        with self.book.reading() as session:
            job = self.book.owned(session, creator_id, job_id)
            rows = [o for o in job.outputs if o.deleted_at is None]
            rows.sort(key=lambda o: (o.rank or 10_000, o.created_at))
            return [OutputInfo.of(o) for o in rows]

    def _output(self, session: Session, creator_id: str, output_id: str) -> AvatarOutput:
        output = session.get(AvatarOutput, output_id)
        if output is None or output.creator_id != creator_id or output.deleted_at is not None:
            raise NotFoundError(f"no avatar {output_id!r} for this creator (it may have expired)")
        return output

    def output_file(self, creator_id: str, output_id: str, job_id: str | None = None) -> Path:
        with self.book.reading() as session:
            output = self._output(session, creator_id, output_id)
            if job_id is not None and output.job_id != job_id:
                raise NotFoundError(f"no avatar {output_id!r} in this job")
            path = self.files.resolve(output.path)
        if not path.exists():
            raise NotFoundError(f"avatar {output_id!r} has been deleted")
        return path

    def write_zip(
        self,
        creator_id: str,
        job_id: str,
        target: BinaryIO,
        output_ids: Iterable[str] | None = None,
    ) -> int:
        """Write a zip of the chosen outputs (all when `output_ids` is None); returns the count."""
        with self.book.reading() as session:
            job = self.book.owned(session, creator_id, job_id)
            rows = [o for o in job.outputs if o.deleted_at is None]
            if output_ids is not None:
                wanted = set(output_ids)
                missing = wanted - {o.id for o in rows}
                if missing:
                    raise NotFoundError(f"no avatar {sorted(missing)[0]!r} in this job")
                rows = [o for o in rows if o.id in wanted]
            rows.sort(key=lambda o: o.rank)
            entries = [(f"{o.rank:02d}-{o.style}-{o.id[:8]}.jpg", o.path) for o in rows]
        if not entries:
            raise NotFoundError("this job has no avatars to download")
        # JPEGs do not compress further: store them.
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, relative in entries:
                archive.write(self.files.resolve(relative), arcname=name)
        return len(entries)

    def zip_bytes(
        self, creator_id: str, job_id: str, output_ids: Iterable[str] | None = None
    ) -> bytes:
        buffer = io.BytesIO()
        self.write_zip(creator_id, job_id, buffer, output_ids)
        return buffer.getvalue()

    def choose(
        self, creator_id: str, job_id: str, output_ids: Iterable[str], chosen: bool = True
    ) -> list[OutputInfo]:
        """Keep (or stop keeping) outputs: chosen ones are never deleted by the retention."""
        wanted = set(output_ids)
        with self.book.writing() as session:
            job = self.book.owned(session, creator_id, job_id)
            if not JobState(job.state).finished:
                raise JobStateError("wait until the job has finished to choose avatars")
            rows = {o.id: o for o in job.outputs if o.deleted_at is None}
            missing = wanted - set(rows)
            if missing:
                raise NotFoundError(f"no avatar {sorted(missing)[0]!r} in this job")
            base = job.finished_at or self.clock()
            for output_id in wanted:
                row = rows[output_id]
                row.chosen = chosen
                row.expires_at = (
                    None if chosen else base + timedelta(seconds=job.output_retention_s)
                )
        return self.outputs(creator_id, job_id)

    def set_profile_picture(self, creator_id: str, output_id: str) -> ProfilePicture:
        source = self.output_file(creator_id, output_id)
        target = self.files.profile_path(creator_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
        now = self.clock()
        with self.book.writing() as session:
            output = self._output(session, creator_id, output_id)
            output.chosen = True
            output.expires_at = None
            row = session.get(AvatarProfilePicture, creator_id)
            if row is None:
                row = AvatarProfilePicture(creator_id=creator_id)
                session.add(row)
            row.output_id = output_id
            row.path = self.files.relative(target)
            row.updated_at = now
        return ProfilePicture(creator_id, output_id, target, now)

    def profile_picture(self, creator_id: str) -> ProfilePicture:
        with self.book.reading() as session:
            row = session.get(AvatarProfilePicture, creator_id)
            if row is None:
                raise NotFoundError("no profile picture yet: set one of your avatars")
            path = self.files.resolve(row.path)
            return ProfilePicture(creator_id, row.output_id, path, row.updated_at)

    # -- privacy deadlines -------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> SweepReport:
        """Enforce every deadline (see avatar.sweeper); safe to call any time, repeatedly."""
        self._last_sweep = time.monotonic()
        report = sweep(self.book, self.config, now or self.clock())
        if report.jobs_requeued:
            self._wake.set()
        return report


__all__ = ["AvatarService"]
