"""Settings: the AI label and boundaries (what it must never discuss or state, and what it says
instead), and each channel's policy (on/off, auto-send or review, limits, hours, length)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from channels.console.settings_forms import (
    CHANNEL_NAMES,
    LABEL_SETTINGS,
    NO_ANSWER_LANGS,
    STYLE_HINTS,
    WEEKDAYS,
    Boundaries,
    FormError,
    apply_policy,
    live_cadence,
    no_answer_fields,
    parse_boundaries,
    parse_cadence,
    parse_policy,
    policies,
)
from channels.console.web import FormViewerDep, Viewer, ViewerDep, redirect, render
from channels.deps import PlatformDep
from persona.settings import CreatorSettings
from persona.store import Creator

if TYPE_CHECKING:
    from channels.services import Platform

router = APIRouter(prefix="/console", include_in_schema=False)


def _settings(services: Platform, creator_id: str) -> CreatorSettings:
    # Lenient: a malformed stored key shows as its default here, where the creator repairs it.
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        return CreatorSettings.from_stored(creator.settings if creator else None, lenient=True)


def _update(services: Platform, creator_id: str, change: Any) -> None:
    """Read, change and write the settings in one transaction."""
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown creator")
        current = CreatorSettings.from_stored(creator.settings, lenient=True)
        creator.settings = change(current).to_stored()


async def _page(
    request: Request,
    viewer: Viewer,
    services: Platform,
    errors: dict[str, dict[str, str]] | None = None,
    boundaries: Boundaries | None = None,
    status_code: int = 200,
) -> Response:
    settings = await run_in_threadpool(_settings, services, viewer.creator_id)
    return render(
        request,
        "settings.html",
        {
            "title": "Settings",
            "boundaries": boundaries or Boundaries.of(settings),
            "policies": policies(settings),
            "channel_names": CHANNEL_NAMES,
            "weekdays": WEEKDAYS,
            "style_hints": STYLE_HINTS,
            "label_settings": LABEL_SETTINGS,
            "no_answer_langs": NO_ANSWER_LANGS,
            "live_cadence": live_cadence(settings),
            "errors": errors or {},
            "open_channel": request.query_params.get("channel", ""),
        },
        viewer,
        status_code=status_code,
    )


@router.get("/settings")
async def settings_page(request: Request, viewer: ViewerDep, services: PlatformDep) -> Response:
    return await _page(request, viewer, services)


def _fields(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/settings/boundaries")
async def save_boundaries(
    request: Request, viewer: FormViewerDep, services: PlatformDep
) -> Response:
    form = _fields(await request.form())
    try:
        boundaries = parse_boundaries(form)
    except FormError as exc:
        draft = Boundaries(
            ai_label=form.get("ai_label", ""),
            forbidden_topics=form.get("forbidden_topics", "").splitlines(),
            forbidden_statements=form.get("forbidden_statements", "").splitlines(),
            no_answer_messages=no_answer_fields(form),
            style_hint=form.get("style_hint", ""),
            label_setting=form.get("label_setting", ""),
            strict_grounding=form.get("strict_grounding") == "on",
        )
        return await _page(
            request,
            viewer,
            services,
            errors={"boundaries": exc.errors},
            boundaries=draft,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    await run_in_threadpool(_update, services, viewer.creator_id, boundaries.apply)
    return redirect("/console/settings", "saved", fragment="boundaries")


@router.post("/settings/channels/{channel}")
async def save_channel(
    request: Request, channel: str, viewer: FormViewerDep, services: PlatformDep
) -> Response:
    if channel not in CHANNEL_NAMES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    raw = await request.form()
    form = _fields(raw)
    days = [d for d in raw.getlist("hours_days") if isinstance(d, str)]
    settings = await run_in_threadpool(_settings, services, viewer.creator_id)
    try:
        policy = parse_policy(channel, form, days, settings.policy(channel))
        cadence = parse_cadence(form) if channel == "live" else None
    except FormError as exc:
        return await _page(
            request,
            viewer,
            services,
            errors={channel: exc.errors},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    await run_in_threadpool(
        _update,
        services,
        viewer.creator_id,
        lambda s: apply_policy(s, channel, policy, cadence),
    )
    return redirect("/console/settings", "saved", fragment=f"channel-{channel}", channel=channel)
