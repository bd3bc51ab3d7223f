"""Matching the creator's forbidden topics, in fan messages and in replies."""

from __future__ import annotations

import re
from functools import lru_cache

from persona.safety.boundaries import Boundaries
from persona.safety.lexicons import KNOWN_TOPICS
from persona.safety.normalize import TextViews, compile_terms, first_match, fold


@lru_cache(maxsize=256)
def _compile(
    topics: tuple[str, ...], keywords: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    extra = dict(keywords)
    compiled = []
    for topic in topics:
        key = fold(topic)
        if not key:
            continue
        bodies = list(KNOWN_TOPICS.get(key, []))
        # The topic's own words always count, known topic or not ("my divorce").
        bodies.append(re.escape(key).replace(r"\ ", r"\s+"))
        bodies += [re.escape(fold(word)) for word in extra.get(topic, ()) if fold(word)]
        compiled.append((topic, compile_terms(bodies)))
    return tuple(compiled)


def topic_patterns(boundaries: Boundaries) -> tuple[tuple[str, re.Pattern[str]], ...]:
    keywords = tuple(sorted((k, tuple(v)) for k, v in boundaries.topic_keywords.items()))
    return _compile(tuple(boundaries.forbidden_topics), keywords)


def find_forbidden_topic(views: TextViews, boundaries: Boundaries) -> tuple[str, str] | None:
    """(topic, matched text) for the first forbidden topic the text touches, or None."""
    for topic, pattern in topic_patterns(boundaries):
        found = first_match(pattern, views)
        if found:
            return topic, found
    return None
