"""A local stand-in for the YouTube Data API's live chat methods, written from Google's
reference (not recorded from YouTube): `GET /youtube/v3/liveChat/messages`
(liveChatMessages.list: `liveChatMessageListResponse` with `items`, `nextPageToken`,
`pollingIntervalMillis`) and `POST /youtube/v3/liveChat/messages?part=snippet`
(liveChatMessages.insert: the inserted `liveChatMessage`), errors as the API's
`{"error": {"code", "message", "errors": [{"domain", "reason"}]}}`.

Tests post fans' messages with `say`/`super_chat`, queue error responses, ask for the last
page to be served again, and read what the bot inserted and when each poll came (server-side
monotonic times). Runs with uvicorn in a thread on loopback."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.irc_server import free_port

PATH = "/youtube/v3/liveChat/messages"
BOT_CHANNEL = "UCbotbotbotbotbotbotbot0"


@dataclass
class Poll:
    at: float  # time.monotonic() when the request came
    status: int
    interval_s: float  # the pollingIntervalMillis answered (0 for an error)
    page_token: str


@dataclass
class FakeYouTube:
    token: str
    live_chat_id: str
    interval_ms: int = 300
    messages: list[dict[str, Any]] = field(default_factory=list)
    inserted: list[dict[str, Any]] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # next list responses
    quota_exhausted: bool = False  # every list answered 403 quotaExceeded until cleared
    replay: bool = False  # serve the previous page once more (ignoring the page token)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _last_start: int = 0

    # -- what tests do ---------------------------------------------------------------------

    def _add(self, channel: str, name: str, snippet: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            item = {
                "kind": "youtube#liveChatMessage",
                "etag": f"etag{len(self.messages)}",
                "id": f"LCC.msg{next(self._ids):06d}",
                "snippet": {
                    "liveChatId": self.live_chat_id,
                    "authorChannelId": channel,
                    "publishedAt": "2026-12-07T19:00:00.000000+00:00",
                    "hasDisplayContent": True,
                    **snippet,
                },
                "authorDetails": {
                    "channelId": channel,
                    "channelUrl": f"http://www.youtube.com/channel/{channel}",
                    "displayName": name,
                    "profileImageUrl": "https://yt3.ggpht.com/x.jpg",
                    "isVerified": False,
                    "isChatOwner": channel == BOT_CHANNEL,
                    "isChatSponsor": False,
                    "isChatModerator": False,
                },
            }
            self.messages.append(item)
            return item

    def say(self, channel: str, name: str, text: str) -> dict[str, Any]:
        return self._add(
            channel,
            name,
            {
                "type": "textMessageEvent",
                "displayMessage": text,
                "textMessageDetails": {"messageText": text},
            },
        )

    def super_chat(
        self, channel: str, name: str, text: str, micros: int, currency: str = "USD"
    ) -> dict[str, Any]:
        shown = f"${micros / 1e6:.2f}"
        return self._add(
            channel,
            name,
            {
                "type": "superChatEvent",
                "displayMessage": f'{shown} from {name}: "{text}"',
                "superChatDetails": {
                    "amountMicros": str(micros),
                    "currency": currency,
                    "amountDisplayString": shown,
                    "userComment": text,
                    "tier": 2,
                },
            },
        )

    def answers(self) -> list[str]:
        with self._lock:
            return [m["snippet"]["textMessageDetails"]["messageText"] for m in self.inserted]

    def ok_polls(self) -> list[Poll]:
        with self._lock:
            return [p for p in self.polls if p.status == 200]

    # -- the API ---------------------------------------------------------------------------

    def _error(self, status: int, reason: str, message: str) -> JSONResponse:
        domain = "youtube.quota" if reason == "quotaExceeded" else "youtube.liveChat"
        body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }
        return JSONResponse(body, status_code=status)

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    async def list(self, request: Request) -> JSONResponse:
        at = time.monotonic()
        q = request.query_params
        token = q.get("pageToken", "")
        if not self._authorized(request):
            return self._record(at, token, self._error(401, "authError", "Invalid Credentials"))
        if q.get("liveChatId") != self.live_chat_id:
            return self._record(at, token, self._error(404, "liveChatNotFound", "not found"))
        if set(q.get("part", "").split(",")) != {"snippet", "authorDetails"}:
            return self._record(at, token, self._error(400, "invalidValue", "part"))
        with self._lock:
            queued = self.errors.pop(0) if self.errors else None
        if self.quota_exhausted or queued is not None:
            status, reason = queued or (403, "quotaExceeded")
            return self._record(at, token, self._error(status, reason, f"{reason} (test)"))
        with self._lock:
            if self.replay:
                self.replay, start = False, self._last_start
            else:
                start = int(token) if token.isdigit() else 0
            self._last_start = start
            items = self.messages[start:]
            body = {
                "kind": "youtube#liveChatMessageListResponse",
                "etag": f"page{start}",
                "nextPageToken": str(len(self.messages)),
                "pollingIntervalMillis": self.interval_ms,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
            }
        return self._record(at, token, JSONResponse(body), self.interval_ms / 1000)

    def _record(
        self, at: float, token: str, response: JSONResponse, interval_s: float = 0.0
    ) -> JSONResponse:
        with self._lock:
            self.polls.append(Poll(at, response.status_code, interval_s, token))
        return response

    async def insert(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error(401, "authError", "Invalid Credentials")
        if request.query_params.get("part") != "snippet":
            return self._error(400, "invalidValue", "part")
        snippet = (await request.json()).get("snippet") or {}
        text = (snippet.get("textMessageDetails") or {}).get("messageText", "")
        if snippet.get("liveChatId") != self.live_chat_id:
            return self._error(404, "liveChatNotFound", "not found")
        if snippet.get("type") != "textMessageEvent" or not text or len(text) > 200:
            return self._error(400, "invalidValue", "messageText")
        item = self.say(BOT_CHANNEL, "Camille (AI)", text)  # shows in the chat, as YouTube's
        with self._lock:
            self.inserted.append(item)
        return JSONResponse({k: item[k] for k in ("kind", "etag", "id", "snippet")})


@contextmanager
def serve_youtube(api: FakeYouTube) -> Iterator[str]:
    """Serves `api` on loopback; yields its base URL (the connector's api_base)."""
    app = Starlette(
        routes=[
            Route(PATH, api.list, methods=["GET"]),
            Route(PATH, api.insert, methods=["POST"]),
        ]
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True, name="fake-youtube")
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "fake YouTube did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
