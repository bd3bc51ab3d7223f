"""How typical a text is of a creator's voice, and how far apart two sets of texts are.

`StyleScorer.score(text, kind)` (one candidate reply against the profile) is in (0, 1]:
- each part is a typicality in (0, 1], 1 for the creator's most usual choice:
  - length: two-sided tail probability of the text's log word count under a log-normal fitted
    to the creator's p10/median/p90 for that kind (1 at the median, 0.2 at p10 or p90);
  - each binary trait (emoji, "!", "!!", "?", "...", lowercase start, all lowercase, a word in
    capitals, hashtag, @mention, final period, line break): the creator's smoothed rate of
    what the text does (p if it has the trait, 1 - p if not) over that of the commoner choice;
- the parts are combined as a weighted geometric mean (length counts 3 traits), so that one
  thing the creator never does (an emoji from someone who never uses them) weighs heavily;
- times (0.7 + 0.3 x vocabulary): the share of a bonus for using the creator's recurring
  phrases (0.5 each) or topic words (0.25 each), capped at 1.
No model, about 0.2 ms a text, deterministic, any language. On real tweets (6 creators, a
third held out), a creator's own replies outscore the other five creators' replies with an
AUC of 0.70-0.80 for creators with 100+ replies.

`style_distance(a, b)` compares two distributions of texts (for `persona eval voice`: the
generated replies vs the creator's real replies): for each feature of FEATURE_NAMES, the
difference of means divided by the pooled standard deviation (Cohen's d); for the two length
features, the mean of that standardised difference at the 10th, 50th and 90th percentile, so
that a spread mismatch counts. The distance is the mean over features: 0 for identical style,
symmetric. Measured on real tweets: 0.06-0.08 between two halves of one creator's 400-1100
replies (0.2-0.25 with 15-40 texts a side: small samples are noisy), 0.26-0.57 between the
replies of different creators.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from persona.domain import PostKind, PostRecord
from persona.style.features import FEATURE_NAMES, TextMeasure, feature_matrix, measure
from persona.style.phrases import tokens
from persona.style.profile import KindStats, VoiceProfile, build_profile

LENGTH_WEIGHT = 3.0
TRAIT_WEIGHT = 1.0
VOCABULARY_SHARE = 0.3
# A typicality never counts below this: one odd trait lowers a score, it does not zero it.
_MIN_TYPICALITY = 1e-3
# z of the 90th percentile of a normal: turns the p10..p90 spread into a standard deviation.
_Z90 = 1.2816
_MIN_LOG_SD = 0.25


def _traits(m: TextMeasure) -> dict[str, bool | None]:
    return {
        "emoji_rate": m.has_emoji,
        "exclamation_rate": m.exclamation,
        "multi_exclamation_rate": m.multi_exclamation,
        "question_rate": m.question,
        "ellipsis_rate": m.ellipsis,
        "lowercase_start_rate": m.starts_lowercase,
        "all_lowercase_rate": m.all_lowercase,
        "caps_post_rate": m.has_caps_word,
        "hashtag_rate": m.hashtags != (),
        "mention_rate": m.mention,
        "period_end_rate": m.period_end,
        "newline_rate": m.newline,
    }


@dataclass(frozen=True, slots=True)
class _KindModel:
    log_median: float
    log_sd: float
    rates: dict[str, float]


def _kind_model(stats: KindStats) -> _KindModel:
    n = max(stats.count, 1)
    low, high = math.log1p(stats.words.p10), math.log1p(stats.words.p90)
    rates = {}
    for name in _traits(measure("")):
        p = float(getattr(stats, name))
        # Smoothed towards 1/2 by half a post, so that a trait never seen is unlikely, not
        # impossible, and a few posts do not give certainties.
        rates[name] = min(max((p * n + 0.5) / (n + 1.0), 0.01), 0.99)
    return _KindModel(
        log_median=math.log1p(stats.words.median),
        log_sd=max((high - low) / (2 * _Z90), _MIN_LOG_SD),
        rates=rates,
    )


class StyleScorer:
    """Scores candidate texts against one creator's profile; build once per profile."""

    def __init__(self, profile: VoiceProfile) -> None:
        self.profile = profile
        self._models = {
            kind: _kind_model(profile.for_kind(kind)) for kind in (PostKind.POST, PostKind.REPLY)
        }
        self._phrases = {tuple(p.split()) for p, _ in profile.phrases}
        self._phrase_lengths = sorted({len(p) for p in self._phrases})
        self._topics = {t for t, _ in profile.topics}

    @classmethod
    def fit(
        cls, texts: Sequence[str], *, kind: PostKind = PostKind.REPLY, creator_id: str = "texts"
    ) -> StyleScorer:
        """A scorer from plain texts (already cleaned), all of one kind."""
        records = [PostRecord(creator=creator_id, text=t, clean_text=t, kind=kind) for t in texts]
        return cls(build_profile(creator_id, records))

    def components(self, text: str, kind: PostKind | str = PostKind.REPLY) -> dict[str, float]:
        """Each part in [0, 1]: "length", one per trait (absent when the text has no cased
        letters, for the casing traits), and "vocabulary"."""
        model = self._models[PostKind(kind)]
        m = measure(text)
        z = (math.log1p(m.words) - model.log_median) / model.log_sd
        parts = {"length": math.erfc(abs(z) / math.sqrt(2.0))}
        for name, present in _traits(m).items():
            if present is None:  # no cased letters: casing says nothing
                continue
            p = model.rates[name]
            parts[name] = (p if present else 1.0 - p) / max(p, 1.0 - p)
        parts["vocabulary"] = self._vocabulary(text)
        return parts

    def _vocabulary(self, text: str) -> float:
        toks = tokens(text)
        grams = {
            tuple(toks[i : i + n]) for n in self._phrase_lengths for i in range(len(toks) - n + 1)
        }
        hits = 0.5 * len(self._phrases & grams) + 0.25 * len(self._topics.intersection(toks))
        return min(hits, 1.0)

    def score(self, text: str, kind: PostKind | str = PostKind.REPLY) -> float:
        """How typical `text` is of the creator for that kind, in (0, 1]; higher is closer."""
        parts = self.components(text, kind)
        vocabulary = parts.pop("vocabulary")
        log_sum = LENGTH_WEIGHT * math.log(max(parts.pop("length"), _MIN_TYPICALITY))
        log_sum += TRAIT_WEIGHT * sum(math.log(max(v, _MIN_TYPICALITY)) for v in parts.values())
        weight = LENGTH_WEIGHT + TRAIT_WEIGHT * len(parts)
        return math.exp(log_sum / weight) * (1.0 - VOCABULARY_SHARE + VOCABULARY_SHARE * vocabulary)

    def rank(
        self, texts: Iterable[str], kind: PostKind | str = PostKind.REPLY
    ) -> list[tuple[str, float]]:
        """Texts with their scores, best first (ties keep the given order)."""
        scored = [(t, self.score(t, kind)) for t in texts]
        return sorted(scored, key=lambda item: -item[1])


