"""Twitch chat over IRC (the `irc` library's asyncio client): reads the channel into the
live intake, writes the stream's answers back within Twitch's message-rate limit, answers
PINGs, and reconnects with exponential backoff when the server goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from typing import Any

from irc.client import Event
from irc.client_aio import AioConnection, AioReactor
from irc.connection import AioFactory

from channels.connectors.base import Connector, Context, State, describe, redact
from channels.connectors.live_bridge import LiveBridge
from channels.connectors.twitch import events
from channels.connectors.twitch.ratelimit import SlidingWindow
from channels.connectors.twitch.spec import TwitchSpec

log = logging.getLogger(__name__)

CAPABILITIES = "twitch.tv/tags twitch.tv/commands twitch.tv/membership"
MAX_CHARS = 450  # Twitch takes 500 characters a message; IRC lines 512 bytes in all
OUTBOX = 50  # answers waiting for the rate limit or a connection (oldest dropped first)
MAX_AGE_S = 120.0  # an answer older than this is no longer worth sending to a live chat
COMPONENT = "twitch"  # the label in /metrics (persona_dependency_errors{component=...})


class _NoSecretsInLogs(logging.Filter):
    """The irc library logs every line it sends at DEBUG, PASS (the OAuth token) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "PASS " in text or "oauth:" in text:
            record.msg, record.args = redact(text.split("PASS ", 1)[0] + "PASS ***"), None
        return True


