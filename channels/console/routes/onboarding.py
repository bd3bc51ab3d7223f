"""Onboarding: import posts (upload a file or paste text) with a progress bar, then read the
voice profile measured on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from channels.card_import import (
    MAX_CARD_BYTES,
    CardError,
    CardSeedRefused,
    ImportResult,
    card_persona,
    import_persona,
    read_card_bytes,
)
from channels.console.auth import same_token
from channels.console.imports import (
    MAX_UPLOAD_BYTES,
    ImportRunner,
    UploadRejected,
    check_filename,
    safe_filename,
)
from channels.console.middleware import CSRF_HEADER
from channels.console.profile_view import ProfileVersionError, build_view
from channels.console.web import CSRF_FIELD, Viewer, ViewerDep, redirect, render
from channels.deps import PlatformDep
from persona.store import Creator, Post

if TYPE_CHECKING:
    from channels.services import Platform

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_PASTE_CHARS = 1_000_000
_FORM_OVERHEAD = 64 * 1024


def import_runner(request: Request) -> ImportRunner:
    """The app's runner (built by `mount_console`)."""
    return request.app.state.console_imports


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.get("/import")
async def import_page(request: Request, viewer: ViewerDep) -> Response:
    recent = await run_in_threadpool(import_runner(request).recent, viewer.creator_id)
    return render(
        request,
        "import.html",
        {"title": "Import posts", "imports": recent, "max_mb": MAX_UPLOAD_BYTES // 2**20},
        viewer,
    )


def _refuse(request: Request, viewer: Viewer, message: str, code: int) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=code)
    recent = import_runner(request).recent(viewer.creator_id)
    return render(
        request,
        "import.html",
        {
            "title": "Import posts",
            "imports": recent,
            "error": message,
            "max_mb": MAX_UPLOAD_BYTES // 2**20,
        },
        viewer,
        status_code=code,
    )


