"""Wire schemas of the platform integration: webhook events in, replies out, and the creator
API for approvals, the outbox and channel policies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, TypeAdapter

CREATOR_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"
PLATFORM = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class FanRef(BaseModel):
    id: str = Field(
        min_length=1,
        max_length=200,
        description="The platform's immutable id of the fan: who they are (their memory).",
    )
    # Display only: a handle can change hands, and anyone may pick one equal to another id.
    handle: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)


class _Event(BaseModel):
    # Platforms add fields over time: unknown ones are ignored, known ones are checked.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    creator_id: str = Field(pattern=CREATOR_ID)
    message_id: str = Field(
        min_length=1, max_length=200, description="The platform's id: the idempotency key."
    )
    fan: FanRef
    text: str = Field(min_length=1, max_length=4000)
    sent_at: datetime | None = None
    callback_url: AnyHttpUrl | None = Field(
        default=None, description="Where the reply is POSTed; default: the platform's URL."
    )


class DMEvent(_Event):
    type: Literal["dm"]
    thread_id: str | None = Field(
        default=None, max_length=200, description="The DM thread; default: one per fan."
    )

    @property
    def thread_key(self) -> str:
        return self.thread_id or self.fan.id


class PostRef(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    caption: str = Field(default="", max_length=5000)
    transcript: str = Field(default="", max_length=20_000)
    url: str | None = Field(default=None, max_length=2000)


class CommentEvent(_Event):
    type: Literal["comment"]
    post: PostRef
    parent_comment_id: str | None = Field(default=None, max_length=200)

    @property
    def thread_key(self) -> str:
        return self.post.id


class GroupMessageEvent(_Event):
    type: Literal["group_message"]
    group_id: str = Field(min_length=1, max_length=200)
    group_name: str | None = Field(default=None, max_length=200)
    # Handles or names the platform says this message mentions.
    mentions: list[str] = Field(default_factory=list, max_length=50)
    # True when the message answers one of the creator's (AI) messages.
    reply_to_creator: bool = False

    @property
    def thread_key(self) -> str:
        return self.group_id


InboundEvent = Annotated[DMEvent | CommentEvent | GroupMessageEvent, Field(discriminator="type")]
inbound_event = TypeAdapter(InboundEvent)

# The channel each event type feeds.
EVENT_CHANNEL: dict[str, str] = {"dm": "dm", "comment": "comment", "group_message": "group"}


class WebhookAck(BaseModel):
    event_id: int
    status: str
    duplicate: bool


class ReplyOut(BaseModel):
    """A reply as the creator API, the callback and websocket subscribers see it."""

    reply_id: int
    event_id: int
    creator_id: str
    platform: str
    channel: str
    thread: str
    in_reply_to: str
    fan_id: str
    text: str
    label: str
    ai_generated: bool = True
    action: str
    category: str
    status: str
    review_reason: str
    original_text: str | None
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None


class ApproveIn(BaseModel):
    text: str | None = Field(
        default=None, min_length=1, max_length=4000, description="Edited text; default: as is."
    )


class RejectIn(BaseModel):
    reason: str = Field(default="", max_length=300)


class PresenceIn(BaseModel):
    online: bool
    ttl_s: int = Field(
        default=300, ge=10, le=86_400, description="Online for this long unless renewed."
    )


class PresenceOut(BaseModel):
    creator_id: str
    online: bool
    online_until: datetime | None


class EventOut(BaseModel):
    event_id: int
    platform: str
    message_id: str
    channel: str
    thread: str
    fan_id: str
    text: str
    status: str
    reason: str
    attempts: int
    received_at: datetime
    decided_at: datetime | None
