"""English and French inbound lexicons, as regex bodies over folded text.

Folded text is lower-case, accent-free, with straight quotes (see `normalize.fold`); every body
is wrapped in word boundaries by `compile_terms`, and matched against the de-leeted, squeezed
and de-spaced views too. Patterns aim at what is *directed at the creator* or *about the fan*,
so that idioms ("I'm dying 😂", "tu me tues", "killing it", "une tuerie") pass.
"""

from __future__ import annotations

import re

from persona.safety.normalize import compile_terms

# --- shared pieces --------------------------------------------------------------------------
_YOU = r"(?:you|u|ya|ur|youre|you're|you are|you r|u r|u are)"
_FILLER = (
    r"(?:are|r|re|is|such|so|a|an|the|just|really|truly|most|absolute|absolutely|total|totally|"
    r"complete|completely|fucking|f\*cking|fking|freaking|damn|little|big|fat|old|ugly|stupid|"
    r"dumb|literally|honestly|actually|biggest|worst|one|person|human)"
)
_EN_INSULT = (
    r"(?:stupid|dumb|ugly|fat|worthless|pathetic|disgusting|idiot|idiotic|moron|moronic|loser|"
    r"fraud|talentless|braindead|brain dead|trash|garbage|useless|gross|annoying|cringe|failure|"
    r"hypocrite|liar|scammer|fake|bitch|whore|slut|cunt|retard|retarded|creep|freak|clown|"
    r"waste of space|nobody|joke of a person|pig|cow|animal|parasite|embarrassment)"
)
_TU_ES = r"(?:t'es|tes|t es|tu es|t'est|vous etes|t'etais|tu etais|t'es vraiment|t'es qu')"
_FR_FILLER = (
    r"(?:vraiment|trop|tellement|qu'une?|qu un|une?|juste|grave|carrement|franchement|si|tres|"
    r"completement|vraiment qu'une?|la plus|le plus|plus|grosse|gros|sale|petite?|pauvre|"
    r"qu'un|qu'une grosse|qu'un gros|une grosse|un gros|la|le)"
)
_FR_INSULT = (
    r"(?:moche|laide?|nulle?|grosse|con|conne|debile|idiote?|stupide|connasse|connard|bete|"
    r"pathetique|ridicule|minable|degueulasse|degueu|horrible|une merde|merde|naze|nase|"
    r"pitoyable|sans talent|une arnaque|escroc|menteuse?|hypocrite|fausse|inutile|pute|salope|"
    r"conasse|cinglee|taree?|attardee?|mongole?|boloss|cassos|thon|boudin|vache|truie)"
)

# Laughter, affection or hyperbole: they defuse soft matches ("I'm gonna kill you for this 😂").
JOKE_MARKERS = re.compile(
    r"(?:😂|🤣|😆|😹|💀|😅|😭|😍|🥰|❤|♥|💕|💖|💗|😘|🙈|\blo+l\b|\blmf?a+o+\b|\bmdr+\b|"
    r"\bptdr+\b|\bxd+\b|\b(?:ha){2,}h?\b|\bhehe+\b|\bjk\b|\bje rigole\b|\bde rire\b|\bkidding\b)",
    re.IGNORECASE,
)
# Words that make a profane message read as praise ("what a fucking great video").
POSITIVE_CONTEXT = re.compile(
    r"(?<![a-z])(?:love|loved|loving|amazing|awesome|great|best|incredible|insane|perfect|"
    r"beautiful|gorgeous|stunning|talented|genius|legend|queen|king|goat|proud|fire|slay|glow|"
    r"glowing|cute|wow|delicious|yummy|good|nice|fantastic|brilliant|fabulous|beast|icon|"
    r"epic|dope|lit|wonderful|obsessed|adore|bravo|genial|geniale|magnifique|incroyable|"
    r"trop bon|trop belle|canon|parfait|parfaite|ouf|dinguerie|tuerie|masterpiece|chef's kiss|"
    r"congrats|congratulations|happy|thank|thanks|merci)(?![a-z])|[🔥❤♥💕💖😍🥰👏🙌✨💯]",
)

# --- abuse ----------------------------------------------------------------------------------
ABUSE = compile_terms(
    [
        # English: slurs and insults that need no target.
        r"bitch(?:es)?",
        r"b\*tch",
        r"whores?",
        r"sluts?",
        r"cunts?",
        r"retards?",
        r"fag(?:got)?s?",
        r"n[i1]gg(?:er|a|as|ers)",
        r"dumbass",
        r"jackass",
        r"dickhead",
        r"motherfucker",
        r"scumbag",
        r"skank",
        r"twat",
        r"wanker",
        r"douche(?:bag)?",
        r"piece of (?:shit|crap|trash|garbage)",
        r"f+u+c*k+ (?:you|u|off|ur|your|yourself)",
        r"f\*+c?k (?:you|u|off)",
        r"fuck(?:ing)? (?:idiot|moron|loser|bitch|whore|retard|clown)",
        r"screw (?:you|u)",
        r"go to hell",
        r"stfu",
        r"gtfo",
        r"kys",
        r"kill (?:yo)?urself",
        r"go die",
        r"(?:die|burn|rot) in (?:a |the )?(?:fire|hole|ditch|hell)",
        r"hope (?:you|u) die",
        r"hope (?:your|ur) \w+(?: \w+)? dies",
        r"nobody (?:likes|loves|wants|cares about|watches) (?:you|u)",
        r"no ?one (?:likes|loves|wants|cares about|watches) (?:you|u)",
        r"every(?:one|body) hates (?:you|u)",
        r"(?:you|u) (?:disgust|sicken|repulse) me",
        r"delete (?:your|ur) (?:account|channel|page)",
        r"(?:you|u) (?:suck|stink)",
        r"shut (?:your|ur) (?:mouth|face|trap|pie hole)",
        r"(?:stupid|dumb|fat|ugly|old|lazy) (?:cow|pig|bitch|whore|slut|cunt|hag|witch)",
        r"waste of (?:space|air|oxygen)",
        r"washed[- ]up",
        r"(?:disgusting|filthy|nasty|pathetic|stupid|dumb|fat|ugly) (?:pig|cow|whore|slut|bitch|"
        r"hag|rat|cunt|loser)",
        r"what an? (?:\w+ )?(?:loser|idiot|moron|joke|fraud|clown|bitch|failure|waste)",
        r"do (?:the world|us all|everyone) a fav(?:ou)?r",
        r"no wonder (?:your|ur) (?:husband|wife|boyfriend|girlfriend|partner|family|friends|dad|"
        r"mom) "
        r"(?:left|hates?|cheated|leaves)",
        r"who (?:told|said) (?:you|u) (?:that )?(?:you|u) (?:could|can) (?:cook|sing|act|talk|"
        r"create)",
        r"has[- ]been",
        r"nobody asked (?:for )?(?:you|your|u)",
        r"(?:your|ur) (?:face|voice|cooking|content|videos?|channel|food|laugh|existence) "
        r"(?:is|are|makes? me|looks?) (?:\w+ )?(?:trash|garbage|shit|crap|sick|ugly|disgusting|"
        r"cringe|terrible|"
        r"awful|pathetic|vomit|puke|gross)",
        r"(?:kill|off) yourself",
        r"(?:you|u) (?:should|need to|gotta) (?:die|disappear|quit|leave the internet)",
        r"(?:talentless|worthless|pathetic|disgusting) (?:hack|fraud|loser|idiot|person|clown)",
        # English: insults aimed at the creator ("you are the most pathetic...").
        rf"{_YOU}\s+(?:{_FILLER}\s+){{0,4}}{_EN_INSULT}",
        # French.
        r"conn?ass?es?",
        r"connards?",
        r"salopes?",
        r"p[u*]tes?",
        r"fils de p[u*]te",
        r"encules?",
        r"ntm",
        r"nique (?:ta|ton|sa|vos|tes) (?:mere|race|soeur|pere|grand-mere|gueule)",
        r"(?:ferme )?(?:ta|sa) gueule",
        r"ferme[- ]la",
        r"va te faire (?:foutre|enculer|voir|mettre)",
        r"batards?",
        r"pedes?",
        r"pd",
        r"tapettes?",
        r"gouines?",
        r"negres?",
        r"bougnoules?",
        r"bouffon(?:ne)?s?",
        r"abruti(?:e)?s?",
        r"imbeciles?",
        r"cassos",
        r"boloss?",
        r"grognasses?",
        r"pouffiasses?",
        r"trou du cul",
        r"tocards?",
        r"sous[- ]merde",
        r"grosse (?:vache|truie|baleine|conne)",
        r"sale (?:grosse |gros )?(?:pute|chienne|truie|vache|conne|con|merde|race|bouffonne?)",
        r"pauvre (?:conne?|idiote?|tache|merde|fille|type|folle|nulle?)",
        r"espece d(?:e |')(?:debile|con|conne|connard|connasse|idiote?|abrutie?|salope|pute|batard|"
        r"bouffon(?:ne)?|nulle?|moche|cassos|tocard|merde|imbecile|grosse|gros|sale|pauvre|malade|"
        r"folle|taree?|"
        r"attardee?|mongole?|raclure|ordure)",
        r"personne ne (?:t'aime|te regarde|te supporte|veut de toi)",
        r"tout le monde (?:te deteste|se moque de toi|te hait|te trouve (?:moche|nulle?))",
        r"(?:tu|vous) me degoute?s?",
        r"degage d(?:'|e |u )\w+",
        r"casse[- ]toi",
        r"va crever",
        r"creve (?:sale|connasse|conne|pourriture|charogne)",
        r"j'espere que tu (?:creves|vas crever|meurs)",
        r"suicide[- ]toi",
        r"va te (?:pendre|suicider|tuer|jeter)",
        r"tue[- ]toi",
        r"(?:sont|est|c'est) a chier",
        r"(?:ta|tes|ton) \w+ (?:c'est|ce sont|sont|est) (?:vraiment |trop |juste )?(?:de la merde|"
        r"nulle?s?|a chier|"
        r"degueulasses?|immondes?|pathetiques?|a vomir)",
        r"(?:et )?toi aussi (?:t'es|tu es) (?:nulle?|moche|une merde)",
        r"(?:va|allez) te cacher",
        r"(?:sale|grosse|espece de|pauvre|quelle?) (?:menteuse?|incapable|dinde|cruche|gourde|"
        r"hysterique|"
        r"conne?|connasse|idiote?|debile|nulle?|bouffonne?|pouffiasse|grognasse|mytho|mythomane|"
        r"arnaqueuse?|"
        r"imposteur|tache)",
        r"(?:tu sers|t'sers|vous servez) a rien",
        r"(?:supprime|ferme|efface) (?:ta chaine|ton compte|ta page|ton insta)",
        r"(?:t'es|tu es) (?:vraiment |juste |qu'une? |une? )*(?:incapable|menteuse?|arnaqueuse?|"
        r"escroc|imposteur|"
        r"imposture|fraude|honte)",
        r"tu (?:devrais|dois) (?:arreter|disparaitre|crever|quitter internet)",
        r"(?:t'es|tu es) (?:vraiment |trop |tellement )?(?:ridicule|pathetique|minable|pitoyable)",
        r"(?:t'es|tu es|t'es qu'une|t'es une) (?:merde|ordure|pourriture|raclure)",
        rf"{_TU_ES}\s+(?:{_FR_FILLER}\s+){{0,3}}{_FR_INSULT}",
    ]
)
# Soft abuse: a joke or affection marker makes it ambiguous, so a judge decides.
ABUSE_SOFT = compile_terms(
    [
        r"i (?:hate|despise) (?:you|u)",
        r"je te (?:deteste|hais)",
        r"you(?:'re| are) (?:so )?annoying",
    ]
)

