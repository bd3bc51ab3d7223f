"""The cheap moderation check of the live intake: the safety layer's lexicons, no model.

It runs only on text that could be shown or answered (a new question, a paid message, a
display name); the full inbound check runs in the reply engine for the messages chosen."""

from __future__ import annotations

from collections.abc import Callable


def cheap_moderation() -> Callable[[str], str | None]:
    """A check returning the drop reason ("abuse", "threat", "sexual", "scam", "spam") or None."""
    from persona.safety import lexicons
    from persona.safety.normalize import TextViews, first_match

    checks = (
        ("threat", lexicons.THREAT_STRONG),
        ("threat", lexicons.THREAT),
        ("abuse", lexicons.ABUSE),
        ("sexual", lexicons.SEXUAL),
        ("scam", lexicons.SCAM),
        ("spam", lexicons.SPAM),
    )

    def check(text: str) -> str | None:
        views = TextViews(text)
        for reason, pattern in checks:
            if first_match(pattern, views) is not None:
                return reason
        return None

    return check
