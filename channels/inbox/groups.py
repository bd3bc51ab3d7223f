"""Group chats: answer when addressed, or when a question is clearly for the creator; never
take more than a set share of the conversation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from channels.inbox.comments import normalise

_SECOND_PERSON = re.compile(r"\b(you|your|yours|u|ur|tu|toi|ton|ta|tes|vous|votre|vos)\b")
_QUESTION_WORD = re.compile(
    r"^(what|how|why|when|where|who|which|can|could|do|does|did|is|are|will|would|have|"
    r"quoi|quel|quelle|comment|pourquoi|quand|ou|qui|combien|est ce|peux tu|pouvez vous|as tu)\b"
)
_CREATOR_WORK = re.compile(
    r"\b(your|ta|ton|tes|votre|vos) (video|videos|post|posts|recipe|recipes|recette|recettes|"
    r"live|lives|stream|book|livre|channel|chaine|content|photo|photos|reel|reels)\b"
)


@dataclass(frozen=True, slots=True)
class CreatorNames:
    """Every way fans may call the creator in a group: handle, display name, first name."""

    names: tuple[str, ...]

    @classmethod
    def of(cls, creator_id: str, display_name: str, aliases: Iterable[str] = ()) -> CreatorNames:
        found = {creator_id, display_name, *aliases}
        first = display_name.split()[0] if display_name.split() else ""
        if len(first) >= 3:
            found.add(first)
        # Handles like "camille.cuisine" are also written "camille cuisine" once normalised.
        return cls(tuple(sorted({normalise(n) for n in found if normalise(n)})))

    def mentioned_in(self, text: str) -> bool:
        plain = f" {normalise(text)} "
        return any(f" {name} " in plain for name in self.names)

    def match(self, mention: str) -> bool:
        return normalise(mention.lstrip("@")) in self.names


@dataclass(frozen=True, slots=True)
class GroupTurn:
    speaker: str  # a fan's display name, or the creator's name for the AI's replies
    text: str
    by_creator: bool


def is_question(text: str) -> bool:
    return "?" in text or bool(_QUESTION_WORD.match(normalise(text)))


def addressed_to_creator(
    text: str, mentions: list[str], reply_to_creator: bool, names: CreatorNames
) -> bool:
    return reply_to_creator or any(names.match(m) for m in mentions) or names.mentioned_in(text)


def clearly_for_creator(
    text: str, mentions: list[str], names: CreatorNames, previous: GroupTurn | None
) -> bool:
    """A question meant for the creator although it does not name them: asked in the second
    person, naming nobody else, right after the creator spoke or about the creator's work."""
    if not is_question(text):
        return False
    if any(not names.match(m) for m in mentions):
        return False  # it names someone else
    plain = normalise(text)
    if _CREATOR_WORK.search(plain):
        return True
    follows_creator = previous is not None and previous.by_creator
    return follows_creator and bool(_SECOND_PERSON.search(plain))


def share_allows(ai_messages: int, all_messages: int, max_share: float) -> bool:
    """Would one more AI message keep the AI's share of the window at most `max_share`?
    `all_messages` counts fans' and the AI's messages, including the one to answer."""
    return (ai_messages + 1) <= max_share * (all_messages + 1) + 1e-9
