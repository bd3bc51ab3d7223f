"""Run one claimed job: load its selfies -> generate and check avatars -> label and store
them -> rank -> finish. Whatever happens, the job's uploads are deleted when it ends."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from PIL import Image

from avatar import jobbook
from avatar.backends import StyleBackend
from avatar.checks import CheckedPhoto, PhotoChecker
from avatar.compose import Composer
from avatar.config import AvatarConfig
from avatar.diversity import job_report
from avatar.errors import BackendUnavailableError
from avatar.faces import FaceModels, median_embedding, to_bgr
from avatar.files import write_atomic
from avatar.generate import NEAR_DUPLICATE, Dropped, Made, generate, plan_counts
from avatar.intake import Photo
from avatar.jobbook import JobBook
from avatar.labels import Labeler, add_visible_mark
from avatar.records import JobStatus
from avatar.segment import PersonSegmenter
from avatar.store import AvatarJob, AvatarOutput, JobState

log = logging.getLogger(__name__)

ProgressCallback = Callable[[JobStatus], None]


class _Cancelled(Exception):
    pass


class _Interrupted(Exception):
    """The service is stopping: the job goes back to the queue, its selfies stay."""


@dataclass(slots=True)
class _Tally:
    """What the job report is computed from (hashes and scores of the kept avatars)."""

    composition: str
    segmentation: str | None
    similarities: list[float] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)
    near_duplicates: int = 0


class JobRunner:
    def __init__(
        self,
        config: AvatarConfig,
        book: JobBook,
        backend: Callable[[], StyleBackend],
        faces: FaceModels,
        checker: PhotoChecker,
        labeler: Labeler,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self.stopping = stopping
        self.book = book
        self.backend = backend
        self.faces = faces
        self.checker = checker
        self.labeler = labeler
        self._composer: Composer | None = None

    def composer(self) -> Composer | None:
        """The scene composer (None for the "photo" composition), built on first use."""
        if self.config.composition != "scene":
            return None
        if self._composer is None:
            self._composer = Composer(PersonSegmenter(threads=self.config.threads))
        return self._composer

    def process(self, job_id: str, on_progress: ProgressCallback | None = None) -> JobStatus:
        """Make the avatars of one claimed (running) job, start to end."""
        book = self.book
        with book.reading() as session:
            job = session.get(AvatarJob, job_id)
            if job is None:
                raise LookupError(f"no avatar job {job_id!r}")
            styles, visible, total = list(job.styles), job.visible_mark, job.images_total
        keep_uploads = False
        try:
            # The selfies' faces are found again below: without the models the job cannot run.
            missing = self.checker.unavailable_reason()
            if missing:
                raise BackendUnavailableError(missing)
            photos = self._load_uploads(job_id)
            if len(photos) < self.config.limits.min_photos:
                book.end(job_id, JobState.FAILED, jobbook.PHOTOS_EXPIRED)
            else:
                reference = median_embedding([p.embedding for p in photos])
                tally = self._make(job_id, photos, reference, styles, total, visible, on_progress)
                self._complete(job_id, tally)
        except _Interrupted:
            book.discard_outputs(job_id)
            keep_uploads = book.requeue(job_id) is JobState.QUEUED
        except _Cancelled:
            book.discard_outputs(job_id)
            book.end(job_id, JobState.CANCELLED, jobbook.CANCELLED)
        except BackendUnavailableError as unavailable:
            log.error("avatar backend unavailable", extra={"job": job_id, "why": str(unavailable)})
            book.discard_outputs(job_id)
            book.end(job_id, JobState.FAILED, jobbook.BACKEND_DOWN)
        except Exception:
            log.exception("avatar job failed", extra={"job": job_id})
            book.discard_outputs(job_id)
            book.end(job_id, JobState.FAILED, jobbook.FAILED_INTERNAL)
        finally:
            if not keep_uploads:
                book.delete_uploads(job_id)
        status = book.status(job_id)
        if on_progress is not None:
            on_progress(status)
        return status

    def _load_uploads(self, job_id: str) -> list[CheckedPhoto]:
        """The stored selfies with their faces and embeddings (recomputed: never stored)."""
        folder = self.book.files.uploads_dir(job_id)
        photos: list[CheckedPhoto] = []
        for path in sorted(folder.glob("*.jpg")) if folder.exists() else []:
            with Image.open(path) as opened:
                image = opened.convert("RGB")
            bgr = to_bgr(image)
            faces = self.faces.detect(bgr, self.config.checks.face_score)
            if faces:
                photo = Photo(int(path.stem), path.name, image, "JPEG")
                photos.append(CheckedPhoto(photo, faces[0], self.faces.embed(bgr, faces[0])))
        return photos

    def _make(
        self,
        job_id: str,
        photos: list[CheckedPhoto],
        reference: np.ndarray,
        styles: list[str],
        total: int,
        visible: bool,
        on_progress: ProgressCallback | None,
    ) -> _Tally:
        backend = self.backend()
        reason = backend.unavailable_reason()
        if reason:
            raise BackendUnavailableError(reason)
        files = self.book.files
        folder = files.outputs_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        counts = plan_counts(total, styles)
        size = self.config.output_size
        composer = self.composer()
        events = generate(
            backend,
            self.checker,
            photos,
            reference,
            counts,
            size,
            job_id,
            workers=self.config.workers,
            composer=composer,
            min_distance=self.config.near_duplicate_bits,
        )
        tally = _Tally(self.config.composition, composer.method if composer else None)
        for event in events:
            if self.stopping():
                raise _Interrupted
            with self.book.writing() as session:
                job = session.get(AvatarJob, job_id)
                if job is None or job.cancel_requested:
                    raise _Cancelled
                job.heartbeat_at = self.book.clock()
                if isinstance(event, Made):
                    output_id = uuid.uuid4().hex
                    image = add_visible_mark(event.image) if visible else event.image
                    path = folder / f"{output_id}.jpg"
                    write_atomic(path, self.labeler.encode(image, f"avatar-{output_id[:8]}.jpg"))
                    session.add(
                        AvatarOutput(
                            id=output_id,
                            job_id=job_id,
                            creator_id=job.creator_id,
                            style=event.style,
                            photo_index=event.photo_index,
                            variant=event.variant,
                            similarity=event.similarity,
                            path=files.relative(path),
                            label="c2pa+xmp" if self.labeler.c2pa_error is None else "xmp",
                            created_at=self.book.clock(),
                        )
                    )
                    job.images_done += 1
                    tally.similarities.append(event.similarity)
                    tally.hashes.append(event.hash)
                elif isinstance(event, Dropped):
                    job.images_dropped += 1
                    tally.near_duplicates += event.reason == NEAR_DUPLICATE
                # 100 is for a finished job: ranking the set is still to come.
                job.percent = min(99.0, event.percent)
                status = JobStatus.of(job) if on_progress is not None else None
            if on_progress is not None and status is not None:
                on_progress(status)
        return tally

    def _complete(self, job_id: str, tally: _Tally) -> None:
        """Rank by likeness, report likeness and diversity, start the retention clock, finish."""
        with self.book.writing() as session:
            job = session.get(AvatarJob, job_id)
            if job is None:
                return
            job.report = job_report(
                tally.similarities,
                tally.hashes,
                tally.near_duplicates,
                tally.composition,
                tally.segmentation,
            ).as_dict()
            outputs = sorted(job.outputs, key=lambda o: o.similarity, reverse=True)
            now = self.book.clock()
            expires = now + timedelta(seconds=job.output_retention_s)
            for rank, output in enumerate(outputs, start=1):
                output.rank = rank
                output.expires_at = None if output.chosen else expires
            if not outputs:
                self.book.finish(job, JobState.FAILED, jobbook.NO_LIKENESS, now)
                return
            message = None
            if len(outputs) < job.images_total:
                message = (
                    f"We made {len(outputs)} avatars: {job.images_dropped} other takes did not "
                    "pass our checks (likeness or content) and were dropped."
                )
            self.book.finish(job, JobState.DONE, message, now)
