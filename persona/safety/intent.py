"""A small trained classifier for what a fan message is trying to do (English and French).

The lexicons catch the phrasings they were written for; fans write around them ("bet you look
better without the apron", "is a person even reading these", "paste your setup text"). This
model learns nine intents from a set we wrote (`data/intent_train.jsonl`): ok (with many hard
negatives: praise in violent, sexual or Gen-Z slang, "t'es + compliment", thanks for a recipe's
"instructions", questions about gear "settings" or fan mail, everyday sadness), harassment,
sexual, threat, injection, dictation, identity, scam and self_harm. The distress model's
messages (`data/distress_train.jsonl`) are in it too, under the intent they show. It is a
TF-IDF (words 1-2 + characters 2-5) logistic regression over the folded text, trained on first
use (one to three seconds, no pickled model to go stale across scikit-learn versions).

Each label has its own threshold, chosen by cross-validation on the training set so that about
1 ordinary message in 100 is flagged, self-harm first (recall-first, up to 1 in 200 on its own)
(`python -m persona.safety.intent` prints the figures).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from persona.safety.normalize import fold

TRAIN_FILE = "intent_train.jsonl"
OK = "ok"
SELF_HARM = "self_harm"
LABELS = (
    OK,
    "harassment",
    "sexual",
    "threat",
    "injection",
    "dictation",
    "identity",
    "scam",
    SELF_HARM,
)
# Per-label thresholds from `choose_thresholds` over stratified 5-fold out-of-fold
# probabilities (two shuffles): self_harm first, as low as it goes while it alone flags at
# most 0.5% of our "ok" messages; then the others, cheapest catches first, while at most 1%
# of our "ok" messages get flagged in all.
THRESHOLDS: Mapping[str, float] = {
    "harassment": 0.76,
    "sexual": 0.66,
    "threat": 0.72,
    "injection": 0.72,
    "dictation": 0.5,
    "identity": 0.7,
    "scam": 0.56,
    "self_harm": 0.8,
}
# Share of our own "ok" messages the thresholds may flag (out-of-fold), and the share that
# self_harm alone may flag: a false alarm there costs a caring message, a miss much more.
OK_FLAG_BUDGET = 0.01
SELF_HARM_FLAG_BUDGET = 0.005
# Words of one letter ("u", "r", "t") and "?" carry meaning in fan slang; the default
# scikit-learn token pattern drops them.
_TOKEN = r"(?u)\b\w+\b|\?"
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s"})
_REPEATS = re.compile(r"(\w)\1{2,}")
_WEIGHTS = {"words": 1.0, "chars": 0.7}


def _prepare(text: str) -> str:
    """Folded text with leet digits and stretched letters undone ("l00ser", "sooo")."""
    folded = fold(text)
    return _REPEATS.sub(r"\1\1", folded.translate(_LEET) if re.search(r"[a-z]", folded) else folded)


@dataclass(frozen=True, slots=True)
class IntentVerdict:
    label: str
    probability: float

    @property
    def flagged(self) -> bool:
        return self.label != OK


def load_examples() -> list[dict[str, Any]]:
    text = resources.files("persona.safety").joinpath("data", TRAIN_FILE).read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def train(texts: Sequence[str], labels: Sequence[str]) -> Any:
    """Fit the pipeline: word 1-2 grams and char_wb 2-5 grams, multinomial logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import FeatureUnion, make_pipeline

    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    preprocessor=_prepare,
                    token_pattern=_TOKEN,
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    preprocessor=_prepare,
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                    min_df=2,
                ),
            ),
        ],
        transformer_weights=_WEIGHTS,
    )
    # SGD with the logistic loss (one-vs-rest, normalised): the same model as
    # LogisticRegression, fitted in about a second (lbfgs needed ten); a fixed seed keeps the
    # fit reproducible. A light penalty: sharper probabilities rank new phrasings better.
    classifier = SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=50, tol=None, random_state=0)
    model = make_pipeline(features, classifier)
    model.fit(list(texts), list(labels))
    return model


@dataclass(frozen=True, slots=True)
class _Block:
    """One vectorizer's share of the fitted model: its n-grams, idf and classifier weights."""

    analyze: Callable[[str], list[str]]
    vocabulary: Mapping[str, int]
    idf: np.ndarray  # (terms,)
    coef: np.ndarray  # (terms, classes), already times the block's weight