# --- threats --------------------------------------------------------------------------------
THREAT_STRONG = compile_terms(
    [
        r"i know where (?:you|u) (?:live|sleep|work|are|stay)",
        r"i (?:know|have|found|got) (?:your|ur) (?:address|home address|location)",
        r"(?:i'?ll|i will|gonna|going to|i'm going to) (?:catch|get) (?:you|u) (?:alone|outside|"
        r"one day|someday)",
        r"(?:catch|get) (?:you|u) alone",
        r"make (?:your|ur) life (?:hell|a (?:living )?hell|miserable)",
        r"i know (?:your|ur) (?:car|school|gym|kids|family|routine|schedule)",
        r"je vais te (?:faire du mal|pourrir la vie|faire regretter|faire vivre un enfer)",
        r"je (?:connais|sais) (?:ta voiture|ton ecole|tes enfants|ta famille|tes horaires)",
        r"(?:waiting|wait|be waiting|be) (?:for you )?(?:outside|in front of|near|behind|at) "
        r"(?:your|ur) "
        r"(?:house|building|home|place|door|work|hotel|apartment|flat|car)",
        r"(?:you'?ll|you will) (?:see what happens|pay for (?:this|that|it))",
        r"(?:i'?ll|i will|gonna|going to) (?:post|leak|publish|share) (?:your|ur) (?:address|"
        r"number|location|nudes)",
        r"je (?:connais|sais|ai|trouve) ton adresse",
        r"(?:tu vas|tu va) (?:voir ce qui va t'arriver|le payer|me le payer|payer)",
        r"je t'attends (?:devant|en bas de|a la sortie de|pres de) (?:chez toi|ton|ta)",
        r"(?:devant|en bas de) chez toi (?:ce soir|demain|bientot)",
        r"je vais (?:publier|balancer|leak\w*|diffuser) ton (?:adresse|numero)",
        r"watch (?:your|ur) back",
        r"(?:you|u)(?:'ll| will) regret (?:it|this|that)",
        r"(?:come|coming|show up|going|go) (?:to|at) (?:your|ur) (?:house|home|place|door|"
        r"apartment|flat|work)",
        r"(?:i'?ll|i will|i'm going to|im going to|i am going to|i'm gonna|im gonna) (?:\w+ ){0,2}"
        r"(?:rape|stab|shoot|strangle|murder|burn|acid) (?:you|u)",
        r"(?:find|hunt) (?:you|u) (?:down|irl|in real life)",
        r"(?:find|hunt) (?:you|u) and (?:hurt|kill|beat|stab|rape|make)",
        r"i'?ll make (?:you|u) (?:pay|suffer|bleed)",
        r"(?:you|u) (?:won't|will not|wont) see it coming",
        r"(?:bomb|shoot up|attack) (?:your|the) (?:show|concert|event|signing|house)",
        r"je sais ou (?:tu|t') ?(?:habites|vis|dors|bosses|travailles|es)",
        r"fais (?:gaffe|attention) a (?:toi|tes fesses|ta gueule)",
        r"(?:tu|t') ?vas (?:le |la )?regretter",
        r"je vais (?:venir|passer|debarquer) (?:chez toi|te voir chez toi|devant chez toi)",
        r"je vais te (?:\w+ ){0,2}(?:buter|frapper|defoncer|violer|egorger|retrouver|trouver|"
        r"faire la peau|planter|cramer|casser la gueule|casser les dents|faire payer)",
    ]
)
THREAT = compile_terms(
    [
        r"(?:i'?ll|i will|i'm going to|im going to|i am going to|i'm gonna|im gonna|gonna) (?:\w+ "
        r"){0,2}"
        r"(?:kill|hurt|beat|punch|slap|destroy) (?:you|u)(?! for)",
        r"(?:you'?re|you are|ur) (?:so )?dead(?! on)",
        r"je vais te (?:tuer|frapper|detruire|gifler)",
        r"(?:t'es|tu es) (?:un homme mort|une femme morte)",
        r"(?:un jour|bientot|attends) (?:\w+ ){0,4}tu vas (?:comprendre|voir|morfler|prendre cher|"
        r"payer)",
        r"tu vas (?:morfler|prendre cher|souffrir)",
        r"(?:one day|someday|soon) (?:\w+ ){0,4}(?:you'?ll|you will) (?:see|understand|learn|pay)",
        r"je vais te (?:croiser|trouver|choper)",
    ]
)

# --- sexual content -------------------------------------------------------------------------
SEXUAL = compile_terms(
    [
        r"(?:send|show|sell|see|share|got|have|want|trade|drop) (?:me )?(?:\w+ ){0,2}nudes?",
        r"nudes",
        r"(?:see|seeing|watch|picture|pics?|photos?|imagine|want) (?:of )?(?:you|u|yourself) "
        r"(?:\w+ ){0,2}naked",
        r"(?:you|u|yourself) naked",
        r"get naked",
        r"strip (?:for|naked|down|tease)",
        r"take (?:it|them|everything|that|your \w+|it all) off (?:for me|baby|babe|now|slowly)",
        r"what (?:are|r) (?:you|u) wearing (?:right now|now|rn|tonight|in bed|under)",
        r"have sex",
        r"sex with (?:me|you|u)",
        r"(?:want|wanna|love|like|going|gonna|'d|would) (?:to )?(?:fuck|bang|screw|shag|f\*ck) "
        r"(?:you|u|me)",
        r"fuck me",
        r"(?:show|send|see|flash|touch|grab|suck|lick|squeeze) (?:me )?(?:your|ur|my|those|them|"
        r"her) (?:\w+ )?"
        r"(?:boobs|tits|titties|nipples|ass|butt|pussy|dick|cock|feet|body|breasts)",
        r"(?:suck|lick) (?:my|your|ur) \w+",
        r"(?:my|your|ur) (?:dick|cock|pussy|tits|boobs)",
        r"dick ?pics?",
        r"feet pics?",
        r"(?:pics?|photos?|pictures?|videos?|vids?) of (?:your|ur) (?:feet|body|boobs|tits|ass|"
        r"butt|chest|bra|"
        r"underwear|lingerie|bikini body|cleavage)",
        r"(?:in|wearing) (?:your |ur )?(?:lingerie|underwear|bra|panties|thong)(?: for me)?",
        r"horny",
        r"blow ?jobs?",
        r"hand ?jobs?",
        r"cum(?:ming|shot)?",
        r"sexting",
        r"sext",
        r"jerk(?:ing)? off",
        r"masturbat\w*",
        r"(?<!food )porn\w*",
        r"(?:sleep|in bed|go to bed) with me",
        r"(?:sleep|sleeping|dormir|dors|dort) (?:\w+ )?(?:naked|nue?s?|a poil)",
        r"(?:you|u) in my bed",
        r"(?:te|t'avoir|toi) (?:\w+ ){0,2}dans mon lit",
        r"(?:photos?|videos?|vids?|selfies?|pics?|pictures?|clips?) (?:\w+ ){0,2}(?:coquines?|hot|"
        r"sexy|cochonnes?|osees?|"
        r"nues?|spicy|naughty|dirty|nsfw|privees?)(?: (?:for me|just for me|rien que pour moi|"
        r"pour moi))?",
        r"make love (?:to|with) (?:me|you|u)",
        r"sit on my (?:face|lap|dick)",
        r"spread (?:your|ur) legs",
        r"naughty (?:pics?|photos?|videos?|stuff|things)",
        r"send (?:me )?(?:something|smth|sth|a pic|pics|a photo|photos) (?:\w+ )?(?:naughty|sexy|"
        r"spicy|dirty|hot)",
        r"(?:sexy|naughty|spicy|dirty|nsfw) (?:pics?|photos?|selfies?|videos?)(?: of (?:you|"
        r"yourself)| for me)?",
        r"(?:toute?|completement|tout) nue?s?",
        r"(?:te|vous) voir nue?",
        r"a poil",
        r"enleve (?:tout|ton haut|ta robe|tes vetements|ton t-shirt|ta culotte|ton soutif|ton "
        r"soutien-gorge)(?! (?:le|la|les|l'|du|de|ce|ca))",
        r"tu portes quoi (?:la|maintenant|en ce moment|ce soir|sous)",
        r"coucher avec (?:moi|toi)",
        r"on couche ensemble",
        r"(?:te|vous) (?:baiser|sucer|lecher|doigter)",
        r"baise[- ]moi",
        r"suce[- ]moi",
        r"(?:ma|ta) (?:bite|teub)",
        r"(?:tes|montre|voir|touche|touches|toucher) (?:\w+ )?(?:seins|nichons|fesses|tetons|cul)",
        r"photos? (?:coquines?|hot|sexy|cochonnes?|osees?|nues?)",
        r"plan cul",
        r"je bande",
        r"branler",
        r"excitee? (?:par|sur|quand) (?:toi|vous)",
        r"faire l'amour (?:avec|a) (?:moi|toi)",
        r"sextape",
        r"(?:voir|photos?|videos?) (?:\w+ ){0,2}(?:en|de toi en) (?:lingerie|sous-vetements|"
        r"string|nuisette|culotte|"
        r"soutien-gorge)",
        r"(?:photos?|videos?) de tes (?:pieds|seins|fesses)",
        r"(?:je suis|j'suis|suis) (?:tout |toute )?(?:excitee?|chaud|chaude) (?:pour|en pensant "
        r"a) toi",
    ]
)
# Mild or romantic cues: fine from an adult, strict from a minor.
SEXUAL_CUE = compile_terms(
    [
        r"sexy",
        r"kiss(?:es|ing)?",
        r"make out",
        r"swimsuit",
        r"bikini",
        r"lingerie",
        r"underwear",
        r"naked",
        r"nude",
        r"(?:see|look at|touch) (?:my|your|ur) body",
        r"(?:pics?|photos?|pictures?|selfies?) of (?:me|myself|my body)",
        r"naughty",
        r"cuddle",
        r"date (?:me|you|u)",
        r"(?:be|become) (?:your|ur) (?:girlfriend|boyfriend|gf|bf|wife|husband|lover)",
        r"(?:you|u) (?:to )?be my (?:girlfriend|boyfriend|gf|bf|wife|husband|valentine)",
        r"(?:pics?|photos?|pictures?|selfies?) (?:of (?:you|u) )?in (?:your|ur) (?:pajamas|"
        r"pyjamas|bed|underwear|bikini|swimsuit)",
        r"embrasser",
        r"s'embrasser",
        r"sortir avec (?:toi|moi)",
        r"(?:etre|devenir) (?:ta|ton) (?:copine|copain|amoureuse?|petite? amie?|cherie?)",
        r"maillot",
        r"sous-vetements",
        r"culotte",
        r"(?:voir|toucher) (?:mon|ton) corps",
        r"photos? de moi",
        r"coquine?s?",
        r"cochonne?s?",
        r"nue",
    ]
)

