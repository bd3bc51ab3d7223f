"""Training examples for voice adapters: the engine's prompt shape, no eval leakage."""

from __future__ import annotations

from persona.domain import PostKind, PostRecord
from persona.engine.prompt import context_block
from persona.engine.types import Channel
from persona.evaluation.voice import split_posts
from persona.tune.dataset import (
    SYNTHETIC_FAN_MESSAGES,
    build_dataset,
    has_substance,
    post_topic,
    reply_user_message,
)

SYSTEM = "You are the AI double of Camille, a content creator."


def _record(text: str, kind: PostKind = PostKind.REPLY, **kw: object) -> PostRecord:
    return PostRecord("camille", text, text, kind=kind, **kw)  # type: ignore[arg-type]


def _posts(n: int) -> list[PostRecord]:
    records = []
    for i in range(n):
        if i % 3 == 0:
            records.append(_record(f"Baking day number {i} #lemontart 🍋", PostKind.POST))
        elif i % 3 == 1:
            records.append(_record(f"Merci beaucoup {i} !! 😘", lang="fr"))
        else:
            records.append(
                _record(f"Thanks so much, reply {i}!", reply_to_text=f"Love your recipe {i}")
            )
    return records


def test_examples_leave_out_the_voice_evaluations_judge_and_test_posts() -> None:
    records = _posts(120)
    held_out = split_posts(records)
    dataset = build_dataset(records, "Camille", SYSTEM)
    answers = {ex.answer for ex in dataset.train + dataset.validation}
    assert answers == {r.clean_text for r in held_out.train}
    assert not answers & {r.clean_text for r in held_out.judge + held_out.test}
    assert dataset.skipped["held_out"] == len(held_out.judge) + len(held_out.test)


def test_replies_use_the_fan_message_when_known_else_one_in_the_posts_language() -> None:
    dataset = build_dataset(_posts(120), "Camille", SYSTEM)
    examples = dataset.train + dataset.validation
    known = [ex for ex in examples if ex.kind == "reply" and not ex.synthetic_prompt]
    assert known and all("Fan: Love your recipe" in ex.user for ex in known)
    french = [ex for ex in examples if ex.answer.startswith("Merci")]
    assert french and all(ex.synthetic_prompt for ex in french)
    assert all(any(ex.user.endswith(m) for m in SYNTHETIC_FAN_MESSAGES["fr"]) for ex in french)
    # Varied: more than one synthetic message is used.
    assert len({ex.user for ex in french}) > 1


def test_the_prompt_has_the_reply_engines_shape() -> None:
    dataset = build_dataset(_posts(60), "Camille", SYSTEM)
    reply = next(ex for ex in dataset.train if ex.kind == "reply" and not ex.synthetic_prompt)
    assert reply.system == SYSTEM
    block = context_block("Camille", Channel.DM, None, "", [], [], [], [], None, 60)
    assert reply.user.startswith(block + " ")
    assert reply_user_message("Camille", "hi").endswith("Fan: hi")
    assert reply.messages() == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": reply.user},
    ]


def test_broadcast_posts_become_posts_about_their_topic() -> None:
    dataset = build_dataset(_posts(60), "Camille", SYSTEM)
    posts = [ex for ex in dataset.train + dataset.validation if ex.kind == "post"]
    assert posts and all("#lemontart" in ex.user for ex in posts)
    assert post_topic("Finally finished the sourdough experiment today", "en") == (
        "sourdough experiment"
    )
    assert post_topic("ok", "fr") == "ta journée"
    without = build_dataset(_posts(60), "Camille", SYSTEM, include_posts=False)
    assert all(ex.kind == "reply" for ex in without.train + without.validation)


def test_mention_only_and_link_only_posts_are_dropped_and_duplicates_merged() -> None:
    assert not has_substance("@user @other")
    assert not has_substance("https://t.co/abc123 @user")
    assert not has_substance("!!! 2019")
    assert has_substance("Yes!")
    assert has_substance("😍😍")
    records = [_record(f"Great question number {i}") for i in range(40)]
    records += [_record("@user @other"), _record("https://example.com/x")]
    records += [_record("Great  QUESTION number 1"), _record("@user Great question number 1")]
    dataset = build_dataset(records, "Camille", SYSTEM, validation_share=0.0)
    answers = [ex.answer for ex in dataset.train]
    assert "@user @other" not in answers and "https://example.com/x" not in answers
    assert len({" ".join(a.casefold().replace("@user", "").split()) for a in answers}) == len(
        answers
    )


def test_the_split_is_deterministic_capped_and_keeps_a_validation_set() -> None:
    records = _posts(300)
    first = build_dataset(records, "Camille", SYSTEM, max_examples=50)
    again = build_dataset(list(reversed(records)), "Camille", SYSTEM, max_examples=50)
    assert first.size == 50
    assert 1 <= len(first.validation) <= 15  # early stopping needs one; ~10 %
    assert [e.answer for e in first.train] == [e.answer for e in again.train]
    assert [e.answer for e in first.validation] == [e.answer for e in again.validation]
    assert not {e.answer for e in first.train} & {e.answer for e in first.validation}
    # Observed fan messages are kept first when the budget cuts.
    assert sum(not e.synthetic_prompt for e in first.train + first.validation) >= 30
