"""Creator resources: list, profile, reply playground, kill switch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from channels.api.protocol import CreatorSummary, KillSwitchOut, Page, ReplyIn, ReplyOut
from channels.deps import CreatorDep, OffsetQuery, PlatformDep, ReplierDep
from persona.engine import ReplyRequest, fan_key
from persona.engine.engine import CreatorNotFound
from persona.engine.types import API_FANS
from persona.settings import CreatorSettings
from persona.store import Creator, Post

router = APIRouter(prefix="/api/creators", tags=["creators"])


@router.get("", response_model=Page[CreatorSummary])
def list_creators(
    services: PlatformDep,
    offset: OffsetQuery = 0,
    limit: int = Query(50, ge=1, le=200),
) -> Page[CreatorSummary]:
    with services.db.session() as session:
        total = session.scalar(select(func.count(Creator.id))) or 0
        rows = session.execute(
            select(Creator.id, Creator.display_name, func.count(Post.id))
            .outerjoin(Post, Post.creator_id == Creator.id)
            .group_by(Creator.id)
            .order_by(Creator.id)
            .offset(offset)
            .limit(limit)
        ).all()
    items = [CreatorSummary(id=i, display_name=n, posts=c) for i, n, c in rows]
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.get("/{creator_id}/profile")
def get_profile(creator_id: CreatorDep, services: PlatformDep) -> dict[str, Any]:
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None or not creator.profile:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no profile: ingest posts first")
        return creator.profile


@router.get("/{creator_id}/card")
def get_card(creator_id: CreatorDep, services: PlatformDep) -> JSONResponse:
    """The creator's persona as a Character Card V2 (channels/cards.py), as a download."""
    from channels.cards import build_card

    try:
        card = build_card(services.db, creator_id)
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown creator") from None
    disposition = f'attachment; filename="{creator_id}.card.json"'
    return JSONResponse(card, headers={"Content-Disposition": disposition})


@router.post("/{creator_id}/reply", response_model=ReplyOut)
async def try_reply(creator_id: CreatorDep, body: ReplyIn, replier: ReplierDep) -> ReplyOut:
    """The playground: what would the AI double answer to this message?"""
    request = ReplyRequest(
        creator_id,
        body.message,
        body.channel,
        # The caller's fan handle names an API fan: never another channel's fan (their memory).
        fan_handle=fan_key(API_FANS, body.fan_handle) if body.fan_handle else None,
        fan_name=body.fan_name,
        candidates=body.candidates,
        record=body.record,
    )
    try:
        result = await replier.reply(request)
    except CreatorNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return ReplyOut.of(result)


def _set_paused(services, creator_id: str, paused: bool) -> KillSwitchOut:
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown creator")
        current = CreatorSettings.from_stored(creator.settings, lenient=True)
        creator.settings = current.with_changes(paused=paused).to_stored()
    return KillSwitchOut(creator_id=creator_id, paused=paused)


@router.post("/{creator_id}/pause", response_model=KillSwitchOut)
def pause(creator_id: CreatorDep, services: PlatformDep) -> KillSwitchOut:
    """The kill switch: the AI stops answering on every channel, at once."""
    return _set_paused(services, creator_id, True)


@router.post("/{creator_id}/resume", response_model=KillSwitchOut)
def resume(creator_id: CreatorDep, services: PlatformDep) -> KillSwitchOut:
    return _set_paused(services, creator_id, False)
