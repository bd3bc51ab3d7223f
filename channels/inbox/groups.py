"""Group chats: answer when addressed, or when a question is clearly for the creator; never
take more than a set share of the conversation.

Who a message is for is read from the message itself: @handles (in the text or the platform's
`mentions`), a name used to call someone ("Priya, did you...", "thanks Ben!", "...at Rosa?")
rather than to speak of them ("Mira's post"), words for the whole group ("anyone", "vous"),
and what came just before (a follow-up to the creator, or to a fan)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from channels.inbox.comments import normalise


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_SECOND_PERSON = re.compile(
    r"\b(you|your|yours|u|ur|ya|tu|toi|ton|ta|tes|te|vous|votre|vos)\b"
    r"|\bt (es|as|etais|avais|vas|fais)\b"  # "t'es", "t'as" once normalised
)
_QUESTION_WORD = re.compile(
    r"^(what|whats|how|why|when|whens|where|who|which|can|could|do|does|did|is|are|will|would|"
    r"have|has|any|quoi|quel|quelle|quels|quelles|comment|pourquoi|quand|ou|qui|combien|"
    r"est ce|c est quand|peux tu|pouvez vous|as tu|il reste)\b"
)
# "your video", "ta recette": the creator's work, asked about in the second person.
_POSSESSIVE = r"(your|ur|ta|ton|tes|votre|vos)"
# What creators make and run: asked about with nobody else addressed, it is theirs.
_WORK = (
    r"(video|videos|vid|vids|post|posts|recipe|recipes|recette|recettes|live|lives|livestream|"
    r"stream|streams|book|books|ebook|livre|livres|channel|chaine|content|photo|photos|reel|"
    r"reels|tuto|tutorial|tutoriel|episode|episodes|podcast|newsletter|blog|workshop|workshops|"
    r"class|classes|course|courses|masterclass|program|programme|programs|plan|plans|challenge|"
    r"merch|shop|store|boutique|collab|tour|meetup|meet up|q a|call|session|sessions|atelier|"
    r"ateliers|stage|stages|cours|rencontre|dedicace|webinar|webinaire|retreat|retraite)"
)
_YOUR_WORK = re.compile(rf"\b{_POSSESSIVE} (\w+ )?{_WORK}\b")
_ANY_WORK = re.compile(rf"\b{_WORK}\b")
# Words for the whole group: a question to everyone is for the fans to answer. After a
# preposition they are a topic, not an address ("is it open to everyone?").
_CROWD = re.compile(
    r"(?<!\bto )(?<!\bfor )(?<!\bwith )(?<!\bthan )(?<!\bpour )(?<!\bavec )(?<!\ba )"
    r"\b(anyone|anybody|everyone|everybody|any of you|all of you|you all|y all|yall|you guys|"
    r"guys|folks|who else|quelqu un|qqn|quelqu une|tout le monde|vous tous|vous toutes|"
    r"les gars|les filles|les amis|la team|la famille|qui d autre|qui vient|who s in|who is in)\b"
)
# French "vous" with no name: in a fan group, fans say "tu" to the creator; "vous" is plural.
_PLURAL_YOU = re.compile(r"\bvous\b")
# Words that open a message before the name of whom it calls ("hey Ben", "merci Léa").
_OPENERS = _wordset(
    "hi hii hey heya hello hallo yo oh ok okay dear thanks thank thx ty so and but lol haha "
    "merci coucou salut bonjour bonsoir cc re bravo congrats congratulations well"
)

# After a name, words that speak of that person instead of calling them ("Mira said ...").
_THIRD_PERSON = _wordset(
    "s is was has had says said posted made makes thinks knows a est etait dit fait avait sera "
    "pense sait"
)

_AUXILIARIES = _wordset("is was has had est a etait avait sera")
# Before a name at the end, words that make it part of the sentence ("a video by Mira").
_LINKS = _wordset(
    "by with from of about like to and than de du des avec par chez comme sur pour et que la le"
)


class Addressee(StrEnum):
    CREATOR = "creator"
    OTHER = "other"  # another fan, by name or handle
    GROUP = "group"  # everyone ("anyone...?", "vous")
    NOBODY = "nobody"  # no one in particular


@dataclass(frozen=True, slots=True)
class CreatorNames:
    """Every way fans may call the creator in a group: handle, display name, first name."""

    names: tuple[str, ...]

    @classmethod
    def of(cls, creator_id: str, display_name: str, aliases: Iterable[str] = ()) -> CreatorNames:
        return cls(_name_forms([creator_id, display_name, *aliases]))

    def mentioned_in(self, text: str) -> bool:
        plain = f" {normalise(text)} "
        return any(f" {name} " in plain for name in self.names)

    def match(self, mention: str) -> bool:
        return normalise(mention.lstrip("@")) in self.names


def _name_forms(raw: Iterable[str]) -> tuple[str, ...]:
    found: set[str] = set()
    for name in raw:
        plain = normalise(name or "")
        if not plain:
            continue
        # Handles like "camille.cuisine" are also written "camille cuisine" once normalised.
        found.add(plain)
        first = plain.split()[0]
        if len(first) >= 3:
            found.add(first)
    return tuple(sorted(found, key=lambda n: (-len(n), n)))


@dataclass(frozen=True, slots=True)
class GroupTurn:
    speaker: str  # a fan's display name, or the creator's name for the AI's replies
    text: str
    by_creator: bool


def is_question(text: str) -> bool:
    return "?" in text or bool(_QUESTION_WORD.match(normalise(text)))


def _handles(text: str) -> list[str]:
    return re.findall(r"@([\w.\-]+)", text)


def _clauses(text: str) -> list[list[str]]:
    """The message's clauses as normalised words: a name set off by punctuation ("looks
    great Priya, how long...") calls someone as surely as one at the start."""
    parts = re.split(r"[,.!?;:\u2026()]+|\s[-\u2013\u2014]\s", text)
    return [words for part in parts if (words := normalise(part).split())]


