"""What a YouTube live chat connector connects to (stored; the OAuth access token is not:
it comes from PERSONA_YOUTUBE_TOKENS by account name, the creator id unless named)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from channels.connectors.base import STREAM_ID, ConnectorSpec

YOUTUBE_API = "https://www.googleapis.com"


class YouTubeSpec(ConnectorSpec):
    kind: Literal["youtube"] = "youtube"
    # A default, unlike Twitch's form: the console's YouTube form may leave it empty.
    stream_id: str = Field(default="youtube", pattern=STREAM_ID)
    # A broadcast's `snippet.liveChatId` (liveBroadcasts.list): base64url-like characters.
    live_chat_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,200}$")
    account: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$",
        description="key of the token in PERSONA_YOUTUBE_TOKENS (default: the creator id)",
    )
    api_base: str = Field(default=YOUTUBE_API, max_length=300)

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        base = value.strip().rstrip("/")
        if not base.startswith(("https://", "http://")) or any(c in base for c in " ?#"):
            raise ValueError("the API base is a URL such as https://www.googleapis.com")
        return base

    @property
    def id(self) -> str:
        return f"youtube:{self.live_chat_id}"

    def remote(self) -> str:
        who = f" as {self.account}" if self.account else ""
        return f"live chat {self.live_chat_id} on {self.api_base}{who}"
