"""Stylometric measurements of one text: what the profile aggregates and the scorer compares.

All of it is regular expressions and counting: microseconds a text, deterministic, and
language-agnostic (casing features are simply absent for scripts without case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import regex

from persona.style.text import (
    ELLIPSIS_RE,
    HASHTAG_RE,
    MENTION_RE,
    MULTI_EXCLAMATION_RE,
    URL_RE,
    WORD_RE,
    find_emoji,
    word_count,
)

# Words in capitals count from 3 letters, so "I", "OK" and most acronyms do not.
CAPS_WORD_MIN_LETTERS = 3


@dataclass(frozen=True, slots=True)
class TextMeasure:
    words: int
    chars: int
    emoji: tuple[str, ...]
    hashtags: tuple[str, ...]
    mention: bool
    exclamation: bool
    multi_exclamation: bool
    question: bool
    ellipsis: bool
    # Casing, measured without handles, hashtags and links; None when the text has no cased
    # letters (emoji only, or a script without case).
    starts_lowercase: bool | None
    all_lowercase: bool | None
    caps_words: int
    cased_words: int
    period_end: bool
    newline: bool

    @property
    def has_emoji(self) -> bool:
        return bool(self.emoji)

    @property
    def has_caps_word(self) -> bool:
        return self.caps_words > 0


_CASED_RE = regex.compile(r"[\p{Lu}\p{Ll}\p{Lt}]")
_UPPER_RE = regex.compile(r"[\p{Lu}\p{Lt}]")


def _is_caps_word(word: str) -> bool:
    return (
        len(word) >= CAPS_WORD_MIN_LETTERS
        and word.isupper()
        and sum(c.isalpha() for c in word) >= CAPS_WORD_MIN_LETTERS
    )


def measure(text: str) -> TextMeasure:
    """Measure one (cleaned) text."""
    prose = HASHTAG_RE.sub(" ", MENTION_RE.sub(" ", URL_RE.sub(" ", text)))
    first_cased = _CASED_RE.search(prose)
    words = WORD_RE.findall(prose)
    cased_words = [w for w in words if w.lower() != w.upper()]
    stripped = text.rstrip()
    return TextMeasure(
        words=word_count(text),
        chars=len(text),
        emoji=tuple(find_emoji(text)),
        hashtags=tuple(HASHTAG_RE.findall(text)),
        mention=MENTION_RE.search(text) is not None,
        exclamation="!" in text,
        multi_exclamation=MULTI_EXCLAMATION_RE.search(text) is not None,
        question="?" in text or "¿" in text,
        ellipsis=ELLIPSIS_RE.search(text) is not None,
        starts_lowercase=first_cased.group().islower() if first_cased else None,
        all_lowercase=_UPPER_RE.search(prose) is None if first_cased else None,
        caps_words=sum(_is_caps_word(w) for w in cased_words),
        cased_words=len(cased_words),
        period_end=stripped.endswith(".") and not stripped.endswith(".."),
        newline="\n" in stripped,
    )


# The feature vector of `style_features`, in this order. Binary features are 0/1; lengths
# are log1p so that 5 vs 10 words weighs like 50 vs 100.
FEATURE_NAMES: tuple[str, ...] = (
    "log_words",
    "log_chars",
    "emoji",
    "log_emoji_count",
    "exclamation",
    "multi_exclamation",
    "question",
    "ellipsis",
    "starts_lowercase",
    "all_lowercase",
    "caps_word",
    "hashtag",
    "mention",
    "period_end",
    "newline",
    "mean_word_length",
)


def features_of(m: TextMeasure, text: str) -> np.ndarray:
    tokens = WORD_RE.findall(text)
    mean_len = sum(len(t) for t in tokens) / len(tokens) if tokens else 0.0
    return np.array(
        [
            math.log1p(m.words),
            math.log1p(m.chars),
            float(m.has_emoji),
            math.log1p(len(m.emoji)),
            float(m.exclamation),
            float(m.multi_exclamation),
            float(m.question),
            float(m.ellipsis),
            float(bool(m.starts_lowercase)),
            float(bool(m.all_lowercase)),
            float(m.has_caps_word),
            float(bool(m.hashtags)),
            float(m.mention),
            float(m.period_end),
            float(m.newline),
            mean_len,
        ],
        dtype=np.float64,
    )


def style_features(text: str) -> np.ndarray:
    """The stylometric feature vector of one text (see FEATURE_NAMES)."""
    return features_of(measure(text), text)


def feature_matrix(texts: list[str] | tuple[str, ...]) -> np.ndarray:
    if not texts:
        return np.zeros((0, len(FEATURE_NAMES)))
    return np.vstack([style_features(t) for t in texts])
