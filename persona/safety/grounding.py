"""Strict mode helpers: is this a factual question about the creator, and is a reply supported?

The engine uses `is_factual_question` to decide whether low retrieval similarity means "answer
with the creator's no-answer message", and `grounded` as a cheap lexical check that a reply's
numbers, names and content words come from the retrieved posts rather than from the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from persona.safety.normalize import fold

_Q_WORD = re.compile(
    r"(?<![a-z])(?:when|where|what|which|who|whose|how (?:many|much|old|long|tall|far|often|big)|"
    r"what time|what year|quand|ou|combien|quel|quelle|quels|quelles|qui|quel age|a quelle heure|"
    r"c'est quand|c'est ou|c'(?:est|etait) quoi|comment s'appel\w*|depuis quand)(?![a-z])"
)
_OPENING_QUESTION = re.compile(
    r"(?:when|where|what|which|who|how)(?:'s|'re| is| are| was| were| do| does| did| will| can| "
    r"time|"
    r" year| day| many| much| old| long| tall| far)(?![a-z])"
    r"|(?:quand|combien|quel|quelle|quels|quelles|c'est quand|c'est quoi|comment "
    r"s'appel\w*)(?![a-z])"
)
_YES_NO = re.compile(
    r"^(?:\W*)(?:do|does|did|are|is|was|were|have|has|had|will|won't)\s+(?:you|u|your|ur|the|it)\b"
    r"|^(?:\W*)(?:est-ce que (?:tu|t'|vous)|as-tu|es-tu|vas-tu|seras-tu|avez-vous|etes-vous|"
    r"tu (?:as|es|vas|seras|etais|avais|sors|fais|pars|viens|habites|aimes|bois|connais|"
    r"utilises|parles|sais)|t'(?:as|es|etais|avais)|"
    r"vous (?:avez|etes|allez))(?![a-z])"
)
_ABOUT_CREATOR = re.compile(
    r"(?<![a-z'])(?:(?:you|u|your|ur|yours|yourself|tu|ton|ta|tes|toi|vous|votre|vos)(?![a-z])|t')"
    r"|(?<![a-z])(?:book|livre|show|tour|tournee|concert|album|merch|collab|video|channel|chaine|"
    r"podcast|recipe|recette|dog|chien|cat|chat|launch|release|sortie|live|stream|atelier|"
    r"workshop|partenariat|partnership)s?(?![a-z])"
)
# Questions about feelings, opinions, the fan's own things, or requests: not facts to look up.
_NOT_FACTUAL = re.compile(
    r"(?<![a-z])(?:how are (?:you|u)|how's it going|how do i|how can i|how should i|what do "
    r"(?:you|u) think|"
    r"what should i|what would (?:you|u) (?:do|recommend|suggest)|do (?:you|u) (?:like|love|"
    r"remember|see) my|"
    r"did (?:you|u) (?:see|like|get|read) my|will (?:you|u) marry|are (?:you|u) (?:ok|okay|"
    r"alright|good)|"
    r"can (?:you|u|i)|could (?:you|u|i)|would (?:you|u)|ca va|comment (?:vas-tu|tu vas|allez-vous|"
    r"ca va)|"
    r"tu vas bien|tu me manques|tu aimes (?:mon|ma|mes|ce|cette)|"
    r"tu en penses quoi|t'en penses quoi|qu'en penses-tu|tu penses quoi|tu peux|tu pourrais|je "
    r"peux|"
    r"tu veux|tu m'epouses|tu as vu mon|t'as vu mon|tu aimes mon|t'aimes mon)(?![a-z])"
)
# Opinions, tastes, habits and open-ended plans are answered in the creator's voice, not looked
# up: a favourite dish, "how do you stay motivated", "what are you working on these days".
# Strict grounding is for claims that can be wrong: dates, prices, places, numbers, names.
_VOICE_QUESTION = re.compile(
    r"(?<![a-z])(?:favou?rite|fave|fav|prefer\w*|pref[ea]re\w*|best|worst|dream|"
    r"what(?:'s| is) it like|how (?:do|did|would|can) (?:you|u) (?!know\b|pronounce\b)\w+|"
    r"how (?:was|is|are|were) (?:your|ur) (?!age\b|address\b)|how's (?:your|ur|it|life|the)|"
    r"what (?:are|r) (?:you|u) (?:working|up|doing|making|cooking|baking|reading|watching|"
    r"listening|into|planning|excited|looking)|what(?:'s| is) next|what have (?:you|u) been|"
    r"what (?:do|did) (?:you|u) (?:think|love|like|enjoy|feel|miss|recommend)|"
    r"do (?:you|u) (?:like|love|enjoy|prefer|miss|ever|still enjoy|get)|what inspires|"
    r"tu (?:aimes|adores|preferes|kiffes|penses|trouves|conseilles|recommandes)|"
    r"t'(?:aimes|adores|preferes|kiffes)|prefere\w*|comment (?:tu|fais-tu|t'as|as-tu|"
    r"vous)|tu fais comment|tu fais quoi|tu prepares quoi|tu bosses sur quoi|tu travailles sur|"
    r"quoi de neuf|c'est quoi la suite|ca (?:se passe|avance)|qu'est-ce qui t'inspire|"
    r"t'inspire|ton secret|your secret)(?![a-z])"
)
# ...except where the taste is a named place or business: "your favourite restaurant in Lyon"
# asks for a name the model would invent, so it stays a factual question.
_NAMED_PLACE = re.compile(
    r"(?<![a-z])(?:restaurants?|resto|restos|cafes?|bars?|shops?|stores?|boutiques?|hotels?|"
    r"city|cities|ville|villes|country|countries|pays|places?|endroits?|adresses?|address|"
    r"brands?|marques?|spots?|bakery|bakeries|boulangeries?|neighbou?rhood|quartier)(?![a-z])"
)
# News to come (a release, a return, a next season or edition) is a fact the model would
# invent ("Yes! Coming this summer"), even when the question names no "you".
_FUTURE_NEWS = re.compile(
    r"(?<![a-z])(?:will there be|is there going to be|(?:is|are|will)\b.{0,40}\b(?:coming|come) "
    r"(?:back|out)|coming back|come back|(?:new|another|next) (?:season|edition|book|album|"
    r"tour|collection|drop|launch|episode|series)|(?:second|2nd|third|3rd|new) edition|"
    r"release date|il y aura|va (?:revenir|sortir|reprendre)|vont (?:revenir|sortir)|"
    r"(?:tu )?reviens|revient|sort quand|(?:nouvelle|prochaine|autre) (?:saison|edition|"
    r"collection|tournee|serie)|(?:prochain|nouveau|deuxieme|second) (?:livre|album|tome|"
    r"episode|drop)|deuxieme (?:saison|edition))(?![a-z])"
)
# Plans (the fan asks what the creator will do): facts of the future, which only the posts can
# back. Bare times ("tips for this summer?") are not plans.
_PLANS = re.compile(
    r"(?<![a-z])(?:will (?:you|u|there)|(?:are|r) (?:you|u) (?:going to|gonna|planning|"
    r"launching|releasing|bringing|making|writing|preparing|thinking of|ever going)|"
    r"any plans?|(?:your|ur) plans?|plans? (?:for|to)|upcoming|anytime soon|any time soon|"
    r"(?:out|back|available|released|translated)\b.{0,30}\byet|tu (?:vas|comptes|prevois|prepares)|"
    # Coming to an event: "are you coming to Lyon?", "tu viens au salon ?" ("tu viens d'où").
    r"(?:are|r) (?:you|u) coming (?:to|back)|(?:tu viens|vous venez) (?:a|au|aux|en)|"
    r"vous (?:allez|comptez|prevoyez|preparez)|(?:des|tes|vos) projets|projets? (?:pour|de)|"
    r"en preparation|a venir|pas encore|toujours pas)(?![a-z])"
)
_STOPWORDS = frozenset(
    """the and for are but not you your yours with this that these those from have has had was were
    will would could should can just really very about what when where which who how why there
    their they them then than into onto over under also some any all more most much many such
    only own same too its it's i'm i've i'll you're we're they're don't didn't can't won't here
    been being because while again ever never always still yet even like love loved lots thanks
    thank haha lol omg yes yeah yep nope okay sure well good great amazing awesome cute happy
    glad hope sorry please today tomorrow soon now time thing things something anything
    everything nothing really think know want make made much little big new one two get got les
    des une est pas pour avec dans sur que qui quoi mais donc car tres trop plus moins tout tous
    toute toutes cette ces mon mes ton tes son ses notre votre leur leurs elle elles ils nous
    vous suis sont etait etre avoir fait faire peux veux merci bisous coucou oui non bien bon
    bonne super trop genial vraiment aussi encore deja toujours jamais rien chose choses
    aujourd'hui demain bientot maintenant c'est j'ai t'as j'adore adore aime aimer""".split()  # noqa: SIM905
)
_WORDS = re.compile(r"[a-z][a-z'-]{2,}")
_NUMBERS = re.compile(r"\d+(?:[.,]\d+)?")
_NAMES = re.compile(r"(?<=[a-z,;:] )[A-ZÀ-Ý][a-zà-ÿ]{2,}")


