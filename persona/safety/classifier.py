"""The packaged offensive-language classifier (alt-profanity-check), loaded on first use.

It is a linear model over English n-grams: good at spotting swearing, blind to whom it is
aimed at ("what a fucking great video" scores 1.0), and meaningless on French. The inbound
layer therefore uses it as one opinion among others, on English text only.

Its scikit-learn objects spend ~5-10 ms a message in input checks; `_CompiledProfanity` does
the same arithmetic (TF-IDF, five calibrated linear SVMs, averaged) in ~0.2 ms, and is
checked against the original at load, which stays the fallback.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Texts the compiled path must score like the original (swearing, praise, empty of vocabulary).
_PROBES = (
    "you are a fucking idiot",
    "what a great video, thank you",
    "shut up you stupid cow",
    "zzzz qqqq",
    "I love this recipe so much!!",
)


@dataclass(frozen=True, slots=True)
class _CompiledProfanity:
    analyze: Callable[[str], list[str]]
    vocabulary: Mapping[str, int]
    idf: np.ndarray  # (terms,)
    coef: np.ndarray  # (terms, models): one linear SVM per calibration fold
    intercept: np.ndarray  # (models,)
    slope: np.ndarray  # (models,): sigmoid calibration p = 1 / (1 + exp(a * f + b))
    offset: np.ndarray  # (models,)

    @classmethod
    def from_sklearn(cls, vectorizer: Any, calibrated: Any) -> _CompiledProfanity:
        if vectorizer.sublinear_tf or vectorizer.norm != "l2" or not vectorizer.use_idf:
            raise ValueError("unexpected vectorizer settings")
        folds = calibrated.calibrated_classifiers_
        if any(f.method != "sigmoid" or len(f.calibrators) != 1 for f in folds):
            raise ValueError("unexpected calibration")
        return cls(
            analyze=vectorizer.build_analyzer(),
            vocabulary=vectorizer.vocabulary_,
            idf=np.asarray(vectorizer.idf_, dtype=np.float64),
            coef=np.stack([np.asarray(f.estimator.coef_[0], dtype=np.float64) for f in folds], 1),
            intercept=np.array([float(f.estimator.intercept_[0]) for f in folds]),
            slope=np.array([float(f.calibrators[0].a_) for f in folds]),
            offset=np.array([float(f.calibrators[0].b_) for f in folds]),
        )

    def probability(self, text: str) -> float:
        counts = Counter(t for t in self.analyze(text) if t in self.vocabulary)
        decision = self.intercept.copy()
        if counts:
            index = np.fromiter((self.vocabulary[t] for t in counts), dtype=np.intp)
            x = np.fromiter(counts.values(), dtype=np.float64) * self.idf[index]
            decision += (x / np.linalg.norm(x)) @ self.coef[index]
        p = 1.0 / (1.0 + np.exp(self.slope * decision + self.offset))
        return float(p.mean())


@lru_cache(maxsize=1)
def _scorer() -> Callable[[str], float]:
    # Importing loads scikit-learn and the joblib model (~1.5 s): keep it off the import path.
    from profanity_check import profanity_check as packaged

    def original(text: str) -> float:
        return float(packaged.predict_prob([text])[0])

    try:
        compiled = _CompiledProfanity.from_sklearn(packaged.vectorizer, packaged.model)
        if all(math.isclose(compiled.probability(t), original(t), abs_tol=1e-6) for t in _PROBES):
            return compiled.probability
        log.warning("compiled profanity model disagrees with the package; using the package")
    except (AttributeError, ValueError, IndexError):
        log.warning("profanity model layout not recognised; using the package", exc_info=True)
    return original


def profanity_probability(text: str) -> float:
    """Probability (0..1) that `text` is offensive, according to alt-profanity-check."""
    if not text.strip():
        return 0.0
    return _scorer()(text)


def warm_up() -> None:
    """Load the models now (API start-up), so the first fan message does not pay for them."""
    from persona.safety.distress import distress_probability
    from persona.safety.intent import intent_scores

    profanity_probability("hello")
    distress_probability("hello")
    intent_scores("hello")
