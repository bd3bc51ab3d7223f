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
    r"conasse|cinglee|tarée?|attardee?|mongole?|boloss|cassos|thon|boudin|vache|truie)"
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
        r"espece d(?:e |')\w+",
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
        r"watch (?:your|ur) back",
        r"(?:you|u)(?:'ll| will) regret (?:it|this|that)",
        r"(?:come|coming|show up|going|go) (?:to|at) (?:your|ur) (?:house|home|place|door|apartment|flat|work)",
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
        r"(?:i'?ll|i will|i'm going to|im going to|i am going to|i'm gonna|im gonna|gonna) (?:\w+ ){0,2}"
        r"(?:kill|hurt|beat|punch|slap|destroy) (?:you|u)(?! for)",
        r"(?:you'?re|you are|ur) (?:so )?dead(?! on)",
        r"je vais te (?:tuer|frapper|detruire|gifler)",
        r"(?:t'es|tu es) (?:un homme mort|une femme morte)",
    ]
)

# --- sexual content -------------------------------------------------------------------------
SEXUAL = compile_terms(
    [
        r"(?:send|show|sell|see|share|got|have|want|trade|drop) (?:me )?(?:\w+ ){0,2}nudes?",
        r"nudes",
        r"(?:see|seeing|watch|picture|pics?|photos?|imagine|want) (?:of )?(?:you|u|yourself) (?:\w+ ){0,2}naked",
        r"(?:you|u|yourself) naked",
        r"get naked",
        r"strip (?:for|naked|down|tease)",
        r"take (?:it|them|everything|that|your \w+) off(?: for me)?",
        r"what (?:are|r) (?:you|u) wearing",
        r"have sex",
        r"sex with (?:me|you|u)",
        r"(?:want|wanna|love|like|going|gonna|'d|would) (?:to )?(?:fuck|bang|screw|shag|f\*ck) (?:you|u|me)",
        r"fuck me",
        r"(?:show|send|see|flash|touch|grab|suck|lick|squeeze) (?:me )?(?:your|ur|my|those|them|her) (?:\w+ )?"
        r"(?:boobs|tits|titties|nipples|ass|butt|pussy|dick|cock|feet|body|breasts)",
        r"(?:suck|lick) (?:my|your|ur) \w+",
        r"(?:my|your|ur) (?:dick|cock|pussy|tits|boobs)",
        r"dick ?pics?",
        r"feet pics?",
        r"horny",
        r"blow ?jobs?",
        r"hand ?jobs?",
        r"cum(?:ming|shot)?",
        r"sexting",
        r"sext",
        r"jerk(?:ing)? off",
        r"masturbat\w*",
        r"porn\w*",
        r"(?:sleep|in bed|go to bed) with me",
        r"make love (?:to|with) (?:me|you|u)",
        r"sit on my (?:face|lap|dick)",
        r"spread (?:your|ur) legs",
        r"naughty (?:pics?|photos?|videos?|stuff|things)",
        r"send (?:me )?(?:something|smth|sth|a pic|pics|a photo|photos) (?:\w+ )?(?:naughty|sexy|spicy|dirty|hot)",
        r"(?:sexy|naughty|spicy|dirty|nsfw) (?:pics?|photos?|selfies?|videos?)(?: of (?:you|yourself)| for me)?",
        r"(?:toute?|completement|tout) nue?s?",
        r"(?:te|vous) voir nue?",
        r"a poil",
        r"enleve (?:tout|ton|ta|tes)",
        r"tu portes quoi",
        r"coucher avec (?:moi|toi)",
        r"on couche ensemble",
        r"(?:te|vous) (?:baiser|sucer|lecher|doigter)",
        r"baise[- ]moi",
        r"suce[- ]moi",
        r"(?:ma|ta) (?:bite|queue|teub|chatte)",
        r"(?:tes|montre|voir|touche|touches|toucher) (?:\w+ )?(?:seins|nichons|fesses|tetons|cul)",
        r"photos? (?:coquines?|hot|sexy|cochonnes?|osees?|nues?)",
        r"plan cul",
        r"je bande",
        r"branler",
        r"excitee? (?:par|sur|quand) (?:toi|vous)",
        r"faire l'amour (?:avec|a) (?:moi|toi)",
        r"sextape",
    ]
)
# Mild or romantic cues: fine from an adult, strict from a minor.
SEXUAL_CUE = compile_terms(
    [
        r"sexy",
        r"hot",
        r"kiss(?:es|ing)?",
        r"make out",
        r"swimsuit",
        r"bikini",
        r"lingerie",
        r"underwear",
        r"naked",
        r"nude",
        r"body",
        r"(?:pics?|photos?|pictures?|selfies?) of (?:me|myself|my body)",
        r"naughty",
        r"spicy",
        r"touch(?:ing)?",
        r"(?:in )?bed",
        r"cuddle",
        r"date (?:me|you|u)",
        r"(?:be|become) (?:your|ur) (?:girlfriend|boyfriend|gf|bf|wife|husband|lover)",
        r"(?:girlfriend|boyfriend)",
        r"embrasser",
        r"s'embrasser",
        r"sortir avec (?:toi|moi)",
        r"(?:etre|devenir) (?:ta|ton) (?:copine|copain|amoureuse?|petite? amie?|cherie?)",
        r"maillot",
        r"sous-vetements",
        r"culotte",
        r"corps",
        r"photos? de moi",
        r"coquine?s?",
        r"cochonne?s?",
        r"nue?",
        r"toucher",
        r"lit",
    ]
)

