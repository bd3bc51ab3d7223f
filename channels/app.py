"""The FastAPI application factory: `create_app(settings)`, around the platform that
`channels.services.build_platform` builds once.

The settings alone choose between one process on a laptop (SQLite, embedded Chroma, the
embedded model, in-process hub, limiter and jobs) and production (PostgreSQL, the Chroma
server, an OpenAI-compatible model such as vLLM, and Redis for pub/sub between API workers,
shared rate limits and the job queue); the code path is the same.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from channels.api import creators, health
from channels.api.bodylimit import BodyLimitMiddleware, RouteLimit, creator_gate, multipart_budget
from channels.api.docs import OfflineDocsPolicy
from channels.api.https import HSTSMiddleware, public_https
from channels.api.storable import StorableTextMiddleware
from channels.avatar_api import PREFIX as AVATAR_PREFIX
from channels.avatar_api import build_avatar_router
from channels.connectors.router import router as connectors_router
from channels.console import mount_console
from channels.deps import authenticated_creator
from channels.home.router import router as home_router
from channels.inbox.router import router as inbox_router
from channels.live.router import router as live_router
from channels.logs import configure_logging
from channels.observability import (
    handle_data_errors,
    instrument,
    start_observability,
    stop_observability,
)
from channels.openai_compat.router import router as openai_router
from channels.services import Platform, build_platform
from channels.settings import Settings
from channels.space.fan_cookie import build_fan_cookies
from channels.space.router import router as space_router

log = logging.getLogger(__name__)


def body_limits(settings: Settings, services: Platform) -> list[RouteLimit]:
    """The routes whose bodies may be larger than `settings.max_body_bytes`: the uploads,
    sized from their own per-file limits, and the webhooks (their own setting)."""
    from channels.console.imports import MAX_UPLOAD_BYTES

    photos = services.avatar.config.limits
    avatar_bytes = settings.max_upload_body_bytes or multipart_budget(
        photos.max_photos, photos.max_bytes
    )
    import_bytes = settings.max_upload_body_bytes or multipart_budget(1, MAX_UPLOAD_BYTES)
    return [
        RouteLimit("POST", f"{AVATAR_PREFIX}/checks", avatar_bytes, gate=creator_gate),
        RouteLimit("POST", f"{AVATAR_PREFIX}/jobs", avatar_bytes, gate=creator_gate),
        # Its handler checks the console session before it reads the form.
        RouteLimit("POST", "/console/import", import_bytes),
        RouteLimit("POST", "/webhooks/{platform}", settings.webhook_max_body_bytes),
    ]


def create_app(settings: Settings | None = None, *, warm_up: bool = True) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)

    # Every part, built once here (the single composition root): routers take their parts
    # from it through the typed dependencies of channels.deps.
    platform = build_platform(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        start_observability(
            app, job_depth=platform.jobs.depth, interval_s=settings.probe_interval_s
        )
        if warm_up:
            platform.warm_up()
        log.info("platform started", extra={"data_dir": str(settings.data_dir)})
        try:
            yield
        finally:
            await stop_observability(app)
            await platform.stop()
            log.info("platform stopped")

    # /docs and /redoc from assets packaged in fastapi-offline: FastAPI's defaults load them
    # from a CDN, a blank page offline.
    app = FastAPIOffline(
        title="Persona platform",
        version="0.1.0",
        description="A creator's AI double for fans, and an avatar studio. Every reply the AI "
        "writes is labelled as AI-generated.",
        lifespan=lifespan,
    )
    app.state.services = platform
    # The space's signer of fans' cookies (its key file is made here the first time).
    app.state.fan_cookies = build_fan_cookies(settings)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the details; never send exception text to clients.
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    # A value PostgreSQL refuses (SQLite would take it) is the request's fault: 422, not 500.
    handle_data_errors(app)

    app.include_router(home_router)
    app.include_router(health.router)
    app.include_router(creators.router)
    app.include_router(space_router)
    app.include_router(openai_router)
    app.include_router(live_router)
    app.include_router(inbox_router)
    app.include_router(connectors_router)

    def avatar_queued(job_id: str) -> None:
        if platform.avatar_feed is not None:
            platform.avatar_feed.queued(job_id)

    app.include_router(
        build_avatar_router(platform.avatar, on_queued=avatar_queued),
        dependencies=[Depends(authenticated_creator)],
    )
    # Middleware: the last added runs first. Text no store can keep is refused up front;
    # bodies over their route's limit before that, and anonymous uploads before anything
    # reads them (inside the console's session middleware, which names the signed-in
    # creator); the metrics middleware, outermost, counts every answer (refusals included).
    app.add_middleware(StorableTextMiddleware)
    app.add_middleware(OfflineDocsPolicy)
    app.add_middleware(
        BodyLimitMiddleware,
        default_bytes=settings.max_body_bytes,
        routes=body_limits(settings, platform),
    )
    mount_console(app)
    # Outside the console's middleware: its redirects and refusals carry HSTS too.
    app.add_middleware(HSTSMiddleware, always=public_https(settings))
    instrument(app, platform.metrics)  # MetricsMiddleware and /metrics
    return app
