"""Function words of the languages creators mostly write in: the generic background that
every writer shares. An n-gram made only of these says nothing about a creator ("in the",
"de la"), and they never count as topics."""

from __future__ import annotations

_EN = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each even ever every few for from further get gets got had
hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself just let's
like me more most much must mustn't my myself no nor not now of off on once one only or
other ought our ours ourselves out over own really same shan't she she'd she'll she's should
shouldn't so some still such than that that's the their theirs them themselves then there
there's these they they'd they'll they're they've this those though through to too under
until up us very was wasn't we we'd we'll we're we've well were weren't what what's when
when's where where's which while who who's whom why why's will with won't would wouldn't
yet you you'd you'll you're you've your yours yourself yourselves im ive dont cant didnt
doesnt isnt thats whats youre u ur
"""
_FR = """
a à ai aie ainsi alors as au aucun aussi autre aux avec avoir c ça car ce cela ces cet
cette ceux chez comme d dans de des du elle elles en encore est et été être eu fait il ils
j je jusqu l la le les leur leurs lui m ma mais me même mes moi mon n ne ni nos notre nous
on ont ou où par pas peu plus pour qu que quel quelle qui s sa sans se ses si son sont sur
t ta te tes toi ton tous tout toute très tu un une vos votre vous y c'est j'ai
"""
_ES = """
a al algo como con cual cuando de del donde el él ella ellas ellos en entre era es esa
ese eso esta está este esto estoy fue ha han hay la las le les lo los me mi mis muy más
mucho nada ni no nos nosotros o para pero por porque que qué se sea ser si sí sin sobre
son su sus también te tengo tu tú un una uno unos y ya yo
"""
_DE = """
aber als am an auch auf aus bei bin bis bist da dann das dass dem den der des die dir doch
du ein eine einem einen einer es für hab habe hat ich ihr im in ist ja jetzt kann kein
keine mich mir mit nach nicht noch nur oder schon sehr sich sie sind so über um und uns
unser vom von vor war was wenn wie wir wird zu zum zur
"""
_IT = """
a ad al alla alle anche che chi ci come con da dal dalla del della delle di e è ed gli
ha ho i il in io la le lei lo loro lui ma mi mia mio ne nel nella noi non o per più quando
questo questa se si sono su sua suo ti tu tutto un una uno voi
"""
_PT = """
a ao aos as até com como da das de do dos e é ela ele eles em entre era essa esse esta
este eu foi há isso já mais mas me meu minha muito na não nas no nos o os ou para pela
pelo por que se sem ser seu sua são também te tem um uma você
"""
_NL = """
aan al als ben bij dan dat de die dit door een en er had heb heeft het hij hoe ik in is
je jij kan maar me met mij mijn na naar niet nog nu of om ons ook op over te tot u uit van
voor was wat we wel wie wij zal ze zich zijn zo
"""

STOPWORDS: frozenset[str] = frozenset(
    word for block in (_EN, _FR, _ES, _DE, _IT, _PT, _NL) for word in block.split()
) | frozenset(w.replace("'", "’") for w in _EN.split() if "'" in w)


def is_stopword(token: str) -> bool:
    return token.lower() in STOPWORDS


# Everyday content words (English, where most of our posts are): not function words, but
# everybody's vocabulary. They never make a topic and count as half a content word in a phrase.
_COMMON = """
able actually again ago almost already always another anyone anything around ask asked away
back bad best better big bit call came come comes coming could day days different done else
enough everyone everything feel find first free give go goes going gone good great guess
guys happy hard help hey hi high home hope idea keep kind know last least left less let
life little live long look looking lot lots love made make makes making man many maybe mean
means might mind need needs never new next nice night nothing ok okay old one ones part
people person place please point pretty put quite read ready real right said say saying says
see seem seems seen set show since small something sometimes soon sorry start stop stuff
sure take talk tell thank thanks thing things think thinking thought time times today
tomorrow tonight took true try trying two use used useful uses using want wants watch way
ways week whole without word words work working works world wow write wrong yeah year years
yes yet yesterday
"""
COMMON_WORDS: frozenset[str] = frozenset(_COMMON.split())
