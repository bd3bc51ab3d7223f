"""The packaged offensive-language classifier (alt-profanity-check), loaded on first use.

It is a linear model over English n-grams: good at spotting swearing, blind to whom it is
aimed at ("what a fucking great video" scores 1.0), and meaningless on French. The inbound
layer therefore uses it as one opinion among others, on English text only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol


class _Predictor(Protocol):
    def __call__(self, texts: list[str]) -> object: ...


@lru_cache(maxsize=1)
def _predict_prob() -> _Predictor:
    # Importing loads scikit-learn and the joblib model (~1.5 s): keep it off the import path.
    from profanity_check import predict_prob

    return predict_prob


def profanity_probability(text: str) -> float:
    """Probability (0..1) that `text` is offensive, according to alt-profanity-check."""
    if not text.strip():
        return 0.0
    return float(_predict_prob()([text])[0])  # type: ignore[index]


def warm_up() -> None:
    """Load the models now (API start-up), so the first fan message does not pay for them."""
    from persona.safety.distress import distress_probability

    profanity_probability("hello")
    distress_probability("hello")
