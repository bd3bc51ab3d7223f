"""Connectors page: the creator's chat-network connectors (Twitch chat, YouTube live chat,
Matrix rooms) with their
live status, a form to connect one and a button to disconnect. It goes through the same
parts as the connectors API (`channels.connectors`: the kind's spec validates, the store
keeps it with the creator, the manager of this server connects within a second); the
status part is polled by the page's script."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from channels.connectors import store
from channels.connectors.base import Health, State
from channels.connectors.registry import CONNECTORS
from channels.connectors.twitch.spec import TWITCH_IRC
from channels.connectors.youtube.spec import YOUTUBE_API
from channels.console.web import FormViewerDep, Viewer, ViewerDep, redirect, render
from channels.deps import PlatformDep
from persona.registry import UnknownBackendError

if TYPE_CHECKING:
    from channels.connectors.manager import ConnectorManager
    from channels.services import Platform

router = APIRouter(prefix="/console", include_in_schema=False)

PATH = "/console/connectors"
# The form's fields, by kind, in the order shown (the spec's own names: errors map back).
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "twitch": ("channel", "nick", "stream_id", "server", "port", "tls"),
    "matrix": ("homeserver", "user_id"),
    "youtube": ("live_chat_id", "stream_id", "account", "api_base"),
}
CHECKBOXES = frozenset({"tls"})
DEFAULTS: dict[str, dict[str, Any]] = {
    "twitch": {"stream_id": "twitch", "server": TWITCH_IRC, "port": 6697, "tls": True},
    "youtube": {"stream_id": "youtube", "api_base": YOUTUBE_API},
}
STATE_NAMES: dict[State, tuple[str, str]] = {
    # state -> (what the creator reads, tag class)
    State.CONNECTED: ("Connected", "tag-ok"),
    State.STARTING: ("Connecting…", "tag-warn"),
    State.RECONNECTING: ("Reconnecting…", "tag-warn"),
    State.WAITING: ("Not running here yet", "tag-warn"),
    State.STOPPED: ("Stopped", ""),
}
NOT_SENT_NAMES = {
    "paused": "not sent: your AI was paused",
    "stale": "too old to send to a live chat",
    "overflow": "dropped: too many waiting",
    "quota": "not sent: the day's YouTube API quota budget is spent",
    "refused": "refused by the chat",
    "error": "not sent: the chat could not be reached",
}
NOTICES = {
    "connected": "Saved. The server connects within a second; its status shows below.",
    "disconnected": "Disconnected: your AI has left that chat.",
}


def _manager(services: Platform) -> ConnectorManager | None:
    """The platform's connector manager while the app runs it, else None."""
    manager = services.connectors
    return manager if manager is not None and manager.started else None


def _view(health: Health, settings: Any) -> dict[str, Any]:
    label, tag = STATE_NAMES.get(health.state, (health.state.value, ""))
    warnings = []
    if health.kind == "twitch":
        nick = health.remote.rsplit(" as ", 1)[-1]
        if nick not in (getattr(settings, "twitch_tokens", None) or {}):
            warnings.append(
                f"This server has no token for {nick} (PERSONA_TWITCH_TOKENS): it logs in "
                "without one, and Twitch refuses that."
            )
    elif health.kind == "matrix":
        user_id = health.remote.split(" on ", 1)[0]
        if user_id not in (getattr(settings, "matrix_tokens", None) or {}):
            warnings.append(
                f"This server has no access token for {user_id} (PERSONA_MATRIX_TOKENS): "
                "the homeserver refuses it."
            )
    elif health.kind == "youtube":
        # The remote ends " as ACCOUNT" when one is named; else the token is the creator's.
        account = health.remote.rsplit(" as ", 1)[-1] if " as " in health.remote else None
        account = account or health.creator_id
        if account not in (getattr(settings, "youtube_tokens", None) or {}):
            warnings.append(
                f"This server has no YouTube token for {account} (PERSONA_YOUTUBE_TOKENS): "
                "it does not read the chat until there is one."
            )
    return {
        "id": health.id,
        "dom_id": "connector-" + "".join(c if c.isalnum() else "-" for c in health.id),
        "kind": health.kind,
        "remote": health.remote,
        "stream_id": health.stream_id,
        "feeds": health.channel,
        "state": health.state.value,
        "state_label": label,
        "state_tag": tag,
        "since": time.strftime("%d %b %Y, %H:%M:%S UTC", time.gmtime(health.since)),
        "reconnects": health.reconnects,
        "last_error": health.last_error,
        "received": health.received,
        "taken": health.taken,
        "sent": health.sent,
        "quota_used": health.quota_used,
        "quota_budget": health.quota_budget,
        "not_sent": [
            {"count": n, "reason": NOT_SENT_NAMES.get(reason, reason.replace("_", " "))}
            for reason, n in sorted(health.not_sent.items())
        ],
        "warnings": warnings,
    }


