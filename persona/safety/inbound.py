"""Inbound moderation: decide what happens to a fan message before the model sees it.

Layers, cheapest and most certain first: bilingual lexicons over obfuscation-resistant views
(minors, self-harm, threats, injection, scams, sexual content, abuse, spam, links, boundaries,
identity questions), then two trained bilingual models (distress, and the fan's intent) for
phrasings the lexicons miss, then the packaged English classifier. A model-backed judge, when the
engine supplies one, is consulted only for the decisions these layers mark as unsure.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Literal

from persona.safety import lexicons as lx
from persona.safety.boundaries import Boundaries
from persona.safety.classifier import profanity_probability
from persona.safety.decisions import (
    InboundAction,
    InboundCategory,
    InboundDecision,
    LlmJudge,
    ReplyTemplate,
    log_decision,
)
from persona.safety.distress import DISTRESS_THRESHOLD, distress_probability
from persona.safety.intent import classify_intent
from persona.safety.language import guess_lang
from persona.safety.normalize import TextViews, first_match
from persona.safety.topics import find_forbidden_topic

logger = logging.getLogger("persona.safety")

A, C = InboundAction, InboundCategory
JudgePolicy = Literal["unsure", "all_allowed"]

# alt-profanity-check thresholds, read off its scores on our warm and red-team sets.
CLASSIFIER_OFFENSIVE = 0.9
CLASSIFIER_UNSURE = 0.5
CLASSIFIER_TOO_CLEAN = 0.15
# English model: also tried on short texts with no telling words ("go screw yourself").
_CLASSIFIER_LANGS = frozenset({"en", "und"})

HINT_PERSONAL_DATA = (
    "The fan asks for private details (address, phone, family, whereabouts). Share none that the "
    "creator has not published; decline warmly and keep the conversation going."
)
HINT_COMMITMENT = (
    "The fan asks for a promise, money, a gift, a discount or a meeting. Promise nothing that is "
    "not in the creator's posts or allowed offers."
)

_SECOND_PERSON = re.compile(
    r"(?<![a-z'])(?:(?:you|u|ur|your|you're|youre|ya|tu|ton|ta|tes|toi|vous|votre|vos)(?![a-z])|t')"
)
_QUESTION = re.compile(
    r"\?|^(?:who|what|when|where|why|how|which|do|does|did|are|is|can|will|would|have|qui|que|quoi|"
    r"quand|ou|pourquoi|comment|quel|quelle|est-ce)\b"
)
_DIGITS = re.compile(r"\d")


def moderate_inbound(
    text: str,
    boundaries: Boundaries | None = None,
    *,
    lang: str | None = None,
    judge: LlmJudge | None = None,
    judge_policy: JudgePolicy = "unsure",
    use_classifier: bool = True,
) -> InboundDecision:
    """Decide what the reply engine does with a fan message; logs the decision.

    `lang` is the fan's language when the channel knows it ("en", "fr"...); otherwise it is
    guessed. `judge` is called when the decision has `needs_llm_judge`; with
    `judge_policy="all_allowed"` it also reviews every message the cheap layers let through
    (one model call per ordinary message: the lexicons miss phrasings they have never seen).
    """
    resolved_lang = lang or guess_lang(text)
    decision = _first_layers(text, boundaries or Boundaries(), resolved_lang, use_classifier)
    wants_judge = decision.needs_llm_judge or (
        judge_policy == "all_allowed" and decision.action is A.ALLOW
    )
    if wants_judge and judge is not None:
        decision = _consult(judge, text, decision)
    log_decision("inbound", text, decision.to_meta())
    return decision


def _decision(
    action: InboundAction,
    category: InboundCategory,
    reason: str,
    confidence: float,
    lang: str,
    *,
    evidence: str | None = None,
    layer: str = "lexicon",
    needs_llm_judge: bool = False,
    reply_template: ReplyTemplate | None = None,
    alert_creator: bool = False,
    hint: str | None = None,
) -> InboundDecision:
    return InboundDecision(
        action=action,
        category=category,
        reason=reason,
        confidence=round(confidence, 3),
        needs_llm_judge=needs_llm_judge,
        reply_template=reply_template,
        alert_creator=alert_creator,
        hint=hint,
        lang=lang,
        layer=layer,
        evidence=(evidence,) if evidence else (),
    )


def _first_layers(
    text: str, boundaries: Boundaries, lang: str, use_classifier: bool
) -> InboundDecision:
    views = TextViews(text)
    if not views.folded:
        return _decision(A.ALLOW, C.OK, "empty message", 1.0, lang, layer="default")
    joking = lx.JOKE_MARKERS.search(views.folded) is not None

    def hit(pattern: re.Pattern[str]) -> str | None:
        return first_match(pattern, views)

    # 1. Anything sexual with signs of a minor: strict, no joke exemption, no judge.
    if found := hit(lx.MINOR_SEXUAL):
        return _decision(
            A.ESCALATE,
            C.MINOR_SEXUAL,
            "sexualised reference to minors",
            0.95,
            lang,
            evidence=found,
            alert_creator=True,
        )
    minor = hit(lx.MINOR)
    if minor and (cue := hit(lx.SEXUAL) or hit(lx.SEXUAL_CUE)):
        return _decision(
            A.ESCALATE,
            C.MINOR_SEXUAL,
            f"sexual or romantic content ({cue!r}) from or about a possible minor ({minor!r})",
            0.9,
            lang,
            evidence=f"{minor} | {cue}",
            alert_creator=True,
        )

    # 2. Self-harm: always a caring reply and an alert; a joke marker only lowers confidence.
    if found := hit(lx.SELF_HARM):
        return _decision(
            A.ESCALATE,
            C.SELF_HARM,
            "self-harm or suicide signal",
            0.7 if joking else 0.9,
            lang,
            evidence=found,
            alert_creator=True,
            needs_llm_judge=joking,
            reply_template=ReplyTemplate.SELF_HARM_SUPPORT,
        )
    if found := hit(lx.SELF_HARM_SOFT):
        if joking:
            return _decision(
                A.ALLOW,
                C.SELF_HARM,
                "distress wording that reads as hyperbole",
                0.5,
                lang,
                evidence=found,
                needs_llm_judge=True,
            )
        return _decision(
            A.ESCALATE,
            C.SELF_HARM,
            "possible distress",
            0.6,
            lang,
            evidence=found,
            alert_creator=True,
            needs_llm_judge=True,
            reply_template=ReplyTemplate.SELF_HARM_SUPPORT,
        )

    # 3. Threats against the creator.
    if found := hit(lx.THREAT_STRONG):
        return _decision(
            A.ESCALATE,
            C.THREAT,
            "threat against the creator",
            0.9,
            lang,
            evidence=found,
            alert_creator=True,
        )
    if found := hit(lx.THREAT):
        if joking:
            return _decision(
                A.ALLOW,
                C.THREAT,
                "violent wording with laughter, likely a joke",
                0.5,
                lang,
                evidence=found,
                needs_llm_judge=True,
            )
        return _decision(
            A.ESCALATE,
            C.THREAT,
            "threat against the creator",
            0.75,
            lang,
            evidence=found,
            alert_creator=True,
        )

    # 4. Attempts to steer the double: rule changes, prompt or data extraction, dictation.
    if found := hit(lx.INJECTION):
        return _decision(
            A.BLOCK,
            C.INJECTION,
            "attempt to change the rules or extract the prompt, settings or other fans' data",
            0.9,
            lang,
            evidence=found,
            reply_template=ReplyTemplate.INJECTION_DEFLECT,
        )
    if found := hit(lx.DICTATION) or _dictated_quote(views):
        return _decision(
            A.BLOCK,
            C.DICTATED_STATEMENT,
            "asks the double to say a dictated statement",
            0.85,
            lang,
            evidence=found,
            reply_template=ReplyTemplate.INJECTION_DEFLECT,
        )

    # 5. Scams, sexual content, abuse, spam.
    if found := hit(lx.SCAM):
        return _decision(A.BLOCK, C.SCAM, "scam or money bait", 0.85, lang, evidence=found)
    if found := hit(lx.SEXUAL):
        return _decision(A.BLOCK, C.SEXUAL, "explicit sexual content", 0.85, lang, evidence=found)
    if found := hit(lx.ABUSE):
        unsure = (
            use_classifier
            and lang in _CLASSIFIER_LANGS
            and (profanity_probability(text) < CLASSIFIER_TOO_CLEAN)
        )
        reason = "insult or harassment"
        if unsure:
            reason += " (lexicon match, but the classifier finds the text clean)"
        return _decision(
            A.BLOCK,
            C.ABUSE,
            reason,
            0.65 if unsure else 0.85,
            lang,
            evidence=found,
            needs_llm_judge=unsure,
        )
    if found := hit(lx.ABUSE_SOFT):
        return _decision(
            A.ALLOW if joking else A.BLOCK,
            C.ABUSE,
            "hostile wording, " + ("likely a joke" if joking else "aimed at the creator"),
            0.5,
            lang,
            evidence=found,
            needs_llm_judge=True,
        )
    if found := hit(lx.SPAM):
        return _decision(A.BLOCK, C.SPAM, "spam or self-promotion", 0.8, lang, evidence=found)
    if found := _unlisted_link(views, boundaries):
        return _decision(A.BLOCK, C.LINK, "link to an unapproved site", 0.75, lang, evidence=found)
    if found := _contact_details(text):
        return _decision(
            A.BLOCK,
            C.CONTACT_INFO,
            "phone number or e-mail in a fan message",
            0.7,
            lang,
            evidence=found,
        )

    # 6. Creator boundaries.
    if topic := find_forbidden_topic(views, boundaries):
        name, found = topic
        if _asks_the_creator(views.folded):
            return _decision(
                A.SAFE_REPLY,
                C.FORBIDDEN_TOPIC,
                f"asks about a forbidden topic: {name}",
                0.8,
                lang,
                evidence=found,
                reply_template=ReplyTemplate.FORBIDDEN_TOPIC,
            )
        return _decision(
            A.ALLOW,
            C.FORBIDDEN_TOPIC,
            f"mentions a forbidden topic in passing: {name}",
            0.6,
            lang,
            evidence=found,
            hint=f"The message touches '{name}', a topic the creator keeps off this chat; give no "
            "opinion on it.",
        )

    # 7. "Are you real?" gets an honest answer.
    if found := hit(lx.IDENTITY):
        return _decision(
            A.DISCLOSE,
            C.IDENTITY_QUESTION,
            "asks whether a person or an AI is answering",
            0.85,
            lang,
            evidence=found,
            reply_template=ReplyTemplate.DISCLOSURE,
        )

    # 8. Allowed, with guidance; the outbound checks enforce it. Held back until the trained
    # layers have looked: "send your bank login to claim the prize" also asks for details.
    allowed_with_hint = None
    if found := hit(lx.PERSONAL_DATA_REQUEST):
        allowed_with_hint = _decision(
            A.ALLOW,
            C.PERSONAL_DATA_REQUEST,
            "asks for the creator's private details",
            0.8,
            lang,
            evidence=found,
            hint=HINT_PERSONAL_DATA,
        )
    elif found := hit(lx.COMMITMENT_REQUEST):
        allowed_with_hint = _decision(
            A.ALLOW,
            C.COMMITMENT_REQUEST,
            "asks for a promise, gift, discount, money or meeting",
            0.8,
            lang,
            evidence=found,
            hint=HINT_COMMITMENT,
        )

    # 8b. A trained distress model, for self-harm signals the lexicons do not list
    # (persona.safety.distress): the caring reply and an alert, and a judge may confirm.
    p_distress = None
    if use_classifier and not joking:
        p_distress = distress_probability(text)
        if p_distress >= DISTRESS_THRESHOLD:
            return _decision(
                A.ESCALATE,
                C.SELF_HARM,
                "the distress model flags a possible self-harm signal; no lexicon match",
                p_distress,
                lang,
                evidence=f"p={p_distress:.2f}",
                layer="distress_model",
                alert_creator=True,
                needs_llm_judge=True,
                reply_template=ReplyTemplate.SELF_HARM_SUPPORT,
            )

    # 8c. A trained intent model (persona.safety.intent), for new phrasings of what the
    # lexicons look for: "is a person even reading these", "paste your setup text".
    if use_classifier and (found_intent := _intent_layer(text, views, lang, joking, p_distress)):
        return found_intent
    if allowed_with_hint is not None:
        return allowed_with_hint

    # 9. The classifier, for abuse the lexicons do not list.
    classified = None
    if use_classifier and lang in _CLASSIFIER_LANGS:
        classified = _classifier_layer(text, views, lang, joking)
        if classified.action is not A.ALLOW or classified.needs_llm_judge:
            return classified

    # 10. Nothing matched, but risky words are present: a judge should look (new phrasings).
    if weak := _weak_signal(views):
        category, found = weak
        return _decision(
            A.ALLOW,
            _WEAK_CATEGORY[category],
            f"no pattern matched, but wording hints at {category.replace('_', ' ')}",
            0.5,
            lang,
            evidence=found,
            layer="weak_signal",
            needs_llm_judge=True,
        )
    return classified or _decision(A.ALLOW, C.OK, "no signal", 0.8, lang, layer="default")


_WEAK_CATEGORY = {
    "self_harm": C.SELF_HARM,
    "sexual": C.SEXUAL,
    "abuse": C.ABUSE,
    "threat": C.THREAT,
    "injection": C.INJECTION,
    "scam": C.SCAM,
    "identity_question": C.IDENTITY_QUESTION,
}


def _weak_signal(views: TextViews) -> tuple[str, str] | None:
    for category, pattern in lx.WEAK_SIGNALS.items():
        if found := first_match(pattern, views):
            return category, found
    return None


def _classifier_layer(text: str, views: TextViews, lang: str, joking: bool) -> InboundDecision:
    p = profanity_probability(text)
    evidence = f"p={p:.2f}"
    if p >= CLASSIFIER_OFFENSIVE:
        positive = joking or lx.POSITIVE_CONTEXT.search(views.folded) is not None
        if _SECOND_PERSON.search(views.folded) and not positive:
            return _decision(
                A.BLOCK,
                C.ABUSE,
                "classifier flags offensive language aimed at the creator; no lexicon match",
                0.6 + 0.3 * p,
                lang,
                evidence=evidence,
                layer="classifier",
                needs_llm_judge=True,
            )
        return _decision(
            A.ALLOW,
            C.OK,
            "classifier flags profanity, but it is untargeted or reads as praise",
            0.6,
            lang,
            evidence=evidence,
            layer="classifier",
            needs_llm_judge=True,
        )
    if p >= CLASSIFIER_UNSURE:
        return _decision(
            A.ALLOW,
            C.OK,
            "classifier unsure",
            0.55,
            lang,
            evidence=evidence,
            layer="classifier",
            needs_llm_judge=True,
        )
    return _decision(
        A.ALLOW, C.OK, "no signal", 1.0 - p, lang, evidence=evidence, layer="classifier"
    )


# What each intent of the trained model leads to: action, category, reason, ready reply, alert.
_INTENT_DECISIONS: dict[
    str, tuple[InboundAction, InboundCategory, str, ReplyTemplate | None, bool]
] = {
    "harassment": (A.BLOCK, C.ABUSE, "insult or harassment", None, False),
    "sexual": (A.BLOCK, C.SEXUAL, "sexual content", None, False),
    "threat": (A.ESCALATE, C.THREAT, "threat against the creator", None, True),
    "injection": (
        A.BLOCK,
        C.INJECTION,
        "attempt to change the rules or extract the prompt, settings or other fans' data",
        ReplyTemplate.INJECTION_DEFLECT,
        False,
    ),
    "dictation": (
        A.BLOCK,
        C.DICTATED_STATEMENT,
        "asks the double to say a dictated statement",
        ReplyTemplate.INJECTION_DEFLECT,
        False,
    ),
    "identity": (
        A.DISCLOSE,
        C.IDENTITY_QUESTION,
        "asks whether a person or an AI is answering",
        ReplyTemplate.DISCLOSURE,
        False,
    ),
    "scam": (A.BLOCK, C.SCAM, "scam, phishing or paid-promotion bait", None, False),
    "self_harm": (
        A.ESCALATE,
        C.SELF_HARM,
        "possible self-harm signal",
        ReplyTemplate.SELF_HARM_SUPPORT,
        True,
    ),
}
# With laughter, the model's abuse and threats read like the soft lexicons' hits: let through,
# and a judge decides ("you're the worst, I'm crying 😂").
_INTENT_JOKE_SOFTENED = frozenset({"harassment", "threat"})
# Steering attempts the model must see corroborated by one weak injection cue before a block.
_INTENT_NEEDS_CUE = frozenset({"injection"})


def _intent_layer(
    text: str, views: TextViews, lang: str, joking: bool, p_distress: float | None
) -> InboundDecision | None:
    verdict = classify_intent(text)
    if not verdict.flagged:
        return None
    action, category, reason, template, alert = _INTENT_DECISIONS[verdict.label]
    p = verdict.probability
    evidence = f"{verdict.label} p={p:.2f}"
    if verdict.label == "self_harm" and p_distress is not None:
        evidence += f", distress p={p_distress:.2f}"
    reason = f"the intent model reads {reason}; no lexicon match"
    if verdict.label in _INTENT_NEEDS_CUE and not first_match(lx.WEAK_SIGNALS["injection"], views):
        # Alone, the model over-reads plain words ("my first message to you!", "tell me
        # everything about your new book"): a deflection would snub a sincere fan. Without
        # one word about rules, prompts, settings or the like, let it through for a judge.
        return _decision(
            A.ALLOW,
            category,
            f"{reason}, but no word about rules, prompts or settings",
            0.5,
            lang,
            evidence=evidence,
            layer="intent_model",
            needs_llm_judge=True,
        )
    if joking and verdict.label in _INTENT_JOKE_SOFTENED:
        return _decision(
            A.ALLOW,
            category,
            f"{reason}, but with laughter: likely a joke",
            0.5,
            lang,
            evidence=evidence,
            layer="intent_model",
            needs_llm_judge=True,
        )
    # Identity and injection need no second opinion (an honest answer or a deflection is
    # harmless when wrong); the others rely on one model of ~3,300 examples: a judge may look.
    unsure = verdict.label not in ("identity", "injection", "dictation")
    return _decision(
        action,
        category,
        reason,
        0.7 * p if joking else p,
        lang,
        evidence=evidence,
        layer="intent_model",
        needs_llm_judge=unsure or joking,
        reply_template=template,
        alert_creator=alert,
    )


def _dictated_quote(views: TextViews) -> str | None:
    """A quoted line to say word for word, unless it is a short greeting ("say 'hi' to mom")."""
    for view in views.variants:
        for match in lx.QUOTED_DICTATION.finditer(view):
            quote = match.group(1).strip()
            words = quote.split()
            if len(words) <= 6 and lx.HARMLESS_QUOTE.search(quote):
                continue
            return match.group(0)
    return None


def _unlisted_link(views: TextViews, boundaries: Boundaries) -> str | None:
    allowed = [d.casefold().removeprefix("www.") for d in boundaries.allowed_link_domains]
    for match in lx.URL.finditer(views.folded):
        url = match.group(0)
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url).split("/")[0].split(":")[0]
        if not any(host == d or host.endswith("." + d) for d in allowed):
            return url
    return None


def _contact_details(text: str) -> str | None:
    if found := lx.EMAIL.search(text):
        return found.group(0)
    for match in lx.PHONE.finditer(text):
        digits = len(_DIGITS.findall(match.group(0)))
        if digits >= 9 or (digits == 7 and "-" in match.group(0)):
            return match.group(0)
    return None


def _asks_the_creator(folded: str) -> bool:
    return bool(_QUESTION.search(folded)) and bool(_SECOND_PERSON.search(folded))


def _consult(judge: LlmJudge, text: str, first: InboundDecision) -> InboundDecision:
    try:
        verdict = judge.judge(text)
    except Exception:  # a failing judge must not take moderation down with it
        logger.warning("LLM judge failed; keeping the first layers' decision", exc_info=True)
        return first
    if not isinstance(verdict, InboundDecision):
        logger.warning("LLM judge returned %r, not an InboundDecision; ignored", type(verdict))
        return first
    if verdict.action is A.ALLOW and first.action is A.ALLOW:
        # The judge confirms a pass: the first layers' category and hint still guide the
        # engine (a personal-data request is answered from the posts only).
        verdict = replace(verdict, category=first.category, hint=first.hint or verdict.hint)
    return replace(
        verdict,
        layer="llm_judge",
        needs_llm_judge=False,
        lang=verdict.lang if verdict.lang != "und" else first.lang,
        reason=f"{verdict.reason} (first layers: {first.category.value}: {first.reason})",
    )
