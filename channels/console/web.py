"""What every console page shares: templates, static assets, the signed-in creator, CSRF
checks on forms, security headers, and short notices after a redirect."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from channels.console import naming
from channels.console.auth import SessionInfo, same_token
from channels.console.middleware import CSRF_HEADER
from channels.deps import PlatformDep
from persona.settings import CreatorSettings
from persona.store import Creator

if TYPE_CHECKING:
    from channels.services import Platform

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
CSRF_FIELD = "csrf_token"

templates = Jinja2Templates(directory=HERE / "templates")

NAV: tuple[tuple[str, str], ...] = (
    ("/console", "Overview"),
    ("/console/import", "Import posts"),
    ("/console/profile", "Voice profile"),
    ("/console/voice", "Voice check"),
    ("/console/settings", "Settings"),
    ("/console/approvals", "Approvals"),
    ("/console/conversations", "Conversations"),
    ("/console/live", "Live"),
    ("/console/connectors", "Connectors"),
    ("/console/avatar", "Avatar studio"),
)

# Notices shown after a redirect: the URL carries a key, never the text itself.
NOTICES: dict[str, str] = {
    "paused": "Your AI is paused. It answers nobody, on any channel, until you resume it.",
    "resumed": "Your AI is answering again.",
    "saved": "Saved. The next reply uses it.",
    "approved": "Approved: the reply is on its way to the fan.",
    "rejected": "Rejected: the fan will not see this reply.",
    "flagged": "Thanks: this reply is marked “not me” and joins your evaluation set.",
    "unflagged": "The “not me” mark is removed.",
    "signed_out": "You are signed out.",
    "import_started": "Import started.",
    "card_imported": "Your persona card is imported: its example replies are your first posts, "
    "its greeting and boundaries are in Settings.",
    "taken_over": "You answer this conversation yourself now: your AI stays quiet in it.",
    "handed_back": "Your AI answers this conversation again.",
    "sent_by_hand": "Sent: your reply is on its way to the fan.",
}


@cache
def _asset_version(name: str) -> str:
    # Content hash in the URL: browsers may cache assets for long and still get new versions.
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    return f"/console/static/{name}?v={_asset_version(name)}"


templates.env.globals["asset"] = asset_url
templates.env.filters["outcome"] = naming.outcome
templates.env.globals["person"] = naming.person
templates.env.globals["plural"] = naming.plural


class SignInRequired(Exception):
    """Raised by page dependencies when nobody is signed in; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in creator, as every page needs them (header, kill switch, forms)."""

    creator_id: str
    display_name: str
    paused: bool
    csrf_token: str
    has_profile: bool


def session_of(request: Request) -> SessionInfo | None:
    return getattr(request.state, "console_session", None)


def _load_viewer(services: Platform, info: SessionInfo) -> Viewer | None:
    with services.db.session() as session:
        creator = session.get(Creator, info.creator_id)
        if creator is None:
            return None
        return Viewer(
            creator_id=creator.id,
            display_name=creator.display_name or creator.id,
            paused=CreatorSettings.from_stored(creator.settings, lenient=True).paused,
            csrf_token=info.csrf_token,
            has_profile=bool(creator.profile),
        )


async def current_viewer(request: Request, services: PlatformDep) -> Viewer:
    info = session_of(request)
    viewer = await run_in_threadpool(_load_viewer, services, info) if info else None
    if viewer is None:
        # After signing in, come back here; a form post cannot be replayed, so go home.
        back = request.url.path
        if request.method == "GET" and request.url.query:
            back += "?" + request.url.query
        raise SignInRequired(back if request.method == "GET" else "/console")
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


async def checked_form(request: Request, viewer: ViewerDep) -> Viewer:
    """For state-changing console routes: the form (or the header) carries the session's
    CSRF token. Parses the form once; the route's `Form` parameters reuse it."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not same_token(viewer.csrf_token, given):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this form is out of date (missing or wrong CSRF token): reload the page and retry",
        )
    return viewer


FormViewerDep = Annotated[Viewer, Depends(checked_form)]


def page_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        # Pages show private data: never store them in a shared cache or the back-forward cache.
        "Cache-Control": "no-store",
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    viewer: Viewer | None = None,
    status_code: int = 200,
) -> Response:
    notice_key = request.query_params.get("notice", "")
    if notice_key == "paused" and viewer is not None and viewer.paused:
        notice_key = ""  # the paused banner says it: one banner per state
    values = {
        "viewer": viewer,
        "nav": NAV,
        "path": request.url.path,
        "notice": NOTICES.get(notice_key),
        "csrf_field": CSRF_FIELD,
        **context,
    }
    return templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=page_headers()
    )


def safe_console_path(value: str | None, default: str = "/console") -> str:
    """A redirect target the user may choose: a console path on this site, nothing else."""
    if not value or not value.startswith("/console") or value.startswith("//"):
        return default
    if any(c in value for c in "\\\r\n") or "://" in value:
        return default
    return value


def redirect(
    path: str, notice: str | None = None, fragment: str | None = None, **params: str
) -> RedirectResponse:
    query = {**params, **({"notice": notice} if notice else {})}
    target = f"{path}?{urlencode(query)}" if query else path
    if fragment:
        target += f"#{fragment}"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
