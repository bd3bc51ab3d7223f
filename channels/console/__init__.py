"""The creator console: server-rendered pages under /console where a creator shapes their AI
double, reads what it says in their name, and stops it.

`mount_console(app)` adds the session middleware (which also lets the console's scripts call
the JSON API with the session cookie and a CSRF header), the pages and the static assets.
Accounts are created by an admin: `persona admin create-creator ID --name N --password-stdin`.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from channels.console.auth import AuthConfig


def mount_console(app: FastAPI, config: AuthConfig | None = None) -> None:
    """Idempotent: a second call does nothing."""
    if getattr(app.state, "console_mounted", False):
        return
    from channels.console.imports import ImportRunner
    from channels.console.middleware import ConsoleSessionMiddleware
    from channels.console.routes import router
    from channels.console.web import SignInRequired, safe_console_path

    auth = config or AuthConfig()
    app.state.console_auth = auth
    # Built with the app, not on first use: the uploads' imports (background threads) and the
    # creators whose playground reply is being written.
    services = app.state.services
    app.state.console_imports = ImportRunner(
        services, services.settings.data_dir / "console" / "uploads"
    )
    app.state.console_playground_busy = set()
    app.add_middleware(ConsoleSessionMiddleware, config=auth)
    app.include_router(router)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> RedirectResponse:
        target = safe_console_path(exc.next_path)
        return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)

    app.state.console_mounted = True


__all__ = ["AuthConfig", "mount_console"]
