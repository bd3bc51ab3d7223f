"""The engine's SafetyGuard: how moderation decisions become engine outcomes."""

from __future__ import annotations

from persona.engine.guard import GuardContext
from persona.engine.safety_guard import SafetyGuard
from persona.engine.types import Channel, ReplyAction


def _ctx(message: str) -> GuardContext:
    return GuardContext(
        creator_id="mia",
        creator_name="Mia",
        channel=Channel.DM,
        settings={},
        system_prompt="You are Mia's AI double.",
        is_published=lambda _text: False,
        message=message,
    )


def test_requests_for_private_details_are_answered_only_from_the_posts():
    # Treated as factual: the engine's fact check says only what the posts verify ("which
    # city?" -> the published city) and sends the no-answer message for the rest.
    guard = SafetyGuard()
    for message in ("What's your home address?", "Can I have your phone number?"):
        outcome = guard.inbound(message, _ctx(message))
        assert outcome.action is ReplyAction.SEND and outcome.factual, (message, outcome)
        assert outcome.category == "personal_data_request" and outcome.hint
    chat = guard.inbound("this tart looks amazing!!", _ctx("this tart looks amazing!!"))
    assert chat.action is ReplyAction.SEND and not chat.factual