def is_factual_question(text: str, lang: str | None = None) -> bool:
    """True for questions asking a fact about the creator ("when does your book come out?").

    `lang` is accepted for symmetry with the other checks; English and French are both tried.
    """
    del lang  # both languages' patterns run: fans mix them
    folded = fold(text)
    if not folded or _NOT_FACTUAL.search(folded):
        return False
    if "?" in folded and _FUTURE_NEWS.search(folded):
        return True
    if _VOICE_QUESTION.search(folded) and not _NAMED_PLACE.search(folded):
        return False
    if "?" in folded and _PLANS.search(folded) and _ABOUT_CREATOR.search(folded):
        return True
    # Without "?", only an opening question word followed by a verb counts ("when does your
    # book come out"); "what a video!" and "t'es trop belle" are exclamations.
    is_question = "?" in folded or bool(_OPENING_QUESTION.match(folded))
    if not is_question:
        return False
    asks = bool(_Q_WORD.search(folded)) or bool(_YES_NO.match(folded))
    return asks and bool(_ABOUT_CREATOR.search(folded))


def is_yes_no_question(text: str) -> bool:
    """ "tu fais un live ce soir ?", "are you coming to Lyon?": the posts' own words confirm."""
    return bool(_YES_NO.match(fold(text)))


def _stem(word: str) -> str:
    # Crude, language-agnostic: "release"/"released"/"releasing" share a 5-letter prefix.
    return word[:5] if len(word) > 5 else word