async def _status(request: Request, services: Platform, viewer: Viewer) -> dict[str, Any]:
    manager = _manager(services)
    if manager is None:
        specs = await run_in_threadpool(store.creator_specs, services.db, viewer.creator_id)
        return {"running": False, "connectors": [], "stored": len(specs)}
    found = await run_in_threadpool(manager.status, viewer.creator_id)
    views = [_view(h, services.settings) for h in found]
    return {"running": True, "connectors": views, "stored": len(views)}


async def _page(
    request: Request,
    services: Platform,
    viewer: Viewer,
    *,
    kind: str = "twitch",
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "title": "Connectors",
        "status": await _status(request, services, viewer),
        "kinds": [k for k in CONNECTORS.names() if k in FORM_FIELDS],
        "kind": kind,
        "values": {**DEFAULTS.get(kind, {}), **(values or {})},
        "errors": errors or {},
    }
    notice = NOTICES.get(request.query_params.get("notice", ""))
    if notice:
        context["notice"] = notice  # this page's own notices (web.NOTICES has the shared ones)
    return render(request, "connectors.html", context, viewer, status_code)


@router.get("/connectors")
async def connectors_page(request: Request, viewer: ViewerDep, services: PlatformDep) -> Response:
    return await _page(request, services, viewer)


@router.get("/connectors/fragment")
async def connectors_fragment(
    request: Request, viewer: ViewerDep, services: PlatformDep
) -> Response:
    """The status part of the page, for the page's script to swap in."""
    status = await _status(request, services, viewer)
    return render(request, "_connectors_list.html", {"status": status}, viewer)


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        name = str(error["loc"][0]) if error["loc"] else "form"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "string_pattern_mismatch":
            message = "letters, digits and the characters shown in the example only"
        errors.setdefault(name, message)
    return errors


@router.post("/connectors")
async def connect(
    request: Request,
    viewer: FormViewerDep,
    services: PlatformDep,
    kind: Annotated[str, Form()] = "twitch",
) -> Response:
    form = await request.form()
    fields = FORM_FIELDS.get(kind)
    if fields is None:
        return await _page(
            request, services, viewer, errors={"kind": f"unknown kind {kind!r}"}, status_code=422
        )
    raw: dict[str, Any] = {"kind": kind}
    for name in fields:
        value = form.get(name)
        if name in CHECKBOXES:
            raw[name] = value is not None
        elif isinstance(value, str) and value.strip():
            raw[name] = value.strip()
    try:
        spec = CONNECTORS.spec(raw)
    except (ValidationError, UnknownBackendError) as exc:
        errors = _field_errors(exc) if isinstance(exc, ValidationError) else {"kind": str(exc)}
        return await _page(
            request, services, viewer, kind=kind, values=raw, errors=errors, status_code=422
        )
    await run_in_threadpool(store.save, services.db, viewer.creator_id, spec)
    manager = _manager(services)
    if manager is not None:
        manager.reconcile_soon()
    return redirect(PATH, "connected")


@router.post("/connectors/disconnect")
async def disconnect(
    request: Request,
    viewer: FormViewerDep,
    services: PlatformDep,
    connector_id: Annotated[str, Form(max_length=300)],
) -> Response:
    removed = await run_in_threadpool(store.remove, services.db, viewer.creator_id, connector_id)
    manager = _manager(services)
    if removed and manager is not None:
        manager.reconcile_soon()
    # Removed twice (two tabs): the connector is gone either way, which is what was asked.
    return redirect(PATH, "disconnected")
