"""Voice check: a playground to try fan messages (the reply, its label, and the posts it drew
on, under the channel's current settings), the "sounds like you" score of
`persona eval voice` with its history, and "how often it answers": the last fan-experience
report of `persona eval answers` for this creator (a JSON file in the data dir, read here as
data: the console does not import the evaluation)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from channels.console.profile_view import chart
from channels.console.settings_forms import CHANNEL_NAMES
from channels.console.web import FormViewerDep, Viewer, ViewerDep, render
from channels.deps import PlatformDep
from channels.inbox.policy import ChannelPolicy
from persona.engine import Channel, ReplyAction, ReplyRequest, ReplyResult
from persona.engine.engine import CreatorNotFound
from persona.settings import CreatorSettings
from persona.store import Creator, VoiceEval

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_MESSAGE_CHARS = 2000

ACTION_TEXT: dict[str, str] = {
    "send": "would be sent",
    "hold": "would wait for your approval",
    "no_answer": "answers with your message for questions it must not answer",
    "safe_reply": "answers with a fixed, careful reply (not generated)",
    "block": "sends nothing: the message was blocked",
    "paused": "sends nothing: your AI is paused",
}


@dataclass(frozen=True, slots=True)
class EvalRow:
    created_at: Any
    attribution: float | None
    real_attribution: float | None
    style_distance: float | None
    copy_rate: float
    replies: int
    judge_accuracy: float | None
    chance: float | None


@dataclass(frozen=True, slots=True)
class AnswersRow:
    """The last `persona eval answers` figures of a creator."""

    created_at: str
    n: int
    useful_rate: float
    language_match_rate: float
    first_token_p50_ms: float | None
    total_p50_ms: float | None
    channel: str
    split: str
    not_useful: dict[str, int]
    fallbacks: dict[str, int]


def answers_report_path(data_dir: Path, creator_id: str) -> Path:
    """Where `persona eval answers` keeps a creator's last fan-experience report."""
    name = re.sub(r"[^a-z0-9._-]", "_", creator_id.lower()).strip(".") or "_"
    return Path(data_dir) / "evaluations" / "answers" / f"{name}.json"


