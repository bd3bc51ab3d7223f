"""Which comments under a post deserve a reply: questions and warm messages first; spam,
duplicates and abuse never; the rest only while the hourly cap has room to spare.

What is spam, a scam or abuse is the inbound moderation's call (persona.safety.inbound), the
same verdict the reply engine acts on: a comment the engine would block never takes a place in
the ranking, and one the moderation is unsure about is left alone (a comment reply is
optional). A slot of the cap is taken only by a reply that was actually sent (`CapSlots`)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CommentKind(StrEnum):
    QUESTION = "question"
    WARM = "warm"
    OTHER = "other"
    LOW_VALUE = "low_value"  # emoji only, one word, "first!"
    SPAM = "spam"
    ABUSE = "abuse"
    DUPLICATE = "duplicate"
    REFUSED = "refused"  # the moderation refuses it otherwise (steering the AI, unsure...)
    SUPPORT = "support"  # distress: the caring reply goes out whatever the cap
    TO_ANOTHER_FAN = "to_another_fan"  # it tags or answers another fan


PRIORITY: dict[CommentKind, int] = {
    CommentKind.SUPPORT: 4,
    CommentKind.QUESTION: 3,
    CommentKind.WARM: 2,
    CommentKind.OTHER: 1,
}
NEVER_ANSWERED = {
    CommentKind.LOW_VALUE,
    CommentKind.SPAM,
    CommentKind.ABUSE,
    CommentKind.DUPLICATE,
    CommentKind.REFUSED,
    CommentKind.TO_ANOTHER_FAN,
}


def normalise(text: str) -> str:
    """Case-, accent- and spacing-insensitive form, for duplicate detection."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", letters).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()[:32]


_QUESTION_START = re.compile(
    r"^(what|whats|how|why|when|where|who|which|can|could|do|does|did|is|are|will|would|"
    r"should|any|have|has|quoi|que|quel|quelle|quels|quelles|comment|pourquoi|quand|ou|qui|"
    r"combien|est ce|peux tu|pouvez vous|as tu|avez vous)\b"
)
_WARM = re.compile(
    r"\b(love|loved|loving|amazing|awesome|beautiful|gorgeous|delicious|yum+y?|wonderful|"
    r"incredible|best|great|perfect|inspiring|thank|thanks|thx|congrats|congratulations|"
    r"bravo|merci|adore|j adore|magnifique|superbe|trop bon|trop bien|genial|felicitations|"
    r"miam+|sublime|canon|top)\b"
)
_WARM_EMOJI = set("❤♥😍🥰😘💕💖💗💓💞🔥👏🙌✨🤩😋🤤💯")
# Moderation categories, by what they make of a comment.
_SPAM_CATEGORIES = frozenset({"spam", "scam", "link", "contact_info"})
_ABUSE_CATEGORIES = frozenset({"abuse", "threat", "sexual", "minor_sexual"})
# Allowed, but flagged as possibly one of these with a judge asked to look: a comment reply is
# optional, so it is not worth the risk. (Possible distress is never left unanswered.)
_UNSURE_SKIPPED = _SPAM_CATEGORIES | _ABUSE_CATEGORIES | {"injection", "dictated_statement"}


@dataclass(frozen=True, slots=True)
class CommentAssessment:
    kind: CommentKind
    reason: str

    @property
    def priority(self) -> int:
        return PRIORITY.get(self.kind, 0)

    @property
    def answerable(self) -> bool:
        return self.kind not in NEVER_ANSWERED


def moderation_verdict(text: str, boundaries: Any = None) -> Any:
    """The inbound moderation's decision on a comment (the one the reply engine will make)."""
    from persona.safety.inbound import moderate_inbound

    return moderate_inbound(text, boundaries)


def _moderated(verdict: Any) -> CommentAssessment | None:
    """What the moderation's verdict makes of a comment, or None when it leaves it to the
    text (allowed with no doubt, or an honest answer to "is this a bot?")."""
    action = str(getattr(verdict.action, "value", verdict.action))
    category = str(getattr(verdict.category, "value", verdict.category))
    why = f"moderation: {category}: {verdict.reason}"
    if action == "escalate" and verdict.reply_template is not None:
        return CommentAssessment(CommentKind.SUPPORT, f"{why} (a caring reply)")
    if action in ("block", "escalate"):
        if category in _SPAM_CATEGORIES:
            return CommentAssessment(CommentKind.SPAM, f"spam: {why}")
        if category in _ABUSE_CATEGORIES:
            return CommentAssessment(CommentKind.ABUSE, f"abuse: {why}")
        return CommentAssessment(CommentKind.REFUSED, why)
    # Unsure after a layer matched (a soft lexicon hit, the classifier, the intent model);
    # a lone risky word ("body", "hot", "worst": the weak-signal layer) proves nothing.
    unsure = verdict.needs_llm_judge and getattr(verdict, "layer", "") != "weak_signal"
    if action == "allow" and unsure and category in _UNSURE_SKIPPED:
        kind = CommentKind.SPAM if category in _SPAM_CATEGORIES else CommentKind.REFUSED
        return CommentAssessment(kind, f"{why} (unsure: not worth a reply)")
    return None


