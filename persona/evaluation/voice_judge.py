"""The voice evaluation's judge, of another family than the draft ranker it grades.

The engine ranks drafts with character n-gram TF-IDF and a logistic regression; a judge built
the same way rewards the ranker for matching itself. This one votes with two members that
share nothing with it:

- function words: how often a writer uses "the", "and", "lol", "je", "du"... (topic-free,
  about 150 English and French words) plus punctuation, emoji, capitals and length, scaled
  and fed to a logistic regression;
- compression: how many bytes zlib needs to add a text to each creator's judge posts
  (a compression distance: no features, no training; the writer whose posts make the text
  cheapest wins).

Each member's scores are standardised across creators for each text and summed; the highest
sum names the writer.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Sequence

_FUNCTION_WORDS = """a about after all also am an and any are as at be because been but by can
    could did do
    does for from had has have he her here him his how i if in into is it its just like me more
    my no not now of on one only or our out so some than that the their them then there these
    they this to too up us very was we were what when where which while who why will with would
    you your lol omg haha yes yeah oh ok okay really
    au aux avec ce ces c cest dans de des du elle en est et etre il ils je j la le les leur lui
    ma mais me mes moi mon ne nous on ou par pas pour qu que qui sa se ses si son sur ta te tes
    toi ton tu un une vous vos votre y ca tres trop bien tout tous mdr ptdr oui non alors donc
    voila"""
FUNCTION_WORDS = tuple(dict.fromkeys(_FUNCTION_WORDS.split()))  # "me", "on": both languages
_INDEX = {w: i for i, w in enumerate(FUNCTION_WORDS)}
_WORD = re.compile(r"[a-z0-9]+")
_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_WINDOW = 30_000  # zlib looks back 32 KiB: older corpus bytes cannot help


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c)).replace("'", "")


def style_features(text: str) -> list[float]:
    """Function-word rates, then punctuation, emoji, capitals, digits and length."""
    words = _WORD.findall(_fold(text))
    n = max(1, len(words))
    row = [0.0] * len(FUNCTION_WORDS)
    for w in words:
        if (i := _INDEX.get(w)) is not None:
            row[i] += 1.0 / n
    chars = max(1, len(text))
    letters = [c for c in text if c.isalpha()]
    row += [
        text.count("!") / chars,
        text.count("?") / chars,
        text.count(".") / chars,
        text.count(",") / chars,
        (text.count("…") + text.count("...")) / chars,
        len(_EMOJI.findall(text)) / chars,
        sum(c.isupper() for c in letters) / max(1, len(letters)),
        sum(c.isdigit() for c in text) / chars,
        sum(len(w) for w in words) / n,
        math.log1p(len(words)),
        float(text.startswith("@")),
        float("http" in text),
    ]
    return row


class CompressionJudge:
    """Writer = the creator whose posts make the text cheapest to compress (bytes added)."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[zlib._Compress, int]] = {}

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> CompressionJudge:
        corpora: dict[str, list[str]] = {}
        for text, label in zip(texts, labels, strict=True):
            corpora.setdefault(label, []).append(text)
        for label, items in corpora.items():
            corpus = "\n".join(items).encode("utf-8")[-_WINDOW:]
            state = zlib.compressobj(9)
            state.compress(corpus)
            base = len(state.copy().flush())
            self._states[label] = (state, base)
        return self

    @property
    def labels(self) -> list[str]:
        return sorted(self._states)

    def costs(self, text: str) -> list[float]:
        """Bytes each creator's corpus needs to add `text`, in `labels` order."""
        data = ("\n" + text).encode("utf-8")
        out = []
        for label in self.labels:
            state, base = self._states[label]
            probe = state.copy()
            out.append(float(len(probe.compress(data)) + len(probe.flush()) - base))
        return out


class StyleJudge:
    """Function words + compression distance: who wrote this text? Same interface as the
    char-n-gram judge it replaces (fit, predict, share_attributed)."""

    def __init__(self, seed: int = 0) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.words = make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=3000, C=0.5, class_weight="balanced", random_state=seed),
        )
        self.compression = CompressionJudge()

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> StyleJudge:
        if len(set(labels)) < 2:
            raise ValueError("attribution needs at least two creators to tell apart")
        self.words.fit([style_features(t) for t in texts], list(labels))
        self.compression.fit(texts, labels)
        return self

    def scores(self, texts: Sequence[str]) -> tuple[list[str], list[list[float]]]:
        """(labels, per text the summed standardised member scores per label)."""
        labels = self.compression.labels
        order = [list(self.words.classes_).index(label) for label in labels]
        log_probs = self.words.predict_log_proba([style_features(t) for t in texts])
        rows = []
        for text, lp in zip(texts, log_probs, strict=True):
            words = _standardise([float(lp[i]) for i in order])
            cheap = _standardise([-c for c in self.compression.costs(text)])
            rows.append([a + b for a, b in zip(words, cheap, strict=True)])
        return labels, rows

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        labels, rows = self.scores(texts)
        return [labels[max(range(len(row)), key=row.__getitem__)] for row in rows]

    def share_attributed(self, texts: Sequence[str], creator: str) -> float:
        predictions = self.predict(texts)
        return sum(p == creator for p in predictions) / len(predictions) if predictions else 0.0


def _standardise(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    return [(v - mean) / spread for v in values]