@router.post("/import")
async def start_import(request: Request, viewer: ViewerDep) -> Response:
    """A file upload (`posts`) or pasted text (`text`, one post per paragraph). The size is
    checked before the body is parsed; the CSRF token comes in the header (the page's
    script) or the form."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES + _FORM_OVERHEAD:
        return _refuse(
            request,
            viewer,
            f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB; split it into several files.",
            status.HTTP_413_CONTENT_TOO_LARGE,
        )
    runner = import_runner(request)
    if await run_in_threadpool(runner.in_progress, viewer.creator_id):
        return _refuse(
            request,
            viewer,
            "An import is already running: wait for it to finish, then start the next one.",
            status.HTTP_409_CONFLICT,
        )
    form = await request.form(max_files=1, max_fields=10, max_part_size=MAX_PASTE_CHARS * 4)
    given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not same_token(viewer.csrf_token, given if isinstance(given, str) else None):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this form is out of date (missing or wrong CSRF token): reload the page and retry",
        )
    upload = form.get("posts")
    text = form.get("text")
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            filename = safe_filename(upload.filename)
            suffix = check_filename(filename)
            path = await run_in_threadpool(runner.save_upload, upload.file, suffix)
            fmt = None
        elif isinstance(text, str) and text.strip():
            if len(text) > MAX_PASTE_CHARS:
                raise UploadRejected(
                    f"the pasted text is longer than {MAX_PASTE_CHARS} characters; "
                    "upload it as a file"
                )
            filename = "pasted posts"
            path = await run_in_threadpool(runner.save_text, text)
            fmt = "text"
        else:
            raise UploadRejected("choose a file of posts, or paste some posts")
    except UploadRejected as exc:
        message = str(exc)
        return _refuse(
            request, viewer, message[:1].upper() + message[1:], status.HTTP_400_BAD_REQUEST
        )
    finally:
        await form.close()
    job_id = await run_in_threadpool(runner.start, viewer.creator_id, filename, path, fmt)
    if _wants_json(request):
        return JSONResponse(
            {"id": job_id, "status_url": f"/console/import/{job_id}/status"},
            status_code=status.HTTP_202_ACCEPTED,
        )
    return redirect(f"/console/import/{job_id}", "import_started")


def _seed_from_card(services: Platform, creator_id: str, raw: bytes, filename: str) -> ImportResult:
    persona = card_persona(read_card_bytes(raw, filename), filename)
    return import_persona(services, persona, creator_id, filename, into_new_account=True)


@router.post("/import/card")
async def import_card(request: Request, viewer: ViewerDep, services: PlatformDep) -> Response:
    """A persona card (Character Card V2 JSON or PNG, channels/card_import.py) seeds a new
    account: its example replies become the first posts (profile and index built), its
    greeting and boundaries the settings. Small (a card is at most 1 MB, a few hundred
    examples at most), so it runs in the request; the button says it is working."""
    runner = import_runner(request)
    if await run_in_threadpool(runner.in_progress, viewer.creator_id):
        return _refuse(
            request,
            viewer,
            "An import is already running: wait for it to finish, then import the card.",
            status.HTTP_409_CONFLICT,
        )
    form = await request.form(max_files=1, max_fields=4, max_part_size=MAX_CARD_BYTES + 1024)
    try:
        given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not same_token(viewer.csrf_token, given if isinstance(given, str) else None):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "this form is out of date (missing or wrong CSRF token): reload the page and retry",
            )
        upload = form.get("card")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _refuse(
                request,
                viewer,
                "Choose a persona card file (.json or .png).",
                status.HTTP_400_BAD_REQUEST,
            )
        filename = safe_filename(upload.filename)
        raw = await upload.read(MAX_CARD_BYTES + 1)
    finally:
        await form.close()
    try:
        result = await run_in_threadpool(
            _seed_from_card, services, viewer.creator_id, raw, filename
        )
    except CardError as exc:
        return _refuse(
            request,
            viewer,
            f"This card cannot be imported: {exc.where}: {exc.problem}. Nothing was changed.",
            status.HTTP_400_BAD_REQUEST,
        )
    except CardSeedRefused as exc:
        message = str(exc)
        return _refuse(
            request, viewer, message[:1].upper() + message[1:] + ".", status.HTTP_409_CONFLICT
        )
    # With a profile the creator reads what the card made of their voice; without one (a
    # card with no examples) they import posts next.
    return redirect(
        "/console/profile" if result.has_profile else "/console/import", "card_imported"
    )


async def _owned_import(request: Request, viewer: Viewer, job_id: str) -> Any:
    view = await run_in_threadpool(import_runner(request).get, viewer.creator_id, job_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such import")
    return view


@router.get("/import/{job_id}")
async def import_progress(request: Request, viewer: ViewerDep, job_id: str) -> Response:
    view = await _owned_import(request, viewer, job_id)
    return render(request, "import_job.html", {"title": "Import", "job": view}, viewer)


@router.get("/import/{job_id}/status")
async def import_status(request: Request, viewer: ViewerDep, job_id: str) -> JSONResponse:
    view = await _owned_import(request, viewer, job_id)
    return JSONResponse(view.to_json(), headers={"Cache-Control": "no-store"})


# -- the voice profile -----------------------------------------------------------------------


# Posts read to put a unit on the topic chart (share of posts using each word): enough for a
# stable share, bounded so a huge archive does not slow the page.
TOPIC_SAMPLE = 20_000


def _profile(services: Platform, creator_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None or not creator.profile:
            return None, []
        texts = session.scalars(
            select(Post.clean_text)
            .where(Post.creator_id == creator_id, Post.clean_text != "")
            .order_by(Post.id.desc())
            .limit(TOPIC_SAMPLE)
        ).all()
        return dict(creator.profile), list(texts)


@router.get("/profile")
async def profile_page(request: Request, viewer: ViewerDep, services: PlatformDep) -> Response:
    data, texts = await run_in_threadpool(_profile, services, viewer.creator_id)
    view, problem = None, None
    if data is not None:
        try:
            view = await run_in_threadpool(build_view, data, texts)
        except ProfileVersionError:
            problem = (
                "Your voice profile was measured by an older version of the platform. "
                "Import your posts again (or any new post) to measure it anew."
            )
    return render(
        request,
        "profile.html",
        {"title": "Voice profile", "profile": view, "problem": problem},
        viewer,
    )
