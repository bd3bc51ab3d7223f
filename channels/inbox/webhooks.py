"""Webhook intake: size limit, timestamp window and signature, validation, then the event is
committed to the inbox before we answer 202 (several webhooks a transaction: group commit,
channels.inbox.intake). A second delivery of the same message answers 200 with the first
one's id and `duplicate: true`, and never causes a second reply."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from channels.api import safejson
from channels.inbox import intake, store
from channels.inbox.config import InboxConfig
from channels.inbox.protocol import WebhookAck, inbound_event
from channels.inbox.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify
from channels.outbound import CallbackRefused

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    return bytes(body)


def _validation_detail(exc: ValidationError) -> list[dict[str, object]]:
    # Name the field and the problem; do not echo the input back.
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def _unstorable_detail(exc: safejson.JSONInputError) -> list[dict[str, object]]:
    # The shape of the other 422s (FastAPI's, and the storable-text middleware's).
    return [{"loc": ["body", *exc.loc], "msg": str(exc), "type": "string_not_storable"}]


@dataclass(frozen=True, slots=True)
class Intake:
    ack: WebhookAck
    http_status: int


async def receive(
    services: Platform,
    config: InboxConfig,
    platform: str,
    request: Request,
    writer: intake.IntakeWriter | None = None,
) -> Intake:
    """Check and store one webhook: through `writer` (group commit) when the app runs one,
    else in a transaction of its own."""
    secret = config.secret_for(platform)
    if secret is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"unknown platform {platform!r}: give it a secret in PERSONA_WEBHOOK_SECRETS",
        )
    body = await read_limited(request, config.webhook_max_body_bytes)
    try:
        verify(
            secret,
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            config.webhook_window_s,
        )
    except SignatureError as exc:
        log.warning("webhook refused", extra={"platform": platform, "why": str(exc)})
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    try:
        # Whatever the content type says: platforms send JSON as text/plain or untyped too.
        event = inbound_event.validate_python(safejson.loads(body))
    except safejson.JSONInputError as exc:
        detail = str(exc) if exc.status_code == 400 else _unstorable_detail(exc)
        raise HTTPException(exc.status_code, detail) from None
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, _validation_detail(exc)
        ) from None
    callback = str(event.callback_url) if event.callback_url else None
    if callback is not None:
        try:
            # What the URL alone says (no DNS here): the outbox checks the addresses.
            config.callback_policy().check_url(callback, platform)
        except CallbackRefused as exc:
            log.warning("callback URL refused", extra={"platform": platform, "why": str(exc)})
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [
                    {
                        # The shape of the schema's own errors (the event type first).
                        "loc": [event.type, "callback_url"],
                        "msg": f"callback URL refused: {exc}",
                        "type": "callback_url_refused",
                    }
                ],
            ) from None
    arrival = store.Arrival(
        platform, event, config.callback_for(platform, callback), datetime.now(UTC)
    )
    try:
        if writer is not None:
            accepted = await writer.accept(arrival)
        else:
            accepted = await run_in_threadpool(intake.accept_one, services.db, arrival)
    except store.UnknownCreator:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"unknown creator {event.creator_id!r}"
        ) from None
    ack = WebhookAck(
        event_id=accepted.event_id, status=accepted.status, duplicate=accepted.duplicate
    )
    return Intake(ack, status.HTTP_200_OK if accepted.duplicate else status.HTTP_202_ACCEPTED)
