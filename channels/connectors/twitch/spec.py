"""What a Twitch connector connects to (stored; the OAuth token is not: it comes from
PERSONA_TWITCH_TOKENS by the bot's login)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from channels.connectors.base import ConnectorSpec

TWITCH_IRC = "irc.chat.twitch.tv"


class TwitchSpec(ConnectorSpec):
    kind: Literal["twitch"] = "twitch"
    channel: str = Field(description="#channel: the streamer's login, lower case")
    nick: str = Field(pattern=r"^[A-Za-z0-9_]{1,25}$", description="the bot account's login")
    server: str = Field(default=TWITCH_IRC, pattern=r"^[A-Za-z0-9.-]{1,253}$")
    port: int = Field(default=6697, ge=1, le=65535)
    tls: bool = True

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        name = value.strip().lstrip("#").lower()
        if not name or len(name) > 50 or not name.replace("_", "").isalnum():
            raise ValueError("a Twitch channel is the streamer's login: letters, digits, _")
        return f"#{name}"

    @property
    def id(self) -> str:
        return f"twitch:{self.channel}"

    def remote(self) -> str:
        scheme = "ircs" if self.tls else "irc"
        return f"{self.channel} on {scheme}://{self.server}:{self.port} as {self.nick}"
