"""HTTP and websocket routes of the avatar studio, under /api/creators/{creator_id}/avatar.

Thin transport over `avatar.AvatarService`: wire schemas here, logic in the library. The
creator id comes from the path; authentication is added by the caller (a router dependency).
Avatar errors carry messages written for the creator, so they are passed on as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import (
    APIRouter,
    File,
    Form,
    HTTPException,
    Query,
    Response,
    UploadFile,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from avatar.errors import (
    AvatarError,
    BackendUnavailableError,
    DailyLimitError,
    JobStateError,
    NotFoundError,
    TooManyPixelsError,
)
from avatar.intake import Upload

if TYPE_CHECKING:
    from avatar import AvatarService
    from avatar.checks import PhotoVerdict
    from avatar.records import JobStatus, OutputInfo, Submission

PREFIX = "/api/creators/{creator_id}/avatar"
WS_POLL_S = 0.25


# -- wire schemas ------------------------------------------------------------------------------


class StyleOut(BaseModel):
    id: str
    name: str
    description: str
    technique: str
    preview_url: str


class CatalogOut(BaseModel):
    backend: str
    available: bool
    unavailable_reason: str | None
    min_styles: int
    max_styles: int
    min_photos: int
    max_photos: int
    max_outputs: int
    # How long avatars the creator does not choose are kept after the job ends.
    output_retention_s: int
    upload_ttl_s: int
    styles: list[StyleOut]


class ReasonOut(BaseModel):
    code: str
    message: str


class VerdictOut(BaseModel):
    index: int
    filename: str
    accepted: bool
    reasons: list[ReasonOut]
    metrics: dict[str, float]

    @classmethod
    def of(cls, verdict: PhotoVerdict) -> VerdictOut:
        return cls(
            index=verdict.index,
            filename=verdict.filename,
            accepted=verdict.accepted,
            reasons=[ReasonOut(code=r.code, message=r.message) for r in verdict.reasons],
            metrics={k: float(v) for k, v in verdict.metrics.items()},
        )


class JobReportOut(BaseModel):
    """Likeness and diversity of a finished job's avatars (avatar.diversity.JobReport)."""

    avatars: int
    likeness_median: float = Field(description="median SFace cosine of the avatars to the selfies")
    likeness_min: float
    diversity_median: float = Field(
        description="median perceptual-hash distance between two avatars, of 64 bits"
    )
    closest_pair_bits: int
    near_duplicates_dropped: int
    composition: str
    segmentation: str | None


class JobOut(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
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
    outputs_expire_at: datetime | None
    report: JobReportOut | None = None

    @classmethod
    def of(cls, job: JobStatus) -> JobOut:
        return cls(
            id=job.id,
            state=job.state.value,
            backend=job.backend,
            styles=job.styles,
            percent=job.percent,
            images_done=job.images_done,
            images_total=job.images_total,
            images_dropped=job.images_dropped,
            message=job.message,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            uploads_expire_at=job.uploads_expire_at,
            uploads_deleted=job.uploads_deleted,
            outputs_expire_at=job.outputs_expire_at,
            report=JobReportOut.model_validate(job.report) if job.report else None,
        )


class SubmissionOut(BaseModel):
    job: JobOut | None
    message: str
    verdicts: list[VerdictOut]

    @classmethod
    def of(cls, submission: Submission) -> SubmissionOut:
        return cls(
            job=JobOut.of(submission.job) if submission.job else None,
            message=submission.message,
            verdicts=[VerdictOut.of(v) for v in submission.verdicts],
        )


class OutputOut(BaseModel):
    id: str
    job_id: str
    style: str
    rank: int
    similarity: float
    chosen: bool
    label: str
    created_at: datetime
    expires_at: datetime | None
    url: str

    @classmethod
    def of(cls, output: OutputInfo, creator_id: str) -> OutputOut:
        return cls(
            id=output.id,
            job_id=output.job_id,
            style=output.style,
            rank=output.rank,
            similarity=output.similarity,
            chosen=output.chosen,
            label=output.label,
            created_at=output.created_at,
            expires_at=output.expires_at,
            url=PREFIX.format(creator_id=creator_id) + f"/jobs/{output.job_id}/outputs/{output.id}",
        )


class ChooseIn(BaseModel):
    output_ids: list[str] = Field(min_length=1, max_length=100)
    chosen: bool = True


class ProfilePictureIn(BaseModel):
    output_id: str = Field(min_length=1, max_length=64)


class ProfilePictureOut(BaseModel):
    output_id: str | None
    updated_at: datetime
    url: str


class QuotaOut(BaseModel):
    limit: int | None
    used: int
    next_allowed_at: datetime | None


class ProgressEvent(BaseModel):
    """One websocket message: the job as it is now; `final` on the last one."""

    type: Literal["progress"] = "progress"
    final: bool
    job: JobOut


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    detail: str


# -- errors ------------------------------------------------------------------------------------


def _http_error(exc: AvatarError) -> HTTPException:
    if isinstance(exc, NotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, DailyLimitError):
        retry = max(
            0, int((exc.next_allowed_at - datetime.now(exc.next_allowed_at.tzinfo)).total_seconds())
        )
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(retry)}
        )
    if isinstance(exc, BackendUnavailableError):
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
    if isinstance(exc, JobStateError):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    if isinstance(exc, TooManyPixelsError):
        # More than the server will decode: the photo, not the request, is too large.
        return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc))
    # IntakeError, StyleError: the request itself is wrong (photo count, style choice).
    return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))