def assess_comment(text: str, verdict: Any = None) -> CommentAssessment:
    """Classify one comment by its text and the moderation's verdict on it (computed here
    when not given); duplicates need the stream: `select`."""
    moderated = _moderated(verdict if verdict is not None else moderation_verdict(text))
    if moderated is not None:
        return moderated
    plain = normalise(text)
    words = plain.split()
    shouting = sum(c.isupper() for c in text) > 0.7 * sum(c.isalpha() for c in text)
    if len(text) >= 12 and shouting and not _WARM.search(plain):
        return CommentAssessment(CommentKind.SPAM, "spam: shouting")
    if re.search(r"(.)\1{9,}", text):
        return CommentAssessment(CommentKind.SPAM, "spam: repeated characters")
    if words and ("?" in text or _QUESTION_START.match(plain)):
        return CommentAssessment(CommentKind.QUESTION, "a question")
    warm_emoji = any(c in _WARM_EMOJI for c in text)
    if _WARM.search(plain) or (warm_emoji and len(words) >= 1):
        return CommentAssessment(CommentKind.WARM, "a warm message")
    if len(words) <= 1 or plain in {"first", "premier", "premiere", "1st"}:
        return CommentAssessment(CommentKind.LOW_VALUE, "low value: emoji or one word")
    return CommentAssessment(CommentKind.OTHER, "a comment")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A comment waiting for a decision, with what the stream says about it."""

    event_id: int
    text: str
    # An earlier comment under the post saying the same (by this fan or another).
    duplicate_of: int | None = None
    # It tags or answers another fan ("@lou_b we have to make these"), not the creator.
    to_other_fan: bool = False
    # The inbound moderation's verdict, when the caller has it (else computed).
    verdict: Any = None


@dataclass(frozen=True, slots=True)
class Choice:
    event_id: int
    answer: bool
    assessment: CommentAssessment
    reason: str


def assess_candidate(candidate: Candidate) -> CommentAssessment:
    if candidate.duplicate_of is not None:
        return CommentAssessment(
            CommentKind.DUPLICATE, f"duplicate of event {candidate.duplicate_of}"
        )
    assessment = assess_comment(candidate.text, candidate.verdict)
    if candidate.to_other_fan and assessment.answerable and assessment.kind != CommentKind.SUPPORT:
        return CommentAssessment(
            CommentKind.TO_ANOTHER_FAN, "for another fan: it tags or answers them"
        )
    return assessment


def rank(candidates: list[Candidate]) -> list[tuple[Candidate, CommentAssessment]]:
    """Every comment with its assessment: the answerable ones first, best first (distress,
    questions, warm comments, the rest; older first within a kind), then the others."""
    assessed = [(candidate, assess_candidate(candidate)) for candidate in candidates]
    return sorted(
        assessed,
        key=lambda pair: (not pair[1].answerable, -pair[1].priority, pair[0].event_id),
    )


@dataclass(slots=True)
class CapSlots:
    """The replies a post may still get this hour. A slot is taken when a reply is SENT
    (`take`), not when a comment is chosen: a comment the engine blocks costs nothing."""

    cap: int
    remaining: int
    reserve: float = 0.0

    def refusal(self, kind: CommentKind) -> str:
        """Why a comment of this kind gets no reply now ("" when it may have one)."""
        if kind == CommentKind.SUPPORT:
            return ""  # help is never held back by a cap
        if self.remaining <= 0:
            return f"cap: {self.cap} replies per post per hour reached"
        if kind == CommentKind.OTHER and self.remaining <= int(round(self.cap * self.reserve)):
            return "held back: the rest of the cap is kept for questions"
        return ""

    def take(self) -> None:
        self.remaining -= 1


def select(candidates: list[Candidate], remaining: int, cap: int, reserve: float) -> list[Choice]:
    """Rank a batch of comments of one post and choose those to answer within `remaining`
    replies this hour, as if every chosen reply were sent (the worker takes a slot only for
    a reply that is). Questions, then warm comments, then the rest (older first); the rest
    only while more than `reserve` of the cap is left, to keep room for better comments."""
    slots = CapSlots(cap, remaining, reserve)
    choices = []
    for candidate, assessment in rank(candidates):
        if not assessment.answerable:
            choices.append(Choice(candidate.event_id, False, assessment, assessment.reason))
            continue
        refusal = slots.refusal(assessment.kind)
        if not refusal:
            slots.take()
        choices.append(
            Choice(candidate.event_id, not refusal, assessment, refusal or assessment.reason)
        )
    return sorted(choices, key=lambda choice: choice.event_id)
