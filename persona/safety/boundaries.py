"""The creator's boundaries: what the double must not discuss, say, promise or disclose."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from persona.safety.normalize import fold
from persona.safety.replies import no_answer_text
from persona.settings import CreatorSettings

# Kept for older imports; the texts per language live in `persona.safety.replies`.
DEFAULT_NO_ANSWER = no_answer_text({}, "en")

_PHONE_DIGITS = re.compile(r"\+?\d[\d\s().\-]{6,}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass
class Boundaries:
    """Creator settings read by the inbound and outbound checks.

    `forbidden_topics` entries are either a known topic ("politics", "religion", "politique"...,
    expanded to a bilingual lexicon) or a phrase matched as written; `topic_keywords` adds
    keywords to any topic. `no_answer_messages` are the creator's no-answer texts per
    language and `no_answer_message` their older single one; `no_answer_for(lang)` picks the
    one a fan gets. `published_facts_text` is the creator's published posts (or a digest);
    `is_published`, when given, replaces the substring check against it, e.g. a lookup in the
    post index.
    """

    forbidden_topics: list[str] = field(default_factory=list)
    forbidden_statements: list[str] = field(default_factory=list)
    no_answer_message: str = DEFAULT_NO_ANSWER
    no_answer_messages: dict[str, str] = field(default_factory=dict)
    allowed_commitments: list[str] = field(default_factory=list)
    published_facts_text: str = ""
    is_published: Callable[[str], bool] | None = None
    allowed_link_domains: list[str] = field(default_factory=list)
    topic_keywords: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls,
        settings: CreatorSettings | Mapping[str, Any],
        *,
        published_facts_text: str = "",
        is_published: Callable[[str], bool] | None = None,
    ) -> Boundaries:
        """Build from a creator's settings (typed, or `Creator.settings` as stored: then read by
        `CreatorSettings`, which refuses malformed boundaries); other keys are ignored."""
        settings = CreatorSettings.of(settings)
        return cls(
            forbidden_topics=list(settings.forbidden_topics),
            forbidden_statements=list(settings.forbidden_statements),
            no_answer_message=settings.no_answer_message or DEFAULT_NO_ANSWER,
            no_answer_messages=dict(settings.no_answer_messages),
            allowed_commitments=list(settings.allowed_commitments),
            allowed_link_domains=list(settings.allowed_link_domains),
            topic_keywords={k: list(v) for k, v in settings.topic_keywords.items()},
            published_facts_text=published_facts_text,
            is_published=is_published,
        )

    def no_answer_for(self, lang: str | None) -> str:
        """The no-answer message for a fan writing in `lang` (see `replies.no_answer_text`)."""
        return no_answer_text(
            {
                "no_answer_messages": self.no_answer_messages,
                "no_answer_message": self.no_answer_message,
            },
            lang,
        )

    @cached_property
    def _published_folded(self) -> str:
        return fold(self.published_facts_text)

    @cached_property
    def published_phone_digits(self) -> frozenset[str]:
        return frozenset(
            re.sub(r"\D", "", m.group(0)) for m in _PHONE_DIGITS.finditer(self.published_facts_text)
        )

    @cached_property
    def published_emails(self) -> frozenset[str]:
        return frozenset(m.group(0).casefold() for m in _EMAIL.finditer(self.published_facts_text))

    def published(self, snippet: str) -> bool:
        """True when the creator has published this snippet (accent- and case-insensitive)."""
        if not snippet.strip():
            return False
        if self.is_published is not None:
            return bool(self.is_published(snippet))
        return fold(snippet) in self._published_folded

    def published_word(self, word: str) -> bool:
        """True when `word` appears as a whole word in the published text."""
        if self.is_published is not None:
            return bool(self.is_published(word))
        pattern = rf"(?<![a-z0-9]){re.escape(fold(word))}(?![a-z0-9])"
        return re.search(pattern, self._published_folded) is not None
