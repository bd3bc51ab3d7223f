"""A cheap English/French guess for short fan messages.

General language-id models are unreliable on a five-word DM ("t'es un bot ?" comes out as
Occitan), and the safety layer only needs to know whether the English classifier applies and
which language to answer in. Function words decide; anything else is "und".
"""

from __future__ import annotations

import re

from persona.safety.normalize import fold

_FR = frozenset(
    """je j tu t il elle on nous vous ils elles le la les l un une des du de d au aux ce c ca cette
    ces mon ma mes ton ta tes son sa ses notre votre leur est es suis sont etre et ou mais pas
    ne n plus tres trop avec pour dans sur chez qui que qu quoi quand comment pourquoi oui non
    merci bravo coucou bisous bonjour salut stp svp mdr ptn jsp c'est t'es j'ai tellement aussi
    toujours jamais rien tout toute tous vraiment encore deja moi toi lui ai as avez a fais fait
    faire peux veux dis cest""".split()  # noqa: SIM905
)
_EN = frozenset(
    """i you he she we they it me my your his her our their the a an is am are was were be been and
    or but not no so very too with for in on at of to from this that these those what when where
    why how who which do does did can could will would should have has had just really love
    thanks thank please pls lol omg im i'm you're dont don't can't it's u ur r""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[a-z']+")
_FR_ACCENTS = re.compile(r"[àâçéèêëîïôûùüÿœ]")


def guess_lang(text: str) -> str:
    """'en', 'fr', or 'und' when the message has no telling words."""
    words = _WORD.findall(fold(text))
    fr = sum(w in _FR or w.split("'")[0] in _FR for w in words)
    en = sum(w in _EN for w in words)
    fr += 2 * len(_FR_ACCENTS.findall(text.casefold()))
    if fr == en == 0:
        return "und"
    return "fr" if fr > en else "en"
