"""The voice profile: how a creator writes, measured on their posts, stored as JSON.

Everything is a count or a rate over the creator's cleaned posts, split by kind (broadcast
posts vs replies), because creators write differently to everyone and to one fan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from persona.domain import PostKind, PostRecord
from persona.style.features import TextMeasure, measure
from persona.style.phrases import recurring_phrases, topic_keywords
from persona.style.text import URL_RE

PROFILE_VERSION = 1
TOP_N = 10
# Phrases and topics kept: the scorer's vocabulary (displays show the first few).
VOCABULARY_SIZE = 30


class ProfileVersionError(ValueError):
    """A stored profile written by another version of this code: rebuild it."""


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


@dataclass(slots=True)
class Quantiles:
    p10: float = 0.0
    median: float = 0.0
    p90: float = 0.0
    mean: float = 0.0

    @classmethod
    def of(cls, values: Sequence[int]) -> Quantiles:
        if not values:
            return cls()
        p10, median, p90 = np.percentile(np.asarray(values, dtype=float), [10, 50, 90])
        return cls(
            p10=round(float(p10), 2),
            median=round(float(median), 2),
            p90=round(float(p90), 2),
            mean=round(float(np.mean(values)), 2),
        )


@dataclass(slots=True)
class KindStats:
    """Rates over one set of posts (all, broadcast posts, or replies). A rate is the share of
    posts with the trait, except `emoji_per_post`, `hashtags_per_post` and `caps_word_rate`
    (ALL-CAPS words of 3+ letters per word). Casing rates count only posts with cased letters.
    """

    count: int = 0
    words: Quantiles = field(default_factory=Quantiles)
    chars: Quantiles = field(default_factory=Quantiles)
    emoji_rate: float = 0.0
    emoji_per_post: float = 0.0
    exclamation_rate: float = 0.0
    multi_exclamation_rate: float = 0.0
    question_rate: float = 0.0
    ellipsis_rate: float = 0.0
    lowercase_start_rate: float = 0.0
    all_lowercase_rate: float = 0.0
    caps_post_rate: float = 0.0
    caps_word_rate: float = 0.0
    hashtag_rate: float = 0.0
    hashtags_per_post: float = 0.0
    mention_rate: float = 0.0
    link_rate: float = 0.0
    period_end_rate: float = 0.0
    newline_rate: float = 0.0

    @classmethod
    def of(cls, measures: Sequence[TextMeasure], links: int) -> KindStats:
        n = len(measures)
        cased = [m for m in measures if m.all_lowercase is not None]
        words_total = sum(m.cased_words for m in measures)
        return cls(
            count=n,
            words=Quantiles.of([m.words for m in measures]),
            chars=Quantiles.of([m.chars for m in measures]),
            emoji_rate=_rate(sum(m.has_emoji for m in measures), n),
            emoji_per_post=_rate(sum(len(m.emoji) for m in measures), n),
            exclamation_rate=_rate(sum(m.exclamation for m in measures), n),
            multi_exclamation_rate=_rate(sum(m.multi_exclamation for m in measures), n),
            question_rate=_rate(sum(m.question for m in measures), n),
            ellipsis_rate=_rate(sum(m.ellipsis for m in measures), n),
            lowercase_start_rate=_rate(sum(bool(m.starts_lowercase) for m in cased), len(cased)),
            all_lowercase_rate=_rate(sum(bool(m.all_lowercase) for m in cased), len(cased)),
            caps_post_rate=_rate(sum(m.has_caps_word for m in measures), n),
            caps_word_rate=_rate(sum(m.caps_words for m in measures), words_total),
            hashtag_rate=_rate(sum(bool(m.hashtags) for m in measures), n),
            hashtags_per_post=_rate(sum(len(m.hashtags) for m in measures), n),
            mention_rate=_rate(sum(m.mention for m in measures), n),
            link_rate=_rate(links, n),
            period_end_rate=_rate(sum(m.period_end for m in measures), n),
            newline_rate=_rate(sum(m.newline for m in measures), n),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KindStats:
        values = dict(data)
        values["words"] = Quantiles(**values["words"])
        values["chars"] = Quantiles(**values["chars"])
        return cls(**values)


@dataclass(slots=True)
class ReplyContrast:
    """How replies differ from broadcast posts: ratio of median lengths, and differences of
    rates (replies minus posts; positive: more frequent in replies)."""

    words_median_ratio: float
    emoji_rate_diff: float
    exclamation_rate_diff: float
    question_rate_diff: float
    all_lowercase_rate_diff: float
    hashtag_rate_diff: float

    @classmethod
    def of(cls, posts: KindStats, replies: KindStats) -> ReplyContrast | None:
        if not posts.count or not replies.count:
            return None
        return cls(
            words_median_ratio=round(replies.words.median / max(posts.words.median, 1.0), 3),
            emoji_rate_diff=round(replies.emoji_rate - posts.emoji_rate, 4),
            exclamation_rate_diff=round(replies.exclamation_rate - posts.exclamation_rate, 4),
            question_rate_diff=round(replies.question_rate - posts.question_rate, 4),
            all_lowercase_rate_diff=round(replies.all_lowercase_rate - posts.all_lowercase_rate, 4),
            hashtag_rate_diff=round(replies.hashtag_rate - posts.hashtag_rate, 4),
        )


@dataclass(slots=True)
class VoiceProfile:
    """`post_count` counts everything the creator wrote; `reply_count` the replies among it,
    `broadcast_count` the rest. `languages` are shares among posts whose language is known."""

    creator_id: str
    post_count: int
    reply_count: int
    broadcast_count: int
    overall: KindStats
    posts: KindStats
    replies: KindStats
    top_emoji: list[tuple[str, int]]
    top_hashtags: list[tuple[str, int]]
    languages: dict[str, float]
    undetermined_language_rate: float
    phrases: list[tuple[str, int]]
    topics: list[tuple[str, float]]
    reply_contrast: ReplyContrast | None
    version: int = PROFILE_VERSION

    def for_kind(self, kind: PostKind | str) -> KindStats:
        """The stats of that kind, or of all posts when the creator has none of that kind."""
        stats = self.replies if PostKind(kind) == PostKind.REPLY else self.posts
        return stats if stats.count else self.overall

    @property
    def topic_words(self) -> list[str]:
        return [term for term, _ in self.topics]

    @property
    def main_language(self) -> str | None:
        return next(iter(self.languages), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (tuples become lists); `from_dict(to_dict())` gives an equal profile."""
        data = asdict(self)
        data["top_emoji"] = [list(x) for x in self.top_emoji]
        data["top_hashtags"] = [list(x) for x in self.top_hashtags]
        data["phrases"] = [list(x) for x in self.phrases]
        data["topics"] = [list(x) for x in self.topics]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceProfile:
        version = data.get("version")
        if version != PROFILE_VERSION:
            raise ProfileVersionError(
                f"stored voice profile has version {version}, this code reads version "
                f"{PROFILE_VERSION}; rebuild the profile from the creator's posts"
            )
        contrast = data.get("reply_contrast")
        return cls(
            creator_id=data["creator_id"],
            post_count=data["post_count"],
            reply_count=data["reply_count"],
            broadcast_count=data["broadcast_count"],
            overall=KindStats.from_dict(data["overall"]),
            posts=KindStats.from_dict(data["posts"]),
            replies=KindStats.from_dict(data["replies"]),
            top_emoji=[(str(e), int(c)) for e, c in data["top_emoji"]],
            top_hashtags=[(str(h), int(c)) for h, c in data["top_hashtags"]],
            languages={str(k): float(v) for k, v in data["languages"].items()},
            undetermined_language_rate=data["undetermined_language_rate"],
            phrases=[(str(p), int(c)) for p, c in data["phrases"]],
            topics=[(str(t), float(s)) for t, s in data["topics"]],
            reply_contrast=ReplyContrast(**contrast) if contrast else None,
            version=version,
        )