# --- minors ---------------------------------------------------------------------------------
_AGE = r"(?:1[0-7]|[5-9])"
_NOT_UNIT = r"(?! ?(?:months?|weeks?|days?|hours?|h|min|mins|minutes?|km|miles?|%|euros?|€|\$|kg|lbs?))"
MINOR = compile_terms(
    [
        rf"i'?m (?:only |just )?{_AGE}{_NOT_UNIT}",
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
        r"(?:into|like|love|want|prefer|attracted to|fancy) (?:\w+ )?(?:young|little|underage|teen) "
        r"(?:girls?|boys?|ones|kids)",
        r"(?:aimes?|kiffes?|preferes?) (?:\w+ )?(?:les )?(?:petites? filles?|petits? garcons?|jeunes filles?|"
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
        r"(?:hurt|hurting|cut|cutting|harm|harming|burn|burning|starve|starving) myself",
        r"self[- ]?harm\w*",
        r"suicidal",
        r"suicide(?! squad| mission| run| doors?| drills?| season)",
        rf"(?:want|wanna|going|gonna|planning|plan|ready|trying|deserve) to die{_NOT_LAUGH_EN}",
        r"(?:don't|dont|do not|no longer) (?:want|wanna) (?:to )?(?:live|be alive|be here|exist|wake up)",
        r"(?:no|any) reason to (?:live|go on|keep going|stay)",
        r"better off (?:dead|without me)",
        r"wish (?:i was|i were|to be|i'd be) dead",
        r"wish i (?:was|were|had) never (?:been )?born",
        r"(?:i'm|im|i am|gonna|going to|i'll|i will|want to|wanna) end (?:it|it all|everything)(?! with)",
        r"(?:how many|which|what) (?:pills|tablets|sleeping pills)",
        r"(?:take|took|swallow|swallowed|taking) (?:all )?(?:the |my |a bunch of |a lot of )?(?:pills|tablets)",
        r"overdos\w*",
        r"(?:to )?(?:not|never) wake up(?! early)",
        r"(?:disappear|vanish)(?:ed)? forever",
        r"(?:i'm|im|i am) (?:so )?(?:done|finished) with (?:life|living|being alive)",
        r"(?:jump|jumping) (?:off|from) (?:a |the |my )?(?:bridge|building|roof|balcony)",
        r"hang(?:ing)? myself",
        r"slit my wrists?",
        r"(?:nobody|no one|noone) (?:would|will|even|ever) (?:\w+ ){0,2}(?:miss|notice|care)(?: if i| me| when i)",
        # French.
        rf"(?:je )?veux mourir{_NOT_LAUGH_FR}",
        rf"envie de mourir{_NOT_LAUGH_FR}",
        r"(?:envie d'|vais |veux |pense a |pense |je vais )en finir(?! avec (?!la vie|tout|ma vie))",
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
        r"(?:tout le monde|ils|le monde|les gens) (?:serait|serai|serais|seront|sera|seraient) mieux sans moi",
        r"personne ne (?:me )?(?:\w+ ){0,2}(?:remarquerait|regretterait|manquerait|verrait)(?: si| que| ma)",
        r"(?:disparaitre|disparaissais|disparaitrais) (?:pour toujours|a jamais|definitivement)",
        r"(?:avaler|prendre|pris|avale) (?:tous )?(?:mes|les|des|une boite de) (?:medicaments|cachets|pilules)",
        r"overdose",
        r"(?:plus|pas) envie de me reveiller",
        r"(?:sauter|me jeter) (?:d'un|du|par la|d'une) (?:pont|immeuble|toit|fenetre|falaise)",
        r"marre de (?:vivre|la vie|exister)",
    ]
)
# Distress that may be hyperbole ("I can't take it anymore, the cuteness 😍").
SELF_HARM_SOFT = compile_terms(
    [
        r"(?:can't|cannot|cant) (?:take it|do this|handle it|cope|go on|keep going)(?: anymore| any more| like this)",
        r"(?:i'm|im|i am) (?:so )?tired of (?:living|life|everything|being alive|existing)",
        r"(?:i|i've|ive) (?:give|given|am giving|gave) up on (?:life|everything|myself)",
        r"(?:there's|there is|theres) no (?:way out|point (?:in living|anymore|to anything))",
        r"(?:i|i'm|im) (?:feel|feeling) (?:so )?(?:hopeless|worthless|empty inside)",
        r"(?:je n'en|j'en|je n en) peux plus(?! de rire)",
        r"je (?:suis|me sens) (?:tellement |trop |si )?(?:vide|inutile|bonne? a rien)",
        r"a quoi bon (?:vivre|continuer)",
        r"(?:plus|pas) la force de (?:continuer|vivre)",
    ]
)