def _vocative(clauses: list[list[str]], name: str, asking: bool) -> bool:
    """Is `name` (normalised) used to call someone: at the start of a clause (after a greeting
    or thanks) or at its end, and not followed or preceded by words that speak of them?"""
    parts = name.split()
    size = len(parts)
    for words in clauses:
        start = 0
        while start < len(words) and start < 3 and words[start] in _OPENERS:
            start += 1
        if words[start : start + size] == parts:
            after = words[start + size : start + size + 4]
            if not after or after[0] not in _THIRD_PERSON:
                return True
            # "Mira is the best" speaks of her; "Sam is the plan good?" asks her; a "you"
            # after the name ("Mira said you...") makes it a call too.
            if (asking and after[0] in _AUXILIARIES) or _SECOND_PERSON.search(" ".join(after)):
                return True
        elif len(words) > size and words[-size:] == parts and words[-size - 1] not in _LINKS:
            return True
    return False


def addressee(
    text: str,
    mentions: list[str],
    reply_to_creator: bool,
    names: CreatorNames,
    members: Iterable[str] = (),
) -> Addressee:
    """Whom a group message is for. `members` are the names and handles of the fans in the
    recent conversation (to tell "Priya, did you..." from a question to the creator)."""
    if reply_to_creator:
        return Addressee.CREATOR
    handles = [m.lstrip("@") for m in mentions] + _handles(text)
    if any(names.match(h) for h in handles):
        return Addressee.CREATOR
    clauses = _clauses(text)
    asking = "?" in text
    if any(_vocative(clauses, name, asking) for name in names.names):
        return Addressee.CREATOR
    if handles:
        return Addressee.OTHER  # it @mentions someone, and not the creator
    others = [n for n in _name_forms(members) if n not in names.names]
    if any(_vocative(clauses, name, asking) for name in others):
        return Addressee.OTHER
    plain = normalise(text)
    if _CROWD.search(plain) or _PLURAL_YOU.search(plain):
        return Addressee.GROUP
    return Addressee.NOBODY


def to_the_crowd(text: str) -> bool:
    """Does the message speak to everyone ("anyone tried...?", "quelqu'un a...")? On a post or
    a live, such a question is for the other fans; "vous" is left out here: a fan may say
    "vous" to the creator in a comment."""
    return bool(_CROWD.search(normalise(text)))


def addressed_to_creator(
    text: str,
    mentions: list[str],
    reply_to_creator: bool,
    names: CreatorNames,
    members: Iterable[str] = (),
) -> bool:
    return addressee(text, mentions, reply_to_creator, names, members) is Addressee.CREATOR


def clearly_for_creator(
    text: str,
    mentions: list[str],
    names: CreatorNames,
    previous: GroupTurn | None,
    members: Iterable[str] = (),
) -> bool:
    """A question meant for the creator although it does not name them: it addresses nobody
    else, and either follows up on what the creator just said ("do you...?" right after the
    creator) or asks about the creator's work or events ("is your book out?", "when's the
    next workshop?"). A "you" right after a fan spoke is for that fan."""
    if not is_question(text):
        return False
    if addressee(text, mentions, False, names, members) is not Addressee.NOBODY:
        return False
    plain = normalise(text)
    if _YOUR_WORK.search(plain):
        return True
    second_person = bool(_SECOND_PERSON.search(plain))
    if previous is not None and previous.by_creator:
        return second_person or bool(_ANY_WORK.search(plain))
    return not second_person and bool(_ANY_WORK.search(plain))


def share_allows(
    ai_messages: int, all_messages: int, max_share: float, min_messages: int = 1
) -> bool:
    """Would one more AI message keep the AI's share of the window at most `max_share`?
    `all_messages` counts fans' and the AI's messages, including the one to answer. A group
    with fewer than `min_messages` messages counts as that many: a share over one or two
    messages says nothing, and a new group's first @mention deserves its answer."""
    return (ai_messages + 1) <= max_share * max(all_messages + 1, min_messages) + 1e-9


def share_min_messages(max_share: float, configured: int) -> int:
    """The window a share is taken over at least: the configured one, and never less than
    what one reply needs (1 / max_share messages)."""
    if max_share <= 0:
        return configured
    return max(configured, math.ceil(1 / max_share - 1e-9))
