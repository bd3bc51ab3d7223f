"""Voice profile, prompt guide, table and style scorer: exact numbers on a crafted corpus,
contrasting mini-creators for the scorer, and the real tweets for the directions."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from persona.domain import PostKind, PostRecord
from persona.style import (
    FEATURE_NAMES,
    ProfileVersionError,
    StyleScorer,
    VoiceProfile,
    build_profile,
    describe_for_prompt,
    how_often,
    measure,
    profile_rows,
    recurring_phrases,
    render_table,
    score_candidate,
    style_distance,
    style_distance_by_feature,
    style_features,
    topic_keywords,
)
from persona.style.text import find_emoji

SHARED_TWEETS = Path(__file__).parents[1].parent / "shared/data/creators/tweets_dev.csv"


def record(
    clean: str, kind: PostKind = PostKind.POST, lang: str = "en", text: str | None = None
) -> PostRecord:
    return PostRecord(creator="mini", text=text or clean, clean_text=clean, kind=kind, lang=lang)


MINI = [
    record("Hello world! Big news today", text="Hello world! Big news today https://x.co/abc"),
    record("love you!! 💕💕", PostKind.REPLY),
    record("Thanks so much @user #Blessed", PostKind.REPLY, lang="fr"),
    record("NEW drop tomorrow... are you ready?"),
    record("ok.", PostKind.REPLY, lang="und"),
]


def test_measure_one_text() -> None:
    m = measure("OMG sooo happy!!! 💕💕 thank you @user #KUWTK https://x.y/z")
    assert m.words == 7  # OMG sooo happy thank you user KUWTK: handles and tags are words
    assert m.emoji == ("💕", "💕")
    assert m.hashtags == ("KUWTK",)
    assert m.mention and m.exclamation and m.multi_exclamation
    assert not m.question and not m.ellipsis and not m.period_end
    assert m.starts_lowercase is False and m.all_lowercase is False
    assert m.caps_words == 1  # OMG; the hashtag does not count
    assert measure("😍😍").all_lowercase is None  # no cased letters: casing unknown
    assert measure("日本語です").starts_lowercase is None


def test_emoji_are_counted_as_rendered() -> None:
    assert find_emoji("hi 👍🏽 👨‍👩‍👧 🇫🇷 ❤️ ❤") == ["👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "❤"]
    assert find_emoji("© 2024 ™ → plain") == []


def test_profile_numbers_on_a_crafted_corpus() -> None:
    p = build_profile("mini", MINI)
    assert (p.post_count, p.reply_count, p.broadcast_count) == (5, 3, 2)

    r = p.replies  # "love you!! 💕💕", "Thanks so much @user #Blessed", "ok."
    assert r.count == 3
    assert (r.words.p10, r.words.median, r.words.p90, r.words.mean) == (1.2, 2.0, 4.4, 2.67)
    assert r.chars.median == 13.0  # 13, 29 and 3 characters
    assert r.emoji_rate == 0.3333 and r.emoji_per_post == 0.6667
    assert r.exclamation_rate == 0.3333 and r.multi_exclamation_rate == 0.3333
    assert r.question_rate == 0.0 and r.ellipsis_rate == 0.0
    assert r.lowercase_start_rate == 0.6667 and r.all_lowercase_rate == 0.6667
    assert r.caps_post_rate == 0.0 and r.caps_word_rate == 0.0
    assert r.hashtag_rate == 0.3333 and r.mention_rate == 0.3333
    assert r.period_end_rate == 0.3333 and r.link_rate == 0.0

    b = p.posts  # "Hello world! Big news today" (+ link), "NEW drop tomorrow... are you ready?"
    assert b.count == 2
    assert (b.words.p10, b.words.median, b.words.p90) == (5.1, 5.5, 5.9)
    assert b.exclamation_rate == 0.5 and b.question_rate == 0.5 and b.ellipsis_rate == 0.5
    assert b.caps_post_rate == 0.5
    assert b.caps_word_rate == round(1 / 11, 4)  # NEW, among 11 words
    assert b.link_rate == 0.5 and b.emoji_rate == 0.0

    assert p.overall.count == 5
    assert p.top_emoji == [("💕", 2)]
    assert p.top_hashtags == [("#Blessed", 1)]
    assert p.languages == {"en": 0.75, "fr": 0.25}
    assert p.undetermined_language_rate == 0.2
    assert p.reply_contrast is not None
    assert p.reply_contrast.words_median_ratio == round(2.0 / 5.5, 3)
    assert p.reply_contrast.emoji_rate_diff == 0.3333
    assert p.reply_contrast.exclamation_rate_diff == round(0.3333 - 0.5, 4)


def test_profile_round_trips_through_json() -> None:
    p = build_profile("mini", MINI)
    data = json.loads(json.dumps(p.to_dict()))
    assert VoiceProfile.from_dict(data) == p
    data["version"] = 0
    with pytest.raises(ProfileVersionError, match="rebuild"):
        VoiceProfile.from_dict(data)


def test_empty_and_one_kind_profiles() -> None:
    empty = build_profile("nobody", [])
    assert empty.post_count == 0 and empty.reply_contrast is None and empty.phrases == []
    posts_only = build_profile("mini", [m for m in MINI if m.kind == PostKind.POST])
    # No replies: the reply guide falls back to the posts.
    assert posts_only.for_kind("reply") == posts_only.overall
    assert "of their posts" in describe_for_prompt(posts_only, "reply")


def test_recurring_phrases_skip_function_words_and_prefer_longer() -> None:
    texts = [
        "you got this babe, in the end",
        "you got this babe!!",
        "omg you got this babe",
        "in the morning I run",
        "in the evening I read",
        "in the kitchen again",
    ]
    phrases = dict(recurring_phrases(texts))
    assert phrases == {"you got this babe": 3}  # not "in the", not "got this"
    # With a background where everybody says "you got this", only the creator's twist stays.
    background = ["you got this"] * 20 + ["nice"] * 20
    ranked = recurring_phrases(texts + ["got this babe"] * 2, background=background)
    assert ranked[0][0] in {"this babe", "got this babe"}


def test_topic_keywords_ignore_function_and_everyday_words() -> None:
    texts = [
        "keras makes deep learning easy",
        "deep learning with keras is fun",
        "the keras team ships tensorflow today",
        "think about the people",
    ]
    topics = [t for t, _ in topic_keywords(texts)]
    assert topics[0] == "keras"
    assert "the" not in topics and "think" not in topics and "people" not in topics


def test_how_often_speaks_in_rates() -> None:
    assert how_often(0.25, "reply") == "about 1 reply in 4"
    assert how_often(0.5, "reply") == "in about half of the replies"
    assert how_often(0.7, "post") == "in about 7 posts out of 10"
    assert how_often(0.01, "post") == "almost never"
    assert how_often(0.97, "post") == "almost always"


def test_prompt_guide_gives_rates_not_lists() -> None:
    replies = [
        "love you sm 💕",
        "omg stop it 😭",
        "thank u babe",
        "haha yesss",
        "miss u!!",
        "so proud of u",
        "cant wait",
        "ur the best 💕",
    ]
    posts = [f"New video tonight at 6pm! Episode {i} #vlog" for i in range(4)]
    records = [record(t, PostKind.REPLY) for t in replies] + [
        record(t, lang="fr") for t in posts[:1]
    ]
    records += [record(t) for t in posts[1:]]
    p = build_profile("mini", records)
    guide = describe_for_prompt(p, "reply")
    assert guide == describe_for_prompt(p, PostKind.REPLY)  # deterministic
    assert "measured on 8 of their replies" in guide
    assert "Emoji: about 1 reply in 3 (usually just one)" in guide
    assert "mostly all lowercase" in guide
    assert "English and French" in guide and "answer in the language of the fan" in guide
    assert not find_emoji(guide)  # never a list of emoji to paste
    assert "#" not in guide
    post_guide = describe_for_prompt(p, "post")
    assert "Hashtags: almost always" in post_guide


def test_table_rows_and_rich_table() -> None:
    p = build_profile("mini", MINI)
    rows = profile_rows(p)
    assert rows[0] == ("count", "5", "2", "3")
    assert ("posts with emoji", "20%", "0%", "33%") in rows
    table = render_table(p)
    assert table.row_count == len(rows)
    assert [c.header for c in table.columns] == ["measure", "all", "posts", "replies"]


# -- scorer -----------------------------------------------------------------------------------

CASUAL = [
    "omg love u sm 💕💕",
    "haha yesss 😂",
    "ur the best!! 💕",
    "stoppp ur so cute 😭",
    "love love love 💕",
    "aww thank u babe!!",
    "miss u 😭💕",
    "yesss queen!!",
]
FORMAL = [
    "Thank you for the thoughtful question. The package handles this case; see the docs.",
    "That is a fair point. I would recommend filing an issue with a reproducible example.",
    "Unfortunately this is not supported yet. We plan to address it in the next release.",
    "I agree with your analysis. The trade-off is memory usage versus speed of access.",
    "Good question. The documentation describes the recommended approach in some detail.",
    "Yes, that should work. Please make sure you are using the latest version first.",
]
CASUAL_CANDIDATE = "aww love u 💕💕"
FORMAL_CANDIDATE = "Thanks for asking. The latest release documents this behaviour in detail."


def test_scorer_prefers_each_creators_own_style() -> None:
    casual = StyleScorer.fit(CASUAL)
    formal = StyleScorer.fit(FORMAL)
    assert casual.score(CASUAL_CANDIDATE) > casual.score(FORMAL_CANDIDATE)
    assert formal.score(FORMAL_CANDIDATE) > formal.score(CASUAL_CANDIDATE)
    ranked = casual.rank([FORMAL_CANDIDATE, CASUAL_CANDIDATE])
    assert [t for t, _ in ranked] == [CASUAL_CANDIDATE, FORMAL_CANDIDATE]
    for scorer in (casual, formal):
        for text in (CASUAL_CANDIDATE, FORMAL_CANDIDATE, "", "😍"):
            assert 0.0 < scorer.score(text) <= 1.0


def test_scorer_components_and_one_off_function() -> None:
    profile = build_profile("casual", [record(t, PostKind.REPLY) for t in CASUAL])
    parts = StyleScorer(profile).components("ur the best 💕", "reply")
    assert parts["emoji_rate"] == 1.0  # the creator's usual choice
    assert parts["hashtag_rate"] == 1.0  # no hashtag, like the creator
    assert parts["length"] > 0.9  # 3 words, the creator's median
    assert parts["vocabulary"] == 0.0  # 8 posts: nothing recurs 3 times
    repeats = ["ur so cute babe", "ur so cute omg", "ur so cute lol"]
    fan_of_cute = build_profile("c", [record(t, PostKind.REPLY) for t in CASUAL + repeats])
    assert ("ur so cute", 4) in fan_of_cute.phrases and "cute" in dict(fan_of_cute.topics)
    # Half for the phrase, a quarter for the topic word.
    assert StyleScorer(fan_of_cute).components("ur so cute 💕")["vocabulary"] == 0.75
    long_formal = StyleScorer(profile).components(FORMAL[0], "reply")
    # 15 words against a 3-word median; no emoji where 6 posts in 8 have some.
    assert long_formal["length"] < 0.01 and long_formal["emoji_rate"] < 0.5
    assert score_candidate(profile, "ur the best 💕", "reply") == StyleScorer(profile).score(
        "ur the best 💕", "reply"
    )


def test_style_features_and_distance() -> None:
    vector = style_features("Hello there!! 💕")
    assert vector.shape == (len(FEATURE_NAMES),)
    assert vector[FEATURE_NAMES.index("emoji")] == 1.0
    assert vector[FEATURE_NAMES.index("multi_exclamation")] == 1.0
    assert style_distance(CASUAL, CASUAL) == 0.0
    same = style_distance(CASUAL[:4], CASUAL[4:])
    different = style_distance(CASUAL, FORMAL)
    assert different > 2 * same
    assert different == pytest.approx(style_distance(FORMAL, CASUAL))
    per_feature = style_distance_by_feature(CASUAL, FORMAL)
    assert set(per_feature) == set(FEATURE_NAMES)
    assert all(v >= 0 for v in per_feature.values())
    assert np.mean(list(per_feature.values())) == pytest.approx(different)
    with pytest.raises(ValueError, match="at least one text"):
        style_distance([], FORMAL)


# -- the real tweets --------------------------------------------------------------------------


@pytest.mark.shared_data
def test_real_creators_differ_in_the_expected_directions() -> None:
    if not SHARED_TWEETS.exists():
        pytest.skip(f"{SHARED_TWEETS} not found (shared data is not checked out here)")
    from ingest.sources import load_posts

    by_creator: dict[str, list[PostRecord]] = defaultdict(list)
    for r in load_posts(SHARED_TWEETS, creator_column="name"):
        if r.creator in ("fchollet", "khloekardashian"):
            by_creator[r.creator].append(r)
    chollet = build_profile("fchollet", by_creator["fchollet"])
    khloe = build_profile("khloekardashian", by_creator["khloekardashian"])

    assert khloe.overall.emoji_rate > 4 * chollet.overall.emoji_rate
    assert khloe.replies.exclamation_rate > 3 * chollet.replies.exclamation_rate
    assert khloe.posts.hashtag_rate > 0.3 > chollet.posts.hashtag_rate
    assert chollet.replies.words.median > 2 * khloe.replies.words.median
    assert chollet.languages["en"] > 0.95
    assert "deep learning" in dict(chollet.phrases)
    assert "keras" in chollet.topic_words
    assert khloe.reply_contrast is not None and khloe.reply_contrast.words_median_ratio < 1

    chollet_scorer, khloe_scorer = StyleScorer(chollet), StyleScorer(khloe)
    khloe_like = "Aww thank you love!! 💕"
    chollet_like = (
        "I think this is mostly a matter of mental models: the framework should match "
        "what users expect it to do"
    )
    assert khloe_scorer.score(khloe_like) > khloe_scorer.score(chollet_like)
    assert chollet_scorer.score(chollet_like) > chollet_scorer.score(khloe_like)

    chollet_replies = [r.clean_text for r in by_creator["fchollet"] if r.kind == PostKind.REPLY]
    khloe_replies = [r.clean_text for r in by_creator["khloekardashian"] if r.kind == "reply"]
    half = len(chollet_replies) // 2
    within = style_distance(chollet_replies[:half], chollet_replies[half:])
    assert style_distance(chollet_replies, khloe_replies) > 3 * within
