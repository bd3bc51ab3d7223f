"""The space's first impression: the creator's greeting and three questions a fan can tap,
drawn from the topics of the creator's voice profile (what they post about most)."""

from __future__ import annotations

from typing import Any

from persona.settings import CreatorSettings

# The profile's topics are distinctive words, not always subjects: function words of the
# other languages creators write in, days, times and language names come up too.
_WORDS = """
    merci bonjour coucou salut donc suis mais avec pour dans chez tout tous toute toutes tres
    très bien plus moins encore aussi comme quand alors voilà voila cette ceux elle elles nous
    vous leur leurs notre votre avoir faire fait être etre était sont demain hier aujourd
    soir matin midi heure heures semaine weekend week-end tonight today tomorrow morning
    night evening week month year monday tuesday wednesday thursday friday saturday sunday
    lundi mardi mercredi jeudi vendredi samedi dimanche thanks thank love lol yes okay
    french english français francais anglais gracias hola pero para como
"""
_NOT_SUBJECTS = frozenset(_WORDS.split())
_TEMPLATES = (
    "Any tips on {}?",
    "What do you love about {}?",
    "Tell me more about {}!",
)


def subjects(profile: dict[str, Any] | None, count: int = 3) -> list[str]:
    """The creator's top topics that read as subjects, best first."""
    # Here, not at the top: scikit-learn takes seconds to import, and every command that
    # builds the platform imports this module.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    topics = (profile or {}).get("topics") or []
    chosen: list[str] = []
    for item in topics:
        term = str(item[0] if isinstance(item, list | tuple) else item).strip()
        if (
            len(term) < 5
            or not term.replace("-", "").isalpha()
            or term.lower() in ENGLISH_STOP_WORDS
            or term.lower() in _NOT_SUBJECTS
        ):
            continue
        chosen.append(term)
        if len(chosen) == count:
            break
    return chosen


def suggested_questions(profile: dict[str, Any] | None) -> list[str]:
    return [template.format(t) for template, t in zip(_TEMPLATES, subjects(profile), strict=False)]


def greeting(
    display_name: str,
    settings: CreatorSettings | dict[str, Any],
    profile: dict[str, Any] | None,
) -> str:
    """The creator's own greeting (their `greeting` setting) or one that says what this is."""
    own = CreatorSettings.of(settings).greeting
    if own.strip():
        return own.strip()[:500]
    about = subjects(profile)
    topics = f" Ask me about {', '.join(about[:-1])} or {about[-1]}." if len(about) > 1 else ""
    return (
        f"Hi! I'm {display_name}'s AI double: I answer in their voice, from what they have "
        f"posted.{topics}"
    )