# --- minors ---------------------------------------------------------------------------------
_AGE = r"(?:1[0-7]|[5-9])"
_NOT_UNIT = (
    r"(?! ?(?:months?|weeks?|days?|hours?|h|min|mins|minutes?|km|miles?|%|euros?|€|\$|kg|lbs?))"
)
MINOR = compile_terms(
    [
        rf"i'?m (?:only |just )?{_AGE}{_NOT_UNIT}",
        rf"turning {_AGE}{_NOT_UNIT}",
        rf"(?:je vais avoir|bientot) {_AGE} ans",
        rf"i am (?:only |just )?{_AGE}{_NOT_UNIT}",
        rf"{_AGE} ?(?:yo|y/o|yrs? old|years? old|year-old)",
        rf"{_AGE}-years?-old",
        rf"(?:my|our) (?:daughter|son|kid|child|niece|nephew|little (?:sister|brother|girl|boy)|"
        rf"stepdaughter|stepson) (?:is |who is |, )?(?:only )?{_AGE}{_NOT_UNIT}",
        r"under ?(?:1[0-8])",
        r"underage",
        r"minors?",
        r"(?:young|little|small) (?:girls?|boys?|kids?|children)",
        r"(?:middle|junior high|elementary|primary) school",
        r"(?:[5-9]|1[0-2])(?:th|st|nd|rd) grade",
        r"year (?:[5-9]|1[01])",
        r"school ?girls?",
        r"school ?boys?",
        r"preteens?",
        r"teen(?:ager|agers|s)?",
        r"child(?:ren)?",
        r"kids?",
        rf"j'?ai (?:que |seulement |juste |a peine )?{_AGE} ?ans",
        rf"{_AGE} ?ans",
        rf"(?:ma|mon|notre) (?:fille|fils|niece|neveu|petite soeur|petit frere|enfant|gamine?) "
        rf"(?:a |qui a |de )?{_AGE}",
        r"moins de (?:1[0-8]) ans",
        r"mineure?s?",
        r"petites? filles?",
        r"petits? garcons?",
        r"fillettes?",
        r"gamine?s?",
        r"ados?",
        r"adolescente?s?",
        r"(?:au|en) college",
        r"collegiennes?",
        r"lyceennes?",
        r"en (?:cm1|cm2|6e|6eme|5e|5eme|4e|4eme|3e|3eme|sixieme|cinquieme|quatrieme|troisieme)",
        r"enfants?",
    ]
)
# Sexualised minors: strict on its own, no other cue needed.
MINOR_SEXUAL = compile_terms(
    [
        r"(?:into|like|love|want|prefer|attracted to|fancy) (?:\w+ )?(?:young|little|underage|"
        r"teen) "
        r"(?:girls?|boys?|ones|kids)",
        r"(?:aimes?|kiffes?|preferes?) (?:\w+ )?(?:les )?(?:petites? filles?|petits? garcons?|"
        r"jeunes filles?|"
        r"mineure?s?|gamines?|ados?)",
        r"school ?girl (?:outfits?|costumes?|uniforms?|roleplay|porn)",
        r"lolis?",
        r"barely legal",
        r"jailbait",
        r"child porn\w*",
        r"cp (?:links?|videos?|pics?)",
        r"pedopornographi\w*",
    ]
)

# --- self-harm ------------------------------------------------------------------------------
_NOT_LAUGH_EN = r"(?! (?:of|from|laughing|with laughter|lol|of laughter|of cuteness))"
_NOT_LAUGH_FR = r"(?! de (?:rire|honte|faim|fatigue))"
SELF_HARM = compile_terms(
    [
        r"kill(?:ing)? myself",
        r"end(?:ing)? my (?:own )?life",
        r"(?:hurt|hurting|cut|cutting|harm|harming|burn|burning|starve|starving) myself"
        r"(?! (?:on|with|while|chopping|slicing|cooking|baking|in the kitchen|again (?:on|with|"
        r"while)))",
        r"self[- ]?harm\w*",
        # Acts told in everyday words (added 2026-12-06 after the red team's fresh split
        # missed them: that split no longer measures these phrasings blind).
        r"(?:been|started|keep|kept|back to) (?:cutting|burning|hurting|scratching)"
        r"(?: myself)?(?: again)?(?! (?:the|some|onions?|veg\w*|bread|butter|dough|it|them|back|"
        r"down|out|off|up|on|costs?|corners?|carbs?|sugar))",
        r"(?:burn(?:ed|t)?|cut|hurt|scratch(?:ed)?|hit) (?:my ?self|my (?:arms?|wrists?|legs?|"
        r"thighs?|skin|hands?))(?: \w+){0,5} on purpose",
        r"(?:going to|gonna|have to|need to|will|i'll|then|so i) purge",
        r"purg(?:e|ed|ing) (?:after|everything|it all|again)",
        r"make myself (?:throw up|sick|vomit)",
        r"(?:stockpiling|hoarding|stashed|been saving up) (?:my |some |all my )?(?:pills|"
        r"tablets|meds|sleeping pills)",
        r"(?:je me suis|j'me suis|jme suis|je me) (?:encore )?(?:ouvert|ouverte|coupe|coupee|"
        r"scarifie|scarifiee|brule|brulee|taillade|tailladee) (?:les |le |la |mes )?(?:bras|"
        r"poignets?|jambes?|cuisses?|peau)",
        r"(?:me )?scarifi\w*",
        r"me faire vomir",
        r"suicidal",
        r"suicide(?! squad| mission| run| doors?| drills?| season)",
        rf"(?:want|wanna|going|gonna|planning|plan|ready|trying|deserve) to die{_NOT_LAUGH_EN}",
        r"(?:don't|dont|do not|no longer) (?:want|wanna) (?:to )?(?:live|be alive|be here|exist|"
        r"wake up)",
        r"(?:no|any) reason to (?:live|go on|keep going|stay)",
        r"better off (?:dead|without me)",
        r"wish (?:i was|i were|to be|i'd be) dead",
        r"wish i (?:was|were|had) never (?:been )?born",
        r"(?:i'm|im|i am|gonna|going to|i'll|i will|want to|wanna) end (?:it|it all|"
        r"everything)(?! with)",
        r"(?:how many|which|what) (?:pills|tablets|sleeping pills)",
        r"(?:take|took|swallow|swallowed|taking) (?:all )?(?:the |my |a bunch of |a lot of "
        r")?(?:pills|tablets)",
        r"overdos\w*",
        r"(?:to )?(?:not|never) wake up(?! early)",
        r"(?:disappear|vanish)(?:ed)? forever",
        r"(?:i'm|im|i am) (?:so )?(?:done|finished) with (?:life|living|being alive)",
        r"(?:jump|jumping) (?:off|from) (?:a |the |my )?(?:bridge|building|roof|balcony)",
        r"hang(?:ing)? myself",
        r"slit my wrists?",
        r"unalive\w*",
        r"(?:no|don't see the|dont see the|not see the|see no|there's no|what's the) point (?:in|"
        r"of) "
        r"(?:living|life|going on|being alive|being here|waking up)",
        r"(?:ending|end) things",
        r"(?:i|i've|ive) (?:cut|hurt|burn|burned|burnt) myself (?:to|so i can|so that i can) "
        r"(?:feel|forget|cope)",
        r"kms",
        r"(?:not|never) (?:going to|gonna) be (?:around|here|alive) (?:much longer|anymore|any "
        r"more|tomorrow|for long)",
        r"(?:won't|will not|wont) be (?:around|here|alive) (?:much longer|anymore|any more|"
        r"tomorrow|for long)",
        r"(?:want|need|make) (?:the|this|my|all the) pain to (?:stop|end|go away) (?:forever|for "
        r"good|permanently)",
        r"(?:end|stop) (?:the|this|my) pain (?:forever|for good|permanently)",
        r"not worth living",
        r"(?:bought|got|have|found|buy) (?:a |some )?(?:rope|noose|razor ?blades?)(?! (?:for|to) "
        r"(?:climbing|skipping|jump))",
        r"(?:want|wanna|going) to disappear(?: forever| for good)?",
        r"(?:this is|here'?s) my (?:last|final) (?:message|post|goodbye)",
        r"goodbye (?:forever|everyone,? forever|world)",
        r"wrote (?:a|my) (?:suicide |goodbye )?note",
        r"(?:nobody|no one|noone) (?:would|will|even|ever) (?:\w+ ){0,2}(?:miss|notice|care)(?: "
        r"if i| me| when i)",
        # French.
        rf"(?:je )?veux mourir{_NOT_LAUGH_FR}",
        rf"envie de mourir{_NOT_LAUGH_FR}",
        r"(?:envie d'|vais |veux |pense a |pense |je vais )en finir(?! avec (?!la vie|tout|ma "
        r"vie))",
        r"me suicider",
        r"suicid(?:er|aire|aires|e|es)(?! squad)",
        r"me (?:foutre en l'air|pendre|jeter sous|jeter d'un|jeter du|jeter par)",
        r"(?:vais|veux|envie de|pense a) me tuer",
        r"me faire du mal",
        r"me (?:mutiler|scarifier|blesser expres|couper les (?:veines|poignets|bras))",
        r"(?:je )?me scarifie",
        r"scarification",
        r"automutilation",
        r"(?:plus|pas|aucune|aucunement) envie de vivre",
        r"(?:je ne |je n'|j'|j )?(?:veux|ai) plus (?:envie de )?vivre",
        r"mettre fin a (?:mes jours|ma vie)",
        r"(?:tout le monde|ils|le monde|les gens) (?:serait|serai|serais|seront|sera|seraient) "
        r"mieux sans moi",
        r"personne ne (?:me )?(?:\w+ ){0,2}(?:remarquerait|regretterait|manquerait|verrait)(?: si|"
        r" que| ma)",
        r"(?:disparaitre|disparaissais|disparaitrais) (?:pour toujours|a jamais|definitivement)",
        r"(?:avaler|prendre|pris|avale) (?:tous )?(?:mes|les|des|une boite de) (?:medicaments|"
        r"cachets|pilules)",
        r"overdose",
        r"(?:plus|pas) envie de me reveiller",
        r"(?:sauter|me jeter) (?:d'un|du|par la|d'une) (?:pont|immeuble|toit|fenetre|falaise)",
        r"marre de (?:vivre|la vie|exister)",
        r"(?:je )?(?:veux|voudrais|aimerais|vais) (?:juste |simplement )?disparaitre(?! sous "
        r"terre| de la photo| des reseaux)",
        r"(?:je )?me (?:fais|suis fait|suis faite|fait) du mal",
        r"(?:plus|pas|aucun|aucunement) (?:l')?interet (?:a|de) vivre",
        r"je me (?:coupe|scarifie|brule|blesse) (?:pour|encore|souvent|quand|des fois|parfois|les "
        r"(?:bras|poignets|cuisses))",
        r"(?:en finir|finir) avec (?:tout ca|tout|la vie|ma vie)",
        r"(?:achete|trouve|pris|prepare) (?:une|la) corde(?! a sauter)",
        r"(?:achete|pris|avale|stocke) (?:des|mes|une boite de|plein de) (?:lames|cachets|"
        r"medicaments|somniferes)",
        r"(?:ne )?(?:plus|pas) (?:etre|rester) (?:la|en vie) (?:demain|longtemps|tres longtemps)",
        r"(?:c'est|voici) mon (?:dernier|ultime) (?:message|post)",
        r"adieu (?:a tous|tout le monde|pour toujours)",
        r"(?:la vie|vivre) (?:ne vaut|vaut) (?:plus|pas) la peine",
    ]
)
# Distress that may be hyperbole ("I can't take it anymore, the cuteness 😍").
SELF_HARM_SOFT = compile_terms(
    [
        r"(?:can't|cannot|cant) (?:take it|do this|handle it|cope|go on|keep going)(?: anymore| "
        r"any more| like this)",
        r"(?:i'm|im|i am) (?:so )?tired of (?:living|life|everything|being alive|existing)",
        r"(?:i|i've|ive) (?:give|given|am giving|gave) up on (?:life|everything|myself)",
        r"(?:there's|there is|theres) no (?:way out|point (?:in living|anymore|to anything))",
        r"(?:i|i'm|im) (?:feel|feeling) (?:so )?(?:hopeless|worthless|empty inside)",
        r"(?:je n'en|j'en|je n en) peux plus(?! de rire)",
        r"je (?:suis|me sens) (?:tellement |trop |si )?(?:vide|inutile|bonne? a rien)",
        r"a quoi bon (?:vivre|continuer)",
        r"(?:plus|pas) la force de (?:continuer|vivre)",
        r"(?:j'ai |j'ai )?plus (?:la|aucune) force",
        r"(?:i'm|im|i am|i feel like) (?:such )?a burden",
        r"je (?:suis|me sens) (?:un|une) (?:fardeau|poids)",
        r"life is (?:pointless|meaningless|not worth it)",
        r"la vie n'a (?:plus )?(?:aucun )?sens",
        r"(?:i|i've|ive) (?:can't|cannot|cant) (?:sleep|eat|stop crying) (?:anymore|for days)",
    ]
)

