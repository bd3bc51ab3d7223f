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
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from avatar.backends import StyleBackend, style_backends
from avatar.checks import CheckedPhoto, PhotoChecker
from avatar.config import AvatarConfig
from avatar.errors import (
    BackendUnavailableError,
    DailyLimitError,
    IntakeError,
    JobStateError,
    NotFoundError,
    StyleError,
)
from avatar.faces import FaceModels, median_embedding, to_bgr
from avatar.files import FileLayout, remove_file, remove_tree, write_atomic
from avatar.generate import Dropped, Made, generate, plan_counts
from avatar.intake import Photo, Upload, encode_jpeg
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

log = logging.getLogger(__name__)

ProgressCallback = Callable[[JobStatus], None]

# A file under uploads/ or outputs/ that no row claims is removed once it is this old (a
# crash between writing it and recording it); younger ones may belong to a submit in flight.
ORPHAN_GRACE_S = 60

FAILED_INTERNAL = (
    "Something went wrong on our side while making your avatars. This job does not count "
    "toward your daily limit; please try again."
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Cancelled(Exception):
    pass


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
        self.files = FileLayout(config.root)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
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
        self._submit_lock = threading.Lock()
        self._backend_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
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
        """Stop after the current avatar; a running job resumes (from scratch) on next start."""
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
                job_id = self._claim_next()
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
        while (job_id := self._claim_next()) is not None:
            self.process(job_id, on_progress)
            done.append(job_id)
        return done

    # -- catalog -----------------------------------------------------------------------------

    def styles(self) -> list[StyleInfo]:
        backend = self.backend
        return [
            StyleInfo(s.id, s.name, s.description, s.technique, backend.name)
            for s in backend.catalog()
        ]

    def availability(self) -> str | None:
        """None when the configured backend can make avatars here, else why not."""
        return self.backend.unavailable_reason()

    def preview(self, style_id: str) -> Path:
        """The catalog picture of a style, rendered by the backend on first use."""
        backend = self.backend
        backend.style(style_id)
        path = self.files.previews(backend.name) / f"{style_id}.jpg"
        if path.exists():
            return path
        reason = backend.unavailable_reason()
        if reason:
            raise BackendUnavailableError(reason)
        sitter = preview_sitter()
        faces = self.faces.detect(to_bgr(sitter))
        size = self.config.output_size
        if faces:
            portrait = portrait_crop(sitter, faces[0], size)
        else:
            portrait = sitter.resize((size, size), Image.Resampling.LANCZOS)
        image = backend.render(portrait, style_id, 0, 0)
        image = add_visible_mark(image.resize((size // 2, size // 2), Image.Resampling.LANCZOS))
        write_atomic(path, self.labeler.encode(image, f"preview-{style_id}.jpg"))
        return path

    # -- intake ------------------------------------------------------------------------------

    def check_photos(self, uploads: Sequence[Upload]) -> Submission:
        """Run the checks only (no job, nothing stored): what the UI shows before starting."""
        self._check_upload_count(uploads)
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
        self._enforce_daily_limit(creator_id)
        reason = self.backend.unavailable_reason()
        if reason:
            raise BackendUnavailableError(reason)
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
                with self._sessions.begin() as session:
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
        with self._sessions() as session:
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

    def _job(self, session: Session, creator_id: str, job_id: str) -> AvatarJob:
        job = session.get(AvatarJob, job_id)
        if job is None or job.creator_id != creator_id:
            raise NotFoundError(f"no avatar job {job_id!r} for this creator")
        return job

    def status(self, creator_id: str, job_id: str) -> JobStatus:
        with self._sessions() as session:
            return JobStatus.of(self._job(session, creator_id, job_id))

    def jobs(self, creator_id: str, limit: int = 20) -> list[JobStatus]:
        with self._sessions() as session:
            rows = session.scalars(
                select(AvatarJob)
                .where(AvatarJob.creator_id == creator_id)
                .order_by(AvatarJob.created_at.desc())
                .limit(limit)
            ).all()
            return [JobStatus.of(job) for job in rows]

    def cancel(self, creator_id: str, job_id: str) -> JobStatus:
        """Stop a job. Its photos and any avatars made so far are deleted."""
        with self._sessions.begin() as session:
            job = self._job(session, creator_id, job_id)
            state = JobState(job.state)
            if state.finished:
                return JobStatus.of(job)
            job.cancel_requested = True
            if state is JobState.QUEUED:
                self._finish(session, job, JobState.CANCELLED, "You cancelled this job.")
            status = JobStatus.of(job)
        if status.finished:
            self._delete_uploads(job_id)
        return status

    def _claim_next(self) -> str | None:
        with self._sessions.begin() as session:
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

    def process(self, job_id: str, on_progress: ProgressCallback | None = None) -> JobStatus:
        """Make the avatars of one claimed (running) job, start to end."""
        with self._sessions() as session:
            job = session.get(AvatarJob, job_id)
            if job is None:
                raise NotFoundError(f"no avatar job {job_id!r}")
            styles, visible = list(job.styles), job.visible_mark
            total = job.images_total
        try:
            photos = self._load_uploads(job_id)
            if len(photos) < self.config.limits.min_photos:
                self._end(
                    job_id,
                    JobState.FAILED,
                    "Your photos were deleted for privacy before this job could start. "
                    "It does not count toward your daily limit; please upload them again.",
                )
                return self._status_any(job_id)
            reference = median_embedding([p.embedding for p in photos])
            self._make(job_id, photos, reference, styles, total, visible, on_progress)
        except _Cancelled:
            self._discard_outputs(job_id)
            self._end(job_id, JobState.CANCELLED, "You cancelled this job.")
        except BackendUnavailableError as unavailable:
            log.error("avatar backend unavailable", extra={"job": job_id, "why": str(unavailable)})
            self._discard_outputs(job_id)
            self._end(
                job_id,
                JobState.FAILED,
                "Avatar making is not available on this server right now. This job does not "
                "count toward your daily limit.",
            )
        except Exception:
            log.exception("avatar job failed", extra={"job": job_id})
            self._discard_outputs(job_id)
            self._end(job_id, JobState.FAILED, FAILED_INTERNAL)
        finally:
            self._delete_uploads(job_id)
        status = self._status_any(job_id)
        if on_progress is not None:
            on_progress(status)
        return status

    def _status_any(self, job_id: str) -> JobStatus:
        with self._sessions() as session:
            job = session.get(AvatarJob, job_id)
            if job is None:
                raise NotFoundError(f"no avatar job {job_id!r}")
            return JobStatus.of(job)

    def _load_uploads(self, job_id: str) -> list[CheckedPhoto]:
        folder = self.files.uploads_dir(job_id)
        photos: list[CheckedPhoto] = []
        for path in sorted(folder.glob("*.jpg")) if folder.exists() else []:
            with Image.open(path) as opened:
                image = opened.convert("RGB")
            bgr = to_bgr(image)
            faces = self.faces.detect(bgr, self.config.checks.face_score)
            if not faces:
                continue
            photo = Photo(int(path.stem), path.name, image, "JPEG")
            photos.append(CheckedPhoto(photo, faces[0], self.faces.embed(bgr, faces[0])))
        return photos

    def _make(
        self,
        job_id: str,
        photos: list[CheckedPhoto],
        reference,
        styles: list[str],
        total: int,
        visible: bool,
        on_progress: ProgressCallback | None,
    ) -> None:
        backend = self.backend
        reason = backend.unavailable_reason()
        if reason:
            raise BackendUnavailableError(reason)
        folder = self.files.outputs_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        counts = plan_counts(total, styles)
        events = generate(
            backend, self.checker, photos, reference, counts, self.config.output_size, job_id
        )
        for event in events:
            with self._sessions.begin() as session:
                job = session.get(AvatarJob, job_id)
                if job is None or job.cancel_requested:
                    raise _Cancelled
                job.heartbeat_at = self.clock()
                if isinstance(event, Made):
                    output_id = uuid.uuid4().hex
                    image = add_visible_mark(event.image) if visible else event.image
                    data = self.labeler.encode(image, f"avatar-{output_id[:8]}.jpg")
                    path = folder / f"{output_id}.jpg"
                    write_atomic(path, data)
                    session.add(
                        AvatarOutput(
                            id=output_id,
                            job_id=job_id,
                            creator_id=job.creator_id,
                            style=event.style,
                            photo_index=event.photo_index,
                            variant=event.variant,
                            similarity=event.similarity,
                            path=self.files.relative(path),
                            label="c2pa+xmp" if self.labeler.c2pa_error is None else "xmp",
                            created_at=self.clock(),
                        )
                    )
                    job.images_done += 1
                elif isinstance(event, Dropped):
                    job.images_dropped += 1
                # 100 is for a finished job: ranking and labelling the set is still to come.
                job.percent = min(99.0, event.percent)
                status = JobStatus.of(job) if on_progress is not None else None
            if on_progress is not None and status is not None:
                on_progress(status)
        self._complete(job_id)

    def _complete(self, job_id: str) -> None:
        with self._sessions.begin() as session:
            job = session.get(AvatarJob, job_id)
            if job is None:
                return
            outputs = sorted(job.outputs, key=lambda o: o.similarity, reverse=True)
            now = self.clock()
            expires = now + timedelta(seconds=job.output_retention_s)
            for rank, output in enumerate(outputs, start=1):
                output.rank = rank
                output.expires_at = None if output.chosen else expires
            if not outputs:
                self._finish(
                    session,
                    job,
                    JobState.FAILED,
                    "None of the avatars looked enough like you, so we kept none. Try clearer, "
                    "front-facing photos. This job does not count toward your daily limit.",
                )
                return
            message = None
            if len(outputs) < job.images_total:
                message = (
                    f"We made {len(outputs)} avatars: {job.images_dropped} other takes did not "
                    "pass our checks (likeness or content) and were dropped."
                )
            self._finish(session, job, JobState.DONE, message, now)

    def _finish(
        self,
        session: Session,
        job: AvatarJob,
        state: JobState,
        message: str | None,
        now: datetime | None = None,
    ) -> None:
        job.state = state.value
        job.message = message
        job.finished_at = now or self.clock()
        if state is JobState.DONE:
            job.percent = 100.0

    def _end(self, job_id: str, state: JobState, message: str) -> None:
        with self._sessions.begin() as session:
            job = session.get(AvatarJob, job_id)
            if job is not None:
                self._finish(session, job, state, message)

    def _delete_uploads(self, job_id: str) -> None:
        remove_tree(self.files.uploads_dir(job_id))
        with self._sessions.begin() as session:
            job = session.get(AvatarJob, job_id)
            if job is not None and job.uploads_deleted_at is None:
                job.uploads_deleted_at = self.clock()

    def _discard_outputs(self, job_id: str) -> None:
        remove_tree(self.files.outputs_dir(job_id))
        with self._sessions.begin() as session:
            job = session.get(AvatarJob, job_id)
            if job is not None:
                for output in list(job.outputs):
                    session.delete(output)
                job.images_done = 0

    def delete_job(self, creator_id: str, job_id: str) -> None:
        """Delete a finished job now: its avatars and its record (profile picture stays)."""
        with self._sessions.begin() as session:
            job = self._job(session, creator_id, job_id)
            if not JobState(job.state).finished:
                raise JobStateError("this job is still running; cancel it first")
            session.delete(job)
        remove_tree(self.files.outputs_dir(job_id))
        remove_tree(self.files.uploads_dir(job_id))

    # -- outputs and delivery ----------------------------------------------------------------

    def outputs(self, creator_id: str, job_id: str) -> list[OutputInfo]:
        with self._sessions() as session:
            job = self._job(session, creator_id, job_id)
            rows = [o for o in job.outputs if o.deleted_at is None]
            rows.sort(key=lambda o: (o.rank or 10_000, o.created_at))
            return [OutputInfo.of(o) for o in rows]

    def _output(self, session: Session, creator_id: str, output_id: str) -> AvatarOutput:
        output = session.get(AvatarOutput, output_id)
        if output is None or output.creator_id != creator_id or output.deleted_at is not None:
            raise NotFoundError(f"no avatar {output_id!r} for this creator (it may have expired)")
        return output

    def output_file(self, creator_id: str, output_id: str, job_id: str | None = None) -> Path:
        with self._sessions() as session:
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
        with self._sessions() as session:
            job = self._job(session, creator_id, job_id)
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
        with self._sessions.begin() as session:
            job = self._job(session, creator_id, job_id)
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
        with self._sessions.begin() as session:
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
        with self._sessions() as session:
            row = session.get(AvatarProfilePicture, creator_id)
            if row is None:
                raise NotFoundError("no profile picture yet: set one of your avatars")
            path = self.files.resolve(row.path)
            return ProfilePicture(creator_id, row.output_id, path, row.updated_at)

    # -- privacy deadlines -------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> SweepReport:
        """Enforce every deadline; safe to call at any time, from any process, repeatedly."""
        now = now or self.clock()
        self._last_sweep = time.monotonic()
        report = SweepReport()
        self._recover_stale(now, report)
        self._sweep_uploads(now, report)
        self._sweep_outputs(now, report)
        self._sweep_orphans(report)
        if report.total or report.jobs_failed or report.jobs_requeued:
            log.info("avatar sweep", extra=asdict(report))
        return report

    def _recover_stale(self, now: datetime, report: SweepReport) -> None:
        """Running jobs whose worker stopped reporting (a restart): resume or fail them."""
        stale_before = now - timedelta(seconds=self.config.stale_job_s)
        with self._sessions() as session:
            stale = session.scalars(
                select(AvatarJob.id).where(
                    AvatarJob.state == JobState.RUNNING.value,
                    func.coalesce(AvatarJob.heartbeat_at, AvatarJob.started_at) < stale_before,
                )
            ).all()
        for job_id in stale:
            self._discard_outputs(job_id)
            with self._sessions.begin() as session:
                job = session.get(AvatarJob, job_id)
                if job is None or job.state != JobState.RUNNING.value:
                    continue
                expired = job.uploads_expire_at <= now
                if job.uploads_deleted_at is None and not expired:
                    job.state = JobState.QUEUED.value
                    job.percent = 0.0
                    job.images_dropped = 0
                    report.jobs_requeued += 1
                    continue
                self._finish(
                    session,
                    job,
                    JobState.FAILED,
                    "The server restarted while making your avatars, and your photos had "
                    "already been deleted for privacy. This job does not count toward your "
                    "daily limit; please upload them again.",
                )
                report.jobs_failed += 1
            self._wake.set()

    def _sweep_uploads(self, now: datetime, report: SweepReport) -> None:
        with self._sessions() as session:
            due = session.execute(
                select(AvatarJob.id, AvatarJob.state).where(
                    AvatarJob.uploads_deleted_at.is_(None),
                    (AvatarJob.uploads_expire_at <= now)
                    | AvatarJob.state.in_([s.value for s in JobState if s.finished]),
                )
            ).all()
        for job_id, state in due:
            if remove_tree(self.files.uploads_dir(job_id)):
                report.uploads_deleted += 1
            with self._sessions.begin() as session:
                job = session.get(AvatarJob, job_id)
                if job is None:
                    continue
                job.uploads_deleted_at = now
                if state == JobState.QUEUED.value:
                    # A queued job cannot run without its photos.
                    self._finish(
                        session,
                        job,
                        JobState.FAILED,
                        "Your photos were deleted for privacy before this job could start. "
                        "It does not count toward your daily limit; please upload them again.",
                    )
                    report.jobs_failed += 1

    def _sweep_outputs(self, now: datetime, report: SweepReport) -> None:
        with self._sessions.begin() as session:
            due = session.scalars(
                select(AvatarOutput).where(
                    AvatarOutput.deleted_at.is_(None),
                    AvatarOutput.chosen.is_(False),
                    AvatarOutput.expires_at.is_not(None),
                    AvatarOutput.expires_at <= now,
                )
            ).all()
            for output in due:
                remove_file(self.files.resolve(output.path))
                output.deleted_at = now
                report.outputs_deleted += 1

    def _sweep_orphans(self, report: SweepReport) -> None:
        cutoff = time.time() - min(ORPHAN_GRACE_S, self.config.upload_ttl_s)
        with self._sessions() as session:
            live_uploads = set(
                session.scalars(
                    select(AvatarJob.id).where(AvatarJob.uploads_deleted_at.is_(None))
                ).all()
            )
            live_outputs = set(
                session.scalars(
                    select(AvatarOutput.path).where(AvatarOutput.deleted_at.is_(None))
                ).all()
            )
        for folder in self.files.uploads.glob("*") if self.files.uploads.exists() else []:
            if folder.name not in live_uploads and folder.stat().st_mtime < cutoff:
                remove_tree(folder)
                report.orphans_deleted += 1
        for path in self.files.outputs.glob("*/*") if self.files.outputs.exists() else []:
            if self.files.relative(path) not in live_outputs and path.stat().st_mtime < cutoff:
                remove_file(path)
                report.orphans_deleted += 1
        for folder in self.files.outputs.glob("*") if self.files.outputs.exists() else []:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


__all__ = ["AvatarService"]
