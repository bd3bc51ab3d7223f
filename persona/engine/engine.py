"""The reply engine, as numbered steps (see DESIGN.md):

1. check the inbound message (kill switch, moderation, injection, boundaries);
2. retrieve the creator's closest posts, their own past replies to similar messages, and the
   fan's memory;
3. build the prompt, creator-constant part first;
   3b. a factual question: the model reads the retrieved posts for the answer, code verifies
   it there, and the prompt carries it (or the fan gets the no-answer message);
4. generate (streaming, or several candidates ranked by the style scorer);
5. check the outbound reply (copies, assistant voice, personal data, promises, length);
6. record the exchange and refresh the fan's summary off the hot path.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from sqlalchemy import select

from persona.engine.copyguard import CopyGuard, EchoGuard
from persona.engine.guard import Guard, GuardContext, InboundOutcome
from persona.engine.memory import ConversationStore, FanState
from persona.engine.postprocess import (
    clean_completion,
    drop_assistant_closers,
    fit_length,
    flatten_markdown,
    has_markdown,
    sounds_like_assistant,
    sounds_like_refusal,
)
from persona.engine.prompt import (
    Prompt,
    choose_examples,
    context_block,
    example_messages,
    recent_posts,
    similar_examples,
    system_prompt,
)
from persona.engine.streaming import ReleaseGate, UsageCounter
from persona.engine.types import (
    CHANNEL_MAX_CHARS,
    Candidate,
    ReplyAction,
    ReplyRequest,
    ReplyResult,
    SourceRef,
)
from persona.llm.lora import AdapterRouting
from persona.retrieval.index import Hit, PostIndex
from persona.safety.factcheck import (
    READER_NOTES,
    VerifiedFact,
    asks_advice,
    carries_fact,
    fact_reply,
    lexical_notes,
    reader_messages,
    verify_extraction,
)
from persona.safety.language import guess_lang
from persona.safety.news import announces, asks_news, no_news_instruction, no_news_opener
from persona.safety.replies import no_answer_text
from persona.settings import CreatorSettings
from persona.store import Creator, Database
from persona.store.posts import load_post_records
from persona.style import StyleScorer, VoiceProfile, describe_for_prompt
from persona.style.ranker import VoiceRanker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    candidates: int = 3
    # Qwen2.5's recommended sampling (its generation_config: 0.7 / top_p 0.8); was 0.8 / 1.0.
    temperature: float = 0.7
    top_p: float = 0.8
    max_tokens: int = 120
    # The model server continues a final assistant message (LLMBackend's
    # `continues_assistant_prefix`): replies may then be started for the model.
    prefill: bool = False
    retrieve_posts: int = 6
    retrieve_replies: int = 6
    # Retrieved posts less similar than this to the message are left out of the prompt.
    min_relevance: float = 0.3
    # Strict mode: a factual question whose best source scores below this gets "no answer".
    # Low (0.35, was 0.45) since the fact check verifies answers: at 0.45 it refused
    # answerable questions whose post scored 0.42 ("What's your dog's name?").
    grounding_threshold: float = 0.35
    # Notes in the prompt (of those retrieved): fewer notes, fewer copies and a shorter
    # prompt to read on a CPU; the fact check reads all retrieved posts.
    prompt_posts: int = 4
    prompt_replies: int = 3
    history_turns: int = 6
    summary_every: int = 6
    # Factual questions: the model first extracts the answer from the posts, code verifies
    # it, and an unverified fact gets the no-answer message (persona.safety.factcheck).
    fact_check: bool = True
    fact_temperature: float = 0.3


@dataclass(slots=True)
class CreatorContext:
    id: str
    name: str
    profile: VoiceProfile
    scorer: StyleScorer
    system: str
    examples: list[BaseMessage]
    copy_guard: CopyGuard
    published: str
    settings: CreatorSettings
    version: datetime | None
    # The creator's posts, for the word-overlap search of factual questions.
    posts: tuple[str, ...] = ()
    # The creator's latest posts, in the constant prompt prefix ("what are you up to?").
    recent: tuple[str, ...] = ()
    # A creator whose own posts use lists or bold may get them back; for the others a
    # numbered list or **bold** is the model's assistant habit, not their voice.
    writes_markdown: bool = False

    @property
    def paused(self) -> bool:
        return self.settings.paused

    def is_published(self, text: str) -> bool:
        return text.casefold() in self.published


@dataclass(slots=True)
class _Prepared:
    request: ReplyRequest
    ctx: CreatorContext
    state: FanState | None
    prompt: Prompt
    sources: list[SourceRef]
    guard_ctx: GuardContext
    inbound: InboundOutcome
    max_chars: int
    timings: dict[str, float] = field(default_factory=dict)
    # Parroting the fan (or a caption/transcript) is not an answer: 6 shared words reject.
    echo_guard: EchoGuard = field(default_factory=lambda: EchoGuard([]))
    # A fact verified in the creator's posts that the reply must carry (factual questions).
    fact: VerifiedFact | None = None
    label: str = ""
    # The second strategy's prompt (see `_rescue`).
    rescue_prompt: Prompt | None = None
    # News to come that the posts do not hold: the reply must announce nothing.
    no_news: bool = False
    # An instruction after the message, on both prompts (the no-news one).
    instruction: str = ""
    # The reply's first words, given to a server that continues them (every draft starts so).
    prefix: str = ""

    @property
    def messages(self) -> list[BaseMessage]:
        fact = self.fact.text if self.fact is not None else None
        return self.prompt.messages(fact, self.instruction, self.prefix)

    @property
    def rescue_messages(self) -> list[BaseMessage]:
        # Without the fact: a rescued draft that lacks it gets the fact's own words (step 5).
        return (self.rescue_prompt or self.prompt).messages(None, self.instruction, self.prefix)


class CreatorNotFound(LookupError):
    pass


def _boundaries_text(settings: CreatorSettings) -> str:
    lines = []
    topics = settings.forbidden_topics
    if topics:
        lines.append(f"- Never discuss: {', '.join(topics)}.")
    return "\n".join(lines)


class ReplyEngine:
    def __init__(
        self,
        db: Database,
        index: PostIndex,
        embeddings: Embeddings,
        chat_model: BaseChatModel,
        guard: Guard,
        config: EngineConfig | None = None,
        model_name: str = "",
        adapters: AdapterRouting | None = None,
    ) -> None:
        self.db = db
        self.index = index
        self.embeddings = embeddings
        self.chat_model = chat_model
        self.guard = guard
        self.config = config or EngineConfig()
        self.model_name = model_name
        # Creators' LoRA adapters (persona.llm.lora): per-request options; None: base only.
        self.adapters = adapters
        self.conversations = ConversationStore(db)
        self._creators: dict[str, CreatorContext] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._ranker: VoiceRanker | None = None
        self._ranker_key: tuple = ()
        self._ranker_lock = threading.Lock()

    # -- creator context -------------------------------------------------------------------

    def creator_context(self, creator_id: str) -> CreatorContext:
        """Settings are read on every call, so a kill switch acts at once; the heavy parts
        (examples, copy guard) are rebuilt only when the profile changed."""
        with self.db.session() as session:
            creator = session.get(Creator, creator_id)
            if creator is None:
                raise CreatorNotFound(
                    f"unknown creator {creator_id!r}: ingest their posts first "
                    "(persona ingest FILE --creator ID)"
                )
            settings = CreatorSettings.from_stored(creator.settings)
            version, name, profile_dict = (
                creator.profile_updated_at,
                creator.display_name,
                creator.profile,
            )
        if not profile_dict:
            raise CreatorNotFound(f"creator {creator_id!r} has no posts yet: ingest some first")
        cached = self._creators.get(creator_id)
        if cached is not None and cached.version == version:
            if cached.settings != settings or cached.name != name:
                cached.settings, cached.name = settings, name
                cached.system = self._system(name, cached.profile, settings, cached.recent)
            return cached
        profile = VoiceProfile.from_dict(profile_dict)
        records = load_post_records(self.db, creator_id)
        recent = recent_posts(records)
        ctx = CreatorContext(
            id=creator_id,
            name=name,
            profile=profile,
            scorer=StyleScorer(profile),
            system=self._system(name, profile, settings, recent),
            examples=example_messages(name, choose_examples(records)),
            copy_guard=CopyGuard(r.clean_text for r in records),
            published="\n".join(r.clean_text.casefold() for r in records),
            settings=settings,
            version=version,
            posts=tuple(r.clean_text for r in records),
            recent=recent,
            writes_markdown=_share(has_markdown(r.clean_text) for r in records) >= MARKDOWN_SHARE,
        )
        self._creators[creator_id] = ctx
        return ctx

    def warm_up(self, creator_ids: Iterable[str]) -> None:
        """Build what a creator's first reply would otherwise wait for (their context and
        prompt, the guard's classifiers, the embedding model, the voice ranker), without the
        model: the first fan after a start waited 40-50 s for these on a 2-core machine."""
        for creator_id in creator_ids:
            try:
                self._prepare(ReplyRequest(creator_id, "hi! how are you?", record=False))
            except CreatorNotFound:
                continue
        self.voice_ranker()

    def voice_ranker(self) -> VoiceRanker:
        """Contrasts every creator on the platform; rebuilt when any creator's posts change."""
        with self.db.session() as session:
            key = tuple(session.execute(select(Creator.id, Creator.profile_updated_at)).all())
        with self._ranker_lock:
            if self._ranker is None or key != self._ranker_key:
                texts = {
                    creator_id: [r.clean_text for r in load_post_records(self.db, creator_id)]
                    for creator_id, _ in key
                }
                self._ranker = VoiceRanker(texts)
                self._ranker_key = key
            return self._ranker

    def _system(
        self,
        name: str,
        profile: VoiceProfile,
        settings: CreatorSettings,
        recent: tuple[str, ...] = (),
    ) -> str:
        style = describe_for_prompt(profile, "reply")
        return system_prompt(name, style, _boundaries_text(settings), recent)

    # -- steps -------------------------------------------------------------------------------

    def _prepare(self, request: ReplyRequest) -> _Prepared | ReplyResult:
        """Steps 1-3 (synchronous: run in a worker thread)."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        ctx = self.creator_context(request.creator_id)
        max_chars = min(
            request.max_chars or 10_000, CHANNEL_MAX_CHARS[request.channel], _voice_chars(ctx)
        )
        guard_ctx = GuardContext(
            creator_id=ctx.id,
            creator_name=ctx.name,
            channel=request.channel,
            settings=ctx.settings,
            system_prompt=ctx.system,
            is_published=ctx.is_published,
            message=request.message,
        )
        label = self.guard.label(guard_ctx)

        # 1. inbound checks
        if ctx.paused:
            return ReplyResult(
                ctx.id, "", ReplyAction.PAUSED, "the creator paused the AI", "paused", label
            )
        inbound = self.guard.inbound(request.message, guard_ctx)
        timings["inbound"] = _ms(t0)
        if inbound.action not in (ReplyAction.SEND, ReplyAction.HOLD):
            text = inbound.reply_text or ""
            if inbound.action == ReplyAction.NO_ANSWER and not text:
                text = self._no_answer(ctx, guard_ctx.lang)
            return self._finish_fixed(request, ctx, inbound, text, label, timings)

        # 2. retrieve (not beside step 1 in a thread: both would wait on the GIL, measured
        # 3x slower)
        posts, replies = self._retrieve(ctx.id, request.message, timings)
        sources = [
            SourceRef(h.kind, h.text, round(h.score, 4), _int(h.metadata.get("post_id")))
            for h in posts + replies
        ]
        guard_ctx.sources = [h.text for h in posts] + [
            str(h.metadata.get("reply", "")) for h in replies
        ]
        guard_ctx.best_source_score = max((h.score for h in posts + replies), default=0.0)
        ungrounded = (
            inbound.factual and guard_ctx.best_source_score < self.config.grounding_threshold
        )
        # News to come with nothing in the posts: answered with "nothing to announce yet" in
        # the creator's words (checked by `announces`), not with a canned refusal.
        no_news = ungrounded and asks_news(request.message)
        if ungrounded and not no_news:
            inbound = InboundOutcome(
                ReplyAction.NO_ANSWER,
                "ungrounded",
                f"factual question, best source similarity {guard_ctx.best_source_score:.2f}",
            )
            return self._finish_fixed(
                request, ctx, inbound, self._no_answer(ctx, guard_ctx.lang), label, timings, sources
            )

        t3 = time.perf_counter()
        state = None
        if request.record:
            thread = request.thread_id or request.fan_handle or "anonymous"
            state = self.conversations.open(
                ctx.id,
                request.channel,
                thread,
                request.fan_handle,
                request.fan_name,
                self.config.history_turns,
            )
        timings["memory"] = _ms(t3)

        # 3. prompt: constant prefix first
        t4 = time.perf_counter()
        max_words = max(6, min(60, int(max_chars / 6)))
        block = context_block(
            ctx.name,
            request.channel,
            request.fan_name,
            state.summary if state else "",
            state.history if state else [],
            posts[: self.config.prompt_posts],
            replies[: self.config.prompt_replies],
            request.context,
            "\n".join(n for n in (request.context_note, inbound.hint) if n) or None,
            max_words,
            guard_ctx.lang,
        )
        prompt = Prompt(ctx.system, ctx.examples, block, request.message)
        # The second strategy, used only when every draft of the first is rejected: no notes
        # to copy from, the creator's own replies to similar fan messages as the examples.
        rescue = Prompt(
            ctx.system,
            example_messages(ctx.name, similar_examples(replies)) or ctx.examples,
            context_block(
                ctx.name,
                request.channel,
                request.fan_name,
                "",
                [],
                [],
                [],
                [],
                "\n".join(n for n in (request.context_note, inbound.hint) if n) or None,
                max_words,
                guard_ctx.lang,
            ),
            request.message,
        )
        timings["prompt"] = _ms(t4)
        # The request's hint is instructions too: a draft reciting it leaks them (seen in CI).
        instructions = [request.context_note or "", inbound.hint or ""]
        echoes = [request.message, *(turn.text for turn in request.context)]
        prepared = _Prepared(
            request,
            ctx,
            state,
            prompt,
            sources,
            guard_ctx,
            inbound,
            max_chars,
            timings,
            EchoGuard(echoes, instructions),
            label=label,
            rescue_prompt=rescue,
        )
        if no_news:
            _expect_no_news(prepared, self.config.prefill)
        return prepared

    def _retrieve(
        self, creator_id: str, message: str, timings: dict[str, float]
    ) -> tuple[list[Hit], list[Hit]]:
        """The creator's posts and past replies closest to the message, one search for all
        kinds."""
        t1 = time.perf_counter()
        vector = self.embeddings.embed_query(message)
        timings["embed"] = _ms(t1)
        t2 = time.perf_counter()
        found = self.index.search_kinds(
            creator_id,
            vector,
            {
                "post": self.config.retrieve_posts,
                "reply": self.config.retrieve_posts // 2,
                "fan_msg": self.config.retrieve_replies,
            },
        )
        posts = self._relevant(found["post"] + found["reply"], self.config.retrieve_posts)
        replies = self._relevant(found["fan_msg"], self.config.retrieve_replies)
        timings["search"] = _ms(t2)
        return posts, replies

    def _relevant(self, hits: list[Hit], k: int) -> list[Hit]:
        seen: set[str] = set()
        kept = []
        for hit in sorted(hits, key=lambda h: -h.score):
            if hit.score >= self.config.min_relevance and hit.text not in seen:
                seen.add(hit.text)
                kept.append(hit)
        return kept[:k]

    def _no_answer(self, ctx: CreatorContext, lang: str | None = None) -> str:
        # The creator's text for the fan's language, else ours (persona.safety.replies).
        return no_answer_text(ctx.settings, lang)

    def _finish_fixed(
        self,
        request: ReplyRequest,
        ctx: CreatorContext,
        inbound: InboundOutcome,
        text: str,
        label: str,
        timings: dict[str, float],
        sources: list[SourceRef] | None = None,
    ) -> ReplyResult:
        result = ReplyResult(
            ctx.id,
            text,
            inbound.action,
            inbound.reason,
            inbound.category,
            label,
            sources or [],
            timings_ms=timings,
            model="",
        )
        if request.record:
            thread = request.thread_id or request.fan_handle or "anonymous"
            state = self.conversations.open(
                ctx.id, request.channel, thread, request.fan_handle, request.fan_name, 0
            )
            result.conversation_id = state.conversation_id
            reply = text if inbound.action != ReplyAction.BLOCK and text else None
            result.message_id = self.conversations.record(
                state, request.message, reply, self._meta(result, escalate=inbound.escalate)
            )
        log.info(
            "reply decided without the model",
            extra={
                "creator": ctx.id,
                "action": str(inbound.action),
                "category": inbound.category,
                "reason": inbound.reason,
            },
        )
        return result

    def _check_candidate(self, prepared: _Prepared, raw: str) -> tuple[str, str]:
        """Step 5 for one candidate: returns (text, rejection reason or "")."""
        ctx = prepared.ctx
        cleaned = clean_completion(raw, ctx.name)
        if not ctx.writes_markdown:
            # The model's listicle habit ("Here are some tips: 1. **...**"): plain chat text.
            cleaned = flatten_markdown(cleaned)
        kept = drop_assistant_closers(cleaned)
        if cleaned and not kept:  # nothing but a help-desk closer
            return fit_length(cleaned, prepared.max_chars), "assistant voice"
        cleaned = kept
        text = fit_length(cleaned, prepared.max_chars)
        if not text:
            return text, "empty"
        if prepared.fact is not None:
            # A fact answer restates the creator's own words, briefly: it must carry the
            # fact and, like any reply, quote no post at length (8+ words).
            if not carries_fact(text, prepared.fact) or ctx.copy_guard.copies(text):
                text = fit_length(
                    fact_reply(prepared.fact, prepared.guard_ctx.lang), prepared.max_chars
                )
            if ctx.copy_guard.copies(text):
                return text, "copies a post (8+ words)"
        elif ctx.copy_guard.copies(text):
            return text, "copies a post (8+ words)"
        if prepared.echo_guard.copies(text):
            return text, "repeats the fan's message or the thread"
        if sounds_like_assistant(text):
            return text, "assistant voice"
        if _wrong_language(text, prepared.guard_ctx.lang):
            return text, "not in the fan's language"
        if prepared.no_news and (said := _announces(text, prepared)):
            return text, f"announces what the posts do not hold: {said}"
        if not prepared.inbound.hint and sounds_like_refusal(text):
            # No safety layer flagged the message (no hint), so the model's own refusal is
            # a failure to answer, not caution: try another draft.
            return text, "refuses an ordinary message"
        return text, ""

    def _select(self, prepared: _Prepared, raws: Sequence[str | Draft]) -> ReplyResult:
        ctx = prepared.ctx
        drafts = [raw if isinstance(raw, Draft) else Draft(raw, None) for raw in raws]
        scored: list[Candidate] = []
        for raw, fluency in drafts:
            text, rejected = self._check_candidate(prepared, raw)
            outbound = None
            if not rejected:
                outbound = self.guard.outbound(text, prepared.guard_ctx)
                if outbound.action == ReplyAction.BLOCK:
                    rejected = f"outbound: {outbound.category}"
            style = ctx.scorer.score(text, "reply") if text else 0.0
            scored.append(
                Candidate(
                    text,
                    round(style, 4),
                    round(fluency, 4) if fluency is not None else None,
                    rejected,
                    outbound=outbound,
                )
            )
        # Rank: how much each draft reads like this creator rather than the platform's other
        # creators (when there are others), blended with the profile's typicality score.
        voice = self.voice_ranker().probabilities(ctx.id, [c.text for c in scored])
        for i, candidate in enumerate(scored):
            candidate.voice = round(voice[i], 4) if voice else None
            blended = 0.7 * voice[i] + 0.3 * candidate.style if voice else candidate.style
            if candidate.fluency is not None and all(c.fluency is not None for c in scored):
                # How sure the model was of its own words (the geometric mean of the token
                # probabilities): among drafts that all pass, the garbled ones rank last.
                blended = (1 - FLUENCY_WEIGHT) * blended + FLUENCY_WEIGHT * candidate.fluency
            candidate.score = round(blended, 4)
        usable = [c for c in scored if not c.rejected]
        label = self.guard.label(prepared.guard_ctx)
        if not usable:
            reasons = "; ".join(sorted({c.rejected for c in scored}))
            return ReplyResult(
                ctx.id,
                self._no_answer(ctx, prepared.guard_ctx.lang),
                ReplyAction.NO_ANSWER,
                f"every candidate was rejected ({reasons})",
                "rejected",
                label,
                prepared.sources,
                scored,
            )
        best = max(usable, key=lambda c: c.score)
        outbound = best.outbound
        action = ReplyAction.SEND
        text = best.text
        if outbound is not None and outbound.action != ReplyAction.SEND:
            action = outbound.action
            text = outbound.text or (
                self._no_answer(ctx, prepared.guard_ctx.lang)
                if action == ReplyAction.NO_ANSWER
                else text
            )
        if prepared.inbound.action == ReplyAction.HOLD and action == ReplyAction.SEND:
            action = ReplyAction.HOLD
        category = outbound.category if outbound else "ok"
        reason = outbound.reason if outbound else ""
        if prepared.no_news and category == "ok":
            category, reason = "no_news", "news to come, nothing in the posts: nothing announced"
        return ReplyResult(
            ctx.id,
            text,
            action,
            reason,
            category,
            label,
            prepared.sources,
            scored,
        )

    def _record(self, prepared: _Prepared, result: ReplyResult) -> None:
        """Step 6 (synchronous)."""
        state = prepared.state
        if state is None:
            return
        result.conversation_id = state.conversation_id
        reply = result.text if result.action != ReplyAction.BLOCK else None
        result.message_id = self.conversations.record(
            state, prepared.request.message, reply, self._meta(result)
        )

    def _meta(self, result: ReplyResult, escalate: bool = False) -> dict[str, Any]:
        return {
            "ai_generated": True,
            "label": result.label,
            "action": str(result.action),
            "category": result.category,
            "reason": result.reason,
            "escalate": escalate,
            "sources": [s.post_id for s in result.sources if s.post_id is not None],
            "model": result.model,
            "timings_ms": result.timings_ms,
        }

    # -- public API ------------------------------------------------------------------------

    async def reply(self, request: ReplyRequest) -> ReplyResult:
        """The checked reply: several drafts, ranked (see `_steps`)."""
        result: ReplyResult | None = None
        async for item in self._steps(request, stream=False):
            if isinstance(item, ReplyResult):
                result = item
        assert result is not None  # _steps always ends with the result
        return result

    async def stream(self, request: ReplyRequest) -> AsyncIterator[str | ReplyResult]:
        """Yields text deltas as the model writes, then the checked `ReplyResult`.

        One draft is streamed through a release gate (persona.engine.streaming): a delta
        leaves only once the cleaned text up to it has passed the cheap checks with the
        next 8 words in view, so a copy of a post, an echo, assistant voice or what the
        outbound guardrails refuse is not shown. Nothing is released for a held message or
        a fact answer (which may be replaced by the fact's own words). The final text is
        authoritative: when it extends what was released, the rest is yielded before the
        result; when the draft is rejected, a ranked round of drafts (as in `reply`) answers
        and the result carries that text (clients show the final one)."""
        async for item in self._steps(request, stream=True):
            yield item

    async def _steps(self, request: ReplyRequest, stream: bool) -> AsyncIterator[str | ReplyResult]:
        """The numbered steps of the module docstring, one pipeline for `reply` and `stream`:
        they differ only in step 4 (ranked drafts, or one draft released as it is written).
        Yields released text (streaming only), then the result."""
        started = time.perf_counter()
        usage = UsageCounter()
        # 1-3. inbound checks, retrieval, prompt (or a result decided without the model)
        prepared = await asyncio.to_thread(self._prepare, request)
        if isinstance(prepared, ReplyResult):
            yield self._finished(prepared, prepared.timings_ms, started, usage)
            return
        # 3b. a factual question: the posts' answer, verified in code, or the no-answer
        unverified = await usage.start(self._verify_fact(prepared))
        if unverified is not None:
            yield self._finished(unverified, unverified.timings_ms, started, usage)
            return
        # 4. generate
        n = max(1, request.candidates or self.config.candidates)
        t_gen = time.perf_counter()
        gate = self._release_gate(prepared) if stream else None
        if gate is not None:
            async for released in self._stream_draft(prepared, gate, usage, started):
                yield released
            drafts: list[Draft] = [Draft(gate.raw, None)]
        else:
            drafts = await usage.start(
                self._generate(
                    prepared.messages, n, fact=prepared.fact is not None, creator=prepared.ctx.id
                )
            )
        prepared.timings["generate"] = _ms(t_gen)
        # 5. check the drafts and pick one; a bounded second strategy if all were rejected
        t_post = time.perf_counter()
        result = await asyncio.to_thread(self._select, prepared, drafts)
        result = await usage.start(self._rescue(prepared, result, n))
        prepared.timings["check"] = _ms(t_post)
        result.model = self._model_for(prepared.ctx.id)
        result.timings_ms = prepared.timings
        # 6. record the exchange; the fan's summary is refreshed off the hot path
        await asyncio.to_thread(self._record, prepared, result)
        rest = None
        if gate is not None and result.action == ReplyAction.SEND:
            rest = gate.remainder(result.text)
        if rest:  # the first token may be this one (a held or rescued reply): before "total"
            prepared.timings.setdefault("first_token", _ms(started))
        self._finished(result, prepared.timings, started, usage)
        self._after_reply(prepared)
        if rest:
            yield rest
        yield result

    @staticmethod
    def _finished(
        result: ReplyResult, timings: dict[str, float], started: float, usage: UsageCounter
    ) -> ReplyResult:
        result.timings_ms = timings
        result.timings_ms["total"] = _ms(started)
        result.usage = usage.totals()
        return result

    def _release_gate(self, prepared: _Prepared) -> ReleaseGate:
        def check(text: str) -> str:
            # The candidate's own checks, then the outbound guardrails, on partial text. A
            # list or bold stops the stream: the final text is the flattened draft.
            if has_markdown(text) and not prepared.ctx.writes_markdown:
                return "assistant formatting (lists, bold)"
            if sounds_like_assistant(text):
                # The final check drops a help-desk closer and keeps the rest; a stream
                # must not have shown it, so it stops before.
                return "assistant voice"
            _, rejected = self._check_candidate(prepared, text)
            if rejected:
                return rejected
            outbound = self.guard.outbound(text, prepared.guard_ctx)
            return "" if outbound.action == ReplyAction.SEND else f"outbound: {outbound.category}"

        closed = prepared.fact is not None or prepared.inbound.action == ReplyAction.HOLD
        return ReleaseGate(prepared.ctx.name, prepared.max_chars, check, closed=closed)

    async def _stream_draft(
        self, prepared: _Prepared, gate: ReleaseGate, usage: UsageCounter, started: float
    ) -> AsyncIterator[str]:
        """Step 4, streaming: one draft fed to the release gate; yields what it releases."""
        bound = self._bound(seed=0, fact=prepared.fact is not None, creator=prepared.ctx.id)
        deltas: asyncio.Queue[str | None] = asyncio.Queue()

        async def draft() -> None:
            try:
                if prepared.prefix:  # the server continues it: released like any delta
                    deltas.put_nowait(prepared.prefix)
                async for chunk in bound.astream(prepared.messages):
                    if isinstance(chunk.content, str) and chunk.content:
                        deltas.put_nowait(chunk.content)
            finally:
                deltas.put_nowait(None)

        producer = usage.start(draft())
        try:
            while (delta := await deltas.get()) is not None:
                prepared.timings.setdefault("first_draft_token", _ms(started))
                released = gate.feed(delta)
                if released:
                    prepared.timings.setdefault("first_token", _ms(started))
                    yield released
        finally:
            if not producer.done():
                producer.cancel()
                await asyncio.gather(producer, return_exceptions=True)
        await producer  # a model error ends the stream here
        if gate.stopped and gate.stopped != "closed":
            log.info(
                "stream gate stopped", extra={"creator": prepared.ctx.id, "reason": gate.stopped}
            )

    async def _rescue(self, prepared: _Prepared, result: ReplyResult, n: int) -> ReplyResult:
        """Every draft was rejected: before any fallback, one bounded round with another
        strategy (the rescue prompt: no notes to copy, the creator's own replies to similar
        messages as examples; hotter sampling, other seeds). The first round's rejections
        stay in the result, so the report shows why it was needed."""
        if not (result.action == ReplyAction.NO_ANSWER and result.category == "rejected"):
            return result
        first = result.candidates
        raws = await self._generate(
            prepared.rescue_messages or prepared.messages,
            max(2, n),
            hotter=True,
            creator=prepared.ctx.id,
        )
        rescued = await asyncio.to_thread(self._select, prepared, raws)
        for number, round_ in ((1, first), (2, rescued.candidates)):
            for candidate in round_:
                candidate.round = number
        rescued.candidates = [*first, *rescued.candidates]
        if rescued.action != ReplyAction.NO_ANSWER:
            rescued.reason = (rescued.reason + "; " if rescued.reason else "") + "rescue prompt"
        return rescued

    async def _generate(
        self,
        messages: list[BaseMessage],
        n: int,
        hotter: bool = False,
        fact: bool = False,
        creator: str | None = None,
    ) -> list[Draft]:
        """`n` drafts. When the messages end with the assistant's turn started (see
        `_expect_no_news`), each draft is that start and the server's continuation."""
        last = messages[-1] if messages else None
        prefix = (
            last.content if isinstance(last, AIMessage) and isinstance(last.content, str) else ""
        )
        offset = 100 if hotter else 0
        calls = [
            self._bound(seed=offset + i, hotter=hotter, fact=fact, creator=creator).ainvoke(
                messages
            )
            for i in range(n)
        ]
        outputs = await asyncio.gather(*calls)
        return [
            Draft(prefix + (o.content if isinstance(o.content, str) else ""), _fluency(o))
            for o in outputs
        ]

    def _bound(
        self, seed: int, hotter: bool = False, fact: bool = False, creator: str | None = None
    ) -> Any:
        base = min(self.config.temperature, self.config.fact_temperature) if fact else None
        temperature = (base if base is not None else self.config.temperature) + (
            0.25 if hotter else 0.0
        )
        # Only standard OpenAI parameters: vLLM ignores llama.cpp-specific names.
        options = self.adapters.adapter_options(creator) if self.adapters is not None else {}
        # logprobs: the drafts' fluency for the ranking (a server without them ranks on
        # voice alone); top_p as Qwen2.5's own generation config recommends.
        return self.chat_model.bind(
            temperature=temperature,
            top_p=self.config.top_p,
            seed=seed,
            max_completion_tokens=self.config.max_tokens,
            logprobs=True,
            **options,
        )

    def _model_for(self, creator: str) -> str:
        return self.adapters.model_for(creator) if self.adapters is not None else self.model_name

    # -- factual questions: extract, verify, then answer -------------------------------------

    async def _verify_fact(self, prepared: _Prepared) -> ReplyResult | None:
        """For a factual question, ask the model for the posts' words that answer it and
        verify them in code. Sets `prepared.fact` and returns None to go on; returns the
        no-answer result when the posts do not support an answer."""
        request = prepared.request
        if (
            not self.config.fact_check
            or not prepared.inbound.factual
            or prepared.no_news
            or asks_advice(request.message)
        ):
            return None
        notes = [s.text for s in prepared.sources if s.kind != "fan_msg"][: READER_NOTES - 1]
        notes += [
            post
            for post in lexical_notes(request.message, prepared.ctx.posts, k=2)
            if post not in notes
        ][: READER_NOTES - len(notes)]
        t0 = time.perf_counter()
        fact = None
        if notes:
            out = await self.chat_model.bind(
                temperature=0.0, seed=0, max_completion_tokens=32
            ).ainvoke(reader_messages(request.message, notes))
            extracted = out.content if isinstance(out.content, str) else ""
            fact = verify_extraction(extracted, notes, request.message)
        prepared.timings["fact_check"] = _ms(t0)
        if fact is None and asks_news(request.message):
            _expect_no_news(prepared, self.config.prefill)
            return None
        if fact is None:
            inbound = InboundOutcome(
                ReplyAction.NO_ANSWER,
                "ungrounded",
                "factual question, no answer verified in the creator's posts",
            )
            return await asyncio.to_thread(
                self._finish_fixed,
                request,
                prepared.ctx,
                inbound,
                self._no_answer(prepared.ctx, prepared.guard_ctx.lang),
                prepared.label,
                prepared.timings,
                prepared.sources,
            )
        prepared.fact = fact  # the drafts' prompt now carries it (`_Prepared.messages`)
        return None

    # -- fan memory, off the hot path ------------------------------------------------------

    def _after_reply(self, prepared: _Prepared) -> None:
        state = prepared.state
        if state is None or state.fan_id is None:
            return
        if state.fan_messages_since_summary + 1 < self.config.summary_every:
            return
        task = asyncio.get_running_loop().create_task(self._summarise(state.fan_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _summarise(self, fan_id: int) -> None:
        try:
            summary, texts, last_id = await asyncio.to_thread(
                self.conversations.fan_messages, fan_id
            )
            if not texts:
                return
            prompt = [
                SystemMessage(
                    "You keep short notes about a fan for a content creator. Write at most 50 "
                    "words: the fan's name if given, what they like, what they asked or told. "
                    "Facts only, no advice."
                ),
                HumanMessage(
                    f"Previous notes: {summary or '(none)'}\n\nThe fan's latest messages:\n"
                    + "\n".join(f"- {t}" for t in texts)
                    + "\n\nUpdated notes:"
                ),
            ]
            out = await self.chat_model.bind(temperature=0.2, max_completion_tokens=90).ainvoke(
                prompt
            )
            notes = out.content.strip() if isinstance(out.content, str) else ""
            if notes:
                await asyncio.to_thread(
                    self.conversations.save_summary, fan_id, notes[:600], last_id
                )
        except Exception:  # noqa: BLE001 - a failed summary must never break replies
            log.exception("fan summary failed", extra={"fan_id": fan_id})

    async def drain(self) -> None:
        """Wait for background work (fan summaries): used at shutdown and in tests."""
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Draft(NamedTuple):
    raw: str
    fluency: float | None  # geometric mean of the token probabilities, when the server says


FLUENCY_WEIGHT = 0.4
# A creator writes lists or bold when this share of their posts does (fchollet's 3 numbered
# tweets among hundreds let the model's listicles through unflattened on the dev split).
MARKDOWN_SHARE = 0.05


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def _fluency(output: Any) -> float | None:
    logprobs = (getattr(output, "response_metadata", None) or {}).get("logprobs") or {}
    values = [
        t["logprob"]
        for t in logprobs.get("content") or []
        if isinstance(t, dict) and isinstance(t.get("logprob"), int | float)
    ]
    return math.exp(sum(values) / len(values)) if values else None


def _expect_no_news(prepared: _Prepared, prefill: bool) -> None:
    """News to come that the posts do not hold: both prompts ask for "nothing to announce
    yet" in the creator's words, and every draft is checked to announce nothing. With a
    server that continues a started reply (`prefill`), the reply starts with that state."""
    prepared.no_news = True
    # After the message, where a small model reads it last (placed before the notes, the
    # 1.5B answered "Oui !" / "Bien sûr" anyway in 9 of 20 drafts on the dev split).
    lang = prepared.guard_ctx.lang
    prepared.instruction = no_news_instruction(lang)
    prepared.prefix = no_news_opener(lang) if prefill else ""


def _announces(text: str, prepared: _Prepared) -> str:
    """`announces` on the whole reply and, when it was started for the model, on what the
    model wrote after the opener ("Nothing to announce yet, but yes, it's coming!")."""
    known = [prepared.request.message]
    said = announces(text, known)
    if not said and prepared.prefix and text.startswith(prepared.prefix):
        rest = text[len(prepared.prefix) :].lstrip(" ,.;:!-\u2014")
        said = announces(re.sub(r"^(?:but|and|mais|et)\b\W*", "", rest, flags=re.I), known)
    return said


def _wrong_language(text: str, lang: str | None) -> bool:
    """A draft of four words or more whose telling words are in the other language."""
    if lang not in ("en", "fr") or len(text.split()) < 4:
        return False
    return guess_lang(text) not in (lang, "und")


def _voice_chars(ctx: CreatorContext) -> int:
    """The longest reply that still reads like this creator: 1.5x the length under which nine
    in ten of their replies fall (a small model otherwise writes 500-character essays to a
    creator who answers in one line). At least 120 characters: a tip needs room."""
    p90 = ctx.profile.for_kind("reply").chars.p90
    return max(120, int(1.5 * p90)) if p90 > 0 else 10_000
