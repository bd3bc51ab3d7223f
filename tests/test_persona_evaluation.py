"""Voice evaluation: stable disjoint splits, an independent judge, copy rate; and the whole
`persona eval voice` flow through the real model on two small creators."""

from __future__ import annotations

import pytest

from persona.domain import PostKind, PostRecord
from persona.evaluation.voice import (
    AttributionJudge,
    copy_rate,
    fan_messages_for,
    split_posts,
)


def record(creator: str, text: str, reply_to: str | None = None) -> PostRecord:
    kind = PostKind.REPLY if reply_to else PostKind.POST
    return PostRecord(creator, text, text, kind=kind, reply_to_text=reply_to)


CHEF = [
    record("chef", f"omg la tarte au citron numéro {i} 🍋 bisous les gourmands") for i in range(60)
]
PROF = [
    record("prof", f"Gradient descent, lecture {i}: read the proof in section {i}.")
    for i in range(60)
]


def test_split_is_stable_and_disjoint():
    a, b = split_posts(CHEF), split_posts(list(reversed(CHEF)))
    assert {r.text for r in a.test} == {r.text for r in b.test}
    parts = [{r.text for r in part} for part in (a.train, a.judge, a.test)]
    assert sum(map(len, parts)) == len(CHEF)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert a.train and a.judge and a.test


def test_judge_attributes_by_style():
    judge = AttributionJudge().fit(
        [r.text for r in CHEF + PROF], ["chef"] * len(CHEF) + ["prof"] * len(PROF)
    )
    assert judge.share_attributed(["trop bon ce citron 🍋 bisous"], "chef") == 1.0
    assert judge.share_attributed(["See the proof of the lemma in lecture 3."], "chef") == 0.0
    with pytest.raises(ValueError, match="two creators"):
        AttributionJudge().fit(["a", "b"], ["x", "x"])


def test_copy_rate_counts_six_shared_words_apart_from_the_engines_guard():
    posts = ["one two three four five six seven eight nine"]
    assert copy_rate(["one two three four five six seven eight", "one two three"], posts) == 0.5
    assert copy_rate([], posts) == 0.0
    # Seven words in a row pass the engine's 8-word guard; this detector (folded) sees them.
    post = ["Brioche stole the whole tarte tatin off the counter again"]
    assert copy_rate(["lol BRIOCHE stole the whole tarte tatin off... typical"], post) == 1.0
    assert copy_rate(["brioche would never steal a tart"], post) == 0.0


def test_the_voice_judge_is_not_the_rankers_family():
    from persona.evaluation.voice_judge import StyleJudge, style_features

    texts = [r.text for r in CHEF + PROF]
    judge = StyleJudge().fit(texts, ["chef"] * len(CHEF) + ["prof"] * len(PROF))
    assert judge.share_attributed(["trop bon ce citron 🍋 bisous"], "chef") == 1.0
    assert judge.share_attributed(["See the proof of the lemma in lecture 3."], "chef") == 0.0
    # Topic-free features: function-word rates, punctuation, emoji, case, length.
    assert len(style_features("the cat")) == len(style_features("le chat !!"))
    with pytest.raises(ValueError, match="two creators"):
        StyleJudge().fit(["a", "b"], ["x", "x"])


def test_fan_messages_prefer_real_held_out_ones():
    replies = [record("c", f"merci {i} !", reply_to=f"question numéro {i} ?") for i in range(50)]
    split = split_posts(replies)
    messages = fan_messages_for(split, ["citron"], 5)
    assert len(messages) == 5
    assert all(m.startswith("question numéro") for m in messages[: len(split.test)][:5])
