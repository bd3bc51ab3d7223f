"""The FastAPI application factory: `create_app(settings)` builds everything once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from channels.api import creators, health
from channels.avatar_api import build_avatar_router
from channels.console import mount_console
from channels.deps import authenticated_creator
from channels.inbox import start_worker
from channels.inbox.router import router as inbox_router
from channels.live import LiveManager
from channels.live.router import router as live_router
from channels.logs import configure_logging
from channels.openai_compat.router import router as openai_router
from channels.services import Services
from channels.settings import Settings
from channels.space.router import router as space_router

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, warm_up: bool = True) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)

    # Built here, not in the lifespan, so that routers can take their services directly.
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.hub.bind_loop(asyncio.get_running_loop())
        app.state.live = LiveManager(services)
        app.state.inbox_worker = start_worker(services)
        # Deletion deadlines hold after a restart too: sweep, then run the job worker.
        services.avatar.sweep()
        services.avatar.start()
        if warm_up:
            services.warm_up()
        log.info("platform started", extra={"data_dir": str(settings.data_dir)})
        try:
            yield
        finally:
            await app.state.inbox_worker.stop()
            await app.state.live.stop()
            services.close()
            log.info("platform stopped")

    app = FastAPI(
        title="Persona platform",
        version="0.1.0",
        description="A creator's AI double for fans, and an avatar studio. Every reply the AI "
        "writes is labelled as AI-generated.",
        lifespan=lifespan,
    )
    app.state.services = services

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the details; never send exception text to clients.
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    app.include_router(health.router)
    app.include_router(creators.router)
    app.include_router(space_router)
    app.include_router(openai_router)
    app.include_router(live_router)
    app.include_router(inbox_router)
    app.include_router(
        build_avatar_router(services.avatar), dependencies=[Depends(authenticated_creator)]
    )
    mount_console(app)
    return app
