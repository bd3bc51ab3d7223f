"""Wire schemas of the creator API (pydantic), separate from the logic that fills them."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, field_validator

from persona.engine import Channel, ReplyResult


class CreatorSummary(BaseModel):
    id: str
    display_name: str
    posts: int


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class SourceOut(BaseModel):
    kind: str
    text: str
    score: float
    post_id: int | None


class ReplyIn(BaseModel):
    message: str = Field(min_length=1, max_length=4000)
    channel: Channel = Channel.DM
    fan_handle: str | None = Field(default=None, max_length=200)
    fan_name: str | None = Field(default=None, max_length=200)
    candidates: int | None = Field(default=None, ge=1, le=8)
    record: bool = False

    @field_validator("message", "fan_handle", "fan_name")
    @classmethod
    def _storable_text(cls, value: str | None) -> str | None:
        # PostgreSQL rejects NUL in text and no store takes lone surrogates: say so up front.
        if value is None:
            return value
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
        return value


class ReplyOut(BaseModel):
    creator_id: str
    text: str
    action: str
    category: str
    reason: str
    label: str
    sources: list[SourceOut]
    candidates: list[dict[str, Any]]
    timings_ms: dict[str, float]
    conversation_id: int | None
    message_id: int | None

    @classmethod
    def of(cls, result: ReplyResult) -> ReplyOut:
        return cls(
            creator_id=result.creator_id,
            text=result.text,
            action=str(result.action),
            category=result.category,
            reason=result.reason,
            label=result.label,
            sources=[
                SourceOut(kind=s.kind, text=s.text, score=s.score, post_id=s.post_id)
                for s in result.sources
            ],
            candidates=[c.public() for c in result.candidates],
            timings_ms=result.timings_ms,
            conversation_id=result.conversation_id,
            message_id=result.message_id,
        )


class KillSwitchOut(BaseModel):
    creator_id: str
    paused: bool
