"""The engine's guard backed by persona.safety: layered inbound moderation, outbound
guardrails in code, honest disclosure, and the AI label."""

from __future__ import annotations

from persona.engine.guard import GuardContext, InboundOutcome, OutboundOutcome
from persona.engine.types import ReplyAction
from persona.safety import (
    Boundaries,
    InboundAction,
    InboundCategory,
    LabelSetting,
    LlmJudge,
    OutboundAction,
    OutboundContext,
    ai_metadata,
    check_outbound,
    guess_lang,
    is_factual_question,
    moderate_inbound,
    template_reply,
)


def _boundaries(ctx: GuardContext) -> Boundaries:
    return Boundaries.from_settings(ctx.settings, is_published=ctx.is_published)


def _label_setting(ctx: GuardContext) -> str:
    # Where the label shows in the text (metadata, tag or signature) is one creator setting.
    value = ctx.settings.label_setting
    return value if value in {s.value for s in LabelSetting} else LabelSetting.METADATA.value


class SafetyGuard:
    judge: LlmJudge | None = None  # a second opinion where the cheap layers are unsure

    def inbound(self, message: str, ctx: GuardContext) -> InboundOutcome:
        ctx.lang = ctx.lang or guess_lang(message, ignore=tuple(ctx.creator_name.split()))
        decision = moderate_inbound(message, _boundaries(ctx), lang=ctx.lang, judge=self.judge)
        category = str(decision.category)
        if decision.action is InboundAction.ALLOW:
            return InboundOutcome(
                ReplyAction.SEND,
                category,
                decision.reason,
                # Private details are facts too: only what the posts verify gets said
                # ("which city?" -> Lyon, published); the rest gets the no-answer message.
                factual=is_factual_question(message, ctx.lang)
                or decision.category is InboundCategory.PERSONAL_DATA_REQUEST,
                hint=decision.hint,
            )
        text = None
        if decision.reply_template is not None:
            text = template_reply(
                decision.reply_template,
                ctx.lang,
                ctx.creator_name,
                ctx.settings.style_hint,
                seed=message,
            )
        action = ReplyAction.SAFE_REPLY if text else ReplyAction.BLOCK
        return InboundOutcome(
            action,
            category,
            decision.reason,
            reply_text=text,
            escalate=decision.alert_creator or decision.action is InboundAction.ESCALATE,
        )

    def outbound(self, reply: str, ctx: GuardContext) -> OutboundOutcome:
        decision = check_outbound(
            reply,
            OutboundContext(
                boundaries=_boundaries(ctx),
                question=ctx.message,
                lang=ctx.lang or guess_lang(ctx.message, ignore=tuple(ctx.creator_name.split())),
                creator_display_name=ctx.creator_name,
                system_prompt=ctx.system_prompt,
                sources=ctx.sources,
                strict=ctx.settings.strict_grounding,
                retrieval_score=ctx.best_source_score,
                label_setting=_label_setting(ctx),
            ),
        )
        action = {
            OutboundAction.SEND: ReplyAction.SEND,
            OutboundAction.BLOCK: ReplyAction.BLOCK,
            OutboundAction.REPLACE_WITH_NO_ANSWER: ReplyAction.NO_ANSWER,
            OutboundAction.HOLD_FOR_REVIEW: ReplyAction.HOLD,
        }[decision.action]
        return OutboundOutcome(action, str(decision.category), decision.reason, decision.text)

    def label(self, ctx: GuardContext) -> str:
        custom = ctx.settings.ai_label
        if custom:
            return custom
        meta = ai_metadata(
            _label_setting(ctx), lang=ctx.lang, creator_display_name=ctx.creator_name
        )
        return str(meta["ai_label"])
