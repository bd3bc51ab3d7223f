"""A discriminative voice ranker: among drafts, which one reads most like this creator
rather than like the platform's other creators?

Character n-gram TF-IDF + logistic regression over every creator's posts on the platform.
With a single creator there is nothing to contrast with, and the ranker abstains (the
profile's `StyleScorer` still ranks). `persona eval voice` trains its judge on posts this
ranker never saw, so the evaluation does not simply reward the ranker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MIN_POSTS_PER_CREATOR = 20


class VoiceRanker:
    def __init__(self, texts_by_creator: Mapping[str, Sequence[str]]) -> None:
        usable = {
            c: [t for t in texts if t.strip()]
            for c, texts in texts_by_creator.items()
            if sum(1 for t in texts if t.strip()) >= MIN_POSTS_PER_CREATOR
        }
        self.creators = sorted(usable)
        self._pipeline: Any = None
        if len(self.creators) >= 2:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline

            self._pipeline = make_pipeline(
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True
                ),
                LogisticRegression(max_iter=1000, C=4.0, class_weight="balanced"),
            )
            texts = [t for c in self.creators for t in usable[c]]
            labels = [c for c in self.creators for _ in usable[c]]
            self._pipeline.fit(texts, labels)

    @property
    def active(self) -> bool:
        return self._pipeline is not None

    def probabilities(self, creator: str, texts: Sequence[str]) -> list[float] | None:
        """P(creator | text) for each text, or None when the ranker cannot tell."""
        if not self.active or creator not in self.creators or not texts:
            return None
        classes = list(self._pipeline.classes_)
        column = classes.index(creator)
        return [float(row[column]) for row in self._pipeline.predict_proba(list(texts))]
