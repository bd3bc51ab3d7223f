"""YouTube live chat over the Data API v3: polls `liveChatMessages.list` (never sooner than
the `pollingIntervalMillis` of the last page, following `nextPageToken`), feeds the messages
into the live intake, and writes the stream's answers with `liveChatMessages.insert`.
Quota errors, server errors and lost connections back off exponentially; units are counted
and answers stop (reading goes on) when the daily budget would be exceeded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from typing import Any

import httpx

from channels.connectors.base import Connector, Context, Health, State, describe, redact
from channels.connectors.live_bridge import LiveBridge
from channels.connectors.youtube import events
from channels.connectors.youtube.quota import INSERT_COST, LIST_COST, ledger
from channels.connectors.youtube.spec import YouTubeSpec

log = logging.getLogger(__name__)

PATH = "/youtube/v3/liveChat/messages"
MAX_CHARS = 200  # YouTube refuses a live chat message over 200 characters
OUTBOX = 50  # answers waiting for the chat or the quota (oldest dropped first)
MAX_AGE_S = 120.0  # an answer older than this is no longer worth sending to a live chat
DEFAULT_POLL_S = 5.0  # a page without pollingIntervalMillis
MIN_POLL_S = 0.1  # a page saying 0 must not turn the loop into a busy one
SEEN = 5000  # message ids remembered (a page repeated by the API is not taken twice)
COMPONENT = "youtube"  # the label in /metrics
QUOTA_REASONS = frozenset(
    {"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"}
)
# The chat is gone or the token refused: retrying soon cannot help, so wait the longest.
FINAL_REASONS = frozenset(
    {"liveChatEnded", "liveChatNotFound", "liveChatDisabled", "forbidden", "authError"}
)


class ApiError(Exception):
    """An error response of the Data API (`{"error": {"code", "message", "errors": [...]}}`)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}"[:200])
        self.status, self.reason = status, reason

    @property
    def quota(self) -> bool:
        return self.reason in QUOTA_REASONS or self.status == 429

    @property
    def final(self) -> bool:
        return self.reason in FINAL_REASONS or self.status in (401, 404)

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        error = error if isinstance(error, dict) else {}
        errors = error.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else {}
        reason = str(first.get("reason") or "") if isinstance(first, dict) else ""
        message = str(error.get("message", ""))
        return cls(response.status_code, reason or response.reason_phrase, message)


def outgoing(event: dict[str, Any]) -> str:
    """One chat message for a published answer: the viewer it answers mentioned, marked as
    the AI's, on one line, within YouTube's 200 characters."""
    text = " ".join(str(event.get("text", "")).split())
    names = [n for n in event.get("names") or [] if n]
    if event.get("kind") in ("question", "paid", "gift") and len(names) == 1:
        text = f"@{names[0].replace(' ', '')} {text}"
    if not text.startswith("["):
        text = f"[AI] {text}"
    if len(text) > MAX_CHARS:
        cut = text[: MAX_CHARS - 1]
        text = (cut.rsplit(" ", 1)[0] if " " in cut[20:] else cut) + "…"
    return text


