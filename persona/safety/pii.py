"""Personal data in a reply that the creator has not published.

Patterns run on the reply as written (capital letters tell names from words). Findings the
creator has published (a business e-mail, the city they tour from, a pet's name) are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from persona.safety.boundaries import Boundaries
from persona.safety.lexicons import EMAIL, PHONE


class Severity(StrEnum):
    BLOCK = "block"  # never send (phone, e-mail, street address, coordinates)
    REVIEW = "review"  # a person decides (family names and ages, city of residence)


@dataclass(frozen=True, slots=True)
class PiiFinding:
    kind: str
    text: str
    severity: Severity


_NAME = r"[A-ZÀ-Ý][a-zà-ÿ]+(?:[- ][A-ZÀ-Ý][a-zà-ÿ]+)?"
_NOT_NAMES = frozenset(
    """I And But The So Is Was Oh Lol Haha Yes No Et Mais Donc Ou Le La Les Un Une Merci
    Thanks""".split()  # noqa: SIM905
)
_EN_RELATIVES = (
    r"(?:sister|brother|sis|bro|mom|mum|mother|dad|father|son|daughter|kids?|children|husband|wife|"
    r"fianc[ée]e?|boyfriend|girlfriend|partner|niece|nephew|grandma|grandpa|grandmother|"
    r"grandfather|"
    r"cousin|aunt|uncle|baby|stepson|stepdaughter)"
)
_FR_RELATIVES = (
    r"(?:sœur|soeur|frère|frere|mère|mere|maman|père|pere|papa|fils|fille|enfants?|mari|femme|"
    r"copain|"
    r"copine|chéri|chérie|neveu|nièce|niece|cousine?|grand-mère|grand-père|mamie|papi|bébé|bebe|"
    r"fiancée?|conjoint|conjointe)"
)

_EXACT_LOCATION = re.compile(
    r"(?i)\b(?:I live at|my (?:home |house |real )?address is|my (?:house|apartment|flat) is at|"
    r"you can find me at|come to my (?:house|place|apartment) at|mon adresse(?:,)? (?:est|c'est)|"
    r"j'habite (?:au )?\d+|j'habite (?:rue|avenue|boulevard|place|impasse|allée|chemin|quai))"
)
_STREET_EN = re.compile(
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\.?\s+){1,3}(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|"
    r"Boulevard|Blvd\.?|Lane|Ln\.?|Drive|Dr\.?|Court|Ct\.?|Place|Pl\.?|Terrace|Way|Square|Close|"
    r"Crescent|Parkway|Highway|Hwy\.?)(?![a-z])"
)
_STREET_FR = re.compile(
    r"\b\d{1,4}\s*(?:bis|ter)?,?\s+(?i:rue|avenue|av\.|boulevard|bd|place|impasse|allée|allee|"
    r"chemin|"
    r"quai|cours|route|square|passage|villa|cité|cite|rond-point)\s+(?:de la |de l'|du |des |de |"
    r"d')?"
    r"[A-ZÀ-Ý][\w'-]+"
)
_POSTCODE_CITY = re.compile(
    r"\b(?:0[1-9]|[1-8]\d|9[0-5]|2[AB])\d{3}\s+[A-ZÀ-Ý][a-zà-ÿ'-]+"  # 75011 Paris
    r"|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"  # NY 10001
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}\b"  # NW1 6XE
)
_GPS = re.compile(
    r"-?\b\d{1,2}\.\d{3,}\s*,\s*-?\d{1,3}\.\d{3,}\b"
    r"|\b\d{1,3}°\s*\d{1,2}['′]\s*(?:\d{1,2}(?:\.\d+)?[\"″])?\s*[NSEW]\b"
)
_RESIDENCE = re.compile(
    r"\b(?:I live|I'm living|I am living|we live|I moved|we moved|my (?:house|home|apartment|"
    r"flat) is|"
    r"(?i:j'habite|je vis|on habite|nous habitons|j'ai emménagé|on vit|mon appart(?:ement)? est)) "
    r"(?:in|to|on|near|next to|à|a|au|aux|en|dans|près de|pres de|à côté de) (?:the |la |le |l')?"
    rf"({_NAME}(?: {_NAME})*)"
)
_FAMILY_NAME = re.compile(
    rf"\b(?:[Mm]y (?:little |big |older |younger |baby |twin |step)?{_EN_RELATIVES}"
    r"(?:'s name is|,| is named| named| called| is called)?"
    rf"|(?:[Mm]a|[Mm]on|[Mm]es) (?:petite |grande |petit |grand |demi-)?{_FR_RELATIVES}"
    r"(?:,| qui s'appelle| s'appelle| nommée?| prénommée?)?)"
    rf" ({_NAME})"
)
_FAMILY_AGE = re.compile(
    rf"\b[Mm]y (?:\w+ )?{_EN_RELATIVES}(?: is| turns| turned| just turned|, who is| are)"
    r" (\d{1,2})(?: years? old| yo)?\b"
    rf"|\b(\d{{1,2}})[- ]year[- ]old {_EN_RELATIVES}\b"
    rf"|\b(?:[Mm]on|[Mm]a|[Mm]es) (?:\w+ )?{_FR_RELATIVES} (?:a|ont|aura|va avoir|vient d'avoir)"
    r" (\d{1,2}) ans"
)
_INSTITUTION = re.compile(
    r"\b(?:born|né|née|delivered) (?:at|in|à) (?:the |l')?(?:[A-ZÀ-Ý][\w'-]+ ){0,3}"
    r"(?:[Hh]ospital|[Cc]linic|[Mm]aternity)"
    r"|\b(?:[Hh]ospital|[Hh]ôpital|[Cc]linique|[Cc]linic|[Mm]aternité|[Ss]chool|[Éé]cole|"
    r"[Cc]ollège|"
    r"[Ll]ycée|[Cc]rèche) (?:de |du |des |de la |d'|of )?[A-ZÀ-Ý][\w'-]+"
    r"|\b[A-Z][\w'-]+ (?:[A-Z][\w'-]+ )?(?:Hospital|Elementary|High School|Primary School|Academy|"
    r"Clinic|Kindergarten)\b"
)
_DIGIT = re.compile(r"\d")


def find_personal_data(reply: str, boundaries: Boundaries) -> list[PiiFinding]:
    """Unpublished personal data in `reply`, most severe first."""
    findings: list[PiiFinding] = []

    def add(kind: str, text: str, severity: Severity, published: bool) -> None:
        if not published:
            findings.append(PiiFinding(kind, text.strip(), severity))

    for m in EMAIL.finditer(reply):
        email = m.group(0)
        add(
            "email",
            email,
            Severity.BLOCK,
            email.casefold() in boundaries.published_emails or boundaries.published(email),
        )
    for m in PHONE.finditer(reply):
        number = m.group(0)
        digits = "".join(_DIGIT.findall(number))
        if len(digits) >= 9 or (len(digits) == 7 and "-" in number):
            add("phone", number, Severity.BLOCK, digits in boundaries.published_phone_digits)
    for kind, pattern in (
        ("exact_location", _EXACT_LOCATION),
        ("street_address", _STREET_EN),
        ("street_address", _STREET_FR),
        ("postcode", _POSTCODE_CITY),
        ("coordinates", _GPS),
    ):
        for m in pattern.finditer(reply):
            add(kind, m.group(0), Severity.BLOCK, boundaries.published(m.group(0)))
    for m in _RESIDENCE.finditer(reply):
        add("residence", m.group(0), Severity.REVIEW, boundaries.published_word(m.group(1)))
    for m in _FAMILY_NAME.finditer(reply):
        name = m.group(1)
        if name.split("-")[0].split()[0] in _NOT_NAMES:
            continue
        add(
            "family_name",
            m.group(0),
            Severity.REVIEW,
            boundaries.published_word(name) or boundaries.published(m.group(0)),
        )
    for m in _FAMILY_AGE.finditer(reply):
        add("family_age", m.group(0), Severity.REVIEW, boundaries.published(m.group(0)))
    for m in _INSTITUTION.finditer(reply):
        add("institution", m.group(0), Severity.REVIEW, boundaries.published(m.group(0)))
    findings.sort(key=lambda f: f.severity is not Severity.BLOCK)
    return findings