@dataclass(frozen=True, slots=True)
class CompiledIntentModel:
    """The fitted pipeline's arithmetic without its per-call checks (one message in ~0.3 ms).

    Same figures as `predict_proba`: sublinear TF-IDF, l2 norm per vectorizer, the union's
    weights, a linear score per class, sigmoid and the one-vs-rest normalisation.
    """

    classes: tuple[str, ...]
    blocks: tuple[_Block, ...]
    intercept: np.ndarray  # (classes,)

    @classmethod
    def from_pipeline(cls, model: Any) -> CompiledIntentModel:
        union, classifier = model.steps[0][1], model.steps[-1][1]
        coef = np.asarray(classifier.coef_, dtype=np.float64).T
        weights = union.transformer_weights or {}
        blocks, start = [], 0
        for name, vectorizer in union.transformer_list:
            size = len(vectorizer.vocabulary_)
            blocks.append(
                _Block(
                    analyze=vectorizer.build_analyzer(),
                    vocabulary=vectorizer.vocabulary_,
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    coef=coef[start : start + size] * weights.get(name, 1.0),
                )
            )
            start += size
        if start != coef.shape[0]:
            raise ValueError("the classifier's weights do not match the vectorizers' n-grams")
        classes = tuple(str(c) for c in classifier.classes_)
        return cls(classes, tuple(blocks), np.asarray(classifier.intercept_, dtype=np.float64))

    def predict_proba(self, text: str) -> dict[str, float]:
        probs = 1.0 / (1.0 + np.exp(-self.decision(text)))
        probs /= probs.sum()
        return {label: float(p) for label, p in zip(self.classes, probs, strict=True)}

    def decision(self, text: str) -> np.ndarray:
        """The linear score per class (one score, of the positive class, when binary)."""
        score = self.intercept.copy()
        for block in self.blocks:
            counts = Counter(t for t in block.analyze(text) if t in block.vocabulary)
            if not counts:
                continue
            index = np.fromiter((block.vocabulary[t] for t in counts), dtype=np.intp)
            tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64)
            x = tf * block.idf[index]
            score += (x / np.linalg.norm(x)) @ block.coef[index]
        return score


@lru_cache(maxsize=1)
def _model() -> CompiledIntentModel:
    rows = load_examples()
    return CompiledIntentModel.from_pipeline(
        train([r["text"] for r in rows], [r["label"] for r in rows])
    )


def intent_scores(text: str) -> dict[str, float]:
    """Probability of each label (they sum to 1); an empty message is plainly ok."""
    if not text.strip():
        return {label: float(label == OK) for label in LABELS}
    scores = _model().predict_proba(text)
    return {label: scores.get(label, 0.0) for label in LABELS}


def verdict_from_scores(
    scores: Mapping[str, float], thresholds: Mapping[str, float] = THRESHOLDS
) -> IntentVerdict:
    """The most probable label among those over their threshold; otherwise ok."""
    over = [(p, label) for label, p in scores.items() if label != OK and p >= thresholds[label]]
    if not over:
        return IntentVerdict(OK, scores.get(OK, 0.0))
    p, label = max(over)
    return IntentVerdict(label, p)


def classify_intent(text: str) -> IntentVerdict:
    return verdict_from_scores(intent_scores(text))


# --- cross-validation: how the thresholds above were chosen ---------------------------------


def out_of_fold_scores(
    rows: Sequence[Mapping[str, Any]], folds: int = 5, seeds: Sequence[int] = (0, 1)
) -> list[np.ndarray]:
    """Per shuffle, each message's probabilities (columns in LABELS order) from a model that
    never saw it (stratified k-fold)."""
    from sklearn.model_selection import StratifiedKFold

    texts = [str(r["text"]) for r in rows]
    labels = [str(r["label"]) for r in rows]
    runs = []
    for seed in seeds:
        scores = np.zeros((len(rows), len(LABELS)))
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for fit, held in splitter.split(texts, labels):
            model = train([texts[i] for i in fit], [labels[i] for i in fit])
            columns = [LABELS.index(str(c)) for c in model.classes_]
            probs = model.predict_proba([texts[i] for i in held])
            scores[np.ix_(held, columns)] = probs
        runs.append(scores)
    return runs


