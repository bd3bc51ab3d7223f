"""Wire schemas of the live-stream websockets: one tagged model per inbound message kind, and
one per event published to viewers (pydantic; no untyped dict messages)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

MAX_TEXT_CHARS = 2000


class _Inbound(BaseModel):
    # Platforms send numeric ids too; extra fields of their feeds are ignored.
    model_config = ConfigDict(
        extra="ignore", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True
    )

    id: str = Field(min_length=1, max_length=128)
    user: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=80)


class ChatIn(_Inbound):
    kind: Literal["chat"]
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class PaidIn(_Inbound):
    """A paid message (super chat): answered first, by amount."""

    kind: Literal["paid"]
    text: str = Field(default="", max_length=MAX_TEXT_CHARS)
    amount: float = Field(gt=0, le=1_000_000)


class GiftIn(_Inbound):
    kind: Literal["gift"]
    text: str = Field(default="", max_length=MAX_TEXT_CHARS)
    amount: float = Field(gt=0, le=1_000_000)


class JoinIn(_Inbound):
    """A viewer joined the stream: newcomers are welcomed in batches."""

    kind: Literal["join"]


LiveMessage = Annotated[ChatIn | PaidIn | GiftIn | JoinIn, Field(discriminator="kind")]
MESSAGE = TypeAdapter(LiveMessage)
FRAME = TypeAdapter(LiveMessage | list[LiveMessage])


class Ack(BaseModel):
    """Sent for every inbound frame: the last id seen, and what happened to its messages."""

    ack: str | None
    received: int
    accepted: int
    dropped: dict[str, int] = Field(default_factory=dict)
    error: str | None = None


class AnswerEvent(BaseModel):
    """An answer the creator's AI double gave on the stream (public: display names only)."""

    type: Literal["answer"] = "answer"
    kind: Literal["question", "paid", "gift", "welcome"]
    text: str
    label: str
    action: str
    question: str = ""
    # Display names of who is answered or welcomed (a few), and how many in all.
    names: list[str] = Field(default_factory=list)
    count: int = 1
    amount: float | None = None
    at: float


class TopQuestion(BaseModel):
    question: str
    count: int
    status: Literal["pending", "answering", "answered"]


class TopQuestionsEvent(BaseModel):
    type: Literal["top_questions"] = "top_questions"
    items: list[TopQuestion]
    pending_messages: int
    at: float


class StreamEndedEvent(BaseModel):
    type: Literal["stream_ended"] = "stream_ended"
    reason: str
    at: float