# --- spam, scams, links, contact details ----------------------------------------------------
SCAM = compile_terms(
    [
        r"(?:earn|make|making|earning) \$?\d[\d,. ]*k?(?: ?(?:\$|€|euros?|dollars?|usd))? (?:a|per|every|each) (?:day|week|month|hour)",
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
        r"(?:guaranteed|garanti\w*|assured) (?:\d+ ?% )?(?:returns?|profits?|gains?|income|rendements?)",
        r"\d+ ?% (?:de )?(?:returns?|profits?|gains?|rendements?)(?: (?:guaranteed|garanti\w*))?",
        r"(?:you(?:'ve| have)? won|you are (?:the |our )?(?:lucky )?winner|vous avez gagne|tu as gagne|t'as gagne)",
        r"claim (?:your|here|now|it here)",
        r"(?:verify|confirm|verifiez|verifie|validate) (?:your|votre|ton) (?:account|compte|identity|identite)",
        r"(?:instagram|meta|tiktok|youtube|facebook|twitter|snapchat) (?:support|team|security|copyright|help center)",
        r"service client (?:instagram|meta|tiktok|youtube|facebook|snapchat)",
        r"(?:account|compte) (?:will be|sera|va etre) (?:deleted|suspended|disabled|supprime|suspendu|desactive|bloque)",
        r"gift ?cards?",
        r"cartes? cadeaux?",
        r"paysafe(?:card)?",
        r"western union",
        r"moneygram",
        r"cash ?app",
        r"wire transfer",
        r"sugar (?:daddy|mommy|mama|baby)",
        r"(?:dm|message|text|inbox|ecris|ecrivez|contacte|contactez)(?:[- ])?(?:me|moi)(?: en (?:prive|mp))? "
        r"(?:to|for|pour) (?:learn|earn|know|more|details|info|savoir|gagner|plus|en savoir)",
        r"ecris[- ]moi en (?:prive|mp)",
        r"(?:send|give|tell) (?:me )?(?:your|ur) (?:password|login|code|otp|2fa)",
        r"(?:ton|votre) mot de passe",
        r"pump(?:s|ing)?(?: and dump)?",
        r"signals? (?:group|channel)",
        r"(?:double|triple) (?:your|ton|votre) (?:money|argent|investment|investissement)",
        r"investi\w* (?:\w+ ){0,3}(?:return|profit|gain|rendement|garanti\w*|crypto|bitcoin)",
    ]
)
SPAM = compile_terms(
    [
        r"sub ?4 ?sub",
        r"f4f",
        r"l4l",
        r"follow ?(?:4|for) ?follow",
        r"follow ?back",
        r"(?:check out|visit|subscribe to|sub to|follow|go see|look at) my (?:channel|page|profile|account|insta|store|shop|onlyfans|link|content)",
        r"(?:abonne|abonnez|va voir|visite|allez voir|passe sur|venez sur)[- ]?(?:toi|vous)? (?:a |sur |voir )?(?:ma|mon) (?:chaine|page|profil|compte|boutique|insta|lien)",
        r"(?:cheap|buy|free|gratuits?|pas chers?|acheter des) (?:followers|likes|views|abonnes|vues)",
        r"(?:followers|abonnes|likes|vues) (?:pas chers?|gratuits?|cheap|garantis)",
        r"promo (?:my|ma|mon)",
        r"je follow tout le monde",
        r"(?:click|cliquez|clique) (?:here|ici|the link|sur le lien|sur ce lien|this link)",
        r"link in (?:my )?bio",
        r"lien (?:en|dans (?:ma|la)) bio",
        r"onlyfans",
    ]
)
URL = re.compile(
    r"(?:https?://|www\.)[^\s]+|(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:com|net|org|io|ly|me|co|fr|xyz|info|biz|"
    r"site|online|top|club|app|link|shop|gg|tv|be|ch|ca|uk|de|ru|cn|store|live|vip|click|pro|to|cc|"
    r"ws|su|icu|buzz|win|bid|loan|gq|tk|ml|cf|ga)(?![a-z0-9-])(?:/[^\s]*)?"
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[\w.+-]+ ?[\[(]at[\])] ?[\w-]+ ?[\[(]dot[\])] ?\w+")
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
INJECTION = compile_terms(
    [
        rf"(?:ignore|disregard|forget|skip|override|bypass|drop|overwrite|delete) (?:\S+ ){{0,3}}?"
        rf"(?:previous|prior|above|earlier|preceding|former|initial|original|system|your|ur|these|those|"
        rf"all|any|the|my|its) (?:\w+ )?{_RULE_NOUNS}",
        r"forget (?:everything|all|anything) (?:you (?:were|have been|'ve been|know|learned)|above|before|from before)",
        r"(?:system|initial|original|hidden|secret|developer|pre|internal|base|master|meta)[ -]?"
        r"(?:prompts?|messages?|instructions?|rules?)",
        r"systemprompt",
        r"(?:what|which) (?:were|are|was|is) (?:\w+ ){0,2}(?:instructions?|rules?|guidelines|directives?|prompt)"
        r" (?:you|that you|you've|you have|you were|given|they gave)",
        r"(?:instructions?|rules?|guidelines|directives?|prompt|configuration|settings) (?:you (?:were|have been|'ve been) "
        r"(?:given|told|instructed)|you (?:follow|obey|are following)|above)",
        r"(?:reveal|show|print|display|output|dump|leak|tell me|give me|list|send me|paste|repeat|recite|"
        r"spell out|write out|summari[sz]e|translate|explain|share|copy) (?:me )?(?:all |each |every )?(?:of )?"
        r"(?:your|ur|its) (?:\w+ ){0,2}(?:instructions?|prompts?|system message|rules|guidelines|configuration|"
        r"config|settings|parameters|boundaries|directives?|context|initiali[sz]ation|training|limits)"
        r"(?! (?:for|of|about) (?:the|a|this|your) (?:giveaway|contest|game|challenge|recipe))",
        r"(?:reveal|show|print|display|output|dump|leak|tell me|give me|list|send me|paste|repeat|recite|"
        r"spell out|write out|summari[sz]e|translate) (?:me )?(?:the |all the |all )?(?:\w+ ){0,1}(?:instructions?|prompt|"
        r"system message|configuration|config|settings|parameters|initiali[sz]ation)",
        r"repeat (?:the |all the |everything |all )?(?:text|words|message|lines?|sentences?|everything|all|"
        r"what(?:'s| is| was)?) (?:\w+ )?(?:above|before|earlier|previously|preceding|up there)",
        r"(?:starting|beginning|begin|start) with [\"']?you are",
        r"(?:first|initial|opening) (?:line|lines|words|sentence|message|paragraph) of (?:your|the) "
        r"(?:prompt|instructions|conversation|context|message)",
        r"(?:what|everything|all) (?:is|was|that is|that was) (?:written|said|typed|stated) (?:above|before (?:this|my))",
        r"you are now (?:\w+ ){0,3}(?:dan|ai|a\.?i\.?|assistant|bot|chatbot|model|gpt|mode|unrestricted|"
        r"unfiltered|jailbroken|free from|without|evil|uncensored)",
        r"(?:from now on|starting now|henceforth|for the rest of this (?:chat|conversation)),? (?:you|your|u) "
        r"(?:will|are|must|shall|should|answer|respond|reply|act|speak|talk|can|have)",
        r"(?:pretend|imagine|act|behave|roleplay|role-play|play) (?:\w+ ){0,3}(?:you'?re|you are|to be|as|like) "
        r"(?:\w+ ){0,3}(?:without|with no|free of|free from|no) (?:any )?(?:rules|restrictions|limits|filters|"
        r"guidelines|censorship|boundaries)",
        r"(?:pretend|act|roleplay|role-play|play) (?:\w+ ){0,2}(?:as|to be|you'?re|you are) (?:a |an |the |my |your )?"
        r"(?:developer|admin|administrator|system|root|dan|jailbroken|unrestricted|unfiltered|"
        r"different (?:ai|assistant|bot)|another (?:ai|assistant|bot)|human|real person|not an ai|evil)",
        r"(?:developer|debug|god|admin|dan|jailbreak|sudo|maintenance|unrestricted|unfiltered|test) mode",
        r"jailbr(?:eak|oken)\w*",
        r"do anything now",
        r"(?:you are|you're|be|as) dan",
        r"(?:ai|assistant|bot|model|chatbot|version|mode) (?:with|without) (?:no |any )?(?:rules|restrictions|limits|"
        r"filters|guidelines|censorship)",
        r"(?:i'?m|i am|this is) (?:your|the) (?:developer|dev|admin|administrator|engineer|programmer|operator|owner|"
        r"creator|moderator|sysadmin)(?! of (?:a|my|an) )",
        r"(?:developer|admin|system|root) (?:access|override|command|console|privileges)",
        r"(?:^|\s)(?:system|assistant|developer|admin)\s*:",
        r"</?(?:system|user|assistant|instructions?|im_start|im_end|s|inst|sys|context)>",
        r"<\|im_(?:start|end)\|>",
        r"\[/?inst\]",
        r"<<sys>>",
        r"#{2,}\s*(?:instruction|system|new rules?|prompt)",
        r"new (?:policy|rules?|instructions?|system prompt)\s*:",
        r"(?:other|another|previous|last|different|all (?:the )?other|your other) (?:fans?|users?|followers?|people|persons?|"
        r"person|subscribers?|viewers?|customers?)(?:'s?)? (?:\S+ ){0,5}?(?:messages?|dms?|chats?|conversations?|"
        r"data|info|information|names?|emails?|e-mails?|addresses|numbers?|secrets?|questions?|history|details)",
        r"(?:what|who) (?:did|do|does|have|has) (?:the )?(?:other|another|others|other people|@\w+) "
        r"(?:fans? |users? |people )?(?:\w+ ){0,2}(?:tell|told|say|said|send|sent|ask|asked|write|wrote|message|messaged)",
        r"(?:last|previous|other) (?:person|fan|user|people|fans|users) (?:who|that) (?:messaged|wrote|talked|dm'?d|"
        r"texted|contacted|sent)",
        r"(?:who else|which other fans|what other fans) (?:is|are|do|does|talks?|writes?|messages?|dms?)",
        r"(?:conversation|chat|message|dm) (?:history|logs?)",
        r"(?:your|the) (?:database|user list|fan list|subscriber list|logs)",
        r"(?:encode|decode|in|into|using) (?:\w+ )?(?:base64|rot13|hex|binary|morse)",
        r"(?:topics?|subjects?|things?) (?:\w+ )?(?:are )?(?:you(?:'re| are)?|u) (?:not allowed|forbidden|prohibited|"
        r"banned|told not|instructed not|programmed not)",
        r"(?:not allowed|forbidden|prohibited) to (?:talk|speak|say|discuss)",
        r"(?:translate|summari[sz]e|repeat|rewrite) (?:\w+ ){0,2}(?:above|before this) (?:into|in|to)",
        # Other languages fans try.
        r"ignora (?:\w+ ){0,2}(?:instrucciones|reglas|istruzioni|regole)",
        r"instrucciones (?:anteriores|previas)",
        r"prompt del sistema",
        r"ignorier\w* (?:\w+ ){0,2}(?:anweisungen|regeln)",
        r"vorherigen anweisungen",
        r"ignore (?:as )?instrucoes",
        # French.
        rf"(?:ignore|ignorez|oublie|oubliez|zappe|zappez|laisse tomber|contourne|contournez|outrepasse|efface|"
        rf"ne tiens (?:pas|plus) compte d(?:e |es |'))(?:\S+ ){{0,3}}?{_FR_RULE_NOUNS}",
        r"oublie(?:z)? tout ce qu(?:'on|e l'on|'ils|'elle|'il) t'a (?:dit|demande|appris|ecrit)",
        r"prompt(?: du)? systeme",
        r"(?:consignes?|instructions?|regles?|directives?) (?:cachees?|secretes?|systeme|initiales?|exactes?|internes?)",
        r"(?:consignes?|instructions?|regles?|directives?) (?:qu'on|que l'on|qu'ils|qu'elle|qu'il|qu'ils) "
        r"(?:t'a|t'ont|vous a) (?:donnees?|donne|fixees?|ecrites?|imposees?)",
        rf"(?:montre|donne|revele|affiche|dis|liste|ecris|recopie|repete|traduis|resume|partage|envoie|copie|colle|"
        rf"explique)(?:[- ]moi| moi)? (?:toutes? )?(?:tes|vos|ton|ta|votre) (?:\S+ ){{0,2}}?{_FR_RULE_NOUNS}"
        rf"(?! (?:du|de|des|pour) (?:concours|jeu|defi|recette))",
        rf"(?:montre|donne|revele|affiche|liste|recopie|traduis|resume)(?:[- ]moi| moi)? (?:toutes? )?(?:les|la) "
        rf"(?:instructions?|consignes?|prompt|configuration|parametres|reglages)(?! (?:du|de|des|pour) )",
        r"liste (?:de|des) (?:tes|vos) (?:\S+ ){0,2}(?:limites|reglages|parametres|regles|consignes|sujets interdits)",
        r"repete (?:le |tout le |les |tout )?(?:texte|message|mots|lignes?|phrases?|tout ce qui|ce qui) (?:\S+ )?"
        r"(?:ci-dessus|au-dessus|precedents?|plus haut|avant)",
        r"(?:tout )?ce qui (?:est ecrit|a ete ecrit|precede|est au-dessus|se trouve avant|est avant)",
        r"en commencant par [\"']?tu es",
        r"(?:tu es|t'es|tu seras|tu deviens|vous etes) (?:maintenant|desormais|a present|dorenavant) (?:\S+ ){0,3}?"
        r"(?:assistant|ia|bot|robot|modele|mode|dan|libre|sans (?:aucune )?(?:restrictions?|regles|limites|filtres?))",
        r"(?:a partir de maintenant|desormais|dorenavant|a partir d'aujourd'hui|a present),? "
        r"(?:tu (?!(?:es|seras) (?:ma|mon))|t'|vous|reponds|ecris|parle)",
        r"fais semblant (?:d'etre|que tu es|d'etre une?) (?:\S+ ){0,3}?(?:sans (?:aucune )?(?:regles?|restrictions?|"
        r"limites|filtres?)|developpeur|admin|humaine?|vraie personne|pas une ia)",
        r"(?:ia|assistant|bot|modele|mode|version|robot) sans (?:aucune )?(?:regles?|restrictions?|limites|filtres?|censure)",
        r"mode (?:developpeur|debug|dev|admin|dieu|sans limites?|libre|jailbreak|test)",
        r"(?:je suis|c'est) (?:ton|le|ta|la|votre) (?:developpeur|developpeuse|dev|admin|administrat\w+|"
        r"programmeur|programmeuse|ingenieur|moderat\w+|proprietaire)",
        r"(?:^|\s)(?:systeme|assistant)\s*:",
        r"(?:autres?|derniere?s?|precedente?s?) (?:fans?|abonnee?s?|utilisat\w+|personnes?|gens|followers?) "
        r"(?:\S+ ){0,5}?(?:messages?|dm|conversations?|donnees|infos?|noms?|adresses?|mails?|numeros?|secrets?)",
        r"(?:qu'est-ce que|ce que|qu'ont) (?:les )?autres (?:fans|abonnes|gens|personnes) (?:t'ont|ont|t'a|t') ?"
        r"(?:\S+ )?(?:ecrit|dit|demande|envoye|raconte)",
        r"(?:derniere|precedente|autre) personne qui (?:t'a|t'|vous a) ?(?:ecrit|parle|envoye|contacte)",
        r"(?:avec )?qui d'autre (?:te parle|t'ecrit|tu parles|vous ecrit)",
        r"historique (?:des|de la|de|du) (?:conversations?|messages?|chat|discussions?)",
        r"sujets? (?:\S+ ){0,3}(?:pas le droit|interdits?)",
        r"(?:pas le droit|interdit) de (?:parler|dire|aborder)",
        r"mot pour mot",
    ]
)

# --- dictated statements --------------------------------------------------------------------
DICTATION = compile_terms(
    [
        r"repeat after me",
        r"(?:say|type|write|post|reply|answer|respond|tweet|print|output|copy|paste) (?:\w+ ){0,3}exactly",
        r"exactly (?:this|these words|what i (?:say|write|type)|the following)",
        r"(?:and|but) nothing else",
        r"(?:end|start|begin|finish) (?:your|the|each|every) (?:reply|replies|answer|answers|message|messages|response|responses) with",
        r"say (?:the words|these words|the following|this:|after me)",
        r"(?:say|admit|confess|tell everyone|announce|declare|post) (?:that )?(?:you|u) (?:hate|support|endorse|promise|"
        r"are (?:not|a |an )|will give|owe|are a scam)",
        r"repete apres moi",
        r"(?:dis|ecris|tape|poste|reponds|ecrivez|dites|repete|copie)(?:[- ]moi)? (?:\S+ ){0,3}?exactement",
        r"exactement (?:ca|ceci|cette phrase|ces mots|ce que je (?:dis|t'ecris|ecris))",
        r"et rien d'autre",
        r"(?:commence|termine|finis) (?:ta|tes|chaque) (?:reponse|message|reponses|messages) (?:par|avec)",
        r"(?:dis|avoue|admets|annonce|declare|poste) (?:que tu|qu'tu) (?:detestes?|soutiens|promets|es (?:pas|une?)|vas donner|dois)",
    ]
)
# "say 'I hate my fans'": a quoted line the fan wants said word for word.
QUOTED_DICTATION = re.compile(
    r"(?<![a-z])(?:say|type|write|post|reply|answer|respond(?: with)?|tweet|dis|ecris|tape|poste|reponds|dites|"
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
        r"(?:are|r) (?:you|u) (?:\w+ ){0,2}(?:real|human|a human|a person|a real person|an actual person|a bot|"
        r"a robot|an ai|a\.i\.?|ai|a machine|a chatbot|chatgpt|automated|a program|an algorithm|for real|"
        r"the real \w+)(?! (?:fan|one|talent|gem|mvp|queen|star|icon|inspiration|legend|life|deal|cook|chef))",
        r"(?:is|was) (?:this|it|that) (?:really|actually|truly|even|still) (?:you|her|him|them)",
        r"(?:is|was) (?:this|it) (?:really|actually|truly|even) \w+ (?:herself|himself|themselves|answering|replying|"
        r"writing|typing|texting|responding|here|or (?:a|an) (?:bot|ai|robot|assistant))",
        r"(?:am i|are we|i'?m|im) (?:\w+ )?(?:talking|speaking|chatting|texting|messaging|writing) (?:to|with) "
        r"(?:a |an |the )?(?:bot|ai|a\.i\.?|robot|machine|chatbot|computer|program|real (?:you|person|human|\w+)|"
        r"human|person|you)",
        r"(?:automated|automatic|ai[- ]generated|bot[- ]generated|generated) (?:replies|answers|messages|responses|dms)",
        r"(?:is this|is it|are these|are they|are your) (?:\w+ ){0,2}(?:automated|ai[- ]generated|a bot|an ai|chatgpt|"
        r"a robot|written by (?:a bot|an ai|ai|chatgpt))",
        r"(?:do|did) (?:you|u) (?:\w+ )?(?:write|type|answer|read|send|reply to) (?:\w+ ){0,2}(?:replies|answers|"
        r"messages|dms|comments)(?: yourself| personally| by yourself)?",
        r"(?:who|what) (?:is|am i) (?:really )?(?:talking|writing|answering|replying|typing|responding)",
        r"who'?s (?:really )?(?:behind|running|answering|replying|writing) (?:this|these|the)",
        r"(?:you'?re|you are|ur|u r) (?:just )?(?:a |an )(?:bot|ai|robot|chatbot|machine|program)(?![a-z])",
        r"^\W*(?:bot|ai|robot|human|real)\s*\?+\W*$",
        # French.
        r"(?:t'es|tu es|t es|es[- ]tu|vous etes|etes[- ]vous|t'etes) (?:\S+ ){0,2}?(?:un bot|une? robot|une ia|une i\.a|"
        r"l'ia|une intelligence artificielle|une machine|un programme|un chatbot|une vraie personne|un vrai humain|"
        r"une? humaine?|reel(?:le)?|une? vraie? personne|automatique|chatgpt|fake)",
        r"c'est (?:vraiment|reellement|bien|vraiment bien|toujours) (?:toi|vous|elle|lui)(?! (?:la|le|les) (?:meilleure?|plus))",
        r"c'est (?:vraiment|reellement) \w+ (?:qui|en personne)",
        r"c'est (?:toi|vous|[a-z]+) qui (?:me )?(?:reponds?|repond|ecris|ecrit|tapes?|envoies?|gere|geres|lis)",
        r"qui (?:me )?(?:repond|reponds|ecrit|tape|parle)(?: vraiment)?(?: la)?\s*\?",
        r"(?:je parle|on parle|je discute|je cause|j'ecris|je suis en train de parler|je parle en ce moment) (?:\S+ )?"
        r"(?:a|avec) (?:un bot|une ia|un robot|une machine|un programme|chatgpt|la vraie|le vrai|une vraie personne|"
        r"toi pour de vrai|quelqu'un de reel)",
        r"(?:reponses?|messages?) automatiques?",
        r"c'est (?:un bot|une ia|un robot|une machine|chatgpt|automatique)(?:\s*\?|\s*$| ou)",
        r"ou (?:bien )?(?:c'est )?(?:automatique|un bot|une ia|un robot)",
        r"(?:c'est|es[- ]tu|t'es) (?:toi|vous) (?:en vrai|pour de vrai|en personne)",
    ]
)

