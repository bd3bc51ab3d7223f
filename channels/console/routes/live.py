"""Live dashboard: during a stream, the incoming rate, the top question clusters, what the AI
answered and what it skipped (and why). The page polls `/console/live/data`; the numbers come
from the live manager of this process (`channels.live`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from channels.console.web import ViewerDep, render
from channels.live import get_live_manager
from channels.live.metrics import DROP_REASONS

router = APIRouter(prefix="/console", include_in_schema=False)

RECENT_ANSWERS = 20


def _stream_view(manager: Any, stats: dict[str, Any], reasons: dict[str, str]) -> dict[str, Any]:
    stream = manager.get(stats["creator_id"], stats["stream_id"])
    top: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    if stream is not None:
        top = [q.model_dump(mode="json") for q in stream.queue.top_questions(10)]
        answers = [a for a in stream.recent if a.get("type") == "answer"][-RECENT_ANSWERS:]
    skipped = [
        {"reason": reason, "count": count, "explanation": reasons.get(reason, reason)}
        for reason, count in sorted(stats.get("dropped", {}).items(), key=lambda kv: -kv[1])
    ]
    return {
        "stream_id": stats["stream_id"],
        "active": stats.get("active", False),
        "rate": stats.get("rate_msgs_per_s", 0.0),
        "received": stats.get("received", 0),
        "answered": stats.get("answered", 0),
        "merged": stats.get("merged", 0),
        "pending": stats.get("pending", 0),
        "dropped_total": stats.get("dropped_total", 0),
        "started_at": stats.get("started_at"),
        "ended_reason": stats.get("ended_reason", ""),
        "top_questions": top,
        "answers": list(reversed(answers)),
        "skipped": skipped,
    }


def live_data(app: Any, creator_id: str) -> dict[str, Any]:
    manager = get_live_manager(app)
    streams = [_stream_view(manager, s, DROP_REASONS) for s in manager.streams(creator_id)]
    streams.sort(key=lambda s: (not s["active"], -(s["started_at"] or 0)))
    return {"streams": streams}


@router.get("/live")
async def live_page(request: Request, viewer: ViewerDep) -> Response:
    # Async on purpose: the streams live on the event loop, not in the thread pool.
    data = live_data(request.app, viewer.creator_id)
    return render(request, "live.html", {"title": "Live", "data": data}, viewer)


@router.get("/live/fragment")
async def live_fragment(request: Request, viewer: ViewerDep) -> Response:
    """The streams part of the page, for the page's script to swap in (one template for both)."""
    data = live_data(request.app, viewer.creator_id)
    return render(request, "_live_streams.html", {"data": data}, viewer)


@router.get("/live/data")
async def live_json(request: Request, viewer: ViewerDep) -> JSONResponse:
    return JSONResponse(
        live_data(request.app, viewer.creator_id), headers={"Cache-Control": "no-store"}
    )
