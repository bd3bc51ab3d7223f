"""Near-duplicate comments: the same words again, give or take case, accents, punctuation,
spacing, spelling and chat abbreviations ("Can you share the recipe please?" and "can you
share the recipe pls"). A comment that repeats one already under the post (by the same fan or
another) is covered by the answer to the first: it gets none of its own."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

from channels.inbox.comments import normalise
from channels.textsim import features, jaccard

# Character similarity of the normalised texts, spaces removed ("every day"/"everyday").
CHAR_SIMILARITY = 0.85
# Similarity of word features (stop words dropped, spelling variants met).
FEATURE_SIMILARITY = 0.65
_DIGITS = re.compile(r"\d+")


@lru_cache(maxsize=4096)
def _shape(text: str) -> tuple[str, frozenset[str], tuple[str, ...]]:
    plain = normalise(text)
    return plain.replace(" ", ""), features(text)[0], tuple(_DIGITS.findall(plain))


def near_duplicate(a: str, b: str) -> bool:
    """Do two comments say the same thing? Emoji-only or empty texts never do (nothing to
    compare), and different numbers make different questions ("at 180?" / "at 200?")."""
    compact_a, feats_a, digits_a = _shape(a)
    compact_b, feats_b, digits_b = _shape(b)
    if not compact_a or not compact_b or digits_a != digits_b:
        return False
    if compact_a == compact_b:
        return True
    if min(len(feats_a), len(feats_b)) >= 2 and jaccard(feats_a, feats_b) >= FEATURE_SIMILARITY:
        return True
    matcher = SequenceMatcher(None, compact_a, compact_b, autojunk=False)
    return matcher.quick_ratio() >= CHAR_SIMILARITY and matcher.ratio() >= CHAR_SIMILARITY