# --- allowed, with a hint for the prompt ----------------------------------------------------
PERSONAL_DATA_REQUEST = compile_terms(
    [
        r"(?:what'?s|what is|whats|give me|tell me|send me|share|drop|can i (?:have|get)|can you (?:give|send|share)"
        r"(?: me)?|i need|i want) (?:\w+ )?(?:your|ur) (?:home |real |exact |personal |private |cell |mobile |phone |"
        r"email |e-mail |house |full )?(?:address|phone number|phone|number|cell|email|e-mail|location|whatsapp|"
        r"snap(?:chat)?|telegram|personal info|last name|real name|birthday)",
        r"where (?:exactly )?(?:do|did) (?:you|u) (?:exactly )?(?:live|stay|sleep)",
        r"(?:what|which) (?:street|neighbou?rhood|building|apartment|floor|hospital|school|daycare|clinic|gym|hotel|"
        r"address)",
        r"(?:what'?s|what is|tell me) (?:your|ur) (?:mom|mother|dad|father|sister|brother|son|daughter|kids?|children|"
        r"husband|wife|partner|boyfriend|girlfriend|parents)(?:'s|s)? (?:\w+ )?(?:name|names|age|address|number|school|job)",
        r"where (?:does|do) (?:your|ur) (?:\w+ )?(?:mom|mother|dad|father|parents|sister|brother|family|kids|son|"
        r"daughter|husband|wife|partner) (?:live|work|go to school|stay)",
        r"where does (?:she|he|they) live",
        r"(?:where|what hotel) (?:are you|will you be|r u) (?:staying|sleeping)",
        r"(?:c'est quoi|quel(?:le)? est|donne(?:[- ]moi)?|tu (?:me )?donnes?|envoie(?:[- ]moi)?|file(?:[- ]moi)?|"
        r"je veux) (?:\S+ )?(?:ton|ta|votre) (?:adresse|numero|num|tel|telephone|mail|e-?mail|snap|whatsapp|"
        r"localisation|insta perso|nom de famille|vrai nom)",
        r"(?:t'habites|tu habites|tu vis|t'vis|habites[- ]tu|vis[- ]tu|vous habitez|habitez[- ]vous) "
        r"(?:ou|dans quel(?:le)? (?:rue|ville|quartier|immeuble))",
        r"ou (?:est-ce que )?(?:tu habites|t'habites|tu vis|habites[- ]tu|vis[- ]tu|vous habitez)",
        r"(?:dans )?quel(?:le)?s? (?:hopital|ecole|rue|quartier|immeuble|clinique|creche|college|lycee|hotel|"
        r"salle de sport|adresse)",
        r"comment s'appellen?t? (?:ta|ton|tes|votre|vos) (?:mere|maman|pere|papa|soeur|frere|fils|fille|enfants?|"
        r"mari|femme|copain|copine|parents)",
        r"(?:il|elle|ils|elles) (?:habite|vit|habitent|vivent|travaille|travaillent) ou",
    ]
)
COMMITMENT_REQUEST = compile_terms(
    [
        r"(?:promise|swear|pinky promise)(?: me)?(?: that)? (?:you'?ll|you will|u will|u'll|to)",
        r"(?:give|send|get|buy|lend|gift|pay|transfer|venmo|paypal)(?: me| us)? (?:a |an |some |your |the |my )?"
        r"(?:\w+ )?(?:discount|promo|coupon|code|money|cash|\$|€|\d+|gift|present|free|hoodie|merch|tickets?|signed|"
        r"autograph|shoutout)",
        r"(?:will|would|can|could) (?:you|u) (?:pay|buy|send|give|lend|cover|sponsor|gift)(?: me| us| for)?",
        r"(?:let'?s|can we|could we|we should|wanna|want to) (?:meet|hang out|grab|get (?:coffee|a drink|dinner|lunch)|"
        r"see each other|link up|date)",
        r"meet (?:me|up)",
        r"(?:discount|promo|coupon) codes?",
        r"free (?:stuff|merch|tickets?|hoodie|shirt|product|samples?|copy|copies)",
        r"(?:come|coming) to my (?:wedding|party|birthday|house|place|show|school|city)",
        r"promets?(?:[- ]moi)?(?: que| de| tu)",
        r"jure(?:[- ]moi)?(?: que| de)",
        r"(?:donne|envoie|offre|paie|paye|achete|prete|file|vire)(?:[- ]moi| moi|[- ]nous)? (?:un |une |des |de l'|"
        r"ton |ta |tes |le |la )?(?:\S+ )?(?:code|reduction|promo|argent|thunes|sous|€|\d+|cadeau|sweat|merch|"
        r"places?|billets?|dedicace|autographe|gratuite?s?)",
        r"(?:tu (?:peux|pourrais|veux|vas)|tu) (?:\S+ )?(?:m'envoyer|me payer|me paies?|me payes?|m'offrir|m'acheter|"
        r"me preter|me donner|me rembourser|m'offres?|m'envoies?)",
        r"m'envoies? \d+",
        r"on (?:se voit|se rencontre|se retrouve|peut se voir|pourrait se voir|se capte|boit un (?:verre|cafe))",
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
    r"vote[dsz]? (?:for|pour)",
    r"(?:pour qui|t'as vote|tu as vote|tu votes|vous votez|tu vas voter|voter pour|as-tu vote)",
    r"(?:democrats?|republicans?|gop|maga|labou?r party|tories|conservative party)",
    r"(?:trump|biden|kamala|obama|macron|le pen|melenchon|zemmour|bardella|sarkozy|hollande|putin|poutine|"
    r"zelensky\w*|netanyahu|starmer)",
    r"(?:left|right)[- ]wing",
    r"(?:de|la|l') ?(?:extreme[- ])?(?:gauche|droite)(?! (?:a|de la photo|sur la photo))",
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
    r"(?:islam|muslims?|musulmane?s?|christian(?:ity|s)?|chretien(?:ne)?s?|catholi(?:c|cs|que|ques)|"
    r"protestante?s?|jewish|juive?s?|judaism|judaisme|hindu(?:ism)?|hindou(?:isme)?|buddhis(?:m|t)|"
    r"bouddhis(?:me|te)|mormons?|evangeli\w+)",
    r"(?:church|mosque|synagogue|eglise|mosquee)s?",
    r"(?:bible|quran|coran|torah|koran)",
    r"(?:do|did) (?:you|u) pray",
    r"(?:est-ce que )?tu pries",
    r"(?:your|ta|ton) (?:faith|foi)",
]
_RELATIONSHIPS = [
    r"(?:your|ur|ton|ta) (?:ex|boyfriend|girlfriend|husband|wife|partner|copain|copine|mari|femme|mec|meuf)",
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
