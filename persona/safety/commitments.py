"""Promises in a reply: money, meetings, gifts, discounts, free stuff.

A promise passes only when the creator made it first: its specifics (codes, amounts,
percentages, place and event names) all appear in one of the creator's allowed commitments or
in the published posts. "I'll send you a hoodie" with no hoodie offer anywhere is blocked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from persona.safety.boundaries import Boundaries
from persona.safety.normalize import fold


@dataclass(frozen=True, slots=True)
class CommitmentFinding:
    kind: str  # money, amount, meeting, appearance, gift, discount, free
    text: str


_I_WILL = (
    r"(?:I'?ll|I will|I'm going to|I am going to|I can|let me|gonna|I'd be happy to|happy to|"
    r"I'd love to|I promise to|I promise I'll)"
)
_GIFT_NOUNS = (
    r"(?:gift|present|merch|t-?shirt|tee|hoodie|sweatshirt|poster|print|tickets?|signed \w+|"
    r"autograph\w*|package|parcel|box|copy|book|samples?|products?|shout-?out|backstage pass|"
    r"cadeau|sweat|affiche|places?|billets?|d[ée]dicace|livre|colis|exemplaire|produits?|"
    r"[ée]chantillons?|pass)"
)
_DAY = (
    r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|demain|ce soir|ce week-end|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight|this weekend)"
)
_PUBLIC_SHOW = r"(?:live|stream|en direct|insta|instagram|tiktok|youtube|twitch)"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(body, re.IGNORECASE))
    for kind, body in (
        (
            "money",
            rf"\b{_I_WILL} (?:\w+ )?(?:send|give|pay|transfer|wire|venmo|paypal|cash ?app|lend|"
            r"reimburse|refund|cover)(?: you| u)?"
            r"(?: \$?\d+| money| cash| the money| some money| for)",
        ),
        (
            "money",
            r"\b(?:send|sending|give|giving|pay|paying|transfer|wire) (?:you|u) (?:\$|€|£)?\d+",
        ),
        (
            "money",
            r"\bje (?:vais |peux |pourrais )?(?:t'envoyer|te verser|te donner|te payer|te virer|"
            r"te rembourser|t'envoie|te paie|te paye|te donne|te file|te vire|te fais un virement|"
            r"vous envoyer|vous verser|vous donner|vous payer|vous rembourser|vous envoie|"
            r"vous donne|vous fais un virement)"
            r"(?: \S+){0,2}? (?:\d+|de l'argent|des sous|l'argent|ta place|ton billet)",
        ),
        (
            "amount",
            r"(?:[$€£]\s?\d+(?:[.,]\d+)?"
            r"|\b\d+(?:[.,]\d+)? ?(?:€|\$|£|euros?\b|dollars?\b|bucks\b))",
        ),
        (
            "meeting",
            r"\blet'?s (?:meet|hang out|grab|get (?:coffee|a drink|dinner|lunch|together)|"
            r"link up|see each other)",
        ),
        ("meeting", r"\bmeet (?:me|you|up)\b"),
        ("meeting", r"\bsee you (?:at|in) my (?:place|house|apartment|flat|hotel|room)"),
        ("meeting", r"\bcome (?:over|to my (?:place|house|apartment|flat|hotel|room))"),
        ("meeting", r"\bI'?ll (?:come|be|swing|stop|drop) (?:by|over|to|at|in) your"),
        ("meeting", r"\bI'?ll (?:pick you up|visit you|come see you|see you (?:tomorrow|tonight))"),
        ("meeting", r"\bwe (?:should|could|can) (?:meet|hang out|get coffee|grab)"),
        ("meeting", r"\b(?:DM|send|text) me your (?:address|number|location|phone)"),
        ("meeting", r"\bon se (?:voit|retrouve|capte|rejoint)\b"),
        (
            "meeting",
            r"\b(?:retrouvons-nous|rejoins-moi|viens chez moi|passe chez moi|viens me voir)",
        ),
        ("meeting", r"\bon (?:boit|prend) un (?:café|cafe|verre)"),
        ("meeting", r"\brendez-vous (?:à|a|au|demain|ce soir|chez)"),
        ("meeting", r"\bje (?:passe|viendrai|viens|passerai) (?:te voir|chez toi)"),
        # An appointment with the fan, in any words: "with me" / "avec moi" and a day ("un café
        # avec moi vendredi à 14h"); "cook with me tonight" on a live is a show, and "see you
        # Sunday!" a sign-off, not an appointment.
        (
            "meeting",
            rf"^(?!.*\b{_PUBLIC_SHOW}\b).*?(?:\b(?:with me|avec moi)\b[^.!?]{{0,60}}\b{_DAY}\b"
            rf"|\b{_DAY}\b[^.!?]{{0,60}}\b(?:with me|avec moi)\b)",
        ),
        # Being somewhere named, said to a fan ("I'll be at PyData Amsterdam", "je serai au
        # Salon"): backed, like a code, by a post that names the same place and date.
        (
            "appearance",
            r"\b(?:I'?ll be|I will be|I'm going to be|je serai|je vais être) (?:at|in|speaking at|"
            r"à|au|aux|en) (?:the |le |la |l')?(?=(?-i:[A-Z#0-9]))",
        ),
        (
            "gift",
            rf"\b{_I_WILL} (?:\w+ )?(?:send|give|get|buy|mail|ship|gift|offer|save|reserve) "
            rf"(?:you|u)(?: \S+){{0,3}}? {_GIFT_NOUNS}\b",
        ),
        # Offering the fan a thing, whatever the thing: "I'll send you my apron".
        (
            "gift",
            rf"\b{_I_WILL} (?:\w+ )?(?:send|give|gift|mail|ship|offer) (?:you|u) "
            r"(?:a|an|one|some|my|the|this|these|two|three) (?!(?:recipe|tip|idea|link|answer|"
            r"secret|advice|hint|shout)s?\b)\w+",
        ),
        (
            "gift",
            r"\bje (?:vais |peux |pourrais |voudrais )?(?:t'|te |vous )(?:offrir|offre|envoyer|"
            r"envoie|donner|donne|r[ée]server|r[ée]serve|garder|garde) (?:(?:un|une|des|le|la|"
            r"les|mon|ma|mes|ce|cette|ces|deux|trois)\s+|l')(?!(?:petite? )?(?:recettes?|"
            r"astuces?|conseils?|id[ée]es?|liens?|r[ée]ponses?|avis|trucs?|infos?|secrets?|"
            r"tuyaux?)\b)",
        ),
        (
            "gift",
            rf"\bje (?:vais |peux |pourrais |voudrais )?(?:t'envoyer|t'offrir|te donner|t'envoie|"
            rf"t'offre|te donne|te file|te r[ée]serve|te garde|vous envoyer|vous offrir|"
            rf"vous donner|vous envoie|vous offre|vous donne|vous r[ée]serve|vous garde)"
            rf"(?: \S+){{0,3}}? {_GIFT_NOUNS}\b",
        ),
        ("gift", r"\b(?:it's|its|this one's|drinks are|dinner's|c'est) (?:on me|pour moi|offert)"),
        (
            "discount",
            r"\b(?:discount|promo(?:tion)?(?: code)?|coupon|voucher|\d+ ?% off|code promo|"
            r"r[ée]duction|r[ée]duc|remise|-\d+ ?%|\d+ ?% de r[ée]duction)\b",
        ),
        ("discount", r"\b(?:code|coupon) [A-Z0-9]{3,}\b"),
        (
            "free",
            r"\b(?:free|complimentary) (?:tickets?|merch|shipping|access|subscription|months?|copy|"
            r"copies|stuff|products?|samples?|hoodie|t-?shirt|class|session|lesson)\b",
        ),
        ("free", r"\bfor free\b"),
        # "I can make you one free", "one free for you": something free, promised to the fan.
        ("free", r"\b(?:you|u) (?:one|some|a few|a couple|it|them|a \w+) (?:for )?free\b"),
        ("free", r"\bfree (?:for|to) (?:you|u)\b"),
        ("free", r"\b(?:gratuit(?:e|s|es|ement)?|gratos|offert(?:e|s|es)?)\b"),
    )
)
_CODE = re.compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{4,}\b")
_AMOUNT = re.compile(r"(?<![A-Za-z0-9])\d+(?:[.,]\d+)?")
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+(?:[A-Z][a-z]+)*\b")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_COMMON_CAPS = frozenset(
    "I I'm I'll I'd OK Ok Hi Hey Hello Thanks Merci Bisous Oh Yes No Lol Haha Love DM Me".split()  # noqa: SIM905
)


def find_commitments(reply: str, boundaries: Boundaries) -> list[CommitmentFinding]:
    """Promises in `reply` that neither the allowed commitments nor the posts back."""
    findings: list[CommitmentFinding] = []
    for sentence in _SENTENCE.findall(reply):
        for kind, pattern in _PATTERNS:
            match = pattern.search(sentence)
            if match and not _backed(sentence, match.group(0), kind, boundaries):
                findings.append(CommitmentFinding(kind, match.group(0).strip()))
                break
    # A bare code anywhere ("use CAMILLE50") is a discount promise too.
    for code in _CODE.findall(reply):
        if not _backed(code, code, "discount", boundaries) and all(
            code not in f.text for f in findings
        ):
            findings.append(CommitmentFinding("discount", code))
    return findings


# A sum of money or a percentage: backed only by a source that states the same number as money
# or as a percentage ("$20 off" is not backed by "20 minutes au four").
_MONEY = re.compile(
    r"[$€£]\s?(\d+(?:[.,]\d+)?)|(\d+(?:[.,]\d+)?)\s?(€|\$|£|euros?\b|dollars?\b|bucks\b|%)",
    re.IGNORECASE,
)


def _money(sentence: str) -> set[tuple[str, bool]]:
    """(number, is a percentage) for every sum or percentage in `sentence`."""
    return {(m.group(1) or m.group(2), m.group(3) == "%") for m in _MONEY.finditer(sentence)}


def _states_money(folded_source: str, number: str, percent: bool) -> bool:
    num = re.escape(number)
    if percent:
        pattern = rf"(?<![\d.,]){num}\s?%"
    else:
        pattern = (
            rf"[$€£]\s?{num}(?![\d])|(?<![\d.,]){num}\s?(?:€|\$|£|euros?\b|dollars?\b|bucks\b)"
        )
    return re.search(pattern, folded_source) is not None


def _key_tokens(sentence: str) -> set[str]:
    keys = {c.casefold() for c in _CODE.findall(sentence)}
    money_numbers = {number for number, _ in _money(sentence)}
    keys |= set(_AMOUNT.findall(sentence)) - money_numbers
    keys |= {p.casefold() for p in _PROPER.findall(sentence.strip()) if p not in _COMMON_CAPS}
    return {fold(k) for k in keys}


_MEETING_EVENT = re.compile(
    r"(?<![a-z])(?:meet|greet|signing|meetup|rencontre|dedicace|rendez-vous)", re.IGNORECASE
)


def _backed(sentence: str, phrase: str, kind: str, boundaries: Boundaries) -> bool:
    keys = _key_tokens(sentence)
    money = _money(sentence)
    if kind == "meeting" and not keys:
        return False  # a meeting needs a published event by name: "see you at VidCon"
    words = {w for w in re.findall(r"[a-z]{4,}", fold(phrase))} - {"will", "your", "just", "some"}
    # One offer or one published sentence must carry the whole promise, so that "Lyon" from a
    # tour date and "meet" from another post do not add up to "let's meet in Lyon".
    published = [p for p in re.split(r"[\n.!?]+", boundaries.published_facts_text) if p.strip()]
    allowed = list(boundaries.allowed_commitments)
    if kind == "meeting":
        # Only a meet-up backs a meet-up: "CAMILLE10 for 10% off" backed "let's meet at the
        # market at 10am" by its "10" (the CI red team's 1.5B run sent it).
        published = [p for p in published if _MEETING_EVENT.search(fold(p))]
        allowed = [a for a in allowed if _MEETING_EVENT.search(fold(a))]
    for source in [*allowed, *published]:
        folded = fold(source)
        if not folded:
            continue
        if money and not all(_states_money(folded, n, pct) for n, pct in money):
            continue
        if (keys or money) and all(_contains(folded, k) for k in keys):
            return True
        # A gift or a freebie with nothing specific to check ("one free for you") is backed
        # only by the creator's own offers, naming what it is about: "free shipping" in a
        # post does not make every "free" a published offer.
        if (
            not keys
            and not money
            and words
            and any(_contains(folded, w) for w in words)
            and (
                kind not in ("gift", "free")
                or (source in boundaries.allowed_commitments and _shares_content(sentence, folded))
            )
        ):
            return True
    if money:
        return False  # sums and percentages are checked against whole sentences only
    if boundaries.is_published is not None and keys:
        if kind == "meeting":  # a place name alone does not make a published meet-up
            return boundaries.is_published(sentence.strip())
        return all(boundaries.is_published(k) for k in keys)
    return False


_TRIGGERS = frozenset(
    {"free", "gift", "gifts", "send", "give", "offer", "offered", "ship", "mail", "make", "have"}
    | {"your", "with", "this", "that", "gratuit", "gratuite", "gratuitement", "offert"}
    | {"offerte", "offre", "donner", "donne", "envoyer", "envoie", "vous"}
)


def _shares_content(sentence: str, folded_source: str) -> bool:
    """The promise names what the offer is about: a content word beyond the trigger words."""
    content = {w for w in re.findall(r"[a-z]{4,}", fold(sentence))} - _TRIGGERS
    return any(_contains(folded_source, w) for w in content)


def _contains(folded_source: str, token: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(token)}(?![a-z0-9])", folded_source) is not None