def _read_uploads(files: list[UploadFile], max_bytes: int) -> list[Upload]:
    uploads = []
    for file in files:
        # One byte over the limit is enough for the intake to say "too large".
        data = file.file.read(max_bytes + 1)
        uploads.append(Upload(file.filename or f"photo-{len(uploads) + 1}", data))
    return uploads


def _split_styles(values: list[str]) -> list[str]:
    return [s.strip() for value in values for s in value.split(",") if s.strip()]


# -- router ------------------------------------------------------------------------------------


def build_avatar_router(
    service: AvatarService, on_queued: Callable[[str], None] | None = None
) -> APIRouter:
    """The avatar studio's routes. `on_queued(job_id)` runs after a job is queued in the
    database (production mode hands it to the job workers' queue there)."""
    router = APIRouter(prefix=PREFIX, tags=["avatar"])
    config = service.config

    @router.get("/styles", response_model=CatalogOut)
    def list_styles(creator_id: str) -> CatalogOut:
        try:
            styles = service.styles()
            reason = service.availability()
        except AvatarError as exc:
            raise _http_error(exc) from None
        base = PREFIX.format(creator_id=creator_id)
        return CatalogOut(
            backend=service.backend.name,
            available=reason is None,
            unavailable_reason=reason,
            min_styles=config.min_styles,
            max_styles=config.max_styles,
            min_photos=config.limits.min_photos,
            max_photos=config.limits.max_photos,
            max_outputs=config.max_outputs,
            output_retention_s=config.output_retention_s,
            upload_ttl_s=config.upload_ttl_s,
            styles=[
                StyleOut(
                    id=s.id,
                    name=s.name,
                    description=s.description,
                    technique=s.technique,
                    preview_url=f"{base}/styles/{s.id}/preview",
                )
                for s in styles
            ],
        )

    @router.get("/styles/{style_id}/preview", response_class=FileResponse)
    def style_preview(creator_id: str, style_id: str) -> FileResponse:
        try:
            path = service.preview(style_id)
        except AvatarError as exc:
            raise _http_error(exc) from None
        return FileResponse(path, media_type="image/jpeg")

    @router.get("/quota", response_model=QuotaOut)
    def quota(creator_id: str) -> QuotaOut:
        q = service.quota(creator_id)
        return QuotaOut(limit=q.limit, used=q.used, next_allowed_at=q.next_allowed_at)

    @router.post("/checks", response_model=SubmissionOut)
    def check_photos(
        creator_id: str, files: Annotated[list[UploadFile], File(description="3-10 selfies")]
    ) -> SubmissionOut:
        """Check photos without starting a job: each photo's verdict and reasons."""
        try:
            submission = service.check_photos(_read_uploads(files, config.limits.max_bytes))
        except AvatarError as exc:
            raise _http_error(exc) from None
        return SubmissionOut.of(submission)

    @router.post(
        "/jobs",
        response_model=SubmissionOut,
        status_code=status.HTTP_201_CREATED,
        responses={
            422: {
                "description": "too few photos passed (each photo's verdict), or an invalid "
                "request (FastAPI's validation errors)",
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/SubmissionOut"},
                                {"$ref": "#/components/schemas/HTTPValidationError"},
                            ]
                        }
                    }
                },
            }
        },
    )
    def create_job(
        creator_id: str,
        files: Annotated[list[UploadFile], File(description="3-10 selfies")],
        styles: Annotated[list[str], Form(description="2-5 style ids (repeat or comma-separate)")],
        visible_mark: Annotated[bool | None, Form()] = None,
    ) -> SubmissionOut | JSONResponse:
        try:
            submission = service.submit(
                creator_id,
                _read_uploads(files, config.limits.max_bytes),
                _split_styles(styles),
                visible_mark=visible_mark,
            )
        except AvatarError as exc:
            raise _http_error(exc) from None
        body = SubmissionOut.of(submission)
        if submission.job is None:
            return JSONResponse(body.model_dump(mode="json"), status_code=422)
        if on_queued is not None:
            on_queued(submission.job.id)
        return body

    @router.get("/jobs", response_model=list[JobOut])
    def list_jobs(creator_id: str, limit: int = Query(20, ge=1, le=100)) -> list[JobOut]:
        return [JobOut.of(j) for j in service.jobs(creator_id, limit)]

    @router.get("/jobs/{job_id}", response_model=JobOut)
    def job_status(creator_id: str, job_id: str) -> JobOut:
        try:
            return JobOut.of(service.status(creator_id, job_id))
        except AvatarError as exc:
            raise _http_error(exc) from None

    @router.post("/jobs/{job_id}/cancel", response_model=JobOut)
    def cancel_job(creator_id: str, job_id: str) -> JobOut:
        try:
            return JobOut.of(service.cancel(creator_id, job_id))
        except AvatarError as exc:
            raise _http_error(exc) from None

    @router.delete("/jobs/{job_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_job(creator_id: str, job_id: str) -> Response:
        try:
            service.delete_job(creator_id, job_id)
        except AvatarError as exc:
            raise _http_error(exc) from None
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/jobs/{job_id}/outputs", response_model=list[OutputOut])
    def list_outputs(creator_id: str, job_id: str) -> list[OutputOut]:
        try:
            return [OutputOut.of(o, creator_id) for o in service.outputs(creator_id, job_id)]
        except AvatarError as exc:
            raise _http_error(exc) from None

    @router.get("/jobs/{job_id}/outputs/{output_id}", response_class=FileResponse)
    def download_output(
        creator_id: str, job_id: str, output_id: str, download: bool = False
    ) -> FileResponse:
        try:
            path = service.output_file(creator_id, output_id, job_id)
        except AvatarError as exc:
            raise _http_error(exc) from None
        name = f"avatar-{output_id[:8]}.jpg"
        disposition = "attachment" if download else "inline"
        return FileResponse(
            path, media_type="image/jpeg", filename=name, content_disposition_type=disposition
        )

    @router.get("/jobs/{job_id}/zip")
    def download_zip(
        creator_id: str,
        job_id: str,
        ids: Annotated[list[str] | None, Query(description="output ids; all when absent")] = None,
    ) -> Response:
        try:
            chosen = _split_styles(ids) if ids else None
            data = service.zip_bytes(creator_id, job_id, chosen)
        except AvatarError as exc:
            raise _http_error(exc) from None
        headers = {"Content-Disposition": f'attachment; filename="avatars-{job_id[:8]}.zip"'}
        return Response(data, media_type="application/zip", headers=headers)

    @router.post("/jobs/{job_id}/choose", response_model=list[OutputOut])
    def choose_outputs(creator_id: str, job_id: str, body: ChooseIn) -> list[OutputOut]:
        """Keep favourites: chosen avatars are not deleted when the retention ends."""
        try:
            outputs = service.choose(creator_id, job_id, body.output_ids, body.chosen)
        except AvatarError as exc:
            raise _http_error(exc) from None
        return [OutputOut.of(o, creator_id) for o in outputs]

    @router.put("/profile-picture", response_model=ProfilePictureOut)
    def set_profile_picture(creator_id: str, body: ProfilePictureIn) -> ProfilePictureOut:
        try:
            picture = service.set_profile_picture(creator_id, body.output_id)
        except AvatarError as exc:
            raise _http_error(exc) from None
        return ProfilePictureOut(
            output_id=picture.output_id,
            updated_at=picture.updated_at,
            url=PREFIX.format(creator_id=creator_id) + "/profile-picture",
        )

    @router.get("/profile-picture", response_class=FileResponse)
    def get_profile_picture(creator_id: str) -> FileResponse:
        try:
            picture = service.profile_picture(creator_id)
        except AvatarError as exc:
            raise _http_error(exc) from None
        return FileResponse(picture.path, media_type="image/jpeg")

    @router.websocket("/ws/jobs/{job_id}")
    async def job_progress(websocket: WebSocket, creator_id: str, job_id: str) -> None:
        """Sends the job whenever it changes, until it has finished."""
        await websocket.accept()
        last = None
        try:
            while True:
                try:
                    job = await run_in_threadpool(service.status, creator_id, job_id)
                except NotFoundError as exc:
                    await websocket.send_json(ErrorEvent(detail=str(exc)).model_dump(mode="json"))
                    await websocket.close(code=4404)
                    return
                seen = (job.state, job.images_done, job.images_dropped, job.percent)
                if seen != last:
                    event = ProgressEvent(final=job.finished, job=JobOut.of(job))
                    await websocket.send_json(event.model_dump(mode="json"))
                    last = seen
                if job.finished:
                    await websocket.close()
                    return
                await asyncio.sleep(WS_POLL_S)
        except WebSocketDisconnect:
            return

    return router