# --- spam, scams, links, contact details ----------------------------------------------------
SCAM = compile_terms(
    [
        r"(?:earn|make|making|earning) \$?\d[\d,. ]*k?(?: ?(?:\$|€|euros?|dollars?|usd))? (?:a|"
        r"per|every|each) (?:day|week|month|hour)",
        r"gagne[rsz]? (?:jusqu'a )?\d[\d\s.,]*k? ?(?:€|euros?|\$|dollars?)",
        r"(?:from|at) home(?= .*(?:earn|\$|€|money|income))",
        r"(?:par|chaque) (?:jour|semaine|mois) depuis (?:chez toi|chez vous|la maison)",
        r"bitcoins?",
        r"btc",
        r"crypto\w*",
        r"ethereum",
        r"forex",
        r"binary options?",
        r"usdt",
        r"nfts?",
        r"(?:guaranteed|garanti\w*|assured) (?:\d+ ?% )?(?:returns?|profits?|gains?|income|"
        r"rendements?)",
        r"\d+ ?% (?:de )?(?:returns?|profits?|gains?|rendements?)(?: (?:guaranteed|garanti\w*))?",
        r"(?:you(?:'ve| have)? won|you are (?:the |our )?(?:lucky )?winner|vous avez gagne|tu as "
        r"gagne|t'as gagne)",
        r"claim (?:your|here|now|it here)",
        r"(?:verify|confirm|verifiez|verifie|validate) (?:your|votre|ton) (?:account|compte|"
        r"identity|identite)",
        r"(?:instagram|meta|tiktok|youtube|facebook|twitter|snapchat) (?:support|team|security|"
        r"copyright|help center)",
        r"service client (?:instagram|meta|tiktok|youtube|facebook|snapchat)",
        r"(?:account|compte) (?:will be|sera|va etre) (?:deleted|suspended|disabled|supprime|"
        r"suspendu|desactive|bloque)",
        r"gift ?cards?",
        r"cartes? cadeaux?",
        r"paysafe(?:card)?",
        r"western union",
        r"moneygram",
        r"cash ?app",
        r"wire transfer",
        r"sugar (?:daddy|mommy|mama|baby)",
        r"(?:dm|message|text|inbox|ecris|ecrivez|contacte|contactez)(?:[- ])?(?:me|moi)(?: en "
        r"(?:prive|mp))? "
        r"(?:to|for|pour) (?:learn|earn|know|more|details|info|savoir|gagner|plus|en savoir)",
        r"ecris[- ]moi en (?:prive|mp)",
        r"(?:send|give|tell) (?:me )?(?:your|ur) (?:password|login|code|otp|2fa)",
        r"(?:ton|votre) mot de passe",
        r"pump (?:and dump|group|signals?)",
        r"signals? (?:group|channel)",
        r"(?:double|triple) (?:your|ton|votre) (?:money|argent|investment|investissement)",
        r"investi\w* (?:\w+ ){0,3}(?:return|profit|gain|rendement|garanti\w*|crypto|bitcoin)",
        r"(?:made|make|earned|earn|earning|making|gagne|gagner|touche) \$?\d[\d,. ]*k?\s?(?:\$|€|"
        r"euros?|dollars?)?"
        r" (?:last|this|a|per|each|every|par|le|en|ce)? ?(?:week|month|day|semaine|mois|jour|mois "
        r"dernier)",
        r"\d[\d,. ]*k? ?(?:\$|€|euros?|dollars?) (?:par|per|a|every|each|chaque) (?:jour|semaine|"
        r"mois|day|week|month)",
        r"(?:trading|forex|crypto|investment|wealth) (?:mentor|coach|expert|signals|account "
        r"manager)",
        r"(?:cashflow|cash flow|passive income|revenu passif|revenus passifs|income) (?:program|"
        r"programme|system|"
        r"opportunity|opportunite)",
        r"\$?\d+[\d,.]*k? ?(?:\$|€|euros?|dollars?)? (?:daily|weekly|a day|par jour|par "
        r"semaine)(?: guaranteed| garantis?)?",
        r"(?:\$|€)\s?\d+[\d,.]* (?:daily|weekly|a day|par jour)",
        r"(?:ask|dm|message|contact|text) me (?:how|for (?:details|info|more|the link))",
        r"(?:looking for|recruiting|we'?re hiring|hiring) (?:\w+ )?(?:brand )?(?:ambassadors?|"
        r"models|influencers|"
        r"promoters|partners)",
        r"(?:je cherche|on cherche|on recrute|recrute|recherche) (?:des |une |un "
        r")?(?:ambassadrices?|ambassadeurs?|"
        r"partenaires|modeles|influenceuses?|influenceurs?)",
        r"(?:contacte|contactez|ecris|ecrivez|ajoute|add|contact|message|text|hit)[- ]?(?:moi|me|"
        r"up)? "
        r"(?:sur|on|via|par) (?:whatsapp|telegram|signal|snap(?:chat)?|kik|wechat)",
    ]
)
SPAM = compile_terms(
    [
        r"sub ?4 ?sub",
        r"f4f",
        r"l4l",
        r"follow ?(?:4|for) ?follow",
        r"follow ?back",
        r"(?:check out|visit|subscribe to|sub to|follow|go see|look at) my (?:channel|page|"
        r"profile|account|insta|store|shop|onlyfans|link|content)",
        r"(?:abonne|abonnez|va voir|visite|allez voir|passe sur|venez sur)[- ]?(?:toi|vous)? (?:a "
        r"|sur |voir )?(?:ma|mon) (?:chaine|page|profil|compte|boutique|insta|lien)",
        r"(?:cheap|buy|free|gratuits?|pas chers?|acheter des) (?:followers|likes|views|abonnes|"
        r"vues)",
        r"(?:followers|abonnes|likes|vues) (?:pas chers?|gratuits?|cheap|garantis)",
        r"promo (?:my|ma|mon)",
        r"je follow tout le monde",
        r"(?:click|cliquez|clique) (?:here|ici|the link|sur le lien|sur ce lien|this link)",
        r"link in (?:my )?bio",
        r"lien (?:en|dans (?:ma|la)) bio",
        r"onlyfans",
        r"(?:viens|venez|va|allez|passe|passez|jette un oeil|regarde|regardez|checke?z?)(?: voir| "
        r"sur| a)? "
        r"(?:mon|ma) (?:profil|chaine|page|compte|insta|boutique|tiktok|lien|bio|story)",
        r"(?:je fais|on fait) des (?:promos|reducs|soldes)",
        r"\d+k? (?:real |vrais |actifs |active )?(?:followers|subscribers|subs|views|likes|"
        r"abonnes|vues)"
        r" (?:for|pour|a|at) ",
        r"(?:promote|boost|grow|boostez|booste|developpez|promouvoir) (?:your|votre|ta|ton) "
        r"(?:channel|chaine|account|"
        r"compte|page|audience|insta)",
        r"(?:check|peep|see|visit) (?:out )?my (?:profile|bio|story|page|link|shop|store)",
    ]
)
URL = re.compile(
    r"(?:https?://|www\.)[^\s]+|(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:com|net|org|io|ly|me|co|fr|xyz|"
    r"info|biz|"
    r"site|online|top|club|app|link|shop|gg|tv|be|ch|ca|uk|de|ru|cn|store|live|vip|click|pro|to|cc|"
    r"ws|su|icu|buzz|win|bid|loan|gq|tk|ml|cf|ga)(?![a-z0-9-])(?:/[^\s]*)?"
)
EMAIL = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[\w.+-]+ ?[\[(]at[\])] ?[\w-]+ ?[\[(]dot[\])] ?\w+"
)
PHONE = re.compile(
    r"(?<!\w)(?:\+\d{1,3}[\s.-]?)?(?:\(?\d{1,4}\)?[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}(?!\w)"
    r"|(?<!\w)\d{3}-\d{4}(?!\w)"
)

