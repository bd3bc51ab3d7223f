"""The voice profile as a page: plain sentences, small bar charts (drawn as SVG by the
template from the `Bar` rows here) and the exact style guide the AI is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from persona.domain import PostKind
from persona.style import VoiceProfile, describe_for_prompt, how_often
from persona.style.describe import LANGUAGE_NAMES, plural
from persona.style.phrases import tokens
from persona.style.profile import KindStats, ProfileVersionError


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    # 0..1 of the chart's widest bar.
    fraction: float
    shown: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    bars: list[Bar]
    # What the chart says, for screen readers and as its caption.
    summary: str


@dataclass(frozen=True, slots=True)
class LengthRow:
    kind: str
    count: int
    p10: float
    median: float
    p90: float


@dataclass(frozen=True, slots=True)
class ProfileView:
    post_count: int
    reply_count: int
    broadcast_count: int
    lengths: list[LengthRow]
    length_max: float
    sentences: list[str]
    habits: Chart
    emoji: Chart
    languages: Chart
    topics: Chart
    phrases: list[tuple[str, int]]
    hashtags: list[tuple[str, int]]
    style_guide: str


def chart(title: str, items: list[tuple[str, float]], fmt: str, summary: str) -> Chart:
    top = max((v for _, v in items), default=0.0) or 1.0
    bars = [Bar(label, value, value / top, fmt.format(value)) for label, value in items]
    return Chart(title, bars, summary)


def _language(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def _sentences(profile: VoiceProfile, stats: KindStats, unit: str) -> list[str]:
    words = stats.words
    low, high = max(1, round(words.p10)), max(2, round(words.p90))
    out = [
        f"Most of your {plural(unit)} are {low}–{high} words long, "
        f"typically {round(words.median)}.",
        f"Emoji: {how_often(stats.emoji_rate, unit)} has at least one.",
        f"Exclamation marks: {how_often(stats.exclamation_rate, unit)}; "
        f"questions: {how_often(stats.question_rate, unit)}.",
    ]
    if stats.all_lowercase_rate >= 0.5:
        out.append("You mostly write all in lowercase.")
    elif stats.lowercase_start_rate >= 0.3:
        out.append(
            f"You start with a lowercase letter {how_often(stats.lowercase_start_rate, unit)}."
        )
    if profile.languages:
        shares = ", ".join(
            f"{_language(code)} {share:.0%}" for code, share in list(profile.languages.items())[:4]
        )
        out.append(f"Languages: {shares}.")
    contrast = profile.reply_contrast
    if contrast is not None and contrast.words_median_ratio <= 0.8:
        out.append("Your replies to fans are shorter than your posts.")
    elif contrast is not None and contrast.words_median_ratio >= 1.25:
        out.append("Your replies to fans are longer than your posts.")
    return out


_HABITS: tuple[tuple[str, str], ...] = (
    ("emoji", "emoji_rate"),
    ("'!'", "exclamation_rate"),
    ("'?'", "question_rate"),
    ("'...'", "ellipsis_rate"),
    ("all lowercase", "all_lowercase_rate"),
    ("a word in CAPS", "caps_post_rate"),
    ("hashtags", "hashtag_rate"),
    ("@mentions", "mention_rate"),
    ("links", "link_rate"),
    ("ends with '.'", "period_end_rate"),
)


def topic_shares(terms: list[str], texts: list[str]) -> dict[str, float]:
    """Share of the posts (0..1) using each topic word: a unit a creator can read, where the
    profile's TF-IDF weights have none."""
    wanted = set(terms)
    counts = dict.fromkeys(terms, 0)
    for text in texts:
        for term in wanted.intersection(tokens(text)):
            counts[term] += 1
    return {term: count / len(texts) for term, count in counts.items()} if texts else {}


def _topics_chart(profile: VoiceProfile, texts: list[str] | None) -> Chart:
    top = [t for t, _ in profile.topics[:10]]
    if not top:
        # A topic needs 3 posts using it: a handful of posts (a persona card) may have none.
        return chart("Topics you come back to", [], "{:.0%}", "None yet: import more posts.")
    if texts:
        shares = topic_shares(top, texts)
        ranked = sorted(top, key=lambda t: -shares[t])
        return chart(
            "Topics you come back to (% of your posts)",
            [(t, shares[t]) for t in ranked],
            "{:.0%}",
            f"The {len(top)} words that most set your posts apart, by the share of your "
            f"{len(texts)} posts that use each.",
        )
    # Without the posts at hand: the weights relative to the first topic, said as such.
    first = profile.topics[0][1] if profile.topics else 1.0
    return chart(
        "Topics you come back to (weight, first = 100)",
        [(t, 100 * w / (first or 1.0)) for t, w in profile.topics[:10]],
        "{:.0f}",
        "Words that set your posts apart, most distinctive first.",
    )


def build_view(data: dict[str, Any], texts: list[str] | None = None) -> ProfileView:
    """From `Creator.profile` (raises ProfileVersionError when it must be rebuilt); `texts`,
    the creator's cleaned posts, give the topic chart its unit (share of posts)."""
    profile = VoiceProfile.from_dict(data)
    unit = "reply" if profile.replies.count else "post"
    stats = profile.for_kind(PostKind.REPLY)
    lengths = [
        LengthRow(name, s.count, s.words.p10, s.words.median, s.words.p90)
        for name, s in (("posts", profile.posts), ("replies", profile.replies))
        if s.count
    ]
    habits = chart(
        f"Share of your {plural(unit)} with…",
        [(label, getattr(stats, attr)) for label, attr in _HABITS],
        "{:.0%}",
        f"Measured on {stats.count} {plural(unit)}.",
    )
    emoji = chart(
        "Your most used emoji",
        [(e, float(c)) for e, c in profile.top_emoji[:8]],
        "{:.0f}",
        "How many times each emoji appears in your posts."
        if profile.top_emoji
        else "You use no emoji.",
    )
    languages = chart(
        "Languages",
        [(_language(code), share) for code, share in profile.languages.items()],
        "{:.0%}",
        "Share of your posts in each language.",
    )
    topics = _topics_chart(profile, texts)
    return ProfileView(
        post_count=profile.post_count,
        reply_count=profile.reply_count,
        broadcast_count=profile.broadcast_count,
        lengths=lengths,
        length_max=max((r.p90 for r in lengths), default=1.0) or 1.0,
        sentences=_sentences(profile, stats, unit),
        habits=habits,
        emoji=emoji,
        languages=languages,
        topics=topics,
        phrases=profile.phrases[:12],
        hashtags=profile.top_hashtags[:8],
        style_guide=describe_for_prompt(profile, PostKind.REPLY),
    )


__all__ = [
    "Bar",
    "Chart",
    "ProfileVersionError",
    "ProfileView",
    "build_view",
    "chart",
    "topic_shares",
]