def _answers(services: Platform, creator_id: str) -> AnswersRow | None:
    path = answers_report_path(services.settings.data_dir, creator_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        summary, run = data["summary"], data.get("run") or {}
        return AnswersRow(
            created_at=str(data.get("created_at", ""))[:16].replace("T", " "),
            n=int(summary["n"]),
            useful_rate=float(summary["useful_rate"]),
            language_match_rate=float(summary["language_match_rate"]),
            first_token_p50_ms=summary.get("first_token_p50_ms"),
            total_p50_ms=summary.get("total_p50_ms"),
            channel=str(run.get("channel", "")),
            split=str(run.get("split", "")),
            not_useful=dict(summary.get("not_useful") or {}),
            fallbacks=dict(summary.get("fallbacks") or {}),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("unreadable fan-experience report", extra={"path": str(path)})
        return None


def _opt(value: float | None) -> float | None:
    # `persona eval voice` stores -1 for "not measurable" (e.g. a single creator).
    return None if value is None or value < 0 else value


def _evals(services: Platform, creator_id: str) -> list[EvalRow]:
    with services.db.session() as session:
        rows = session.scalars(
            select(VoiceEval)
            .where(VoiceEval.creator_id == creator_id)
            .order_by(VoiceEval.created_at.desc())
            .limit(30)
        ).all()
        return [
            EvalRow(
                created_at=r.created_at,
                attribution=_opt(r.attribution),
                real_attribution=_opt(r.real_attribution),
                style_distance=_opt(r.style_distance),
                copy_rate=r.copy_rate,
                replies=int((r.details or {}).get("replies", 0)),
                judge_accuracy=_opt((r.details or {}).get("judge_accuracy")),
                chance=(r.details or {}).get("chance"),
            )
            for r in rows
        ]


def _settings(services: Platform, creator_id: str) -> CreatorSettings:
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        return CreatorSettings.from_stored(creator.settings if creator else None, lenient=True)


async def _page(
    request: Request,
    viewer: Viewer,
    services: Platform,
    result: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    evals = await run_in_threadpool(_evals, services, viewer.creator_id)
    answers = await run_in_threadpool(_answers, services, viewer.creator_id)
    measured = [e for e in reversed(evals) if e.attribution is not None]
    history = chart(
        "“Sounds like you” over time",
        [(e.created_at.strftime("%d %b %H:%M"), e.attribution or 0.0) for e in measured[-12:]],
        "{:.0%}",
        "Share of the AI's replies that an independent judge attributes to you, per run.",
    )
    return render(
        request,
        "voice.html",
        {
            "title": "Voice check",
            "result": result,
            "form": form or {"channel": "dm"},
            "error": error,
            "channels": CHANNEL_NAMES,
            "evals": evals,
            "latest": evals[0] if evals else None,
            "history": history,
            "answers": answers,
            "max_chars": MAX_MESSAGE_CHARS,
        },
        viewer,
    )


@router.get("/voice")
async def voice_page(request: Request, viewer: ViewerDep, services: PlatformDep) -> Response:
    return await _page(request, viewer, services)


def _playground_busy(app: Any) -> set[str]:
    """Creators whose playground reply is being written: one at a time each, so that one
    browser cannot queue up the model for everybody."""
    return app.state.console_playground_busy


def _notes(policy: ChannelPolicy, settings: CreatorSettings, result: ReplyResult) -> list[str]:
    """What would happen on the real channel, beyond the engine's decision."""
    notes = []
    if settings.paused:
        notes.append("Your AI is paused: on a real channel, nobody gets a reply.")
    if not policy.enabled:
        notes.append("This channel is off: on it, fans get no reply at all.")
    elif policy.paused:
        notes.append("This channel is paused: on it, fans get no reply until you resume it.")
    # Review holds whatever the model did not write as sent too (the no-answer message).
    waits = (ReplyAction.SEND, ReplyAction.HOLD, ReplyAction.NO_ANSWER)
    if policy.mode == "review" and result.action in waits:
        notes.append("This channel is in review mode: the reply would wait in your approvals.")
    return notes


@router.post("/voice")
async def try_reply(
    request: Request,
    viewer: FormViewerDep,
    services: PlatformDep,
    message: Annotated[str, Form(max_length=MAX_MESSAGE_CHARS)] = "",
    channel: Annotated[str, Form(max_length=16)] = "dm",
    fan_name: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    """The playground: what the AI would answer now, nothing recorded, nothing sent."""
    form = {"message": message, "channel": channel, "fan_name": fan_name}
    if not message.strip():
        return await _page(request, viewer, services, form=form, error="Write a fan message.")
    if channel not in CHANNEL_NAMES:
        channel = "dm"
    busy = _playground_busy(request.app)
    if viewer.creator_id in busy:
        return await _page(
            request,
            viewer,
            services,
            form=form,
            error="Your previous message is still being answered: wait a moment and retry.",
        )
    settings = await run_in_threadpool(_settings, services, viewer.creator_id)
    policy = settings.policy(channel)
    request_ = ReplyRequest(
        viewer.creator_id,
        message.strip(),
        Channel(channel),
        fan_name=fan_name.strip() or None,
        max_chars=policy.max_chars,
        record=False,
    )
    busy.add(viewer.creator_id)
    try:
        # The model starts on first use: in a worker thread, not on the event loop.
        replier = await services.replier()
        result = await replier.reply(request_)
    except CreatorNotFound:
        return await _page(
            request,
            viewer,
            services,
            form=form,
            error="Your AI needs your posts first: import some on the “Import posts” page.",
        )
    except Exception:  # noqa: BLE001 - the creator gets a sentence, the log the details
        log.exception("playground reply failed", extra={"creator": viewer.creator_id})
        return await _page(
            request,
            viewer,
            services,
            form=form,
            error="The AI could not answer right now (the model is starting or unreachable). "
            "Try again in a minute.",
        )
    finally:
        busy.discard(viewer.creator_id)
    shown = {
        "text": result.text,
        "label": policy.ai_label or result.label,
        "action": str(result.action),
        "action_text": ACTION_TEXT.get(str(result.action), str(result.action)),
        "reason": result.reason,
        "category": result.category,
        "sources": result.sources,
        "notes": _notes(policy, settings, result),
        "total_ms": result.timings_ms.get("total"),
        "channel_name": CHANNEL_NAMES[channel],
    }
    return await _page(request, viewer, services, result=shown, form=form)
