"""What a Matrix connector connects to (stored; the bot's access token is not: it comes from
PERSONA_MATRIX_TOKENS by the bot's user id)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from channels.connectors.base import ConnectorSpec

USER_ID = r"^@[a-z0-9._=/+-]{1,255}:[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$"
HOMESERVER = r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/?$"


class MatrixSpec(ConnectorSpec):
    kind: Literal["matrix"] = "matrix"
    # Not a live stream: a DM room feeds the DM channel, a group room the group channel.
    feeds: ClassVar[str] = "dm, group"
    stream_id: str = Field(default="", max_length=0)
    homeserver: str = Field(pattern=HOMESERVER, description="e.g. https://matrix.example.org")
    user_id: str = Field(pattern=USER_ID, description="the bot account, e.g. @double:example.org")

    @property
    def id(self) -> str:
        return f"matrix:{self.user_id}"

    def remote(self) -> str:
        return f"{self.user_id} on {self.homeserver.rstrip('/')}"
