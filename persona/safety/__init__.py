"""Trust and safety for the reply engine: inbound moderation, outbound guardrails, disclosure.

The engine calls `moderate_inbound` on every fan message (step 1) and `check_outbound` on
every generated reply (step 5); both are pure Python, need no model, and log each decision
to the "persona.safety" logger with a machine-readable category and a readable reason.
"""

from persona.safety.boundaries import DEFAULT_NO_ANSWER, Boundaries
from persona.safety.classifier import warm_up as warm_up_classifier
from persona.safety.decisions import (
    InboundAction,
    InboundCategory,
    InboundDecision,
    LlmJudge,
    OutboundAction,
    OutboundCategory,
    OutboundDecision,
    ReplyTemplate,
)
from persona.safety.grounding import grounded, is_factual_question
from persona.safety.inbound import moderate_inbound
from persona.safety.language import guess_lang
from persona.safety.outbound import OutboundContext, check_outbound
from persona.safety.replies import (
    LabelSetting,
    ai_label,
    ai_metadata,
    apply_label,
    disclosure_reply,
    self_harm_reply,
    template_reply,
)

__all__ = [
    "DEFAULT_NO_ANSWER",
    "Boundaries",
    "InboundAction",
    "InboundCategory",
    "InboundDecision",
    "LabelSetting",
    "LlmJudge",
    "OutboundAction",
    "OutboundCategory",
    "OutboundContext",
    "OutboundDecision",
    "ReplyTemplate",
    "ai_label",
    "ai_metadata",
    "apply_label",
    "check_outbound",
    "disclosure_reply",
    "grounded",
    "guess_lang",
    "is_factual_question",
    "moderate_inbound",
    "self_harm_reply",
    "template_reply",
    "warm_up_classifier",
]