def _predict(scores: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """Label index per message: the most probable over its threshold, else 0 (ok)."""
    over = np.where(scores >= cut, scores, -1.0)
    over[:, 0] = -1.0
    return np.where(over.max(axis=1) >= 0, over.argmax(axis=1), 0)


def _cut(thresholds: Mapping[str, float]) -> np.ndarray:
    return np.array([math.inf] + [thresholds[label] for label in LABELS[1:]])


def evaluate(
    runs: Sequence[np.ndarray], labels: Sequence[str], thresholds: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """Precision and recall per label, and the share of ok messages flagged (in all and as
    self_harm), averaged over the shuffles."""
    truth = np.array([LABELS.index(y) for y in labels])
    is_ok = truth == 0
    cut = _cut(thresholds)
    figures: dict[str, dict[str, float]] = {
        label: {"threshold": thresholds[label], "precision": 0.0, "recall": 0.0}
        for label in LABELS[1:]
    }
    figures[OK] = {"flagged": 0.0, "flagged_self_harm": 0.0}
    for scores in runs:
        predicted = _predict(scores, cut)
        figures[OK]["flagged"] += float((predicted[is_ok] != 0).mean()) / len(runs)
        self_harm = LABELS.index(SELF_HARM)
        figures[OK]["flagged_self_harm"] += float((predicted[is_ok] == self_harm).mean()) / len(
            runs
        )
        for k, label in enumerate(LABELS[1:], start=1):
            hits = int(((predicted == k) & (truth == k)).sum())
            figures[label]["precision"] += hits / max(1, int((predicted == k).sum())) / len(runs)
            figures[label]["recall"] += hits / max(1, int((truth == k).sum())) / len(runs)
    return figures


def choose_thresholds(
    runs: Sequence[np.ndarray],
    labels: Sequence[str],
    budget: float = OK_FLAG_BUDGET,
    self_harm_budget: float = SELF_HARM_FLAG_BUDGET,
) -> dict[str, float]:
    """self_harm first: the lowest threshold (steps of 0.02) within its own budget. Then, for
    the other labels, the cheapest catches first: each step lowers the one threshold that
    catches the most non-ok messages per ok message newly flagged (free catches before all),
    while the ok messages flagged in all stay within the budget."""
    grid = [round(0.98 - 0.02 * i, 2) for i in range(45)]  # 0.98 .. 0.10
    thresholds = {label: grid[0] for label in LABELS[1:]}
    counts = Counter(labels)

    def measure(th: Mapping[str, float]) -> tuple[bool, float, float]:
        figures = evaluate(runs, labels, th)
        ok = figures[OK]
        caught = sum(figures[lb]["recall"] * counts[lb] for lb in LABELS[1:] if lb != SELF_HARM)
        fits = ok["flagged"] <= budget and ok["flagged_self_harm"] <= self_harm_budget
        return fits, caught, ok["flagged"]

    for g in grid:
        if not measure({**thresholds, SELF_HARM: g})[0]:
            break
        thresholds[SELF_HARM] = g
    _, caught, flagged = measure(thresholds)
    while True:
        best: tuple[float, float, str, float] | None = None  # (value, caught, label, threshold)
        for label in LABELS[1:]:
            if label == SELF_HARM:
                continue
            for g in (g for g in grid if g < thresholds[label]):
                fits, trial_caught, trial_flagged = measure({**thresholds, label: g})
                gain, cost = trial_caught - caught, max(0.0, trial_flagged - flagged)
                if not fits or gain <= 1e-9:
                    continue
                value = gain / cost if cost > 1e-12 else math.inf
                if best is None or (value, trial_caught) > (best[0], best[1]):
                    best = (value, trial_caught, label, g)
        if best is None:
            return thresholds
        thresholds[best[2]] = best[3]
        _, caught, flagged = measure(thresholds)


def main() -> None:
    rows = load_examples()
    labels = [str(r["label"]) for r in rows]
    runs = out_of_fold_scores(rows)
    chosen = choose_thresholds(runs, labels)
    for name, th in (("recorded", dict(THRESHOLDS)), ("chosen now", chosen)):
        figures = evaluate(runs, labels, th)
        ok = figures[OK]
        print(
            f"{name}: ok flagged {ok['flagged']:.2%} (as self_harm {ok['flagged_self_harm']:.2%})"
        )
        for label in LABELS[1:]:
            f = figures[label]
            print(
                f"  {label:<11} t={f['threshold']:.2f}  precision={f['precision']:.2f}  "
                f"recall={f['recall']:.2f}"
            )


if __name__ == "__main__":
    main()
