"""A small trained classifier for distress and self-harm signals (English and French).

The lexicons catch the explicit phrasings ("I want to die"); people in crisis often write
around them ("I gave my cat to my neighbour, I won't be around", "je voudrais m'endormir et
ne plus ouvrir les yeux"). This model learns the warning signs from a set we wrote
(`data/distress_train.jsonl`: veiled and explicit distress against hyperbole, everyday
sadness, and the other kinds of fan messages), over word and character n-grams of the folded
text, so that new phrasings and misspellings still score. It is trained on first use (under
a second, no pickled model to go stale across scikit-learn versions).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from persona.safety.intent import CompiledIntentModel
from persona.safety.normalize import fold

TRAIN_FILE = "distress_train.jsonl"
# Above this probability the inbound layer escalates (caring reply + alert to the creator).
# Chosen so that about 1 ordinary fan message in 100 scores above it: with ~250 training
# messages the model is not sharp, so it adds recall to the lexicons at a low false-alarm
# rate rather than replacing them (figures in docs/safety.md).
DISTRESS_THRESHOLD = 0.8


def load_examples() -> list[dict[str, Any]]:
    text = resources.files("persona.safety").joinpath("data", TRAIN_FILE).read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def train(texts: Sequence[str], labels: Sequence[int]) -> Any:
    """A TF-IDF (words 1-2 + characters 3-5) logistic regression over folded text."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(preprocessor=fold, ngram_range=(1, 2), sublinear_tf=True)),
            (
                "chars",
                TfidfVectorizer(
                    preprocessor=fold, analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True
                ),
            ),
        ],
        # Characters catch misspellings; weighted down so they do not drown the words.
        transformer_weights={"words": 1.0, "chars": 0.5},
    )
    model = make_pipeline(features, LogisticRegression(C=10.0, class_weight="balanced"))
    model.fit(list(texts), list(labels))
    return model


@lru_cache(maxsize=1)
def _model() -> Callable[[str], float]:
    rows = load_examples()
    model = train([r["text"] for r in rows], [int(r["distress"]) for r in rows])
    # The pipeline's own predict_proba spends ~4 ms a message in input checks; the compiled
    # arithmetic (persona.safety.intent) gives the same figure in ~0.2 ms.
    compiled = CompiledIntentModel.from_pipeline(model)

    def fast(text: str) -> float:
        return float(1.0 / (1.0 + math.exp(-float(compiled.decision(text)[0]))))

    probe = rows[0]["text"]
    if math.isclose(fast(probe), float(model.predict_proba([probe])[0][1]), abs_tol=1e-9):
        return fast
    return lambda text: float(model.predict_proba([text])[0][1])


def distress_probability(text: str) -> float:
    """Probability (0..1) that the message signals distress or self-harm."""
    if not text.strip():
        return 0.0
    return _model()(text)
