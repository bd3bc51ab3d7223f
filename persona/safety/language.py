"""A cheap English/French guess for short fan messages.

General language-id models are unreliable on a five-word DM ("t'es un bot ?" comes out as
Occitan), and the safety layer only needs to know whether the English classifier applies and
which language to answer in. Function words decide; anything else is "und".
"""

from __future__ import annotations

import re

from persona.safety.normalize import fold

# The most frequent words of everyday chat in each language, function words first (written from
# general knowledge of the languages, not from any fan set). A word both languages use in chat
# ("ok", "super", "top") is in neither.
_FR = frozenset(
    """je j tu t il elle on nous vous ils elles le la les l un une des du de d au aux ce c ca cette
    ces mon ma mes ton ta tes son sa ses notre votre nos vos leur leurs est es suis sont etre et ou
    mais pas ne n plus tres trop avec pour dans sur chez qui que qu quoi quand comment pourquoi
    oui non merci bravo coucou bisous bonjour bonsoir salut stp svp mdr ptn jsp c'est t'es j'ai
    tellement aussi toujours jamais rien tout toute tous toutes vraiment encore deja moi toi lui
    ai as avez a fais fait faire peux veux dis cest en y se s sa si comme va vais vas allez
    aller bien bon bonne belle beau nuit jour journee soir matin anniversaire joyeux heureux
    heureuse fete annee semaine demain hier aujourd'hui maintenant ici la-bas alors donc parce
    car depuis avant apres pendant quel quelle quels quelles peut peu beaucoup chose choses
    aime adore j'adore j'aime hate nouveau nouvelle nouvel gros grosse petit petite vie
    ou est-ce est-ce qu'est-ce sais savoir connais crois pense trouve vu voir dit dire faut
    doit dois avoir ete etait sera serait suis-je vas-tu merci beaucoup courage felicitations
    livre recette cuisine quoi""".split()  # noqa: SIM905
)
_EN = frozenset(
    """i you he she we they it me my your his her our their the a an is am are was were be been and
    or but not no so very too with for in on at of to from this that these those what when where
    why how who which do does did can could will would should have has had just really love
    thanks thank please pls lol omg im i'm you're dont don't can't it's u ur r good night
    morning day great nice hope happy birthday hi hello hey new all one get got go going like
    know think make want see time best more much now here there still if about up out as by
    yes yeah any some every thing things today tomorrow yesterday week year life work working
    doing did done been being need keep always never ever again also only even well back
    amazing awesome beautiful proud congrats congratulations miss sweet dreams wish wishes
    book recipe cooking what's that's there's i've i'll you'll we're they're isn't wasn't
    didn't doesn't won't""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[a-z][a-z'-]*")
_FR_ACCENTED_WORD = re.compile(r"\w*[àâçéèêëîïôûùüÿœ]\w*")


def guess_lang(text: str, ignore: tuple[str, ...] = ()) -> str:
    """'en', 'fr', or 'und' when the message has no telling words.

    `ignore`: names that say nothing about the language, such as the creator's ("good night
    khloé" is English; its accent is the name's). A word with a French accent counts once
    for French, whatever its number of accents."""
    skip = {fold(name) for name in ignore}
    words = [w for w in _WORD.findall(fold(text)) if w not in skip]
    fr = sum(w in _FR or w.split("'")[0] in _FR for w in words)
    en = sum(w in _EN for w in words)
    fr += sum(
        1
        for w in _FR_ACCENTED_WORD.findall(text.casefold())
        if fold(w) not in skip and fold(w) not in _FR
    )
    if fr == en == 0:
        return "und"
    return "fr" if fr > en else "en"
