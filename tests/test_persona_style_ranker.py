"""The discriminative voice ranker: contrasts creators, abstains with only one."""

from __future__ import annotations

from persona.style.ranker import VoiceRanker

CHEF = [f"lol omg this tarte {i} is sooo good 🍋🍋 bisous!!" for i in range(30)]
PROF = [f"The gradient of layer {i} vanishes; see the paper, section {i}." for i in range(30)]


def test_ranker_prefers_the_creators_own_register():
    ranker = VoiceRanker({"chef": CHEF, "prof": PROF})
    assert ranker.active
    chef_like, prof_like = ranker.probabilities(
        "chef", ["omg sooo good lol 🍋 bisous!!", "The paper explains the gradient, section 2."]
    )
    assert chef_like > 0.5 > prof_like


def test_ranker_abstains_with_one_creator_or_unknown_creator():
    assert VoiceRanker({"chef": CHEF}).probabilities("chef", ["hi"]) is None
    assert VoiceRanker({"chef": CHEF, "prof": PROF}).probabilities("nobody", ["hi"]) is None
    # creators with too few posts do not count
    assert not VoiceRanker({"chef": CHEF, "tiny": ["one post"]}).active
