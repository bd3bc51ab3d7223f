"""The logic of the OpenAI-compatible API: who may talk to which persona, how an OpenAI chat
maps onto a reply request, and how the checked reply goes back (whole, or as SSE chunks).

Streaming streams, and guardrails still apply as on every channel:
- the engine streams one draft through its release gate (persona.engine.streaming): a
  piece of text leaves only once the cleaned text up to it, with the next 8 words in view,
  has passed the copy guard, the echo guard, the assistant-voice check and the outbound
  guardrails. If a check fails mid-stream, nothing more is released and the final check
  decides;
- ranking: the non-streamed path drafts several candidates and ranks them by voice; the
  streamed path shows its one draft as it is written and ranks only when that draft is
  rejected (a round of several hotter drafts, not streamed, whose winner is the final text);
- the final, checked text is authoritative: when it extends what was streamed, the rest is
  sent; when it does not (a guardrail replaced the draft after part of it was shown, rare by
  the gate's design), the stream ends with the final text as a last content chunk after a
  blank line, `finish_reason: content_filter`, and `persona.notice` / `persona.text` saying
  which reply stands. Held, blocked and paused replies have had nothing released (a held
  message closes the gate) and end as before: no text, a notice;
- `usage` is the model server's count for every model call of the reply (drafts, a retry
  round, the fact reader): in every non-streamed response, and in a last chunk with
  `stream_options: {"include_usage": true}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select

from channels.auth_tokens import TokenRejected, authenticate_creator
from channels.openai_compat.protocol import (
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessage,
    Choice,
    DeltaMessage,
    ErrorInfo,
    ErrorResponse,
    FinishReason,
    ModelCard,
    ModelList,
    PersonaCard,
    PersonaInfo,
    StreamChoice,
    Usage,
    completion_id,
    now,
)
from channels.space.creator_info import default_label
from persona.engine import Channel, ReplyAction, ReplyRequest, ReplyResult, fan_key
from persona.engine.engine import CreatorNotFound
from persona.engine.streaming import counting_usage
from persona.engine.types import API_FANS, Turn
from persona.settings import CreatorSettings
from persona.store import Creator

if TYPE_CHECKING:
    from channels.services import Services

log = logging.getLogger(__name__)

# Headers on every persona response: machines can tell the text is AI-generated.
AI_HEADERS = {"X-AI-Generated": "true"}


@dataclass(frozen=True, slots=True)
class ServingLimits:
    max_body_bytes: int = 256 * 1024
    max_message_chars: int = 4000
    max_context_turns: int = 12
    max_context_chars: int = 6000
    max_models_page: int = 200


class OpenAIError(Exception):
    """An error the client should see, in OpenAI's shape."""

    def __init__(
        self,
        status_code: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.info = ErrorInfo(message=message, type=type_, code=code, param=param)

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status_code == 401 else None
        return JSONResponse(
            ErrorResponse(error=self.info).model_dump(),
            status_code=self.status_code,
            headers=headers,
        )


def unauthorized(message: str) -> OpenAIError:
    return OpenAIError(401, message, code="invalid_api_key")


def model_not_found(model: str) -> OpenAIError:
    return OpenAIError(
        404,
        f"The model {model!r} does not exist: use a creator id from GET /v1/models",
        code="model_not_found",
        param="model",
    )


@dataclass(frozen=True, slots=True)
class Persona:
    """The creator a request talks to, after authentication."""

    creator_id: str
    display_name: str
    label: str

    @property
    def fingerprint(self) -> str:
        return f"persona:{self.creator_id}:ai-generated"


def parse_request(body: bytes) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise OpenAIError(400, f"invalid request: {where}: {first['msg']}", param=where) from None


class PersonaServing:
    def __init__(self, services: Services, limits: ServingLimits | None = None) -> None:
        self.services = services
        self.limits = limits or ServingLimits()

    # -- auth and models -------------------------------------------------------------------

    def authenticate(self, model: str, token: str) -> Persona:
        """The token must be the API token of the creator named in `model` (synchronous)."""
        try:
            creator = authenticate_creator(self.services.db, model, token)
        except TokenRejected as rejected:
            # An unknown model (or one with no posts yet) is said first, whatever the token.
            if rejected.creator is None or not rejected.creator.profile:
                raise model_not_found(model) from None
            raise unauthorized(
                f"this API key does not belong to {model!r}: use that creator's token "
                f"(`persona token {model}`)"
            ) from None
        if not creator.profile:
            raise model_not_found(model)
        label = CreatorSettings.from_stored(creator.settings, lenient=True).ai_label.strip()
        name = creator.display_name or creator.id
        label = label or default_label(name)
        return Persona(model, name, label)

    def list_models(self, after: str | None, limit: int) -> ModelList:
        """Creators whose persona can answer (they have posts), by id, after a cursor."""
        limit = max(1, min(limit, self.limits.max_models_page))
        query = select(Creator).where(Creator.profile.is_not(None)).order_by(Creator.id)
        if after:
            query = query.where(Creator.id > after)
        with self.services.db.session() as session:
            rows = session.scalars(query.limit(limit + 1)).all()
            cards = [self._card(c) for c in rows[:limit]]
        return ModelList(
            data=cards,
            first_id=cards[0].id if cards else None,
            last_id=cards[-1].id if cards else None,
            has_more=len(rows) > limit,
        )

    def get_model(self, model: str) -> ModelCard:
        with self.services.db.session() as session:
            creator = session.get(Creator, model)
            if creator is None or not creator.profile:
                raise model_not_found(model)
            return self._card(creator)

    @staticmethod
    def _card(creator: Creator) -> ModelCard:
        created = int(creator.created_at.timestamp()) if creator.created_at else 0
        name = creator.display_name or creator.id
        return ModelCard(
            id=creator.id,
            created=created,
            owned_by=creator.id,
            persona=PersonaCard(display_name=name),
        )

    # -- chat ------------------------------------------------------------------------------

    def reply_request(self, chat: ChatCompletionRequest, persona: Persona) -> ReplyRequest:
        """The last message is the fan's; earlier user/assistant turns become context.
        System and developer messages are not obeyed: the persona keeps its own rules."""
        if chat.n != 1:
            raise OpenAIError(400, "only n=1 is supported", code="unsupported_value", param="n")
        last = chat.messages[-1]
        if last.role != "user":
            raise OpenAIError(
                400,
                "the last message must be the fan's message (role 'user')",
                param="messages",
            )
        raw = last.text()
        if raw is None:
            raise OpenAIError(
                400, "only text content is supported", code="unsupported_content", param="messages"
            )
        message = raw.strip()
        if not message:
            raise OpenAIError(400, "the last user message is empty", param="messages")
        if len(message) > self.limits.max_message_chars:
            raise OpenAIError(
                400,
                f"the fan message has {len(message)} characters; the limit is "
                f"{self.limits.max_message_chars}",
                code="context_length_exceeded",
                param="messages",
            )
        return ReplyRequest(
            persona.creator_id,
            message,
            Channel.API,
            fan_handle=fan_key(API_FANS, chat.user) if chat.user else None,
            # The API's threads stay keyed by the caller's `user`, as they were stored.
            thread_id=chat.user or None,
            context=self._context(chat.messages[:-1], persona.display_name),
            # Without a fan handle there is no thread to remember: answer without recording.
            record=bool(chat.user),
        )

    def _context(self, messages: list[ChatMessage], name: str) -> list[Turn]:
        """The latest turns that fit the budget, oldest first."""
        turns: list[Turn] = []
        budget = self.limits.max_context_chars
        for message in reversed(messages):
            if message.role not in ("user", "assistant"):
                continue
            text = (message.text() or "").strip()
            if not text:
                continue
            if len(turns) >= self.limits.max_context_turns:
                break
            if len(text) > budget:
                if turns:  # an older turn that does not fit: stop, don't cut it
                    break
                text = text[-budget:]  # the latest turn alone is too long: keep its end
            budget -= len(text)
            turns.append(Turn("fan" if message.role == "user" else name, text))
        turns.reverse()
        return turns

    async def _engine(self) -> Any:
        # The engine starts the model on first use: keep that off the event loop.
        return await asyncio.to_thread(lambda: self.services.engine)

    async def _reply(self, request: ReplyRequest) -> ReplyResult:
        engine = await self._engine()
        try:
            with counting_usage() as usage:
                result: ReplyResult = await engine.reply(request)
        except CreatorNotFound:
            raise model_not_found(request.creator_id) from None
        if result.usage is None:
            result.usage = usage.totals()
        return result

    async def complete(self, request: ReplyRequest, persona: Persona) -> ChatCompletionResponse:
        result = await self._reply(request)
        text, finish, info = self._outcome(result, persona)
        return ChatCompletionResponse(
            model=persona.creator_id,
            choices=[Choice(message=AssistantMessage(content=text), finish_reason=finish)],
            system_fingerprint=persona.fingerprint,
            usage=Usage.of(result.usage),
            persona=info,
        )

    async def _streamed(self, request: ReplyRequest) -> AsyncIterator[str | ReplyResult]:
        engine = await self._engine()
        try:
            async for item in engine.stream(request):
                yield item
        except CreatorNotFound:
            raise model_not_found(request.creator_id) from None

    async def stream(
        self, request: ReplyRequest, persona: Persona, include_usage: bool = False
    ) -> AsyncIterator[str]:
        """SSE lines; once the response has started, errors can only be an error event."""
        chunk_id, created = completion_id(), now()

        def chunk(
            delta: DeltaMessage | None,
            finish: FinishReason | None = None,
            info: PersonaInfo | None = None,
            usage: Usage | None = None,
        ) -> str:
            body = ChatCompletionChunk(
                id=chunk_id,
                created=created,
                model=persona.creator_id,
                choices=[] if delta is None else [StreamChoice(delta=delta, finish_reason=finish)],
                system_fingerprint=persona.fingerprint,
                persona=info,
                usage=usage,
            )
            return _sse(body.wire(include_usage))

        yield chunk(DeltaMessage(role="assistant", content=""))
        streamed = ""
        result: ReplyResult | None = None
        try:
            async for item in self._streamed(request):
                if isinstance(item, ReplyResult):
                    result = item
                elif item:
                    streamed += item
                    yield chunk(DeltaMessage(content=item))
            if result is None:
                raise RuntimeError("the engine's stream ended without a result")
        except OpenAIError as exc:
            yield _sse({"error": exc.info.model_dump()})
            yield SSE_DONE
            return
        except Exception:  # noqa: BLE001 - logged; the client gets a plain error event
            log.exception("persona completion failed", extra={"creator": persona.creator_id})
            error = ErrorInfo(
                message="the persona could not answer; see the server log",
                type="server_error",
                code="internal_error",
            )
            yield _sse({"error": error.model_dump()})
            yield SSE_DONE
            return
        text, finish, info = self._outcome(result, persona)
        if text.startswith(streamed):
            for piece in _pieces(text[len(streamed) :]):
                yield chunk(DeltaMessage(content=piece))
        else:
            # Part of a draft was shown, then a guardrail replaced it: say which reply stands.
            log.info(
                "streamed text replaced by the final reply",
                extra={"creator": persona.creator_id, "action": str(result.action)},
            )
            finish = "content_filter"
            info.text = text
            info.notice = " ".join(
                n for n in (info.notice, "the text streamed so far was withdrawn") if n
            )
            if text:
                yield chunk(DeltaMessage(content="\n\n" + text))
        yield chunk(DeltaMessage(), finish, info)
        if include_usage:
            yield chunk(None, usage=Usage.of(result.usage))
        yield SSE_DONE

    @staticmethod
    def _outcome(result: ReplyResult, persona: Persona) -> tuple[str, FinishReason, PersonaInfo]:
        """What the client sees: held and blocked replies are withheld (content_filter); a
        paused persona answers nothing, with a notice."""
        notice = None
        text = result.text
        finish: FinishReason = "stop"
        if result.action == ReplyAction.PAUSED:
            text, notice = "", f"{persona.display_name} has paused their AI double"
        elif result.action == ReplyAction.HOLD:
            text, finish = "", "content_filter"
            notice = f"the reply waits for {persona.display_name}'s review"
        elif result.action == ReplyAction.BLOCK or not text:
            text, finish = "", "content_filter"
            notice = "this message can't be answered"
        info = PersonaInfo(
            creator_id=persona.creator_id,
            display_name=persona.display_name,
            label=result.label or persona.label,
            action=str(result.action),
            category=result.category,
            notice=notice,
            conversation_id=result.conversation_id,
            message_id=result.message_id,
        )
        return text, finish, info


def _pieces(text: str) -> list[str]:
    """Word-sized pieces (spaces kept), so clients that render progressively still do."""
    pieces: list[str] = []
    for i, word in enumerate(text.split(" ")):
        pieces.append(word if i == 0 else " " + word)
    return [p for p in pieces if p]


SSE_DONE = "data: [DONE]\n\n"


def _sse(payload: dict[str, object]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
