"""Voice evaluation: attribution by an independent judge, style distance, and copy rate.

Each creator's posts are split three ways, deterministically:
- `train`: what the AI double may use (profile, retrieval, examples, the style ranker);
- `judge`: what the attribution classifier learns from (disjoint from `train`, so the judge
  does not simply reward the ranker for matching its own training data);
- `test`: real held-out posts, scored by the same judge as the reference ("real
  attribution"), and the target distribution for the style distance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from persona.domain import PostKind, PostRecord
from persona.evaluation.overlap import tokens


@dataclass(slots=True)
class Split:
    train: list[PostRecord] = field(default_factory=list)
    judge: list[PostRecord] = field(default_factory=list)
    test: list[PostRecord] = field(default_factory=list)


def split_posts(
    records: Sequence[PostRecord], judge_share: float = 0.3, test_share: float = 0.2
) -> Split:
    """Stable split by the folded cleaned text: the same post always lands in the same part,
    and so do posts that differ only by a link, a handle or punctuation (a judge or the
    double would otherwise see a test post's exact words in training)."""
    split = Split()
    for record in records:
        key = f"{record.creator}\x00{' '.join(tokens(record.clean_text or record.text))}"
        bucket = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        if bucket < test_share:
            split.test.append(record)
        elif bucket < test_share + judge_share:
            split.judge.append(record)
        else:
            split.train.append(record)
    return split


class AttributionJudge:
    """Character n-gram TF-IDF + logistic regression: who wrote this text?"""

    def __init__(self, seed: int = 0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True),
            LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced", random_state=seed),
        )

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> AttributionJudge:
        if len(set(labels)) < 2:
            raise ValueError("attribution needs at least two creators to tell apart")
        self.pipeline.fit(list(texts), list(labels))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(p) for p in self.pipeline.predict(list(texts))] if texts else []

    def share_attributed(self, texts: Sequence[str], creator: str) -> float:
        predictions = self.predict(texts)
        return sum(p == creator for p in predictions) / len(predictions) if predictions else 0.0


COPY_RUN = 6  # words in a row; the engine's own copy guard rejects 8, so 0 is not a given


def copy_rate(replies: Sequence[str], posts: Sequence[str], n: int = COPY_RUN) -> float:
    """Share of replies that copy a post: `n` folded words in a row from one, or the same
    words as one (Jaccard >= 0.8, 3+ words). Written apart from the engine's copy guard
    (persona.engine.copyguard): a detector must not be the guard it audits."""
    guard = _CopyDetector(posts, n)
    return sum(guard.copies(r) for r in replies) / len(replies) if replies else 0.0


class _CopyDetector:
    def __init__(self, posts: Sequence[str], n: int) -> None:
        self.n = n
        self.runs: set[tuple[str, ...]] = set()
        self.vocabs: list[frozenset[str]] = []
        for post in posts:
            words = tokens(post)
            self.runs.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
            if len(set(words)) >= 3:
                self.vocabs.append(frozenset(words))

    def copies(self, reply: str) -> bool:
        words = tokens(reply)
        if any(tuple(words[i : i + self.n]) in self.runs for i in range(len(words) - self.n + 1)):
            return True
        vocab = frozenset(words)
        return len(vocab) >= 3 and any(len(vocab & v) >= 0.8 * len(vocab | v) for v in self.vocabs)


GENERIC_FAN_MESSAGES = [
    "I love you so much!! you made my day",
    "Happy birthday!!! 🎉",
    "What's your favorite thing to do on a Sunday?",
    "Can you give me one piece of advice for this week?",
    "Thank you for everything you share, it means a lot",
    "What are you working on right now?",
    "How do you stay motivated when things get hard?",
    "You're my inspiration!",
    "What's the best thing that happened to you this month?",
    "Any book you'd recommend?",
    "I just started following you, where should I begin?",
    "Do you ever read your replies?",
]


def fan_messages_for(split: Split, topics: Sequence[str], count: int) -> list[str]:
    """The held-out fan messages the creator really answered when known, else generic ones
    plus a few about the creator's own topics."""
    real = [r.reply_to_text for r in split.test if r.kind == PostKind.REPLY and r.reply_to_text]
    messages = list(dict.fromkeys(real))[:count]
    topical = [f"What do you think about {t}?" for t in topics[: max(0, count // 3)]]
    for message in topical + GENERIC_FAN_MESSAGES:
        if len(messages) >= count:
            break
        messages.append(message)
    return messages[:count]


@dataclass(slots=True)
class CreatorVoiceReport:
    creator_id: str
    replies: int
    attribution: float  # generated replies the judge assigns to this creator
    real_attribution: float  # the creator's real held-out posts, same judge
    style_distance: float  # generated replies vs real held-out posts
    real_style_distance: float  # real train posts vs real held-out posts (reference)
    copy_rate: float
    samples: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class VoiceReport:
    creators: list[CreatorVoiceReport]
    judge_accuracy: float  # on all creators' real held-out posts
    chance: float

    @property
    def mean_attribution(self) -> float:
        return _mean([c.attribution for c in self.creators])

    @property
    def mean_real_attribution(self) -> float:
        return _mean([c.real_attribution for c in self.creators])

    @property
    def mean_copy_rate(self) -> float:
        return _mean([c.copy_rate for c in self.creators])


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
