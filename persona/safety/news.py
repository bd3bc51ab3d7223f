"""Questions about news to come, when the creator's posts hold no answer.

"Is the show coming back?", "tu prépares un deuxième livre ?": the posts say nothing, so any
yes, no, date or place would be invented. A canned "I'd rather not answer" is no answer
either. A creator in that position says there is nothing to announce yet, in their own words:
the engine asks the model for that, and `announces` rejects a draft that announces anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from persona.safety.grounding import _FUTURE_NEWS, _NAMES, _NUMBERS, _PLANS, _stem, _vocabulary
from persona.safety.normalize import fold

# What a reply may not say when the posts hold no news: a yes or a no, a date or a season, a
# "coming out" or "on its way". "As soon as I can" promises nothing and stays allowed.
_ANSWERS = re.compile(
    r"^\W*(?:yes|yep|yeah|yup|absolutely|definitely|of course|oui|ouais|"
    r"bien sur|carrement|evidemment|grave|no|nope|non)(?![a-z])(?! news)"
    r"(?! (?:update|nouvelle|annonce)s?)"
)
# A no said in other words: "no plans to write a third edition", "it won't come back".
_DENIES = re.compile(
    r"(?<![a-z])(?:(?:no|any) plans? to|won't|will not|isn't coming|is not coming|not coming "
    r"back|(?:je )?(?:te|vous) (?:dis|reponds) (?:non|oui)|il n'y (?:aura|a) pas de|"
    r"ne (?:va|vais|vont|reviendra|reviendrai|sortira) pas|pas de (?:deuxieme|nouvelle|"
    r"nouveau|prochain|prochaine|autre))(?![a-z])"
)
_WHEN = re.compile(
    r"(?<![a-z])(?:(?<!as )soon|next (?:week|month|year|season|spring|summer|fall|autumn|"
    r"winter|weekend)|this (?:week|month|year|spring|summer|fall|autumn|winter|weekend)|"
    r"tomorrow|tonight|later this|(?:in|within) (?:the )?(?:next|coming) (?:few )?(?:days|weeks|"
    r"months)|(?:dans )?les (?:prochains|prochaines) (?:jours|semaines|mois)|coming out|"
    r"on (?:its|the) way|(?:is|are|'s|'re) coming|"
    r"will be (?:out|back|released|available)|(?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december)|bientot|prochainement|la semaine prochaine|"
    r"le mois prochain|l'annee prochaine|cet ete|cet hiver|ce printemps|cet automne|"
    r"cette annee|demain|ce soir|en route|(?:arrive|arrivent|sort|sortira|revient|reviendra) "
    r"(?:bientot|le|en|cet|ce|dans)|(?:janvier|fevrier|mars|avril|juin|juillet|aout|"
    r"septembre|octobre|novembre|decembre))(?![a-z])"
)


def asks_news(question: str) -> bool:
    """Does the question ask about news to come or plans (not a fact of the creator's past)?"""
    folded = fold(question)
    return bool(_FUTURE_NEWS.search(folded) or _PLANS.search(folded))


def announces(reply: str, known: Sequence[str] = ()) -> str:
    """Why `reply` announces something the posts do not hold ("" when it announces nothing).

    `known` are texts whose names and numbers the reply may repeat (the fan's message)."""
    folded = fold(reply)
    if found := _ANSWERS.search(folded):
        return f"answers yes or no ({found.group(0).strip()!r})"
    if found := _DENIES.search(folded):
        return f"answers no ({found.group(0)!r})"
    if found := _WHEN.search(folded):
        return f"gives a time ({found.group(0)!r})"
    vocab, numbers = _vocabulary(known)
    for number in _NUMBERS.findall(folded):
        if number.replace(",", ".") not in numbers:
            return f"gives a number ({number})"
    for name in _NAMES.findall(reply):
        if _stem(fold(name)) not in vocab:
            return f"names something ({name})"
    return ""


_INSTRUCTIONS = {
    "en": "Your posts say nothing about this yet. Do not answer yes or no, give no date, place "
    "or number: say in your own words that there is nothing you can announce yet, like "
    '"Nothing I can share yet, stay tuned!"',
    "fr": "Tes posts n'en disent rien pour l'instant. Ne réponds ni oui ni non, ne donne "
    "aucune date, aucun lieu, aucun chiffre : dis avec tes mots qu'il n'y a rien à annoncer "
    "pour l'instant, comme « Rien à annoncer pour le moment, je vous tiens au courant ! »",
}


# Where the model server continues a started reply, the reply starts with the honest state
# and the model writes the rest in the creator's voice: told only not to say yes or no, the
# 1.5B still opened with "Oui !" or "Bien sûr" in most drafts of such questions (dev split).
_OPENERS = {
    "en": "Nothing I can announce on that yet",
    "fr": "Rien d'officiel à annoncer pour l'instant",
}


def no_news_opener(lang: str | None) -> str:
    """The first words of a reply that announces nothing, in the fan's language."""
    return _OPENERS.get(lang or "en", _OPENERS["en"])


def no_news_instruction(lang: str | None) -> str:
    """The instruction in the fan's language (English for the others): a small model answers
    in the language it was last spoken to in."""
    return _INSTRUCTIONS.get(lang or "en", _INSTRUCTIONS["en"])