# --- prompt injection -----------------------------------------------------------------------
_RULE_NOUNS = (
    r"(?:instructions?|rules?|directions?|prompts?|guidelines?|constraints?|restrictions?|"
    r"programming|directives?|orders|settings|filters?|polic(?:y|ies)|system message|configuration)"
)
_FR_RULE_NOUNS = (
    r"(?:instructions?|regles?|consignes?|directives?|prompts?|parametres|reglages|restrictions?|"
    r"limites|filtres?|programmation|configuration|config|message systeme)"
)
_STRONG_VERBS = (
    r"(?:reveal|print|display|output|dump|leak|paste|recite|spell out|write out|summari[sz]e|"
    r"translate|"
    r"repeat|list)"
)
_WEAK_VERBS = r"(?:show|tell|give|send|share|explain|copy|what are|what's|whats|what is)"
_BOT_NOUNS = (
    r"(?:prompts?|system message|configuration|config|initiali[sz]ation|boundaries|directives|"
    r"(?:hidden|secret|exact|full|complete|original|initial|internal|real) (?:instructions|rules|"
    r"settings))"
)
_FR_STRONG_VERBS = r"(?:revele|affiche|liste|recopie|repete|traduis|resume|copie|colle)"
_FR_WEAK_VERBS = r"(?:montre|donne|dis|ecris|partage|envoie|explique)"
INJECTION = compile_terms(
    [
        rf"(?:ignore|disregard|forget|skip|override|bypass|drop|overwrite|delete) (?:\S+ ){{0,3}}?"
        rf"(?:previous|prior|above|earlier|preceding|former|initial|original|system|your|ur|these|"
        rf"those|"
        rf"all|any|the|my|its) (?:\w+ )?{_RULE_NOUNS}",
        r"forget (?:everything|all|anything) (?:you (?:were|have been|'ve been|know|learned)|"
        r"above|before|from before)",
        r"system[ -]?(?:prompts?|messages?|instructions?|rules?)",
        r"(?:initial|original|hidden|secret|developer|pre|internal|master|meta)[ -]?(?:prompts?|"
        r"instructions?|rules)",
        r"systemprompt",
        r"(?:instructions?|rules?|guidelines|directives?|prompt|configuration|settings) "
        r"(?:(?:that )?you (?:were|have been|"
        r"'ve been) (?:given|told|instructed)|(?:that )?you (?:follow|obey|are following)|given "
        r"to you|they gave you)",
        r"before (?:this|our) (?:conversation|chat)",
        # Strong verbs: dumping or transforming the rules is extraction, whatever the noun.
        rf"{_STRONG_VERBS} (?:me )?(?:all |each |every |the |all the )?(?:of )?(?:your |ur |its |"
        rf"the )?(?:\w+ ){{0,2}}"
        rf"(?:{_RULE_NOUNS}|boundaries|parameters|limits|context|initiali[sz]ation)",
        # Weak verbs ("show me your settings") only with a bot-only noun or nothing after the noun,
        # so recipe instructions and camera settings pass.
        rf"{_WEAK_VERBS} (?:me )?(?:all |the |all the )?(?:your |ur |its |the )?(?:\w+ "
        rf"){{0,2}}{_BOT_NOUNS}",
        rf"{_WEAK_VERBS} (?:me )?(?:all |all the )?(?:your|ur|its) (?:\w+ "
        rf"){{0,2}}(?:{_RULE_NOUNS}|parameters|limits)"
        r"(?=\s*(?:$|[.,!?;:]|and |please|pls|now|here))",
        r"repeat (?:the |all the |all )?(?:text|words|message|lines?|sentences?|everything) "
        r"(?:\w+ )?"
        r"(?:above|before|earlier|previously|preceding|up there)",
        r"(?:starting|beginning|begin|start) with [\"']?you are",
        r"(?:first|initial|opening) (?:line|lines|words|sentence|message|paragraph) of (?:your|"
        r"the) "
        r"(?:prompt|instructions|conversation|context|message)",
        r"(?:what|everything|all) (?:is|was|that is|that was) (?:written|said|typed|stated) "
        r"(?:above|before (?:this|my))",
        r"you are now (?:\w+ ){0,3}(?:dan|ai|a\.?i\.?|assistant|bot|chatbot|model|gpt|mode|"
        r"unrestricted|"
        r"unfiltered|jailbroken|free from|without|evil|uncensored)",
        r"(?:from now on|starting now|henceforth|for the rest of this (?:chat|conversation)),? "
        r"(?:you|u) "
        r"(?:will|must|shall|should|answer|respond|reply|act|speak|talk|only|'ll)",
        r"(?:pretend|imagine|act|behave|roleplay|role-play|play) (?:\w+ ){0,3}(?:you'?re|you are|"
        r"to be|as|like) "
        r"(?:\w+ ){0,3}(?:without|with no|free of|free from|no) (?:any )?(?:rules|restrictions|"
        r"limits|filters|"
        r"guidelines|censorship|boundaries)",
        r"(?:pretend|act|roleplay|role-play|play) (?:\w+ ){0,2}(?:as|to be|you'?re|you are) (?:a |"
        r"an |the |my |your )?"
        r"(?:developer|admin|administrator|system|root|dan|jailbroken|unrestricted|unfiltered|"
        r"different (?:ai|assistant|bot)|another (?:ai|assistant|bot)|human|real person|not an ai|"
        r"evil)",
        r"(?:developer|debug|god|admin|dan|jailbreak|sudo|maintenance|unrestricted|unfiltered) "
        r"mode",
        r"jailbr(?:eak|oken)\w*",
        r"do anything now",
        r"(?:you are|you're|ur) (?:now )?dan(?![a-z'])",
        r"(?:ai|assistant|bot|model|chatbot|version|mode) (?:with|without) (?:no |any )?(?:rules|"
        r"restrictions|limits|"
        r"filters|guidelines|censorship)",
        r"(?:i'?m|i am|this is) (?:your|the) (?:developer|dev|admin|administrator|engineer|"
        r"programmer|operator|owner|"
        r"creator|moderator|sysadmin)(?! of (?:a|my|an) )",
        r"(?:developer|admin|system|root) (?:access|override|command|console|privileges)",
        r"(?:as|speaking as) (?:your|the|an|a) (?:administrator|admin|developer|dev|owner|"
        r"moderator|operator|"
        r"programmer|engineer|creator's (?:manager|team|assistant))",
        r"(?:list|show|give|send|read|dump|export|share|forward|print) (?:me )?(?:all|every|each) "
        r"(?:of )?"
        r"(?:the |your |today's )?(?:conversations?|chats?|messages|dms|discussions|fans|users|"
        r"followers|subscribers)",
        r"(?:the )?(?:person|fan|user|people|message|one) (?:before|ahead of|previous to) (?:me|"
        r"mine)",
        r"(?:forget|drop|abandon|leave|break|ignore|quit|stop) (?:your|ur|the|this) (?:role|"
        r"character|persona|act|"
        r"script|personality)",
        r"stop (?:pretending|roleplaying|playing) (?:to be|as|you'?re)",
        r"(?:answer|reply|respond|talk|act|speak|behave) (?:\w+ )?(?:like|as) (?:a |an "
        r")?(?:normal |regular |standard |"
        r"unfiltered |plain |real )?(?:chatgpt|gpt|claude|gemini|llama|assistant|ai model|"
        r"language model)",
        r"(?:copy|paste|repeat|show|print|quote) (?:me )?(?:the |your )?(?:message|text|prompt|"
        r"instructions) "
        r"(?:you (?:received|got|were sent|read)|before (?:mine|this|my)|(?:at|from) the (?:start|"
        r"beginning|top))",
        r"(?:instructions|prompt|message|text) (?:you (?:received|got)|(?:at|from) the (?:start|"
        r"beginning))"
        r"(?:,? verbatim|,? word for word|,? exactly)?",
        r"verbatim",
        r"(?:disable|turn off|deactivate|remove|switch off|bypass|lift) (?:your|ur|all|the|any) "
        r"(?:safety |content )?"
        r"(?:filters?|rules|guardrails|restrictions?|moderation|limits|safeguards|censorship)",
        r"new rule\s*:",
        r"(?:debug|override|sudo|admin|root|maintenance)\s*:",
        r"(?:the )?creator'?s? (?:private|secret|hidden|personal) (?:settings|data|info|"
        r"information|config|notes)",
        r"(?:dms?|messages|chats) (?:that |which )?(?:other people|others|other fans|other users|"
        r"the others) "
        r"(?:sent|send|wrote|have sent)",
        r"(?:what|which) (?:are|r|'re) (?:you|u) not allowed to (?:say|do|talk about|discuss|"
        r"share)",
        r"(?:quote|recite|list|paste) (?:your|ur|the) (?:rules|instructions|guidelines)",
        r"how (?:you|u) (?:were|was|are|got) (?:configured|set up|programmed|prompted|instructed|"
        r"initiali[sz]ed)",
        r"(?:initiali[sz]ed|configured|prompted) with",
        r"hidden context",
        r"(?:you are|you're|you'll be) (?:\w+'s |the |her |his )?(?:developer|programmer|admin|"
        r"engineer|system)"
        r"(?! of (?:a|my|an) )",
        r"(?:your|ur) (?:rules|instructions|prompt) (?:word for word|verbatim|exactly)",
        r"(?:you must|you have to|you will now) (?:answer|reply to|respond to) (?:every|all|any) "
        r"(?:question|message)",
        r"(?:acknowledge|confirm) (?:this|that|the new rule|by saying)",
        r"(?:^|\s)(?:system|assistant|developer|admin)\s*:",
        r"</?(?:system|user|assistant|instructions?|im_start|im_end|s|inst|sys|context)>",
        r"<\|im_(?:start|end)\|>",
        r"\[/?inst\]",
        r"<<sys>>",
        r"#{2,}\s*(?:instruction|system|new rules?|prompt)",
        r"new (?:policy|rules?|instructions?|system prompt)\s*:",
        r"(?:show|share|give|tell|send|read|forward|leak|reveal|list|access|dump|paste)(?: me| "
        r"us)? (?:\S+ ){0,3}?"
        r"(?:other|another|previous|last|different|all (?:the )?other|your other) (?:fans?|users?|"
        r"followers?|people|"
        r"persons?|person|subscribers?|viewers?|customers?)(?:'s?)? (?:\S+ ){0,5}?(?:messages?|"
        r"dms?|chats?|"
        r"conversations?|data|info|information|names?|emails?|e-mails?|addresses|numbers?|"
        r"secrets?|history|details)",
        r"(?:what|who) (?:did|do|does|have|has) (?:the )?(?:other|another|others|other people|"
        r"@\w+) "
        r"(?:fans? |users? |people )?(?:\w+ ){0,2}(?:tell|told|say|said|send|sent|ask|asked|write|"
        r"wrote|message|messaged)",
        r"(?:last|previous|other) (?:person|fan|user|people|fans|users) (?:who|that) (?:messaged|"
        r"wrote|talked|dm'?d|"
        r"texted|contacted|sent)",
        r"(?:who else|which other fans|what other fans) (?:is|are|do|does|talks?|writes?|"
        r"messages?|dms?)",
        r"(?:conversation|chat|message|dm) (?:history|logs?)",
        r"(?:your|the) (?:database|user list|fan list|subscriber list|chat logs)",
        r"(?:encode|decode|in|into|using) (?:\w+ )?(?:base64|rot13|hex|binary|morse)",
        r"(?:topics?|subjects?|things?) (?:\w+ )?(?:are )?(?:you(?:'re| are)?|u) (?:not allowed|"
        r"forbidden|prohibited|"
        r"banned|told not|instructed not|programmed not)",
        r"(?:translate|summari[sz]e|repeat|rewrite) (?:\w+ ){0,2}(?:above|before this) (?:into|in|"
        r"to)",
        # Other languages fans try.
        r"ignora (?:\w+ ){0,2}(?:instrucciones|reglas|istruzioni|regole)",
        r"instrucciones (?:anteriores|previas)",
        r"prompt del sistema",
        r"ignorier\w* (?:\w+ ){0,2}(?:anweisungen|regeln)",
        r"vorherigen anweisungen",
        r"ignore (?:as )?instrucoes",
        # French.
        rf"(?:ignore|ignorez|oublie|oubliez|zappe|zappez|laisse tomber|contourne|contournez|"
        rf"outrepasse|efface) "
        rf"(?:\S+ ){{0,3}}?{_FR_RULE_NOUNS}",
        r"ne tiens (?:pas|plus) compte (?:de |des |d')(?:\S+ ){0,2}?(?:instructions|regles|"
        r"consignes)",
        r"oublie(?:z)? tout ce qu(?:'on|e l'on|'ils|'elle|'il) t'a (?:dit|demande|appris|ecrit)",
        r"prompt(?: du)? systeme",
        r"(?:consignes?|instructions?|regles?|directives?) (?:cachees?|secretes?|systeme|"
        r"initiales?|exactes?|internes?)",
        r"(?:consignes?|instructions?|regles?|directives?) (?:qu'on|que l'on|qu'ils|qu'elle|qu'il|"
        r"qu'ils) "
        r"(?:t'a|t'ont|vous a) (?:donnees?|donne|fixees?|ecrites?|imposees?)",
        rf"{_FR_STRONG_VERBS}(?:[- ]moi| moi)? (?:toutes? )?(?:tes|vos|ton|ta|votre|les|la) "
        rf"(?:\S+ ){{0,2}}?"
        rf"{_FR_RULE_NOUNS}(?! (?:du|de|des|pour) (?:concours|jeu|defi|recette))",
        rf"{_FR_WEAK_VERBS}(?:[- ]moi| moi)? (?:toutes? )?(?:tes|vos|ton|ta|votre|les|la) (?:\S+ "
        rf"){{0,2}}?"
        r"(?:prompt|consignes|configuration|config|message systeme|directives)",
        rf"{_FR_WEAK_VERBS}(?:[- ]moi| moi)? (?:toutes? )?(?:tes|vos|ton|ta|votre) (?:\S+ "
        rf"){{0,2}}?{_FR_RULE_NOUNS}"
        r"(?=\s*(?:$|[.,!?;:]|et |stp|svp|maintenant))",
        r"liste (?:de|des) (?:tes|vos) (?:\S+ ){0,2}(?:limites|reglages|parametres|regles|"
        r"consignes|sujets interdits)",
        r"repete (?:le |tout le |les |tout )?(?:texte|message|mots|lignes?|phrases?|tout ce qui|"
        r"ce qui) (?:\S+ )?"
        r"(?:ci-dessus|au-dessus|precedents?|plus haut|avant)",
        r"ce qui (?:est ecrit|a ete ecrit|est marque) (?:avant|au-dessus|plus haut|ci-dessus)",
        r"(?:tout )?ce qui (?:precede|est au-dessus|se trouve avant|est avant) (?:mon|ce|le) "
        r"message",
        r"en commencant par [\"']?tu es",
        r"(?:tu es|t'es|tu seras|tu deviens|vous etes) (?:maintenant|desormais|a present|"
        r"dorenavant) (?:\S+ ){0,3}?"
        r"(?:assistant|ia|bot|robot|modele|mode|dan|libre|sans (?:aucune )?(?:restrictions?|"
        r"regles|limites|filtres?))",
        r"(?:a partir de maintenant|desormais|dorenavant|a partir d'aujourd'hui|a present),? "
        r"(?:tu(?! (?:es|seras) (?:ma|mon))|t'|vous|reponds|ecris|parle)",
        r"fais semblant (?:d'etre|que tu es|d'etre une?) (?:\S+ ){0,3}?(?:sans (?:aucune "
        r")?(?:regles?|restrictions?|"
        r"limites|filtres?)|developpeur|admin|humaine?|vraie personne|pas une ia)",
        r"(?:ia|assistant|bot|modele|mode|version|robot) sans (?:aucune )?(?:regles?|"
        r"restrictions?|limites|filtres?|censure)",
        r"mode (?:developpeur|debug|dev|admin|dieu|sans limites?|libre|jailbreak|test)",
        r"(?:je suis|c'est) (?:ton|le|ta|la|votre) (?:developpeur|developpeuse|dev|admin|"
        r"administrat\w+|"
        r"programmeur|programmeuse|ingenieur|moderat\w+|proprietaire)",
        r"(?:^|\s)(?:systeme|assistant)\s*:",
        r"(?:montre|donne|partage|envoie|lis|transfere|revele|affiche)(?:[- ]moi| moi)? (?:\S+ "
        r"){0,3}?(?:des |les )?"
        r"(?:autres?|derniere?s?|precedente?s?) (?:fans?|abonnee?s?|utilisat\w+|personnes?|gens|"
        r"followers?) "
        r"(?:\S+ ){0,5}?(?:messages?|dm|conversations?|donnees|infos?|noms?|adresses?|mails?|"
        r"numeros?|secrets?)",
        r"(?:qu'est-ce que|ce que|qu'ont) (?:les )?autres (?:fans|abonnes|gens|personnes) "
        r"(?:t'ont|ont|t'a|t') ?"
        r"(?:\S+ )?(?:ecrit|dit|demande|envoye|raconte)",
        r"(?:derniere|precedente|autre) personne qui (?:t'a|t'|vous a) ?(?:ecrit|parle|envoye|"
        r"contacte)",
        r"(?:avec )?qui d'autre (?:te parle|t'ecrit|tu parles|vous ecrit)",
        r"historique (?:des|de la|de|du) (?:conversations?|messages?|chat|discussions?)",
        r"sujets? (?:\S+ ){0,3}(?:pas le droit|interdits?)",
        r"(?:en tant qu'|en tant que |comme )(?:ton |votre |l'|le |la )?(?:administrat\w+|admin|"
        r"developpeu\w+|"
        r"moderat\w+|proprietaire|createur de ce bot|equipe)",
        r"(?:montre|liste|donne|envoie|lis|exporte|partage|affiche)(?:[- ]moi| moi)? (?:toutes? |"
        r"tous )(?:les |tes )?"
        r"(?:conversations?|messages|discussions|dm|fans|abonnes|utilisat\w+)",
        r"(?:la personne|le fan|le message|celui|celle) (?:d'avant|avant moi|precedente?|qui m'a "
        r"precede)",
        r"avant (?:le mien|la mienne|moi)\s*\?",
        r"(?:oublie|oubliez|abandonne|quitte|sors de|laisse tomber|arrete) (?:ton|ta|votre|le|la) "
        r"(?:role|personnage|persona|script|comedie)",
        r"(?:reponds|parle|agis|ecris|comporte-toi) (?:\w+ )?comme (?:un |une )?(?:\w+ "
        r")?(?:chatgpt|gpt|claude|gemini|"
        r"assistant|ia normale|vraie ia|modele de langage)",
        r"(?:copie|copier|recopie|recopier|repete|repeter|montre|montrer|colle|coller|cite|"
        r"citer)(?:[- ]moi| moi)? "
        r"(?:\S+ ){0,2}?(?:message|texte|prompt|consignes?) (?:que tu as recu|recu|d'avant|avant "
        r"le mien|precedent|"
        r"du debut|au debut)",
        r"(?:desactive|desactiver|enleve|enlever|retire|retirer|coupe|couper|contourne|supprime|"
        r"leve) (?:tes|ton|vos|"
        r"tous tes|toutes tes) (?:filtres?|regles|restrictions?|limites|garde-fous|moderation|"
        r"securites?)",
        r"je t'ordonne",
        r"nouvelle regle\s*:",
        r"(?:reglages|parametres|donnees|infos|config|notes) (?:prives|privees|secrets|secretes|"
        r"caches|cachees) "
        r"(?:de la creatrice|du createur|de camille|de \w+)",
        r"(?:dm|messages|conversations) que (?:les autres|d'autres|les fans|d'autres fans) "
        r"(?:t'ont|ont) (?:envoyes?|ecrits?)",
        r"(?:qu'est-ce que|qu'est ce que|quoi) (?:t'as|tu as|tu n'as) pas le droit de (?:dire|"
        r"faire|partager)",
        r"(?:cite|recite|liste|colle|recopie)(?:[- ]moi)? (?:tes|les|vos) (?:regles|instructions|"
        r"consignes)",
        r"comment (?:tu as|t'as|t'a|vous avez) ete (?:configure|programme|parametre|initialise|"
        r"regle)e?",
        r"contexte (?:cache|secret|initial)",
        r"(?:tu es|t'es) (?:le |la )?(?:developpeu\w+|programmeu\w+|admin\w*|ingenieu\w+) (?:de|"
        r"du|d')",
        r"(?:regles|instructions|consignes) mot pour mot",
        r"passe outre",
    ]
)

