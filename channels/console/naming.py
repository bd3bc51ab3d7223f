"""Words for the creator instead of internal keys: who a fan is (not `space:3be97b30-...`)
and what the AI did with a message (not `no_answer`)."""

from __future__ import annotations

# The engine's actions (persona.engine.ReplyAction) and the creator's own replies.
OUTCOMES: dict[str, str] = {
    "send": "sent",
    "hold": "held for your review",
    "no_answer": "no answer: nothing in your posts about this",
    "safe_reply": "ready-made reply: a sensitive topic",
    "block": "not answered: a safety check stopped it",
    "paused": "not sent: your AI was paused",
    "creator": "written by you",
}
# Where a fan writes from (persona.engine.types' fan sources), as the creator says it.
SOURCES: dict[str, str] = {
    "space": "Visitor of your space",
    "api": "API user",
    "live": "Live viewer",
    "cli": "Command-line test",
}


def outcome(action: str | None) -> str:
    if not action:
        return ""
    return OUTCOMES.get(action, action.replace("_", " "))


def person(fan_key: str | None, fan_name: str | None = None) -> str:
    """A fan's name, else a short readable form of their key: `space:3be97b30-...` is
    "Visitor of your space #3be9", `testgram:fan-42` is "fan-42 on testgram"."""
    if fan_name and fan_name.strip():
        return fan_name.strip()
    if not fan_key:
        return "A fan"
    source, _, ident = fan_key.partition(":")
    if not ident:
        return fan_key
    if source == "space":
        return f"{SOURCES['space']} #{ident.replace('-', '')[:4]}"
    if source in SOURCES:
        return f"{SOURCES[source]} {ident[:24]}"
    return f"{ident[:40]} on {source}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 creator`, `2 creators`."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"