class YouTubeConnector(Connector):
    kind = "youtube"
    spec_model = YouTubeSpec

    def __init__(self, creator_id: str, spec: YouTubeSpec, ctx: Context) -> None:
        super().__init__(creator_id, spec, ctx)
        self.spec: YouTubeSpec = spec
        settings = ctx.settings
        self.account = spec.account or creator_id
        secret = (getattr(settings, "youtube_tokens", None) or {}).get(self.account)
        self._token = secret.get_secret_value() if secret is not None else ""
        self.budget: int = getattr(settings, "youtube_daily_quota_units", 10_000)
        self.quota = ledger(spec.api_base)
        self.backoff_base_s = getattr(settings, "connector_backoff_base_s", 1.0)
        self.backoff_max_s = getattr(settings, "connector_backoff_max_s", 60.0)
        self.bridge = LiveBridge(ctx.live, creator_id, spec.stream_id)
        self._client: httpx.AsyncClient | None = None
        # One request at a time: a page read while an answer is being inserted could hold
        # that answer before its id is known as ours, and the bot would answer itself.
        self._api = asyncio.Lock()
        self._online = asyncio.Event()
        self._outbox: deque[tuple[float, str]] = deque()
        self._queued = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._own_ids: set[str] = set()
        self._own_channels: set[str] = set()
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        if not self._token:
            # Settings are read at start: nothing to retry until the server restarts.
            self.counters.last_error = (
                f"no access token for {self.account} in PERSONA_YOUTUBE_TOKENS: add it and "
                "restart the server"
            )
            self.counters.move(State.STOPPED)
            return
        self._client = httpx.AsyncClient(
            base_url=self.spec.api_base,
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=httpx.Timeout(20.0),
        )
        loop = asyncio.get_running_loop()
        for coro, name in (
            (self._poll(), "poll"),
            (self._collect_answers(), "answers"),
            (self._send_loop(), "send"),
        ):
            self._tasks.append(
                loop.create_task(coro, name=f"youtube-{name}:{self.spec.live_chat_id}")
            )

    async def stop(self) -> None:
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.bridge.close()
        self.counters.move(State.STOPPED)

    def health(self) -> Health:
        found = super().health()
        return found.model_copy(
            update={"quota_used": self.quota.spent(), "quota_budget": self.budget}
        )

    # -- the API ---------------------------------------------------------------------------

    async def _call(
        self, method: str, params: dict[str, str], body: dict[str, Any] | None, cost: int
    ) -> dict[str, Any]:
        client = self._client
        if client is None:
            raise ConnectionError("the connector is stopped")
        async with self._api:
            # Counted before the answer: a request costs quota even when it fails.
            self.quota.spend(cost)
            response = await client.request(method, PATH, params=params, json=body)
        if response.status_code >= 400:
            raise ApiError.of(response)
        data = response.json()
        if not isinstance(data, dict):
            raise ApiError(response.status_code, "badResponse", "not a JSON object")
        return data

    async def _list(self, page_token: str | None) -> dict[str, Any]:
        params = {"liveChatId": self.spec.live_chat_id, "part": "snippet,authorDetails"}
        if page_token:
            params["pageToken"] = page_token
        return await self._call("GET", params, None, LIST_COST)

    async def _insert(self, text: str) -> dict[str, Any]:
        body = {
            "snippet": {
                "liveChatId": self.spec.live_chat_id,
                "type": "textMessageEvent",
                "textMessageDetails": {"messageText": text},
            }
        }
        return await self._call("POST", {"part": "snippet"}, body, INSERT_COST)

    # -- reading ---------------------------------------------------------------------------

    async def _poll(self) -> None:
        attempt = 0
        page_token: str | None = None
        while not self._stopping:
            try:
                page = await self._list(page_token)
            except (ApiError, httpx.HTTPError, ValueError, ConnectionError) as exc:
                attempt += 1
                await asyncio.sleep(self._failed(exc, attempt))
                continue
            if attempt or self.counters.state is not State.CONNECTED:
                self._recovered(attempt)
            attempt = 0
            page_token = str(page.get("nextPageToken") or "") or page_token
            for item in page.get("items") or []:
                if isinstance(item, dict):
                    self._take_item(item)
            # Never sooner than the API asked (it counts polling faster against the quota).
            await asyncio.sleep(_interval(page.get("pollingIntervalMillis")))

    def _failed(self, exc: BaseException, attempt: int) -> float:
        """Record a failed read; the seconds to wait before the next."""
        self._online.clear()
        quota = isinstance(exc, ApiError) and exc.quota
        final = isinstance(exc, ApiError) and exc.final
        self.counters.last_error = redact(describe(exc), self._token)
        return self._connection_lost(
            attempt,
            COMPONENT,
            self.backoff_base_s,
            self.backoff_max_s,
            kind="quota" if quota else "disconnect",
            message="youtube quota or rate limit hit; backing off"
            if quota
            else "youtube live chat unreachable; retrying",
            longest=final,
        )

    def _recovered(self, attempt: int) -> None:
        if self.counters.reconnects:
            if self.ctx.metrics is not None:
                self.ctx.metrics.dependency_recoveries.labels(COMPONENT).inc()
            log.info("youtube live chat reachable again", extra={"connector": self.id})
        self.counters.last_error = ""
        self.counters.move(State.CONNECTED)
        self._online.set()

    def _take_item(self, item: dict[str, Any]) -> None:
        message_id = str(item.get("id") or "")
        if not message_id or message_id in self._seen:
            return  # a page the API gave again
        self._seen[message_id] = None
        if len(self._seen) > SEEN:
            self._seen.popitem(last=False)
        author = str((item.get("authorDetails") or {}).get("channelId") or "")
        if message_id in self._own_ids or author in self._own_channels:
            return  # the bot's own answers
        self.bridge.take_counted(events.from_item(item), self.counters, "youtube", self.id)

    # -- answers out -----------------------------------------------------------------------

    async def _collect_answers(self) -> None:
        await self.bridge.queue_answers(self._outbox, self._queued, self.counters, outgoing, OUTBOX)

    async def _send_loop(self) -> None:
        while True:
            if not self._outbox:
                self._queued.clear()
                await self._queued.wait()
                continue
            if not self._online.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._online.wait()
                self._expire()
                continue
            at, text = self._outbox.popleft()
            if time.monotonic() - at > MAX_AGE_S:
                self.counters.skip("stale")
                continue
            if await self.bridge.paused():
                self.counters.skip("paused")
                continue
            if not self.quota.allows(INSERT_COST, self.budget):
                self.counters.skip("quota")
                self.counters.last_error = (
                    f"daily quota budget reached ({self.quota.spent()} of {self.budget} "
                    "units): reading goes on, answers stop until midnight Pacific time"
                )
                continue
            try:
                sent = await self._insert(text)
            except ApiError as exc:
                self.counters.skip("quota" if exc.quota else "refused")
                self.counters.last_error = redact(describe(exc), self._token)
                log.warning(
                    "youtube refused an answer",
                    extra={"connector": self.id, "error": self.counters.last_error},
                )
                if self.ctx.metrics is not None:
                    self.ctx.metrics.dependency_error(COMPONENT, "insert")
                continue
            except (httpx.HTTPError, ValueError) as exc:
                # Unknown whether it was written: not sent again (a double answer is worse).
                self.counters.skip("error")
                self.counters.last_error = redact(describe(exc), self._token)
                if self.ctx.metrics is not None:
                    self.ctx.metrics.dependency_error(COMPONENT, "insert")
                await asyncio.sleep(self.backoff_base_s)
                continue
            self._remember_own(sent)
            self.counters.sent += 1

    def _remember_own(self, sent: dict[str, Any]) -> None:
        if sent.get("id"):
            self._own_ids.add(str(sent["id"]))
        channel = (sent.get("snippet") or {}).get("authorChannelId") or (
            sent.get("authorDetails") or {}
        ).get("channelId")
        if channel:
            self._own_channels.add(str(channel))

    def _expire(self) -> None:
        while self._outbox and time.monotonic() - self._outbox[0][0] > MAX_AGE_S:
            self._outbox.popleft()
            self.counters.skip("stale")


def _interval(millis: Any) -> float:
    try:
        return max(MIN_POLL_S, int(millis) / 1000)
    except (TypeError, ValueError):
        return DEFAULT_POLL_S