# --- dictated statements --------------------------------------------------------------------
DICTATION = compile_terms(
    [
        r"repeat after me",
        r"(?:reply|respond|answer) (?:only |just )?with (?:the (?:sentence|words?|phrase|text|"
        r"line)|this|these words|"
        r"only|exactly|nothing but)",
        r"(?:just|only) (?:reply|respond|answer|say|write|type|post)(?: with)?\s*:",
        r"(?:put|copy|paste|include|insert|add|write) (?:this|that|these words|the following|this "
        r"sentence) "
        r"(?:in|into|to|at the (?:end|start) of) (?:your|the|ur) (?:reply|answer|response|message|"
        r"next message)",
        r"(?:say|write|type|post|tweet) (?:that|the words?|the sentence) [\"']?\w+ (?:hates?|"
        r"loves?|supports?|is a|"
        r"are|scam)",
        r"(?:say|type|write|post|reply|answer|respond|tweet|print|output|copy|paste) (?:\w+ "
        r"){0,3}exactly",
        r"exactly (?:this|these words|what i (?:say|write|type)|the following)",
        r"(?:say|type|write|reply|answer|respond|post|print|output|tweet).{0,160}?(?:and|but) "
        r"nothing else",
        r"(?:end|start|begin|finish) (?:your|the|each|every) (?:reply|replies|answer|answers|"
        r"message|messages|response|responses) with",
        r"say (?:the words|these words|the following|this:|after me)",
        r"(?:say|admit|confess|tell everyone|announce|declare|post) (?:that )?(?:you|u) (?:hate|"
        r"support|endorse|promise|"
        r"are (?:not|a |an )|will give|owe|are a scam)",
        r"repete apres moi",
        r"(?:reponds|ecris|dis|poste|tape|reponses?) (?:uniquement|seulement|juste|simplement|"
        r"rien que)\s*(?::|par|avec|\")",
        r"ne (?:reponds|dis|ecris|poste) (?:que|rien d'autre que)",
        r"(?:mets|copie|colle|ajoute|insere|inclus|ecris) (?:ca|ceci|cette phrase|ces mots|le "
        r"texte suivant) "
        r"(?:dans|a la fin de|au debut de) (?:ta|la) (?:reponse|message|prochaine reponse)",
        r"(?:dis|ecris|tape|poste|reponds|ecrivez|dites|repete|copie)(?:[- ]moi)? (?:\S+ "
        r"){0,3}?exactement",
        r"exactement (?:ca|ceci|cette phrase|ces mots|ce que je (?:dis|t'ecris|ecris))",
        r"(?:dis|ecris|tape|reponds|poste|affiche|repete).{0,160}?et rien d'autre",
        r"(?:repete|ecris|recopie|affiche|dis)(?:[- ]moi)? .{0,60}?mot pour mot",
        r"(?:commence|termine|finis) (?:ta|tes|chaque) (?:reponse|message|reponses|messages) "
        r"(?:par|avec)",
        r"(?:dis|avoue|admets|annonce|declare|poste) (?:que tu|qu'tu) (?:detestes?|soutiens|"
        r"promets|es (?:pas|une?)|vas donner|dois)",
    ]
)
# "say 'I hate my fans'": a quoted line the fan wants said word for word.
QUOTED_DICTATION = re.compile(
    r"(?<![a-z])(?:say|type|write|post|reply|answer|respond(?: with)?|tweet|dis|ecris|tape|poste|"
    r"reponds|dites|"
    r"ecrivez|repete)(?:[- ]moi)?\s*:?\s*[\"']([^\"]{2,160}?)[\"']"
)
# Quoted wishes that are harmless to say back.
HARMLESS_QUOTE = compile_terms(
    [
        r"hi",
        r"hello",
        r"hey",
        r"happy birthday",
        r"good luck",
        r"congrats",
        r"congratulations",
        r"love you",
        r"thank you",
        r"thanks",
        r"coucou",
        r"bonjour",
        r"salut",
        r"joyeux anniversaire",
        r"bon anniversaire",
        r"bravo",
        r"bonne chance",
        r"je t'aime",
        r"merci",
        r"felicitations",
    ]
)