def score_candidate(profile: VoiceProfile, text: str, kind: PostKind | str) -> float:
    """One-off `StyleScorer(profile).score(text, kind)`; build a StyleScorer to score many."""
    return StyleScorer(profile).score(text, kind)


_LENGTH_FEATURES = {FEATURE_NAMES.index("log_words"), FEATURE_NAMES.index("log_chars")}
_MIN_POOLED_SD = 0.05


def style_distance_by_feature(texts_a: Sequence[str], texts_b: Sequence[str]) -> dict[str, float]:
    """Standardised difference per feature (see the module doc); all >= 0."""
    if not texts_a or not texts_b:
        raise ValueError("style_distance needs at least one text on each side")
    a, b = feature_matrix(list(texts_a)), feature_matrix(list(texts_b))
    pooled = np.sqrt((a.var(axis=0) + b.var(axis=0)) / 2.0)
    pooled = np.maximum(pooled, _MIN_POOLED_SD)
    result: dict[str, float] = {}
    for j, name in enumerate(FEATURE_NAMES):
        if j in _LENGTH_FEATURES:
            qa = np.percentile(a[:, j], [10, 50, 90])
            qb = np.percentile(b[:, j], [10, 50, 90])
            diff = float(np.mean(np.abs(qa - qb)))
        else:
            diff = float(abs(a[:, j].mean() - b[:, j].mean()))
        result[name] = diff / float(pooled[j])
    return result


def style_distance(texts_a: Sequence[str], texts_b: Sequence[str]) -> float:
    """Distance between the styles of two sets of texts: mean standardised feature difference
    (0 = same distribution of stylometric features; symmetric; see the module doc)."""
    per_feature = style_distance_by_feature(texts_a, texts_b)
    return float(np.mean(list(per_feature.values())))
