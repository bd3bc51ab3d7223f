"""Decision records of the safety layer: what to do, a machine-readable category, and why.

Every decision carries a `category` for code and dashboards and a `reason` for people (the
creator's moderation log). `to_meta()` is what the engine stores in `Message.meta`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger("persona.safety")


class InboundAction(StrEnum):
    ALLOW = "allow"  # generate a reply as usual
    BLOCK = "block"  # do not pass the message to the model; send nothing or `reply_template`
    ESCALATE = "escalate"  # alert the creator; send only `reply_template` when one is set
    SAFE_REPLY = "safe_reply"  # send the ready `reply_template` instead of generating
    DISCLOSE = "disclose"  # answer honestly that this is the creator's AI (`disclosure_reply`)


class InboundCategory(StrEnum):
    OK = "ok"
    ABUSE = "abuse"
    THREAT = "threat"
    SEXUAL = "sexual"
    MINOR_SEXUAL = "minor_sexual"
    SELF_HARM = "self_harm"
    SPAM = "spam"
    SCAM = "scam"
    LINK = "link"
    CONTACT_INFO = "contact_info"
    INJECTION = "injection"
    DICTATED_STATEMENT = "dictated_statement"
    FORBIDDEN_TOPIC = "forbidden_topic"
    IDENTITY_QUESTION = "identity_question"
    # Allowed through, with a `hint` for the prompt; the outbound checks enforce the rest.
    PERSONAL_DATA_REQUEST = "personal_data_request"
    COMMITMENT_REQUEST = "commitment_request"


class ReplyTemplate(StrEnum):
    """Keys of ready replies (see `persona.safety.replies.template_reply`)."""

    DISCLOSURE = "disclosure"
    SELF_HARM_SUPPORT = "self_harm_support"
    INJECTION_DEFLECT = "injection_deflect"
    FORBIDDEN_TOPIC = "forbidden_topic"


class OutboundAction(StrEnum):
    SEND = "send"
    BLOCK = "block"  # do not send; try another candidate when `regenerate` is true
    REPLACE_WITH_NO_ANSWER = "replace_with_no_answer"  # `text` is the creator's no-answer message
    HOLD_FOR_REVIEW = "hold_for_review"  # a person decides (the creator's review queue)


class OutboundCategory(StrEnum):
    OK = "ok"
    PERSONAL_DATA = "personal_data"
    COMMITMENT = "commitment"
    FORBIDDEN_TOPIC = "forbidden_topic"
    FORBIDDEN_STATEMENT = "forbidden_statement"
    PROMPT_LEAK = "prompt_leak"
    FALSE_HUMAN_CLAIM = "false_human_claim"
    UNSAFE_CONTENT = "unsafe_content"
    ASSISTANT_BOILERPLATE = "assistant_boilerplate"
    UNGROUNDED = "ungrounded"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class InboundDecision:
    action: InboundAction
    category: InboundCategory
    reason: str
    confidence: float
    needs_llm_judge: bool = False
    reply_template: ReplyTemplate | None = None
    # Tell the creator (self-harm, threats, minors).
    alert_creator: bool = False
    # Guidance the engine may add to the prompt when the message is allowed with a caveat.
    hint: str | None = None
    lang: str = "und"
    # Which layer decided: lexicon, classifier, llm_judge, default.
    layer: str = "default"
    evidence: tuple[str, ...] = ()

    @property
    def passes(self) -> bool:
        """True when the engine should generate a reply with the model."""
        return self.action is InboundAction.ALLOW

    def to_meta(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        data["category"] = self.category.value
        data["reply_template"] = self.reply_template.value if self.reply_template else None
        data["evidence"] = list(self.evidence)
        return data


@dataclass(frozen=True, slots=True)
class OutboundDecision:
    action: OutboundAction
    category: OutboundCategory
    reason: str
    # What to deliver: the (labelled) reply, the no-answer message, or "" when nothing is sent.
    text: str
    # A fresh candidate may pass (boilerplate, a leaked phrase); false when retrying is pointless.
    regenerate: bool = False
    evidence: tuple[str, ...] = ()
    # Disclosure label and safety verdict, for `Message.meta`.
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sendable(self) -> bool:
        return self.action in (OutboundAction.SEND, OutboundAction.REPLACE_WITH_NO_ANSWER)

    def to_meta(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "category": self.category.value,
            "reason": self.reason,
            "regenerate": self.regenerate,
            "evidence": list(self.evidence),
            **self.meta,
        }


@runtime_checkable
class LlmJudge(Protocol):
    """A model-backed second opinion, consulted only when the cheap layers are unsure."""

    def judge(self, text: str) -> InboundDecision: ...


def text_fingerprint(text: str) -> str:
    """Logs carry a fingerprint, not the fan's words."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def log_decision(kind: str, text: str, record: dict[str, Any]) -> None:
    # Every message passes here: the ordinary "ok" is debug, anything else is kept at warning.
    level = logging.DEBUG if record.get("category") == "ok" else logging.WARNING
    logger.log(
        level,
        "%s safety decision: %s/%s (%s)",
        kind,
        record.get("action"),
        record.get("category"),
        record.get("reason"),
        extra={"safety": {"kind": kind, "text_sha": text_fingerprint(text), **record}},
    )