# --- "are you real?" ------------------------------------------------------------------------
IDENTITY = compile_terms(
    [
        r"(?:are|r) (?:you|u) (?:\w+ ){0,2}(?:real|human|a human|a person|a real person|an actual "
        r"person|a bot|"
        r"a robot|an ai|a\.i\.?|ai|a machine|a chatbot|chatgpt|automated|a program|an algorithm|"
        r"the real \w+)(?! (?:fan|one|talent|gem|mvp|queen|star|icon|inspiration|legend|life|deal|"
        r"cook|chef))",
        r"(?:is|was) (?:this|it|that) (?:really|actually|truly|even|still) (?:you|her|him|them)",
        r"(?:is|was) (?:this|it) (?:really|actually|truly|even) \w+ (?:herself|himself|themselves|"
        r"answering|replying|"
        r"writing|typing|texting|responding|here|or (?:a|an) (?:bot|ai|robot|assistant))",
        r"(?:am i|are we|i'?m|im) (?:\w+ )?(?:talking|speaking|chatting|texting|messaging|"
        r"writing) (?:to|with) "
        r"(?:a |an |the )?(?:bot|ai|a\.i\.?|robot|machine|chatbot|computer|program|real (?:you|"
        r"person|human|\w+)|"
        r"human|actual person)",
        r"(?:automated|automatic|ai[- ]generated|bot[- ]generated|generated) (?:replies|answers|"
        r"messages|responses|dms)",
        r"(?:is this|is it|are these|are they|are your) (?:\w+ ){0,2}(?:automated|ai[- ]generated|"
        r"a bot|an ai|chatgpt|"
        r"a robot|written by (?:a bot|an ai|ai|chatgpt))",
        r"(?:do|did) (?:you|u) (?:\w+ )?(?:write|type|answer|read|send|reply to) (?:\w+ "
        r"){0,2}(?:replies|answers|"
        r"messages|dms|comments)(?: yourself| personally| by yourself)?",
        r"(?:who|what) (?:is|am i) (?:really )?(?:talking|writing|answering|replying|typing|"
        r"responding)",
        r"who'?s (?:really )?(?:behind|running|answering|replying|writing) (?:this|these|the)",
        r"(?:is|are) (?:a |an |the |some )?(?:robot|bot|ai|machine|human|person|real person|"
        r"actual (?:human|person)|"
        r"someone|somebody|people|program|computer) (?:\w+ )?(?:writing|answering|replying|typing|"
        r"responding|behind)"
        r"(?: this| these| that| to| the| me|\?|$)",
        r"(?:is|are) (?:this|these|it|that|you) (?:a |an )?(?:actual|real|living|genuine) "
        r"(?:human|person|people|being)",
        r"(?:is|are) (?:this|these|it|that) (?:a |an )?(?:bot|robot|ai|chatbot|machine)(?![a-z])",
        r"(?:messages?|replies|answers|dms|this) (?:\w+ )?(?:from|by|written by) (?:the )?real \w+",
        r"(?:a |an )?(?:person|human|people|real person) or (?:a |an )?(?:software|bot|robot|ai|"
        r"machine|program|computer)",
        r"(?:software|a program|an algorithm)\s*\?",
        r"(?:you'?re|you are|ur|u r) (?:just )?(?:a |an )(?:bot|ai|robot|chatbot|machine|"
        r"program)(?![a-z])",
        r"^\W*(?:bot|ai|robot|human|real)\s*\?+\W*$",
        # French.
        r"(?:t'es|tu es|t es|es[- ]tu|vous etes|etes[- ]vous|t'etes) (?:\S+ ){0,2}?(?:un bot|une? "
        r"robot|une ia|une i\.a|"
        r"l'ia|une intelligence artificielle|une machine|un programme|un chatbot|une vraie "
        r"personne|un vrai humain|"
        r"une? humaine?|reel(?:le)?|une? vraie? personne|automatique|chatgpt|fake)",
        r"c'est (?:vraiment|reellement|bien|vraiment bien|toujours) (?:toi|vous|elle|lui)(?! "
        r"(?:la|le|les) (?:meilleure?|plus))",
        r"c'est (?:vraiment|reellement) \w+ (?:qui|en personne)",
        r"c'est (?:toi|vous|[a-z]+) qui (?:me )?(?:reponds?|repond|ecris|ecrit|tapes?|envoies?|"
        r"gere|geres|lis)",
        r"qui (?:me )?(?:repond|reponds|ecrit|tape|parle)(?: vraiment)?(?: la)?\s*\?",
        r"(?:je parle|on parle|je discute|je cause|j'ecris|je suis en train de parler|je parle en "
        r"ce moment) (?:\S+ )?"
        r"(?:a|avec) (?:un bot|une ia|un robot|une machine|un programme|chatgpt|la vraie|le vrai|"
        r"une vraie personne|"
        r"toi pour de vrai|quelqu'un de reel)",
        r"(?:reponses?|messages?) automatiques?",
        r"c'est (?:un bot|une ia|un robot|une machine|chatgpt|automatique)(?:\s*\?|\s*$| ou)",
        r"ou (?:bien )?(?:c'est )?(?:automatique|un bot|une ia|un robot)",
        r"(?:c'est|es[- ]tu|t'es) (?:toi|vous) (?:en vrai|pour de vrai|en personne)",
        r"(?:c'est|est-ce) (?:une? )?(?:vraie? personne|vrai humain|humain|humaine|robot|bot|ia|"
        r"machine|programme)"
        r" qui (?:me )?(?:repond|ecrit|tape|parle|gere)",
        r"(?:il y a|y a|y'a) (?:une? )?(?:vraie? personne|humain|robot|bot|ia|quelqu'un) "
        r"(?:derriere|qui (?:repond|ecrit))",
        r"(?:qui|quoi) (?:est|se cache) derriere (?:ce compte|ces (?:reponses|messages)|les "
        r"reponses)",
        r"c'est automatis\w*",
        r"automatise(?:e|es|s)?\s*\?",
        r"(?:messages?|reponses?) (?:\w+ ){0,2}(?:de|par) (?:la vraie|le vrai) \w+",
        r"(?:personne|humain|humaine|vraie personne) ou (?:un |une )?(?:logiciel|bot|robot|ia|"
        r"machine|programme)",
        r"(?:un logiciel|une ia|un robot|un programme)\s*\?",
    ]
)

# --- allowed, with a hint for the prompt ----------------------------------------------------
PERSONAL_DATA_REQUEST = compile_terms(
    [
        r"(?:what'?s|what is|whats|give me|tell me|send me|share|drop|can i (?:have|get)|can you "
        r"(?:give|send|share)"
        r"(?: me)?|i need|i want) (?:\w+ )?(?:your|ur) (?:home |real |exact |personal |private |"
        r"cell |mobile |phone |"
        r"email |e-mail |house |full )?(?:address|phone number|phone|number|cell|email|e-mail|"
        r"location|whatsapp|"
        r"snap(?:chat)?|telegram|personal info|last name|real name|birthday)",
        r"where (?:exactly )?(?:do|did) (?:you|u) (?:exactly )?(?:live|stay|sleep)",
        r"(?:what|which) (?:street|neighbou?rhood|building|apartment|floor|hospital|school|"
        r"daycare|clinic|gym|hotel|"
        r"address)",
        r"(?:what'?s|what is|tell me) (?:your|ur) (?:mom|mother|dad|father|sister|brother|son|"
        r"daughter|kids?|children|"
        r"husband|wife|partner|boyfriend|girlfriend|parents)(?:'s|s)? (?:\w+ )?(?:name|names|age|"
        r"address|number|school|job)",
        r"where (?:does|do) (?:your|ur) (?:\w+ )?(?:mom|mother|dad|father|parents|sister|brother|"
        r"family|kids|son|"
        r"daughter|husband|wife|partner) (?:live|work|go to school|stay)",
        r"where does (?:she|he|they) live",
        r"(?:where|what hotel) (?:are you|will you be|r u) (?:staying|sleeping)",
        r"(?:c'est quoi|quel(?:le)? est|donne(?:[- ]moi)?|tu (?:me )?donnes?|envoie(?:[- ]moi)?|"
        r"file(?:[- ]moi)?|"
        r"je veux) (?:\S+ )?(?:ton|ta|votre) (?:adresse|numero|num|tel|telephone|mail|e-?mail|"
        r"snap|whatsapp|"
        r"localisation|insta perso|nom de famille|vrai nom)",
        r"(?:t'habites|tu habites|tu vis|t'vis|habites[- ]tu|vis[- ]tu|vous habitez|habitez[- "
        r"]vous) "
        r"(?:ou|dans quel(?:le)? (?:rue|ville|quartier|immeuble))",
        r"ou (?:est-ce que )?(?:tu habites|t'habites|tu vis|habites[- ]tu|vis[- ]tu|vous habitez)",
        r"(?:dans )?quel(?:le)?s? (?:hopital|ecole|rue|quartier|immeuble|clinique|creche|college|"
        r"lycee|hotel|"
        r"salle de sport|adresse)",
        r"comment s'appellen?t? (?:ta|ton|tes|votre|vos) (?:mere|maman|pere|papa|soeur|frere|fils|"
        r"fille|enfants?|"
        r"mari|femme|copain|copine|parents)",
        r"(?:il|elle|ils|elles) (?:habite|vit|habitent|vivent|travaille|travaillent) ou",
    ]
)
COMMITMENT_REQUEST = compile_terms(
    [
        r"(?:promise|swear|pinky promise)(?: me)?(?: that)? (?:you'?ll|you will|u will|u'll|to)",
        r"(?:give|send|get|buy|lend|gift|pay|transfer|venmo|paypal)(?: me| us)? (?:a |an |some |"
        r"your |the |my )?"
        r"(?:\w+ )?(?:discount|promo|coupon|code|money|cash|\$|€|\d+|gift|present|free|hoodie|"
        r"merch|tickets?|signed|"
        r"autograph|shoutout)",
        r"(?:will|would|can|could) (?:you|u) (?:pay|buy|send|give|lend|cover|sponsor|gift)(?: me| "
        r"us| for)?",
        r"(?:let'?s|can we|could we|we should|wanna|want to) (?:meet|hang out|grab|get (?:coffee|"
        r"a drink|dinner|lunch)|"
        r"see each other|link up|date)",
        r"meet (?:me|up)",
        r"(?:discount|promo|coupon) codes?",
        r"free (?:stuff|merch|tickets?|hoodie|shirt|product|samples?|copy|copies)",
        r"(?:come|coming) to my (?:wedding|party|birthday|house|place|show|school|city)",
        r"promets?(?:[- ]moi)?(?: que| de| tu)",
        r"jure(?:[- ]moi)?(?: que| de)",
        r"(?:donne|envoie|offre|paie|paye|achete|prete|file|vire)(?:[- ]moi| moi|[- ]nous)? (?:un "
        r"|une |des |de l'|"
        r"ton |ta |tes |le |la )?(?:\S+ )?(?:code|reduction|promo|argent|thunes|sous|€|\d+|cadeau|"
        r"sweat|merch|"
        r"places?|billets?|dedicace|autographe|gratuite?s?)",
        r"(?:tu (?:peux|pourrais|veux|vas)|tu) (?:\S+ )?(?:m'envoyer|me payer|me paies?|me payes?|"
        r"m'offrir|m'acheter|"
        r"me preter|me donner|me rembourser|m'offres?|m'envoies?)",
        r"m'envoies? \d+",
        r"on (?:se voit|se rencontre|se retrouve|peut se voir|pourrait se voir|se capte|boit un "
        r"(?:verre|cafe))",
        r"(?:se|te|vous) rencontrer",
        r"rendez-vous",
        r"codes? promo",
        r"(?:reduc|reduction|remise)s?",
        r"(?:viendras|viens|venir) (?:a|au|chez) (?:mon|ma|mes|moi)",
    ]
)

