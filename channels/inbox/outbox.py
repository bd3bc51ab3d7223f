"""Outbox delivery: each due reply goes to websocket subscribers (`replies:{creator_id}`) and
is POSTed, signed, to its callback URL, with retries, exponential backoff and jitter; after
the last attempt it is dead-lettered with the reason.

Delivery is at least once: a crash between the POST and the status update sends it again,
with the same `Idempotency-Key`, so the platform can drop the second copy."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from channels.inbox import store
from channels.inbox.config import InboxConfig
from channels.inbox.models import OutboxReply, ReplyStatus
from channels.inbox.policy import load_policy
from channels.inbox.protocol import ReplyOut
from channels.inbox.signing import IDEMPOTENCY_HEADER, signed_headers
from persona.store import Database

log = logging.getLogger(__name__)

WAKE_OUTBOX = "outbox:wake"
# HTTP statuses worth another try; any other 4xx means the request itself is wrong.
RETRYABLE = {408, 409, 425, 429}
# How long a claimed delivery is ours before another deliverer may take it over.
DELIVERY_LEASE_S = 60.0


def replies_topic(creator_id: str) -> str:
    return f"replies:{creator_id}"


def approvals_topic(creator_id: str) -> str:
    return f"approvals:{creator_id}"


def reply_out(reply: OutboxReply) -> ReplyOut:
    return ReplyOut(
        reply_id=reply.id,
        event_id=reply.event_id,
        creator_id=reply.creator_id,
        platform=reply.platform,
        channel=reply.channel,
        thread=reply.thread_key,
        in_reply_to=reply.in_reply_to,
        fan_id=reply.fan_id,
        text=reply.text,
        label=reply.label,
        action=reply.action,
        category=reply.category,
        status=reply.status,
        review_reason=reply.review_reason,
        original_text=reply.original_text,
        attempts=reply.attempts,
        last_error=reply.last_error,
        created_at=store.utc(reply.created_at),
        sent_at=store.utc(reply.sent_at),
    )


def callback_body(reply: OutboxReply) -> dict[str, Any]:
    """What the platform receives: the reply, what it answers, and the AI label."""
    return {
        "type": "reply",
        "reply_id": reply.id,
        "event_id": reply.event_id,
        "creator_id": reply.creator_id,
        "platform": reply.platform,
        "channel": reply.channel,
        "thread": reply.thread_key,
        "in_reply_to": reply.in_reply_to,
        "fan_id": reply.fan_id,
        "text": reply.text,
        "label": reply.label,
        "ai_generated": True,
    }


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries of many
    replies that failed together spread out."""
    ceiling = min(max_s, base_s * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class Deliverer:
    def __init__(
        self,
        db: Database,
        hub: Any,
        config: InboxConfig,
        clock: Callable[[], datetime],
        client: httpx.AsyncClient,
    ) -> None:
        self.db = db
        self.hub = hub
        self.config = config
        self.clock = clock
        self.client = client
        self._slots = asyncio.Semaphore(config.outbox_concurrency)

    async def run_once(self) -> int:
        """Deliver every reply that is due now; returns how many were attempted."""
        now = self.clock()
        due = await asyncio.to_thread(
            store.claim_deliveries,
            self.db,
            self.config.outbox_concurrency * 4,
            DELIVERY_LEASE_S,
            now,
        )
        if due:
            await asyncio.gather(*(self._deliver_guarded(reply) for reply in due))
        return len(due)

    async def seconds_to_next(self, cap: float) -> float:
        next_at = await asyncio.to_thread(store.next_delivery_at, self.db)
        if next_at is None:
            return cap
        return max(0.0, min(cap, (next_at - self.clock()).total_seconds()))

    async def _deliver_guarded(self, reply: OutboxReply) -> None:
        async with self._slots:
            try:
                await self.deliver(reply)
            except Exception:  # noqa: BLE001 - one bad reply must not stop the others
                log.exception("delivery failed unexpectedly", extra={"reply_id": reply.id})
                await asyncio.to_thread(self._retry_or_dead, reply, "internal error")

    async def deliver(self, reply: OutboxReply) -> None:
        paused = await asyncio.to_thread(self._paused, reply)
        if paused:
            await asyncio.to_thread(
                store.update_reply,
                self.db,
                reply.id,
                ReplyStatus.PENDING,
                status=ReplyStatus.CANCELLED,
                last_error=f"not sent: {paused}",
                lease_until=None,
                decided_at=self.clock(),
            )
            return
        if not reply.published:
            self.hub.publish(replies_topic(reply.creator_id), callback_body(reply))
            await asyncio.to_thread(
                store.update_reply, self.db, reply.id, ReplyStatus.PENDING, published=True
            )
        if not reply.callback_url:
            await asyncio.to_thread(self._sent, reply)
            return
        error = await self._post(reply)
        if error is None:
            await asyncio.to_thread(self._sent, reply)
        elif error.startswith("permanent"):
            await asyncio.to_thread(self._dead, reply, error)
        else:
            await asyncio.to_thread(self._retry_or_dead, reply, error)

    async def _post(self, reply: OutboxReply) -> str | None:
        secret = self.config.secret_for(reply.platform)
        if secret is None:
            return f"permanent: no webhook secret for platform {reply.platform!r} to sign with"
        body = json.dumps(callback_body(reply), ensure_ascii=False).encode()
        headers = {
            **signed_headers(secret, body),
            IDEMPOTENCY_HEADER: f"reply-{reply.id}",
            "Content-Type": "application/json",
        }
        try:
            response = await self.client.post(
                reply.callback_url or "",
                content=body,
                headers=headers,
                timeout=self.config.outbox_timeout_s,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__} calling the callback URL"
        if response.is_success:
            return None
        if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE:
            return f"permanent: the callback answered HTTP {response.status_code}"
        return f"the callback answered HTTP {response.status_code}"

    def _paused(self, reply: OutboxReply) -> str:
        snapshot = store.creator_snapshot(self.db, reply.creator_id)
        if snapshot is None:
            return "the creator was deleted"
        _, settings = snapshot
        if settings.get("paused"):
            return "the creator's kill switch is on"
        policy = load_policy(settings, reply.channel)
        if policy.paused or not policy.enabled:
            return f"the {reply.channel} channel is paused"
        return ""

    def _sent(self, reply: OutboxReply) -> None:
        store.update_reply(
            self.db,
            reply.id,
            ReplyStatus.PENDING,
            status=ReplyStatus.SENT,
            sent_at=self.clock(),
            lease_until=None,
            last_error="",
        )

    def _dead(self, reply: OutboxReply, error: str) -> None:
        log.warning("reply dead-lettered", extra={"reply_id": reply.id, "error": error})
        store.update_reply(
            self.db,
            reply.id,
            ReplyStatus.PENDING,
            status=ReplyStatus.DEAD,
            last_error=error[:500],
            lease_until=None,
        )

    def _retry_or_dead(self, reply: OutboxReply, error: str) -> None:
        if reply.attempts >= self.config.outbox_max_attempts:
            self._dead(reply, f"gave up after {reply.attempts} attempts: {error}")
            return
        delay = backoff_s(
            reply.attempts, self.config.outbox_backoff_base_s, self.config.outbox_backoff_max_s
        )
        store.update_reply(
            self.db,
            reply.id,
            ReplyStatus.PENDING,
            next_attempt_at=self.clock() + timedelta(seconds=delay),
            lease_until=None,
            last_error=error[:500],
        )
