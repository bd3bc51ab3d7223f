"""Thin transport for the OpenAI-compatible API: read, authenticate, hand to serving.

Errors are OpenAI-shaped (`{"error": {"message", "type", "code", "param"}}`), so the body is
read and validated here rather than by FastAPI (whose errors have another shape)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from channels.deps import PlatformDep
from channels.openai_compat.protocol import ModelCard, ModelList
from channels.openai_compat.serving import (
    AI_HEADERS,
    OpenAIError,
    Persona,
    PersonaServing,
    parse_request,
    unauthorized,
)

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
log = logging.getLogger(__name__)

T = TypeVar("T")
# How often a non-streamed completion checks that its client is still there.
DISCONNECT_POLL_S = 0.25


async def serving_of(platform: PlatformDep) -> PersonaServing:
    """The app's serving object (built with the platform)."""
    return platform.openai


ServingDep = Annotated[PersonaServing, Depends(serving_of)]


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(
            "missing API key: send 'Authorization: Bearer <creator API token>' "
            "(create one with `persona token CREATOR`)"
        )
    return token.strip()


async def read_body(request: Request, limit: int) -> bytes:
    too_large = OpenAIError(
        413, f"the request body is over {limit} bytes", code="request_too_large"
    )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise too_large
    return bytes(body)


@router.post("/chat/completions", response_model=None)
async def chat_completions(request: Request, serving: ServingDep) -> Response:
    """Talk to a persona: `model` is the creator id, the key is that creator's API token."""
    try:
        token = bearer_token(request)
        chat = parse_request(await read_body(request, serving.limits.max_body_bytes))
        persona: Persona = await asyncio.to_thread(serving.authenticate, chat.model, token)
        reply = serving.reply_request(chat, persona)
        if chat.stream:
            return StreamingResponse(
                serving.stream(
                    reply,
                    persona,
                    include_usage=bool(chat.stream_options and chat.stream_options.include_usage),
                ),
                media_type="text/event-stream",
                headers={**AI_HEADERS, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        completion = await unless_disconnected(request, serving.complete(reply, persona))
    except OpenAIError as exc:
        return exc.response()
    except ClientLeft:
        # Nobody reads an answer now; the status is for the access log (nginx's 499).
        return Response(status_code=499)
    return JSONResponse(completion.model_dump(mode="json"), headers=AI_HEADERS)


class ClientLeft(Exception):
    """The client closed the connection before the answer was ready."""


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """Runs `work`, and cancels it when the client disconnects: Starlette does not cancel a
    handler whose client left, and a completion is several model calls. Cancelling closes
    the model server connections, which stops their generation too."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                log.info("client left; completion cancelled", extra={"path": request.url.path})
                raise ClientLeft
    finally:
        if not task.done():
            task.cancel()
            # Whatever the cancelled work raises on its way out, the client is gone.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@router.get("/models", response_model=ModelList)
async def list_models(
    serving: ServingDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> ModelList:
    """Every persona that can answer (creators with posts), by id; page with `after`."""
    return await asyncio.to_thread(serving.list_models, after, limit)


@router.get("/models/{model}", response_model=None)
async def get_model(model: str, serving: ServingDep) -> Response:
    try:
        card: ModelCard = await asyncio.to_thread(serving.get_model, model)
    except OpenAIError as exc:
        return exc.response()
    return JSONResponse(card.model_dump(mode="json"))