def _quiet_library_logs() -> None:
    for name in ("irc.client", "irc.client_aio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoSecretsInLogs) for f in logger.filters):
            logger.addFilter(_NoSecretsInLogs())


def outgoing(event: dict[str, Any]) -> str:
    """One chat line for a published answer: the viewer it answers mentioned, marked as the
    AI's (a chat line has no badge of its own), on one line, within Twitch's length."""
    text = " ".join(str(event.get("text", "")).split())
    names = [n for n in event.get("names") or [] if n]
    if event.get("kind") in ("question", "paid", "gift") and len(names) == 1:
        text = f"@{names[0].replace(' ', '')} {text}"
    if not text.startswith("["):
        text = f"[AI] {text}"
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


class TwitchConnector(Connector):
    kind = "twitch"
    spec_model = TwitchSpec

    def __init__(self, creator_id: str, spec: TwitchSpec, ctx: Context) -> None:
        super().__init__(creator_id, spec, ctx)
        self.spec: TwitchSpec = spec
        settings = ctx.settings
        secret = (getattr(settings, "twitch_tokens", None) or {}).get(spec.nick)
        self._token = secret.get_secret_value() if secret is not None else None
        self.window = SlidingWindow(
            getattr(settings, "twitch_messages_per_window", 20),
            getattr(settings, "twitch_window_s", 30.0),
        )
        self.backoff_base_s = getattr(settings, "connector_backoff_base_s", 1.0)
        self.backoff_max_s = getattr(settings, "connector_backoff_max_s", 60.0)
        self.keepalive_s = getattr(settings, "connector_keepalive_s", 60.0)
        self.connect_timeout_s = 20.0
        self.bridge = LiveBridge(ctx.live, creator_id, spec.stream_id)
        self._conn: AioConnection | None = None
        self._online = asyncio.Event()
        self._outbox: deque[tuple[float, str]] = deque()
        self._queued = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_rx = 0.0
        self._stopping = False
        _quiet_library_logs()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        for coro, name in (
            (self._run(), "irc"),
            (self._collect_answers(), "answers"),
            (self._send_loop(), "send"),
        ):
            self._tasks.append(loop.create_task(coro, name=f"twitch-{name}:{self.spec.channel}"))

    async def stop(self) -> None:
        # A flag, not only cancel(): Python 3.11's wait_for can swallow a cancellation that
        # comes as the connection drops, and the loop would reconnect.
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        conn = self._conn
        if conn is not None and conn.connected:
            with contextlib.suppress(Exception):
                conn.disconnect("bye")
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.bridge.close()
        self.counters.move(State.STOPPED)

    # -- the connection --------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            was_online = False
            try:
                was_online = await self._session()
            except (OSError, TimeoutError, ConnectionError) as exc:
                self.counters.last_error = redact(describe(exc), self._token or "")
            finally:
                self._online.clear()
                self._conn = None
            if self._stopping:
                return
            if was_online:
                attempt = 0
                self.counters.last_error = self.counters.last_error or "the connection closed"
            attempt += 1
            delay = self._connection_lost(
                attempt, COMPONENT, self.backoff_base_s, self.backoff_max_s
            )
            await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One connection, until it is lost; True if it got as far as the channel."""
        loop = asyncio.get_running_loop()
        reactor = AioReactor(loop=loop)
        lost, joined = asyncio.Event(), asyncio.Event()
        self.bind(reactor, lost, joined)
        conn = reactor.server()
        factory = AioFactory(ssl=ssl.create_default_context()) if self.spec.tls else AioFactory()
        self._conn = conn
        self._last_rx = time.monotonic()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await conn.connect(
                    self.spec.server,
                    self.spec.port,
                    self.spec.nick,
                    password=self._token,
                    connect_factory=factory,
                )
            if not await _first(joined, lost, self.connect_timeout_s):
                if not lost.is_set():
                    self.counters.last_error = "no JOIN of the channel within the timeout"
                return False
            await self._keepalive(conn, lost)
            return True
        finally:
            if conn.connected:
                with contextlib.suppress(Exception):
                    conn.disconnect("reconnecting")

    def bind(self, reactor: AioReactor, lost: asyncio.Event, joined: asyncio.Event) -> None:
        """Route the library's events (one reactor per connection) to this connector."""
        on = reactor.add_global_handler
        on("all_raw_messages", lambda c, e: self._heard())
        on("welcome", lambda c, e: self._welcome(c))
        on("join", lambda c, e: self._join(c, e, joined))
        on("pubmsg", lambda c, e: self._pubmsg(c, e))
        on("usernotice", lambda c, e: self._usernotice(e))
        on("reconnect", lambda c, e: c.disconnect("twitch asked to reconnect"))
        on("error", lambda c, e: self._server_error(e))
        on("passwdmismatch", lambda c, e: self._server_error(e, "the server refused the token"))
        on("disconnect", lambda c, e: self._lost(lost))

    async def _keepalive(self, conn: AioConnection, lost: asyncio.Event) -> None:
        """Until the connection is lost: our own PING when the line is quiet, and a
        disconnect when nothing came back (a half-open TCP connection never closes)."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.keepalive_s):
                    await lost.wait()
                return
            if time.monotonic() - self._last_rx > 2 * self.keepalive_s:
                self.counters.last_error = "the server stopped answering"
                conn.disconnect("ping timeout")
                return
            with contextlib.suppress(Exception):
                conn.send_raw("PING :persona")

    def _lost(self, lost: asyncio.Event) -> None:
        self._online.clear()
        lost.set()

    def _heard(self) -> None:
        self._last_rx = time.monotonic()

    def _welcome(self, conn: AioConnection) -> None:
        # After registration: a CAP REQ before it would hold registration on servers that
        # follow IRCv3 (until CAP END); Twitch takes it at any time.
        conn.send_raw(f"CAP REQ :{CAPABILITIES}")
        conn.join(self.spec.channel)

    def _join(self, conn: AioConnection, event: Event, joined: asyncio.Event) -> None:
        nick = event.source.nick if event.source else ""
        if event.target and event.target.lower() != self.spec.channel:
            return
        if nick.lower() == conn.get_nickname().lower():
            if self.counters.reconnects and self.ctx.metrics is not None:
                self.ctx.metrics.dependency_recoveries.labels(COMPONENT).inc()
            if self.counters.reconnects:
                log.info("twitch reconnected", extra={"connector": self.id})
            self.counters.last_error = ""
            self.counters.move(State.CONNECTED)
            joined.set()
            self._online.set()
            return
        self._take(events.from_join(nick))

    def _pubmsg(self, conn: AioConnection, event: Event) -> None:
        nick = event.source.nick if event.source else ""
        if (event.target or "").lower() != self.spec.channel or not event.arguments:
            return
        if nick.lower() == conn.get_nickname().lower():
            return
        self._take(events.from_privmsg(nick, event.arguments[0], events.tag_dict(event.tags)))

    def _usernotice(self, event: Event) -> None:
        if (event.target or "").lower() != self.spec.channel:
            return
        tags = events.tag_dict(event.tags)
        text = event.arguments[0] if event.arguments else ""
        self._take(events.from_usernotice(tags.get("login", ""), text, tags))

    def _server_error(self, event: Event, why: str | None = None) -> None:
        said = " ".join(str(a) for a in event.arguments or ())
        self.counters.last_error = redact(
            why or f"the server said: {said}"[:200], self._token or ""
        )

    def _take(self, message: dict[str, Any] | None) -> None:
        self.bridge.take_counted(message, self.counters, "twitch", self.id)

    # -- answers out -----------------------------------------------------------------------

    async def _collect_answers(self) -> None:
        await self.bridge.queue_answers(self._outbox, self._queued, self.counters, outgoing, OUTBOX)

    async def _send_loop(self) -> None:
        while True:
            if not self._outbox:
                self._queued.clear()
                await self._queued.wait()
                continue
            wait = self.window.wait_s()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if not self._online.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._online.wait()
                self._expire()
                continue
            at, line = self._outbox.popleft()
            if time.monotonic() - at > MAX_AGE_S:
                self.counters.skip("stale")
                continue
            if await self.bridge.paused():
                self.counters.skip("paused")
                continue
            conn = self._conn
            if conn is None or not conn.connected:
                self._outbox.appendleft((at, line))
                continue
            conn.privmsg(self.spec.channel, line)
            self.window.record()
            self.counters.sent += 1

    def _expire(self) -> None:
        while self._outbox and time.monotonic() - self._outbox[0][0] > MAX_AGE_S:
            self._outbox.popleft()
            self.counters.skip("stale")


async def _first(wanted: asyncio.Event, lost: asyncio.Event, timeout: float) -> bool:
    """Wait for `wanted`; False when `lost` comes first or on timeout."""
    waits = {asyncio.ensure_future(wanted.wait()), asyncio.ensure_future(lost.wait())}
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    return wanted.is_set()