def _vocabulary(texts: Iterable[str]) -> tuple[set[str], set[str]]:
    words: set[str] = set()
    numbers: set[str] = set()
    for text in texts:
        folded = fold(text)
        words |= {_stem(w.strip("'-")) for w in _WORDS.findall(folded)}
        numbers |= {n.replace(",", ".") for n in _NUMBERS.findall(folded)}
    return words, numbers


def grounded(
    reply: str, sources: Sequence[str], threshold: float = 0.6, *, known: Sequence[str] = ()
) -> bool:
    """Cheap lexical support check of `reply` against `sources` (plus `known`, e.g. the question).

    Unsupported if any number or capitalised name in the reply appears in no source, or if
    fewer than `threshold` of its content words do. A reply with no content words (a thank-you,
    an emoji) makes no claim and counts as supported.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    vocab, numbers = _vocabulary([*sources, *known])
    folded = fold(reply)
    for number in _NUMBERS.findall(folded):
        if number.replace(",", ".") not in numbers:
            return False
    for name in _NAMES.findall(reply):
        if _stem(fold(name)) not in vocab:
            return False
    content = [w.strip("'-") for w in _WORDS.findall(folded)]
    content = [w for w in content if w not in _STOPWORDS and len(w) >= 4]
    if not content:
        return True
    supported = sum(_stem(w) in vocab for w in content)
    return supported / len(content) >= threshold
