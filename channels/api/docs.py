"""/docs and /redoc load nothing from the internet: their assets come from fastapi-offline,
and a Content-Security-Policy keeps the one thing ReDoc still fetches on its own (the
"powered by" logo from its CDN) from leaving the machine."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOC_PATHS = frozenset({"/docs", "/redoc"})
# The pages FastAPI writes carry one inline script; ReDoc runs its search in a blob: worker.
POLICY = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
    b"style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    b"connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class OfflineDocsPolicy:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in DOC_PATHS:
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", POLICY))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_policy)
