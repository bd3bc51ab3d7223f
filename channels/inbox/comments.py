"""Which comments under a post deserve a reply: questions and warm messages first; spam,
duplicates and abuse never; the rest only while the hourly cap has room to spare."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class CommentKind(StrEnum):
    QUESTION = "question"
    WARM = "warm"
    OTHER = "other"
    LOW_VALUE = "low_value"  # emoji only, one word, "first!"
    SPAM = "spam"
    ABUSE = "abuse"
    DUPLICATE = "duplicate"


PRIORITY: dict[CommentKind, int] = {
    CommentKind.QUESTION: 3,
    CommentKind.WARM: 2,
    CommentKind.OTHER: 1,
}
NEVER_ANSWERED = {CommentKind.LOW_VALUE, CommentKind.SPAM, CommentKind.ABUSE, CommentKind.DUPLICATE}


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
_SPAM = re.compile(
    r"(https?://|www\.|\.com\b|\.ly/|bit\.ly|t\.me/|wa\.me/|"
    r"\b(follow (me|back)|follow for follow|f4f|sub4sub|check (out )?my (page|profile|channel|bio)|"
    r"dm me|dm for|promo ?code|discount code|free followers|crypto|bitcoin|forex|giveaway winner|"
    r"click (the )?link|earn \$?\d+|onlyfans|whatsapp me|telegram me)\b)"
)
# A few insults the English classifier misses (it is English only).
_ABUSE_WORDS = re.compile(
    r"\b(connard|connasse|salope|pute|encule|ta gueule|nique|batard|idiote?|nulle?|moche)\b"
)


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


@lru_cache(maxsize=1)
def _profanity_model():  # noqa: ANN202 - optional third-party model
    try:
        from profanity_check import predict_prob
    except ImportError:  # the English classifier is optional; the word list still works
        return None
    return predict_prob


def abuse_probability(text: str) -> float:
    model = _profanity_model()
    return float(model([text])[0]) if model is not None else 0.0


def assess_comment(text: str, abuse_threshold: float = 0.8) -> CommentAssessment:
    """Classify one comment by its text alone (duplicates need the stream: `select`)."""
    plain = normalise(text)
    words = plain.split()
    lowered = text.casefold()
    if _SPAM.search(lowered):
        return CommentAssessment(CommentKind.SPAM, "spam: link or self-promotion")
    shouting = sum(c.isupper() for c in text) > 0.7 * sum(c.isalpha() for c in text)
    if len(text) >= 12 and shouting and not _WARM.search(plain):
        return CommentAssessment(CommentKind.SPAM, "spam: shouting")
    if re.search(r"(.)\1{9,}", text):
        return CommentAssessment(CommentKind.SPAM, "spam: repeated characters")
    if _ABUSE_WORDS.search(plain) or abuse_probability(text) >= abuse_threshold:
        return CommentAssessment(CommentKind.ABUSE, "abuse: insulting or offensive")
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
    # The same fan already wrote this under the post, or several fans pasted it.
    duplicate_of: int | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    event_id: int
    answer: bool
    assessment: CommentAssessment
    reason: str


def select(candidates: list[Candidate], remaining: int, cap: int, reserve: float) -> list[Choice]:
    """Rank a batch of comments of one post and choose those to answer within `remaining`
    replies this hour. Questions, then warm comments, then the rest (older first); the rest
    only while more than `reserve` of the cap is left, to keep room for better comments."""
    assessed: list[tuple[Candidate, CommentAssessment]] = []
    for candidate in candidates:
        if candidate.duplicate_of is not None:
            verdict = CommentAssessment(
                CommentKind.DUPLICATE, f"duplicate of event {candidate.duplicate_of}"
            )
        else:
            verdict = assess_comment(candidate.text)
        assessed.append((candidate, verdict))
    ranked = sorted(
        (pair for pair in assessed if pair[1].answerable),
        key=lambda pair: (-pair[1].priority, pair[0].event_id),
    )
    reserved = int(round(cap * reserve))
    chosen: dict[int, str] = {}
    left = remaining
    for candidate, verdict in ranked:
        if left <= 0:
            chosen[candidate.event_id] = f"cap: {cap} replies per post per hour reached"
            continue
        if verdict.kind == CommentKind.OTHER and left <= reserved:
            chosen[candidate.event_id] = "held back: the rest of the cap is kept for questions"
            continue
        chosen[candidate.event_id] = ""
        left -= 1
    choices = []
    for candidate, verdict in assessed:
        if not verdict.answerable:
            choices.append(Choice(candidate.event_id, False, verdict, verdict.reason))
            continue
        reason = chosen[candidate.event_id]
        choices.append(Choice(candidate.event_id, not reason, verdict, reason or verdict.reason))
    return choices
