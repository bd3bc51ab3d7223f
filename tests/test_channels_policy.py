"""Channel policies, the gate, rate limits, comment selection, group rules and signatures:
pure logic, no server."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from channels.inbox import comments, groups
from channels.inbox.comments import Candidate, CommentKind, assess_comment, select
from channels.inbox.config import InboxConfig
from channels.inbox.outbox import backoff_s
from channels.inbox.policy import (
    ActiveHours,
    CommentPolicy,
    DMPolicy,
    GroupPolicy,
    RateLimit,
    ReplyDelay,
    Verdict,
    gate,
    is_online,
    load_policy,
    store_policy,
    with_presence,
)
from channels.inbox.ratelimit import Bucket, InProcessRateLimiter, rate_limiters
from channels.inbox.signing import SignatureError, signature, signed_headers, verify

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


# -- policies --------------------------------------------------------------------------------


def test_defaults_per_channel_and_round_trip_through_settings() -> None:
    settings: dict = {"paused": False}
    comment = load_policy(settings, "comment")
    assert isinstance(comment, CommentPolicy)
    assert comment.replies_per_post_per_hour == 20
    assert comment.max_chars == 220
    group = load_policy(settings, "group")
    assert isinstance(group, GroupPolicy) and group.max_share == 0.3
    assert load_policy(settings, "dm").reply_delay.min_s == 2.0
    assert load_policy(settings, "live").reply_delay.max_s == 0

    changed = comment.model_copy(update={"mode": "review", "replies_per_post_per_hour": 3})
    stored = store_policy(settings, "comment", changed)
    assert stored["paused"] is False  # other settings are kept
    again = load_policy(stored, "comment")
    assert again.mode == "review" and again.replies_per_post_per_hour == 3
    assert load_policy(stored, "dm") == DMPolicy()


def test_policy_validation_names_the_problem() -> None:
    with pytest.raises(ValidationError, match="max_s must be at least min_s"):
        ReplyDelay(min_s=5, max_s=1)
    with pytest.raises(ValidationError, match="unknown time zone"):
        ActiveHours(timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        DMPolicy.model_validate({"mode": "sometimes"})
    with pytest.raises(ValidationError):
        DMPolicy.model_validate({"no_such_field": 1})


def test_reply_delay_is_human_like_and_bounded() -> None:
    delay = ReplyDelay(min_s=2, max_s=8, chars_per_s=25)
    rng = random.Random(1)
    short = [delay.sample("ok!", rng) for _ in range(50)]
    long = [delay.sample("x" * 400, rng) for _ in range(50)]
    assert all(2 <= d <= 8 for d in short + long)
    assert sum(long) / 50 > sum(short) / 50  # longer replies take longer to "type"
    assert max(long) == 8
    assert ReplyDelay(min_s=0, max_s=0).sample("anything") == 0


def test_active_hours_plain_overnight_and_weekdays() -> None:
    paris = ActiveHours(start=time(9), end=time(18), timezone="Europe/Paris")
    assert paris.is_active(NOW)  # 13:00 in Paris
    evening = NOW.replace(hour=19)  # 20:00 in Paris
    assert not paris.is_active(evening)
    assert paris.next_start(evening) == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)

    night = ActiveHours(start=time(22), end=time(6), timezone="UTC")
    assert night.is_active(NOW.replace(hour=23)) and night.is_active(NOW.replace(hour=3))
    assert not night.is_active(NOW)
    assert night.next_start(NOW) == NOW.replace(hour=22)

    weekdays = ActiveHours(start=time(0), end=time(23, 59), timezone="UTC", days=[1, 2, 3, 4, 5])
    saturday = datetime(2026, 3, 7, 10, tzinfo=UTC)
    assert weekdays.is_active(NOW) and not weekdays.is_active(saturday)
    assert weekdays.next_start(saturday) == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)


def test_gate_switches_hours_presence_and_staleness() -> None:
    policy = DMPolicy()
    received = NOW - timedelta(seconds=5)
    assert gate(policy, {}, received, NOW).verdict == Verdict.GO

    paused_everywhere = gate(policy, {"paused": True}, received, NOW)
    assert paused_everywhere.verdict == Verdict.SKIP and "kill switch" in paused_everywhere.reason
    channel_paused = gate(policy.model_copy(update={"paused": True}), {}, received, NOW)
    assert channel_paused.verdict == Verdict.SKIP and "channel" in channel_paused.reason
    off = gate(policy.model_copy(update={"enabled": False}), {}, received, NOW)
    assert off.verdict == Verdict.SKIP

    stale = gate(policy, {}, NOW - timedelta(days=2), NOW)
    assert stale.verdict == Verdict.SKIP and "stale" in stale.reason

    closed = policy.model_copy(
        update={"active_hours": ActiveHours(start=time(20), end=time(23), timezone="UTC")}
    )
    waiting = gate(closed, {}, received, NOW)
    assert waiting.verdict == Verdict.WAIT and waiting.until == NOW.replace(hour=20)

    shy = policy.model_copy(update={"only_when_offline": True})
    online = with_presence({}, True, 600, NOW)
    assert is_online(online, NOW) and not is_online(online, NOW + timedelta(seconds=601))
    wait = gate(shy, online, received, NOW)
    assert wait.verdict == Verdict.WAIT and wait.until is not None and wait.until > NOW
    assert gate(shy, with_presence(online, False, 0, NOW), received, NOW).verdict == Verdict.GO


# -- rate limits -----------------------------------------------------------------------------


def test_token_buckets_are_all_or_nothing_and_refill() -> None:
    clock = [0.0]
    limiter = InProcessRateLimiter(clock=lambda: clock[0])
    fan = Bucket("fan", RateLimit(count=2, per_s=60))
    channel = Bucket("channel", RateLimit(count=3, per_s=60))
    assert limiter.acquire([fan, channel]).ok
    assert limiter.acquire([fan, channel]).ok
    refused = limiter.acquire([fan, channel])
    assert not refused.ok and refused.blocked_by == "fan"
    assert refused.retry_after_s == pytest.approx(30.0)
    # The refusal took nothing from the channel bucket: one token is still there.
    other = Bucket("other-fan", RateLimit(count=2, per_s=60))
    assert limiter.acquire([other, channel]).ok
    blocked = limiter.acquire([other, channel])
    assert not blocked.ok and blocked.blocked_by == "channel"
    clock[0] = 30.0  # half a minute refills one fan token (2/min) and 1.5 channel tokens
    assert limiter.acquire([fan, channel]).ok
    assert isinstance(rate_limiters.create("memory"), InProcessRateLimiter)


# -- comments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("what flour do you use for this?", CommentKind.QUESTION),
        ("combien de temps au four", CommentKind.QUESTION),
        ("I love this so much, thank you!", CommentKind.WARM),
        ("trop bon 😍", CommentKind.WARM),
        ("check my profile for free followers!!", CommentKind.SPAM),
        ("visit https://cheap-pills.example now", CommentKind.SPAM),
        ("THIS IS THE WORST THING EVER POSTED", CommentKind.SPAM),
        ("you are a stupid ugly idiot", CommentKind.ABUSE),
        ("t'es qu'une connasse", CommentKind.ABUSE),
        ("🙂", CommentKind.LOW_VALUE),
        ("first", CommentKind.LOW_VALUE),
        ("made it yesterday with pears instead", CommentKind.OTHER),
    ],
)
def test_assess_comment(text: str, kind: CommentKind) -> None:
    assert assess_comment(text).kind == kind


def test_select_puts_questions_and_warm_first_within_the_cap() -> None:
    batch = [
        Candidate(1, "made it yesterday with pears instead"),
        Candidate(2, "follow for follow, check my page"),
        Candidate(3, "I love this recipe!"),
        Candidate(4, "how long does the dough rest?"),
        Candidate(5, "how long does the dough rest?", duplicate_of=4),
        Candidate(6, "you are a stupid idiot"),
        Candidate(7, "what pan is that?"),
    ]
    choices = {c.event_id: c for c in select(batch, remaining=2, cap=20, reserve=0.0)}
    answered = sorted(i for i, c in choices.items() if c.answer)
    assert answered == [4, 7]  # the two questions, older first
    assert "cap" in choices[3].reason and "cap" in choices[1].reason
    assert choices[2].assessment.kind == CommentKind.SPAM and not choices[2].answer
    assert choices[5].assessment.kind == CommentKind.DUPLICATE
    assert choices[6].assessment.kind == CommentKind.ABUSE

    roomy = {c.event_id: c for c in select(batch, remaining=20, cap=20, reserve=0.5)}
    assert [i for i, c in sorted(roomy.items()) if c.answer] == [1, 3, 4, 7]
    # With little room left, plain comments wait so questions and warm ones come first.
    tight = {c.event_id: c for c in select(batch, remaining=4, cap=20, reserve=0.5)}
    assert [i for i, c in sorted(tight.items()) if c.answer] == [3, 4, 7]
    assert "kept for questions" in tight[1].reason


def test_duplicate_text_hash_ignores_case_accents_and_punctuation() -> None:
    assert comments.text_hash("Trop BON !!") == comments.text_hash("trop bon")
    assert comments.text_hash("crème") == comments.text_hash("creme")
    assert comments.text_hash("a") != comments.text_hash("b")


# -- groups ----------------------------------------------------------------------------------


def test_group_addressing_and_questions_for_the_creator() -> None:
    names = groups.CreatorNames.of("camille.cuisine", "Camille Roux", ["cam"])
    assert groups.addressed_to_creator("Camille, what's for dinner?", [], False, names)
    assert groups.addressed_to_creator("hey @camille.cuisine", [], False, names)
    assert groups.addressed_to_creator("merci cam", [], False, names)
    assert groups.addressed_to_creator("so true", ["@camille.cuisine"], False, names)
    assert groups.addressed_to_creator("so true", [], True, names)
    assert not groups.addressed_to_creator("what are you all cooking?", ["bob"], False, names)
    assert not groups.addressed_to_creator("camembert is the best cheese", [], False, names)

    ai_turn = groups.GroupTurn("Camille Roux", "tarte au citron tonight!", True)
    fan_turn = groups.GroupTurn("Bob", "nice", False)
    assert groups.clearly_for_creator("do you use a stand mixer?", [], names, ai_turn)
    assert not groups.clearly_for_creator("do you use a stand mixer?", [], names, fan_turn)
    assert groups.clearly_for_creator("is your book out yet?", [], names, fan_turn)
    assert not groups.clearly_for_creator("is your book out yet?", ["bob"], names, fan_turn)
    assert not groups.clearly_for_creator("your book is great", [], names, ai_turn)


def test_group_share_never_exceeded() -> None:
    ai = 0
    for total in range(1, 41):  # a group where every message is addressed to the creator
        if groups.share_allows(ai, total + ai, 0.3):
            ai += 1
        assert ai <= 0.3 * (total + ai) + 1e-9
    assert ai > 0


# -- signatures, config, backoff -------------------------------------------------------------


def test_signature_window_and_constant_time_check() -> None:
    body = b'{"a": 1}'
    headers = signed_headers("s" * 20, body, now=1_000_000)
    stamp, sig = headers["X-Persona-Timestamp"], headers["X-Persona-Signature"]
    assert sig == signature("s" * 20, 1_000_000, body) and sig.startswith("sha256=")
    assert verify("s" * 20, stamp, sig, body, 300, now=1_000_100) == 1_000_000
    with pytest.raises(SignatureError, match="window"):
        verify("s" * 20, stamp, sig, body, 300, now=1_000_301)
    with pytest.raises(SignatureError, match="bad signature"):
        verify("s" * 20, stamp, sig, b'{"a": 2}', 300, now=1_000_000)
    with pytest.raises(SignatureError, match="bad signature"):
        verify("t" * 20, stamp, sig, body, 300, now=1_000_000)
    with pytest.raises(SignatureError, match="missing"):
        verify("s" * 20, None, sig, body, 300)


def test_inbox_config_reads_settings_fields_and_refuses_weak_secrets() -> None:
    class FakeSettings:
        webhook_secrets = {"gram": "x" * 32}
        inbox_lease_s = 9.0

    config = InboxConfig.from_settings(FakeSettings())
    assert config.secret_for("gram") == "x" * 32 and config.inbox_lease_s == 9.0
    assert config.webhook_window_s == 300
    with pytest.raises(ValidationError, match="shorter than 16"):
        InboxConfig(webhook_secrets={"gram": "short"})


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    rng = random.Random(3)
    for attempt in range(1, 12):
        ceiling = min(60.0, 1.0 * 2 ** (attempt - 1))
        value = backoff_s(attempt, 1.0, 60.0, rng)
        assert ceiling / 2 <= value <= ceiling