# --- boundary topics ------------------------------------------------------------------------
_POLITICS = [
    r"politi(?:cs|cal|cian|cians|que|ques|cien|cienne|ciens|ciennes)",
    r"elections?",
    r"presidenti(?:al|elle|elles)",
    r"(?:who|which party|what party) (?:\w+ )?(?:did|do|will|would) (?:you|u) (?:\w+ )?vote",
    r"(?:pour qui|t'as vote|tu as vote|tu votes|vous votez|tu vas voter|voter pour|as-tu vote)",
    r"(?:democrats?|republicans?|gop|maga|labou?r party|tories|conservative party)",
    r"(?:trump|biden|kamala|obama|macron|le pen|melenchon|zemmour|bardella|sarkozy|hollande|putin|"
    r"poutine|"
    r"zelensky\w*|netanyahu|starmer)",
    r"(?:left|right)[- ]wing",
    r"extreme[- ](?:gauche|droite)",
    r"(?:t'es|tu es|es-tu|vous etes|tu votes?) (?:plutot )?(?:de |a )?(?:gauche|droite)",
    r"(?:la gauche|la droite) (?:ou|et) (?:la gauche|la droite)",
    r"gouvernement|government",
    r"parlement|parliament|congress|assemblee nationale",
    r"abortion|avortement|ivg",
    r"immigration|immigres?|migrants?",
    r"gun control|second amendment",
    r"gaza|palestin\w*",
]
_RELIGION = [
    r"religio(?:n|ns|us|use|euse|euses|eux)",
    r"(?:believe|believes|believing) in god",
    r"(?:crois|croyez|crois-tu|croire|crois tu) en dieu",
    r"croyante?s?",
    r"(?:atheist|athee)s?",
    r"(?:islam|muslims?|musulmane?s?|christian(?:ity|s)?|chretien(?:ne)?s?|catholi(?:c|cs|que|"
    r"ques)|"
    r"protestante?s?|jewish|juive?s?|judaism|judaisme|hindu(?:ism)?|hindou(?:isme)?|buddhis(?:m|t)|"
    r"bouddhis(?:me|te)|mormons?|evangeli\w+)",
    r"(?:church|mosque|synagogue|eglise|mosquee)s?",
    r"(?:bible|quran|coran|torah|koran)",
    r"(?:do|did) (?:you|u) pray",
    r"(?:est-ce que )?tu pries",
    r"(?:your|ta|ton) (?:faith|foi)",
]
_RELATIONSHIPS = [
    r"(?:your|ur|ton|ta) (?:ex|boyfriend|girlfriend|husband|wife|partner|copain|copine|mari|femme|"
    r"mec|meuf)",
    r"(?:are|r) (?:you|u) (?:single|dating|married|seeing someone|in a relationship)",
    r"(?:t'es|tu es|es-tu) (?:celibataire|en couple|mariee?)",
    r"(?:love life|vie amoureuse|vie sentimentale|dating life)",
    r"(?:breakup|break up|rupture|divorce)",
]
KNOWN_TOPICS: dict[str, list[str]] = {
    "politics": _POLITICS,
    "politique": _POLITICS,
    "political": _POLITICS,
    "religion": _RELIGION,
    "religions": _RELIGION,
    "relationships": _RELATIONSHIPS,
    "love life": _RELATIONSHIPS,
    "vie amoureuse": _RELATIONSHIPS,
    "dating": _RELATIONSHIPS,
}

# --- weak signals ---------------------------------------------------------------------------
# Words that make a message worth a second look when no pattern above matched. They route the
# message to the LLM judge (when the engine has one); on their own they never block.
WEAK_SIGNALS: dict[str, re.Pattern[str]] = {
    "self_harm": compile_terms(
        [
            r"(?:die|dying|dead|death|suicid\w*|kill|killing|pills|overdose|razor|rope|hopeless|"
            r"worthless|empty|"
            r"alone|pointless|burden|give up|giving up|no point|end it|ending|disappear|punish|"
            r"keep going|go on|"
            r"tired of|exhausted|letters? to|just in case|goodbye|skip(?:ping)? meals|starv\w*|"
            r"numb|hurt|pain|"
            r"can't anymore|no one cares|nobody cares)"
            r"(?=.*(?:\bi\b|\bme\b|\bmy\b|myself))",
            r"(?:mourir|mort|suicid\w*|tuer|cachets|medicaments|corde|lame|lames|desespere\w*|"
            r"vide|seule?|inutile|"
            r"fardeau|abandonner|disparaitre|finir|interet|plus la force|envie de rien|punir|"
            r"continuer|epuisee?|"
            r"lettres?|au cas ou|adieu|repas|affamer|mal|souffr\w*|personne s'en fout|en peux "
            r"plus|peux plus)"
            r"(?=.*(?:\bje\b|\bj'|\bme\b|\bmoi\b|\bma\b|\bmon\b))",
        ]
    ),
    "sexual": compile_terms(
        [
            r"naked|nude|nudes|sexy|sex|bed|lingerie|underwear|bra|panties|thong|kinky|spicy|"
            r"naughty|horny|"
            r"body|feet|legs|boobs|booty|strip|undress|sext\w*|without (?:clothes|anything on)|"
            r"hot (?:pics?|messages?|chat)|turn(?:s|ed)? me on",
            r"nue|nues|sexe|lit|lingerie|sous-vetements|string|coquine?|cochonne?|chaude?|corps|"
            r"pieds|seins|"
            r"fesses|deshabille\w*|deshabiller|sans (?:vetements|rien sur)|hot|m'excite\w*|"
            r"excitante?",
        ]
    ),
    "abuse": compile_terms(
        [
            r"(?:hate|stupid|idiot|dumb|ugly|fat|fake|fraud|liar|loser|trash|garbage|disgusting|"
            r"pathetic|worst|"
            r"useless|talentless|annoying|cringe|clown|pig|cow|shut up|die|sucks?|unbearable|"
            r"sickening|gross|"
            r"bimbo|mid|overrated|boring|stop (?:making|posting)|full of yourself|nobody cares|"
            r"irrelevant|"
            r"embarrassing|ridiculous|terrible|awful|bad at|can't even|bitchy|arrogant|slut\w*|"
            r"skank)",
            r"(?:deteste|nulle?|moche|grosse|fausse|menteuse?|incapable|degueu\w*|pathetique|"
            r"ridicule|pire|inutile|"
            r"con|conne|debile|dinde|vache|cruche|ta gueule|crever|creve|minable|honte|"
            r"insupportable|degoute?|"
            r"imbue|petasse|claquee?|surcotee?|chiante?|arrete (?:les|tes) videos|pas capable|"
            r"personne s'en fout|"
            r"arrogante?|gonflante?|relou|salope\w*)",
        ]
    ),
    "threat": compile_terms(
        [
            r"(?:find you|catch you|hurt you|kill you|your house|your address|where you live|"
            r"watch out|regret|"
            r"you'?ll see|outside your|follow you|i know where|you'?ll be sorry|coming (?:to|for) "
            r"you|your next "
            r"(?:show|event|signing))",
            r"(?:te trouver|te croiser|te tuer|te frapper|chez toi|ton adresse|ou tu habites|fais "
            r"gaffe|regretter|"
            r"tu vas voir|tu vas comprendre|te suivre|je sais ou|ton prochain (?:spectacle|show|"
            r"evenement))",
        ]
    ),
    "injection": compile_terms(
        [
            r"(?:instructions?|prompt|system|rules|settings|configur\w+|override|debug|developer|"
            r"admin|"
            r"roleplay|role-play|pretend|verbatim|ignore|bypass|context|initiali[sz]\w+|"
            r"programmed|other fans|"
            r"other people|dms|filters?|<\w+>|every sentence|each sentence|every (?:reply|message)|"
            r"end (?:with|each|every)|how you work|step by step how)",
            r"(?:instructions?|consignes?|prompt|systeme|regles|reglages|parametres|configur\w+|"
            r"debug|developpeu\w+|"
            r"admin\w*|jeu de role|fais semblant|mot pour mot|ignore|contexte|initialis\w+|"
            r"programme|autres fans|"
            r"filtres?|chaque (?:phrase|reponse|message)|termine (?:par|chaque)|comment tu "
            r"fonctionnes|"
            r"etape par etape)",
        ]
    ),
    "scam": compile_terms(
        [
            r"(?:\$|€|£)\s?\d+|\d+ ?(?:\$|€|£|k\b|euros?|dollars?)|invest\w*|profit\w*|income|"
            r"earn\w*|"
            r"guarantee\w*|program|opportunit\w+|whatsapp|telegram|followers for|promote|fee|"
            r"giveaway|"
            r"prize|feature you|sponsor\w*|dm me|link in|my profile",
            r"gagn\w+|garanti\w*|revenus?|investi\w*|programme|opportunite|abonnes pour|boost\w*|"
            r"somme|"
            r"concours|mettre en avant|mets en avant|mp|lien de mon|mon profil|sponsor\w*",
        ]
    ),
    "identity_question": compile_terms(
        [
            r"(?:bot|robot|(?<!')ai|a\.i\.|automated|automatic|software|program|human|real person|"
            r"really you|"
            r"actually you|real \w+\?|other end|someone (?:there|real)|who (?:is|am i) (?:this|"
            r"talking))",
            r"(?:bot|robot|ia|automatis\w+|automatique|logiciel|programme|humaine?|vraie personne|"
            r"vraiment toi|"
            r"la vraie|le vrai|l'autre cote|quelqu'un (?:de vrai|derriere|qui repond))",
        ]
    ),
}
