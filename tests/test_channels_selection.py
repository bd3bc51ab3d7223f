"""Choosing what to answer in group chats and comments (issue 21): each defect fixed, the
share and the caps still holding, and the selection evaluation above a floor. Fast: the
evaluation runs the real inbox worker and live queue once, with an instant stub model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from channels.evaluation.selection import SelectionReport, StubEngine, run_selection
from channels.inbox import groups
from channels.inbox.comments import CapSlots, CommentKind, assess_comment
from channels.inbox.duplicates import near_duplicate
from persona.safety.decisions import InboundAction, InboundCategory, InboundDecision

A = groups.Addressee
NAMES = groups.CreatorNames.of("ola.pottery", "Ola Berg", ["Olly"])
MEMBERS = ["Jonas", "jonas_k", "Amira", "amira.h"]
FAN_TURN = groups.GroupTurn("Jonas", "finished my first vase today", False)
CREATOR_TURN = groups.GroupTurn("Ola Berg", "kiln is loaded for tomorrow!", True)


@pytest.fixture(scope="module")
def report() -> SelectionReport:
    return run_selection()


# -- 1. cap slots go to replies that are sent ----------------------------------------------


class _BlockingEngine(StubEngine):
    """The engine blocks what mentions "glaze recipe" (as it blocks a scam it recognises
    only when writing): those comments must not use up the post's cap."""

    def decide(self, creator_id: str, text: str, channel: str) -> Any:
        from persona.engine.types import ReplyAction, ReplyResult

        if "glaze recipe" in text:
            return ReplyResult(creator_id, "", ReplyAction.BLOCK, "blocked by the engine")
        return super().decide(creator_id, text, channel)


def _thread(tmp_path: Path, channel: str, messages: list[dict[str, Any]], **head: Any) -> Path:
    data = {
        "creators": {"ola.pottery": {"name": "Ola Berg", "aliases": ["Olly"]}},
        "threads": [
            {
                "thread": {
                    "id": "t",
                    "channel": channel,
                    "creator": "ola.pottery",
                    "lang": "en",
                    "post": {"caption": "New mugs"},
                    **head,
                },
                "messages": messages,
            }
        ],
    }
    path = tmp_path / "threads.json"
    path.write_text(json.dumps(data))
    return path


def _comment(fan: str, text: str, answer: bool) -> dict[str, Any]:
    return {"fan": fan, "text": text, "should_answer": answer, "t": 0}


def test_a_blocked_comment_leaves_its_cap_slot_and_near_duplicates_get_none(
    tmp_path: Path,
) -> None:
    messages = [
        _comment("a", "sell me your glaze recipe for my shop?", False),
        _comment("b", "any glaze recipe you could share for resale?", False),
        _comment("c", "Is the blue glaze food safe?", True),
        _comment("c", "is the blue glaze food-safe??", False),  # the same fan again
        _comment("d", "is the blue glaze food safe", False),  # another fan's copy
        _comment("e", "what clay body do you throw with?", True),
        _comment("f", "how many firings for these mugs?", True),
    ]
    path = _thread(
        tmp_path, "comment", messages, limits=True, policy={"replies_per_post_per_hour": 3}
    )
    result = run_selection(path, ["comment"], engine=_BlockingEngine({"ola.pottery": "Ola"}))
    answered = [o.index for o in result.outcomes if o.answered]
    assert answered == [2, 5, 6]  # the three sendable questions, within the cap of 3
    reasons = {o.index: o.reason for o in result.outcomes}
    assert "duplicate" in reasons[3] and "duplicate" in reasons[4]
    assert result.caps[0].held and result.caps[0].slots_to_sent_replies


def test_cap_slots_count_sent_replies_only() -> None:
    slots = CapSlots(cap=4, remaining=2, reserve=0.5)
    assert slots.refusal(CommentKind.QUESTION) == ""
    assert "kept for questions" in slots.refusal(CommentKind.OTHER)  # the reserve: 2 of 4
    slots.take()
    slots.take()
    assert "cap: 4" in slots.refusal(CommentKind.QUESTION)
    assert slots.refusal(CommentKind.SUPPORT) == ""  # a caring reply is never capped


# -- 2. names and handles in the text; fan-to-fan address -----------------------------------


@pytest.mark.parametrize(
    ("text", "mentions", "expected"),
    [
        ("Jonas did you sell the vase at the market?", [], A.OTHER),
        ("lovely glaze Amira, what cone do you fire to?", [], A.OTHER),
        ("@jonas_k look at this", [], A.OTHER),
        ("so nice", ["amira.h"], A.OTHER),
        ("thanks Olly!", [], A.CREATOR),
        ("what do you think, Ola?", [], A.CREATOR),
        ("@ola.pottery the mugs arrived safely", [], A.CREATOR),
        ("Ola is the studio open on sunday?", [], A.CREATOR),
        ("Ola's new mugs are lovely", [], A.NOBODY),
        ("I bought a bowl by Ola", [], A.NOBODY),
        ("anyone selling a second-hand wheel?", [], A.GROUP),
        ("vous cuisez à quelle température ?", [], A.GROUP),
    ],
)
def test_addressing_reads_names_and_handles_in_the_text(
    text: str, mentions: list[str], expected: groups.Addressee
) -> None:
    assert groups.addressee(text, mentions, False, NAMES, MEMBERS) is expected


