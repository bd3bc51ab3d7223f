"""Twitch chat events (IRC lines with IRCv3 tags) -> live-intake messages.

Twitch sends its metadata as message tags: `bits` on a cheer, `msg-id` on a USERNOTICE
(sub, resub, subgift, submysterygift, raid...), `display-name`, `user-id`, and a unique `id`
per message. Without tags (a plain IRC server) a message is chat, its user the nick.

Amounts are in US dollars, so that cheers and subscriptions rank together in the paid queue:
a bit is worth $0.01 to the streamer's viewers, a tier 1 (or Prime) sub $4.99."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any

# msg-param-sub-plan -> price of one month.
SUB_PLAN_USD = {"Prime": 4.99, "1000": 4.99, "2000": 9.99, "3000": 24.99}
BIT_USD = 0.01
SUB_IDS = frozenset({"sub", "resub"})
GIFT_IDS = frozenset({"subgift", "anonsubgift", "submysterygift", "anonsubmysterygift"})
# "Cheer100", "PogChamp1000": Twitch's cheermote tokens, not words of the message.
_CHEERMOTE = re.compile(r"(?<!\S)[A-Za-z]+\d+(?!\S)")

_seq = itertools.count(1)


def tag_dict(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """The irc library's [{'key': k, 'value': v}] as {k: v} (missing values as "")."""
    return {str(t["key"]): str(t.get("value") or "") for t in tags or ()}


def _user(tags: Mapping[str, str], nick: str) -> tuple[str, str]:
    """(stable user id, display name): Twitch's numeric user id when tagged, else the nick
    (a nick is unique on a server at a time)."""
    login = tags.get("login") or nick
    return tags.get("user-id") or login.lower(), tags.get("display-name") or login


def _message_id(tags: Mapping[str, str], nick: str) -> str:
    # Twitch gives every message a unique id (what the intake dedupes on); a plain server
    # gives none, and IRC never replays, so a process-wide counter is unique enough.
    return tags.get("id") or f"irc:{nick.lower()}:{next(_seq)}"


def _cheer_text(text: str) -> str:
    return " ".join(_CHEERMOTE.sub(" ", text).split())


def from_privmsg(nick: str, text: str, tags: Mapping[str, str]) -> dict[str, Any] | None:
    """A channel message: chat, or a paid message when it carries bits."""
    text = text.strip()
    user, name = _user(tags, nick)
    base = {"id": _message_id(tags, nick), "user": user, "name": name}
    bits = _int(tags.get("bits"))
    if bits > 0:
        return {**base, "kind": "paid", "text": _cheer_text(text), "amount": bits * BIT_USD}
    if not text:
        return None
    return {**base, "kind": "chat", "text": text}


def from_usernotice(nick: str, text: str, tags: Mapping[str, str]) -> dict[str, Any] | None:
    """A subscription (paid), a gifted subscription (gift); other notices (raids, rituals,
    announcements) are not questions to the creator and are left out."""
    msg_id = tags.get("msg-id", "")
    user, name = _user(tags, nick)
    base = {"id": _message_id(tags, nick), "user": user, "name": name}
    plan = SUB_PLAN_USD.get(tags.get("msg-param-sub-plan", ""), SUB_PLAN_USD["1000"])
    if msg_id in SUB_IDS:
        return {**base, "kind": "paid", "text": text.strip(), "amount": plan}
    if msg_id in GIFT_IDS:
        count = max(1, _int(tags.get("msg-param-mass-gift-count")))
        return {**base, "kind": "gift", "text": "", "amount": round(plan * count, 2)}
    return None


def from_join(nick: str) -> dict[str, Any]:
    """A viewer joined (Twitch sends JOINs with the membership capability): welcomed."""
    return {
        "id": f"join:{nick.lower()}:{next(_seq)}",
        "user": nick.lower(),
        "name": nick,
        "kind": "join",
    }


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
