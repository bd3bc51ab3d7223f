"""Recurring phrases (2-4-grams) and topic keywords of a creator.

"Specific to this creator" is measured against a background: by default the generic one (the
function words of STOPWORDS: an n-gram made only of them, such as "in the", is everybody's;
COMMON_WORDS, everyday vocabulary, count half in phrases and never as topics);
when the caller has other creators' posts, pass them as `background` and phrases and topics
are ranked by how much more often this creator uses them (smoothed log-odds), so that "thank
you" drops and "you got this babe" stays.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from persona.style.stopwords import COMMON_WORDS, STOPWORDS
from persona.style.text import squeeze_elongations, words

MIN_N, MAX_N = 2, 4


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, elongations squeezed ('sooooo' -> 'soo'), apostrophes unified."""
    return [w.lower().replace("’", "'") for w in words(squeeze_elongations(text))]


def _ngrams(toks: list[str]) -> set[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for n in range(MIN_N, MAX_N + 1):
        for i in range(len(toks) - n + 1):
            grams.add(tuple(toks[i : i + n]))
    return grams


def _content_weight(token: str) -> float:
    if token in STOPWORDS:
        return 0.0
    return 0.5 if token in COMMON_WORDS else 1.0


def _is_candidate(gram: tuple[str, ...]) -> bool:
    content = [t for t in gram if t not in STOPWORDS and not t.isdigit()]
    # Not function words only, and not glued to a number ("2 days", "in 2019").
    return bool(content) and not any(t.isdigit() for t in (gram[0], gram[-1]))


def document_frequencies(texts: Iterable[str]) -> tuple[Counter[tuple[str, ...]], int]:
    """How many texts contain each candidate n-gram (a text counts once), and the text count."""
    df: Counter[tuple[str, ...]] = Counter()
    count = 0
    for text in texts:
        count += 1
        df.update(g for g in _ngrams(tokens(text)) if _is_candidate(g))
    return df, count


def _drop_contained(ranked: list[tuple[tuple[str, ...], int]]) -> list[tuple[tuple[str, ...], int]]:
    """Keep "you got this babe" rather than also "got this babe" when they occur together:
    a phrase goes when a longer kept phrase containing it has at least 3/4 of its count."""
    kept: list[tuple[tuple[str, ...], int]] = []
    by_length = sorted(ranked, key=lambda item: -len(item[0]))
    for gram, count in by_length:
        n = len(gram)
        covered = any(
            len(longer) > n
            and longer_count >= 0.75 * count
            and any(longer[i : i + n] == gram for i in range(len(longer) - n + 1))
            for longer, longer_count in kept
        )
        if not covered:
            kept.append((gram, count))
    order = {gram: i for i, (gram, _) in enumerate(ranked)}
    return sorted(kept, key=lambda item: order[item[0]])


def recurring_phrases(
    texts: Sequence[str],
    *,
    background: Sequence[str] = (),
    limit: int = 15,
    min_count: int | None = None,
) -> list[tuple[str, int]]:
    """Phrases this creator repeats: (phrase, number of posts using it), most typical first.

    A phrase needs `min_count` posts (default: 3, or 0.5% of posts for big corpora). Ranked
    by count x share of content words without a background, by log-odds with one.
    """
    df, n = document_frequencies(texts)
    if n == 0:
        return []
    threshold = min_count if min_count is not None else max(3, math.ceil(0.005 * n))
    frequent = {g: c for g, c in df.items() if c >= threshold}
    if not frequent:
        return []
    if background:
        bg_df, bg_n = document_frequencies(background)

        def score(gram: tuple[str, ...]) -> float:
            # Log-odds of a post using the phrase, creator vs background, add-one smoothed.
            ours = (frequent[gram] + 0.5) / (n + 1.0)
            theirs = (bg_df.get(gram, 0) + 0.5) / (bg_n + 1.0)
            return math.log(ours / theirs) * math.sqrt(frequent[gram])
    else:

        def score(gram: tuple[str, ...]) -> float:
            content = sum(_content_weight(t) for t in gram) / len(gram)
            return frequent[gram] * content**2 * (1.0 + 0.25 * (len(gram) - 2))

    ranked = sorted(frequent.items(), key=lambda item: (-score(item[0]), item[0]))
    if background:
        ranked = [(g, c) for g, c in ranked if score(g) > 0]
    return [(" ".join(g), c) for g, c in _drop_contained(ranked)[:limit]]


def _topic_terms(text: str) -> list[str]:
    return [
        t
        for t in tokens(text)
        if len(t) >= 3
        and t not in STOPWORDS
        and t not in COMMON_WORDS
        and not any(c.isdigit() for c in t)
        and t != "user"
    ]


def topic_keywords(
    texts: Sequence[str], *, background: Sequence[str] = (), limit: int = 15
) -> list[tuple[str, float]]:
    """Distinctive keywords, by summed TF-IDF over the creator's posts: (term, score).

    IDF comes from the creator's own posts, or from creator + background posts when given
    (then words every creator uses weigh little). Terms need 3 posts (or 0.5%).
    """
    docs = [_topic_terms(t) for t in texts]
    docs = [d for d in docs if d]
    if not docs:
        return []
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(d))
    corpus_df = Counter(df)
    corpus_n = len(docs)
    for text in background:
        corpus_df.update(set(_topic_terms(text)))
        corpus_n += 1
    threshold = max(3, math.ceil(0.005 * len(docs)))
    scores: Counter[str] = Counter()
    for d in docs:
        counts = Counter(d)
        for term, count in counts.items():
            if df[term] >= threshold:
                idf = math.log((1 + corpus_n) / (1 + corpus_df[term])) + 1.0
                scores[term] += count / len(d) * idf
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(term, round(score, 3)) for term, score in ranked[:limit]]