def _top(counter: Counter[str], n: int = TOP_N) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:n]


def _top_hashtags(measures: Sequence[TextMeasure]) -> list[tuple[str, int]]:
    """Counted case-insensitively, shown in the spelling the creator uses most."""
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for m in measures:
        for tag in m.hashtags:
            counts[tag.lower()] += 1
            spellings.setdefault(tag.lower(), Counter())[tag] += 1
    return [("#" + spellings[key].most_common(1)[0][0], count) for key, count in _top(counts)]


def build_profile(
    creator_id: str,
    posts: Sequence[PostRecord],
    *,
    background: Sequence[str] = (),
) -> VoiceProfile:
    """Measure a creator's voice from their records (uses clean_text, kind and lang).

    `background`: other creators' cleaned texts, optional; with them, phrases and topics are
    those this creator uses more than others (see persona.style.phrases).
    """
    texts = [p.clean_text for p in posts]
    measures = [measure(t) for t in texts]
    links = [URL_RE.search(p.text) is not None for p in posts]
    reply_idx = [i for i, p in enumerate(posts) if p.kind == PostKind.REPLY]
    post_idx = [i for i, p in enumerate(posts) if p.kind != PostKind.REPLY]

    def stats_of(indices: list[int]) -> KindStats:
        return KindStats.of([measures[i] for i in indices], sum(links[i] for i in indices))

    post_stats, reply_stats = stats_of(post_idx), stats_of(reply_idx)
    emoji: Counter[str] = Counter()
    for m in measures:
        emoji.update(e.replace("\ufe0f", "") for e in m.emoji)
    langs = Counter(p.lang for p in posts if p.lang and p.lang != "und")
    known = sum(langs.values())
    return VoiceProfile(
        creator_id=creator_id,
        post_count=len(posts),
        reply_count=len(reply_idx),
        broadcast_count=len(post_idx),
        overall=stats_of(list(range(len(posts)))),
        posts=post_stats,
        replies=reply_stats,
        top_emoji=_top(emoji),
        top_hashtags=_top_hashtags(measures),
        languages={lang: _rate(c, known) for lang, c in _top(langs, 8)},
        undetermined_language_rate=_rate(len(posts) - known, len(posts)),
        phrases=recurring_phrases(texts, background=background, limit=VOCABULARY_SIZE),
        topics=topic_keywords(texts, background=background, limit=VOCABULARY_SIZE),
        reply_contrast=ReplyContrast.of(post_stats, reply_stats),
    )
