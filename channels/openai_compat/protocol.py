"""Wire schemas of the OpenAI-compatible API (the subset a persona serves), after vLLM's
`entrypoints/openai/protocol.py`. Unknown request fields are ignored, as OpenAI servers do;
`persona` is our extension carrying the AI label on every response."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def now() -> int:
    return int(time.time())


# -- errors --------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorInfo


# -- models --------------------------------------------------------------------------------


class PersonaCard(BaseModel):
    display_name: str
    ai_generated: Literal[True] = True


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    persona: PersonaCard


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


# -- chat completions: request -------------------------------------------------------------


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class OtherPart(BaseModel):
    """Images, audio, files: accepted in the schema, refused by the serving layer."""

    model_config = ConfigDict(extra="allow")

    type: str


ContentPart = Annotated[TextPart | OtherPart, Field(union_mode="left_to_right")]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str | None:
        """The message's text, or None when it holds something other than text."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        texts = []
        for part in self.content:
            if not isinstance(part, TextPart):
                return None
            texts.append(part.text)
        return "\n".join(texts)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    """Sampling parameters (temperature, max_tokens...) are accepted and not used: the persona
    keeps the creator's own settings and the channel's length limit."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=200)
    n: int = Field(default=1, ge=1)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None


# -- chat completions: response ------------------------------------------------------------


class PersonaInfo(BaseModel):
    """Our extension: who answered, that it is AI, and what the guardrails decided.
    `text`, on the last chunk of a stream only: the reply to show, when a guardrail replaced
    the text already streamed (a stream cannot take back what it sent)."""

    creator_id: str
    display_name: str
    ai_generated: Literal[True] = True
    label: str
    action: str
    category: str
    notice: str | None = None
    conversation_id: int | None = None
    message_id: int | None = None
    text: str | None = None


class Usage(BaseModel):
    """Tokens the model server counted for the reply, every model call included (drafts,
    a retry round, the fact reader)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, counts: dict[str, int] | None) -> Usage:
        return cls(**(counts or {}))


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None


FinishReason = Literal["stop", "length", "content_filter"]


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: FinishReason
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=completion_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=now)
    model: str
    choices: list[Choice]
    system_fingerprint: str
    usage: Usage
    persona: PersonaInfo


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class StreamChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: FinishReason | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[StreamChoice]
    system_fingerprint: str
    # Only on the last chunk, as the label and the guardrails' decision are known then.
    persona: PersonaInfo | None = None
    # With `stream_options.include_usage`: null on every chunk but a last one, whose
    # `choices` is empty, as OpenAI does.
    usage: Usage | None = None

    def wire(self, include_usage: bool = False) -> dict[str, Any]:
        """OpenAI's shape: `finish_reason` always there (null mid-stream); unset delta fields
        and the persona extension left out until they have values; `usage` only when asked."""
        data = self.model_dump(mode="json", exclude_none=False)
        for choice in data["choices"]:
            choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
        if data["persona"] is None:
            del data["persona"]
        else:
            data["persona"] = {
                k: v for k, v in data["persona"].items() if k != "text" or v is not None
            }
        if not include_usage:
            del data["usage"]
        return data