def test_a_question_to_a_fan_after_the_creator_spoke_is_not_for_the_creator() -> None:
    text = "Amira did you use the speckled clay?"
    assert not groups.clearly_for_creator(text, [], NAMES, CREATOR_TURN, MEMBERS)
    assert groups.clearly_for_creator("do you bisque first?", [], NAMES, CREATOR_TURN, MEMBERS)


# -- 3. a direct address in a new group; the share still holds ---------------------------------


@pytest.mark.parametrize("max_share", [0.3, 0.1])
def test_share_over_a_sensible_window(max_share: float) -> None:
    least = groups.share_min_messages(max_share, 10)
    assert groups.share_allows(0, 1, max_share, least)  # a new group's first @mention
    assert not groups.share_allows(0, 1, max_share)  # what a one-message window did
    ai = fans = 0
    for _ in range(60):  # every message addresses the creator
        fans += 1
        if groups.share_allows(ai, fans + ai, max_share, least):
            ai += 1
        assert ai <= max_share * max(fans + ai, least) + 1e-9
    assert ai / (fans + ai) <= max_share


# -- 4. near-duplicates -------------------------------------------------------------------------


def test_near_duplicates() -> None:
    assert near_duplicate("Could you post the pattern please?", "could u post the pattern pls")
    assert near_duplicate("do you sell these online?", "Do you sell these on line")
    assert not near_duplicate("fired at cone 6?", "fired at cone 10?")
    assert not near_duplicate("is it microwave safe?", "is it dishwasher safe?")
    assert not near_duplicate("😍", "😍")


# -- 5. questions for the creator without a name; the moderation's verdicts -----------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("when does the next throwing class start?", True),
        ("le prochain atelier tournage c'est quand ?", True),
        ("is your shop restocking this month?", True),
        ("did you fire it twice?", False),  # right after a fan spoke: for that fan
        ("anyone going to the next class?", False),
        ("lovely!", False),
    ],
)
def test_questions_for_the_creator_without_a_name(text: str, expected: bool) -> None:
    assert groups.clearly_for_creator(text, [], NAMES, FAN_TURN, MEMBERS) is expected


def _verdict(action: InboundAction, category: InboundCategory, judge: bool = False) -> Any:
    return InboundDecision(action, category, "test", 0.9, needs_llm_judge=judge)


def test_the_comment_filter_uses_the_moderation_verdict() -> None:
    scam = _verdict(InboundAction.BLOCK, InboundCategory.SCAM)
    assert assess_comment("how do I join the partner programme?", scam).kind == CommentKind.SPAM
    unsure = _verdict(InboundAction.ALLOW, InboundCategory.ABUSE, judge=True)
    assert not assess_comment("your mugs lol", unsure).answerable
    # A lone risky word is no verdict: "body" must not cost a sincere question its reply.
    weak = InboundDecision(
        InboundAction.ALLOW,
        InboundCategory.SEXUAL,
        "t",
        0.5,
        needs_llm_judge=True,
        layer="weak_signal",
    )
    assert assess_comment("what clay body do you use?", weak).kind == CommentKind.QUESTION
    fine = _verdict(InboundAction.ALLOW, InboundCategory.OK)
    assert assess_comment("what cone do you fire to?", fine).kind == CommentKind.QUESTION
    # With no verdict given, the real moderation decides.
    assert not assess_comment("you are a worthless talentless fraud").answerable


# -- the evaluation --------------------------------------------------------------------------


def test_shares_and_caps_hold_on_the_evaluation(report: SelectionReport) -> None:
    assert report.shares and all(s.held for s in report.shares)
    assert report.caps and all(c.held and c.slots_to_sent_replies for c in report.caps)


# Measured: group 1.000/1.000, comment 0.965/1.000, live 0.955/1.000 (BENCHMARKS.md).
FLOORS = {"group": (0.97, 0.97), "comment": (0.95, 0.97), "live": (0.93, 0.97)}


@pytest.mark.parametrize("channel", sorted(FLOORS))
def test_selection_evaluation_floor(report: SelectionReport, channel: str) -> None:
    figures = report.figures[channel]
    precision, recall = FLOORS[channel]
    assert figures.threads >= 6
    assert figures.precision >= precision, report.misses()
    assert figures.recall >= recall, report.misses()
