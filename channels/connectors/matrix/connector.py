"""Matrix over the client-server API (matrix-nio): the bot account of the creator's double
joins the rooms it is invited to; a message in a room of two (the bot and a fan) is a DM, in
a larger room a group message. Both go into the inbox like a webhook (`channels.inbox`): the
Matrix event id is the message id, so a message read twice (a sync replayed after a crash)
is stored and answered once, and the inbox's policies, approvals and per-fan memory apply.

Replies come back from the outbox (its `replies:{creator}` topic) and are sent with the
reply id as the Matrix transaction id: the homeserver keeps one event per transaction id and
device, so a reply sent again after a restart (the connector re-sends the last minutes'
replies when it connects, in case a crash came between the outbox and the send) shows once.

Unencrypted rooms only: matrix-nio's end-to-end encryption needs libolm, which is not
installed; a message in an encrypted room is counted as not read (`encrypted`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    MegolmEvent,
    RoomMessageText,
    RoomSendError,
    SyncError,
    SyncResponse,
)
from sqlalchemy import select

from channels.connectors.base import Connector, Context, State, describe, redact
from channels.connectors.matrix.spec import MatrixSpec
from channels.inbox import store as inbox_store
from channels.inbox.models import OutboxReply, ReplyStatus
from channels.inbox.outbox import BY_CREATOR, replies_topic
from channels.inbox.policy import halted, load_policy
from channels.inbox.protocol import DMEvent, FanRef, GroupMessageEvent
from channels.inbox.worker import WAKE_INBOX

log = logging.getLogger(__name__)

PLATFORM = "matrix"  # the inbox's platform name for events from Matrix
COMPONENT = "matrix"  # the label in /metrics
SYNC_TIMEOUT_MS = 25_000
RESEND_WINDOW = timedelta(minutes=10)  # replies sent again (deduplicated) on connect
MAX_TEXT = 4000  # the inbox's limit on a message
SENT_MEMORY = 10_000  # reply ids remembered as sent by this process


def _txn_id(reply_id: int) -> str:
    return f"persona-reply-{reply_id}"


class MatrixConnector(Connector):
    kind = "matrix"
    spec_model = MatrixSpec

    def __init__(self, creator_id: str, spec: MatrixSpec, ctx: Context) -> None:
        super().__init__(creator_id, spec, ctx)
        self.spec: MatrixSpec = spec
        settings = ctx.settings
        secret = (getattr(settings, "matrix_tokens", None) or {}).get(spec.user_id)
        self._token = secret.get_secret_value() if secret is not None else ""
        self.services = ctx.live.services
        self.backoff_base_s = getattr(settings, "connector_backoff_base_s", 1.0)
        self.backoff_max_s = getattr(settings, "connector_backoff_max_s", 60.0)
        key = hashlib.sha256(f"{creator_id}\0{spec.user_id}".encode()).hexdigest()[:16]
        self._since_path = Path(settings.data_dir) / "connectors" / f"matrix-{key}.json"
        self._client: AsyncClient | None = None
        self._online = asyncio.Event()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        for coro, name in (
            (self._run(), "sync"),
            (self._collect_replies(), "replies"),
            (self._send_loop(), "send"),
        ):
            self._tasks.append(loop.create_task(coro, name=f"matrix-{name}:{self.spec.user_id}"))

    async def stop(self) -> None:
        self._stopping = True  # not only cancel(): see the Twitch connector's stop
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        self.counters.move(State.STOPPED)

    # -- reading: sync ---------------------------------------------------------------------

    def _new_client(self) -> AsyncClient:
        # max_timeouts: nio would otherwise retry a lost server forever without a word;
        # the loop below reconnects with backoff and says so in health, logs and /metrics.
        config = AsyncClientConfig(max_timeouts=1, request_timeout=SYNC_TIMEOUT_MS / 1000 + 15)
        client = AsyncClient(self.spec.homeserver, self.spec.user_id, config=config)
        client.access_token = self._token
        client.user_id = self.spec.user_id
        return client

    async def _run(self) -> None:
        if not self._token:
            # Settings are read at start: nothing to retry until the server restarts.
            self.counters.last_error = (
                f"no access token for {self.spec.user_id} in PERSONA_MATRIX_TOKENS: add it "
                "and restart the server"
            )
            self.counters.move(State.STOPPED)
            return
        attempt = 0
        while not self._stopping:
            was_online = False
            client = self._client = self._new_client()
            try:
                was_online = await self._session(client)
            except (ClientError, OSError, TimeoutError) as exc:
                self.counters.last_error = redact(describe(exc), self._token)
            except Exception as exc:  # noqa: BLE001 - a library surprise must not end the loop
                log.exception("matrix sync failed", extra={"connector": self.id})
                self.counters.last_error = redact(describe(exc), self._token)
            finally:
                self._online.clear()
                with contextlib.suppress(Exception):
                    await client.close()
            if self._stopping:
                return
            if was_online:
                attempt = 0
            attempt += 1
            delay = self._connection_lost(
                attempt, COMPONENT, self.backoff_base_s, self.backoff_max_s
            )
            await asyncio.sleep(delay)

    async def _session(self, client: AsyncClient) -> bool:
        """Sync until the server fails; True if at least one sync succeeded."""
        since = await asyncio.to_thread(self._load_since)
        online = False
        while not self._stopping:
            # The first sync of a session asks for the rooms' full state: a new client knows
            # no room's members, and a group room would look like a DM (its member count).
            response = await client.sync(
                timeout=0 if not online else SYNC_TIMEOUT_MS, since=since, full_state=not online
            )
            if isinstance(response, SyncError):
                self.counters.last_error = redact(
                    f"the homeserver said: {response.status_code} {response.message}"[:200],
                    self._token,
                )
                return online
            assert isinstance(response, SyncResponse)
            if since is not None:
                await self._take(client, response)
            # After the events are in the inbox: a crash before this line replays the
            # batch, and the inbox keeps one row per event id.
            since = response.next_batch
            await asyncio.to_thread(self._save_since, since)
            await self._join_invites(client, response)
            if not online:
                online = True
                self._connected()
        return online

    def _connected(self) -> None:
        if self.counters.reconnects:
            log.info("matrix reconnected", extra={"connector": self.id})
            if self.ctx.metrics is not None:
                self.ctx.metrics.dependency_recoveries.labels(COMPONENT).inc()
        self.counters.last_error = ""
        self.counters.move(State.CONNECTED)
        self._online.set()
        task = asyncio.get_running_loop().create_task(self._resend_recent())
        self._tasks.append(task)  # stop() ends it with the others

    async def _join_invites(self, client: AsyncClient, response: SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            invited = any(
                isinstance(e, InviteMemberEvent) and e.state_key == self.spec.user_id
                for e in info.invite_state
            )
            if not invited:
                continue
            joined = await client.join(room_id)
            if isinstance(joined, JoinError):
                self.counters.last_error = f"could not join {room_id}: {joined.message}"[:200]
            else:
                log.info("matrix room joined", extra={"connector": self.id, "room": room_id})

    async def _take(self, client: AsyncClient, response: SyncResponse) -> None:
        for room_id, info in response.rooms.join.items():
            room = client.rooms.get(room_id)
            for event in info.timeline.events:
                if getattr(event, "sender", None) == self.spec.user_id:
                    continue
                if isinstance(event, MegolmEvent):
                    self.counters.received += 1
                    self.counters.skip("encrypted")
                    continue
                if not isinstance(event, RoomMessageText) or not event.body.strip():
                    continue
                self.counters.received += 1
                members = room.member_count if room is not None else 2
                name = room.user_name(event.sender) if room is not None else None
                inbound = self._event(room_id, event, members, name, room)
                try:
                    accepted = await asyncio.to_thread(
                        inbox_store.accept_event,
                        self.services.db,
                        PLATFORM,
                        inbound,
                        None,
                        datetime.now(UTC),
                    )
                except Exception as exc:  # noqa: BLE001 - the batch is replayed after backoff
                    self.counters.last_error = describe(exc)
                    raise OSError("the inbox refused a matrix message") from exc
                if not accepted.duplicate:
                    self.counters.taken += 1
                    self.services.hub.publish(WAKE_INBOX, {"event_id": accepted.event_id})

    def _event(
        self, room_id: str, event: RoomMessageText, members: int, name: str | None, room: Any
    ) -> DMEvent | GroupMessageEvent:
        fan = FanRef(id=event.sender, handle=event.sender, name=name or None)
        text = event.body.strip()[:MAX_TEXT]
        sent_at = datetime.fromtimestamp(event.server_timestamp / 1000, UTC)
        common = {
            "creator_id": self.creator_id,
            "message_id": event.event_id,
            "fan": fan,
            "text": text,
            "sent_at": sent_at,
        }
        if members <= 2:
            # The room is the thread: a reply goes back to the room it came from.
            return DMEvent(type="dm", thread_id=room_id, **common)
        content = event.source.get("content", {})
        mentioned = content.get("m.mentions", {}).get("user_ids") or []
        relates = content.get("m.relates_to", {}).get("m.in_reply_to", {})
        # The bot is the creator's double: mentioning it, or answering one of its messages
        # (a reply's fallback quotes the bot), is addressing the creator.
        to_bot = self.spec.user_id in mentioned or (
            bool(relates) and f"<{self.spec.user_id}>" in event.body
        )
        return GroupMessageEvent(
            type="group_message",
            group_id=room_id,
            group_name=(room.display_name if room is not None else None) or None,
            mentions=[m for m in mentioned if m != self.spec.user_id][:50],
            reply_to_creator=to_bot,
            **common,
        )

    def _load_since(self) -> str | None:
        try:
            return str(json.loads(self._since_path.read_text())["since"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # first start: history before the connector is not answered

    def _save_since(self, since: str) -> None:
        self._since_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._since_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"since": since}))
        tmp.replace(self._since_path)

    # -- writing: replies ------------------------------------------------------------------

    async def _collect_replies(self) -> None:
        async with self.services.hub.subscribe(replies_topic(self.creator_id)) as subscription:
            while True:
                body = await subscription.get()
                if body.get("type") == "reply" and body.get("platform") == PLATFORM:
                    await self._outbox.put(body)

    async def _resend_recent(self) -> None:
        """The last minutes' sent replies, again with their transaction ids: the homeserver
        drops those it has, and sends one the process died before sending."""
        since = datetime.now(UTC) - RESEND_WINDOW
        for body in await asyncio.to_thread(self._recent_replies, since):
            await self._outbox.put(body)

    def _recent_replies(self, since: datetime) -> list[dict[str, Any]]:
        query = (
            select(OutboxReply)
            .where(
                OutboxReply.creator_id == self.creator_id,
                OutboxReply.platform == PLATFORM,
                OutboxReply.status == ReplyStatus.SENT,
                OutboxReply.sent_at >= since.replace(tzinfo=None),
            )
            .order_by(OutboxReply.id)
        )
        with self.services.db.session() as session:
            return [
                {
                    "reply_id": r.id,
                    "thread": r.thread_key,
                    "in_reply_to": r.in_reply_to,
                    "text": r.text,
                    "label": r.label,
                    "channel": r.channel,
                    "ai_generated": r.action != BY_CREATOR,
                    "resend": True,
                }
                for r in session.scalars(query)
            ]

    def _halted(self, channel: str) -> str:
        snapshot = inbox_store.creator_snapshot(self.services.db, self.creator_id)
        if snapshot is None:
            return "the creator was deleted"
        _, settings = snapshot
        return halted(load_policy(settings, channel), settings) or ""

    async def _send_loop(self) -> None:
        # This process's recent sends, oldest first: a resend of one of them is skipped.
        sent: dict[int, None] = {}
        while True:
            body = await self._outbox.get()
            reply_id = int(body["reply_id"])
            if reply_id in sent:
                continue
            await self._online.wait()
            client = self._client
            if client is None:
                await self._outbox.put(body)
                continue
            # The kill switch, read at the last moment (the outbox checked it before); it
            # stops the AI, not the creator's own words.
            channel = str(body.get("channel") or "dm")
            if body.get("ai_generated", True) and await asyncio.to_thread(self._halted, channel):
                self.counters.skip("paused")
                continue
            text = str(body.get("text") or "")
            label = str(body.get("label") or "")
            if label and label not in text:
                text = f"{text}\n\n— {label}"
            content: dict[str, Any] = {"msgtype": "m.text", "body": text, "m.mentions": {}}
            answered = str(body.get("in_reply_to") or "")
            if channel == "group" and answered.startswith("$"):
                # In a group, say which message it answers (a Matrix reply).
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": answered}}
            try:
                result = await client.room_send(
                    str(body["thread"]), "m.room.message", content, tx_id=_txn_id(reply_id)
                )
            except (ClientError, OSError, TimeoutError) as exc:
                result = None
                self.counters.last_error = redact(describe(exc), self._token)
            if result is None or isinstance(result, RoomSendError):
                if isinstance(result, RoomSendError):
                    self.counters.last_error = f"send refused: {result.message}"[:200]
                    if result.status_code in ("M_FORBIDDEN", "M_NOT_FOUND"):
                        self.counters.skip("refused")  # left the room: no retry fixes it
                        continue
                await asyncio.sleep(self.backoff_base_s)
                await self._outbox.put(body)
                continue
            sent[reply_id] = None
            if len(sent) > SENT_MEMORY:
                del sent[next(iter(sent))]
            if not body.get("resend"):
                self.counters.sent += 1
