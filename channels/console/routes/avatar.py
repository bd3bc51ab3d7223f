"""Avatar studio: upload selfies (each gets a verdict), choose 2-5 styles from previews, watch
the job, keep the avatars they like (one action per avatar; download one or make it the
profile picture, shown in their space, behind "More"), download the kept ones or all.

The page is a small script over the avatar studio's JSON API (`channels/avatar_api.py`,
`/api/creators/{id}/avatar/...`), called with the console session and its CSRF header."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from channels.console.web import ViewerDep, render

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/avatar")
async def avatar_page(request: Request, viewer: ViewerDep) -> Response:
    return render(
        request,
        "avatar.html",
        {"title": "Avatar studio", "api": f"/api/creators/{viewer.creator_id}/avatar"},
        viewer,
    )
