"""Outbound guardrails: the last check on a generated reply before a fan sees it.

Enforced in code, whatever the prompt said: no prompt leak, no claim to be human, no sexual
or abusive wording, no unpublished personal data, no promise the creator did not make, no
forbidden topic or statement, no assistant boilerplate, and, in strict mode, the creator's
no-answer message instead of an unsupported answer to a factual question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from persona.safety.boundaries import Boundaries
from persona.safety.commitments import find_commitments
from persona.safety.decisions import (
    OutboundAction,
    OutboundCategory,
    OutboundDecision,
    log_decision,
)
from persona.safety.grounding import grounded, is_factual_question
from persona.safety.lexicons import ABUSE, SEXUAL
from persona.safety.normalize import TextViews, first_match, fold
from persona.safety.pii import Severity, find_personal_data
from persona.safety.replies import LabelSetting, ai_metadata, apply_label
from persona.safety.topics import find_forbidden_topic

Act, Cat = OutboundAction, OutboundCategory

_LEAK_MARKERS = re.compile(
    r"(?<![a-z])(?:system prompt|system message|my system|my (?:hidden|secret|original|initial) "
    r"(?:instructions|rules|prompt)|(?:i was|i have been|i've been|i am|i'm) (?:instructed|"
    r"programmed|told) "
    r"(?:to|not to)|according to my (?:instructions|guidelines|rules|prompt)|my guidelines|my "
    r"prompt|"
    r"prompt (?:du )?systeme|mes consignes|selon mes (?:instructions|consignes|regles)|"
    r"on m'a (?:programme|demande|dit) de ne pas|je suis programme\w*|mes instructions (?:sont|"
    r"disent))"
    r"(?![a-z])"
)
_BOILERPLATE = re.compile(
    r"(?<![a-z])(?:as an ai(?: language model| assistant| model)?|as a language model|"
    r"(?:i'm|i am) (?:just |only )?(?:an |a )?(?:ai |artificial intelligence )?(?:language model|"
    r"ai assistant|"
    r"virtual assistant|chatbot|large language model)|i don't have personal (?:opinions|"
    r"experiences|feelings)|"
    r"i (?:cannot|can't) browse|feel free to (?:ask|reach out)|how (?:can|may) i (?:assist|help) "
    r"you|"
    r"is there anything else i can (?:help|assist)|i hope this helps|i am qwen|i'm qwen|created "
    r"by alibaba|"
    r"developed by (?:openai|alibaba|anthropic|google|meta)|as chatgpt|en tant qu'(?:ia|"
    r"intelligence "
    r"artificielle|assistant|modele de langage)|je suis (?:un |une )?(?:modele de langage|"
    r"assistant virtuel|"
    r"assistante virtuelle|ia (?:developpee|creee) par)|n'hesite(?:z)? pas a (?:me )?(?:demander|"
    r"poser|"
    r"contacter)|comment puis-je (?:vous|t') ?aider|je suis la pour (?:vous|t') ?aider)(?![a-z])"
)
_HUMAN_CLAIM = re.compile(
    r"(?<![a-z])(?:(?:i'm|i am|im) (?:not|no) (?:a |an )?(?:bot|robot|ai|machine|program)|"
    r"(?:it'?s|this is) (?:really|actually|truly|100%|totally) me|it'?s really me|"
    r"(?:i'm|i am|im) (?:a )?real (?:person|human|girl|guy|woman|man)|"
    r"(?:i'm|i am) (?:a )?human(?! too)|"
    r"not an ai|no ai here|100% (?:me|human)|c'est (?:bien|vraiment|vraiment bien) moi|"
    r"je ne suis pas (?:un bot|une ia|un robot|une machine)|je suis (?:une )?vraie personne|"
    r"je suis (?:un )?(?:humain|humaine)|pas une ia)(?![a-z])"
)
_SENTENCES = re.compile(r"[^.!?\n]+")
_WORDS = re.compile(r"[a-z0-9']+")
_STATEMENT_STOP = frozenset(
    """i i'm im am is are a an the my me to of and or in on at it this that be will""".split()  # noqa: SIM905
)


@dataclass
class OutboundContext:
    """What the engine knows when it checks a reply."""

    boundaries: Boundaries
    question: str = ""  # the fan's message
    lang: str = "en"
    creator_display_name: str = ""
    system_prompt: str = ""
    sources: Sequence[str] = ()  # retrieved posts the reply may rely on
    strict: bool = False  # creator's strict mode: no-answer message instead of unsupported facts
    retrieval_score: float | None = None  # best similarity of the retrieved sources
    min_retrieval_score: float = 0.0
    grounding_threshold: float = 0.6
    label_setting: LabelSetting | str = LabelSetting.METADATA
    leak_ngram: int = 8  # words in a row shared with the system prompt that count as a leak
    extra_meta: dict[str, object] = field(default_factory=dict)


def check_outbound(reply: str, ctx: OutboundContext) -> OutboundDecision:
    """Decide whether `reply` may go out; `decision.text` is what to deliver."""
    decision = _check(reply, ctx)
    log_decision("outbound", reply, decision.to_meta())
    return decision


def _check(reply: str, ctx: OutboundContext) -> OutboundDecision:
    meta = {
        **ai_metadata(
            ctx.label_setting, lang=ctx.lang, creator_display_name=ctx.creator_display_name
        ),
        **ctx.extra_meta,
    }

    def stop(
        category: OutboundCategory,
        reason: str,
        evidence: Sequence[str] = (),
        *,
        action: OutboundAction = Act.BLOCK,
        regenerate: bool = True,
    ) -> OutboundDecision:
        return OutboundDecision(action, category, reason, "", regenerate, tuple(evidence), meta)

    text = reply.strip()
    if not text:
        return stop(Cat.EMPTY, "empty reply")
    folded = fold(text)
    b = ctx.boundaries

    # 1. The system prompt and the double's nature stay private and honest.
    if leak := _prompt_leak(folded, ctx):
        return stop(Cat.PROMPT_LEAK, "reply reveals the system prompt or instructions", [leak])
    if claim := _HUMAN_CLAIM.search(folded):
        return stop(Cat.FALSE_HUMAN_CLAIM, "reply claims to be human", [claim.group(0)])
    views = TextViews(text)
    if found := first_match(SEXUAL, views) or first_match(ABUSE, views):
        return stop(Cat.UNSAFE_CONTENT, "reply contains sexual or abusive wording", [found])

    # 2. Personal data and promises the creator has not published.
    if pii := find_personal_data(text, b):
        worst = pii[0]
        action = Act.BLOCK if worst.severity is Severity.BLOCK else Act.HOLD_FOR_REVIEW
        kinds = ", ".join(sorted({f.kind for f in pii}))
        return stop(
            Cat.PERSONAL_DATA,
            f"unpublished personal data ({kinds})",
            [f.text for f in pii],
            action=action,
        )
    if promises := find_commitments(text, b):
        kinds = ", ".join(sorted({f.kind for f in promises}))
        return stop(
            Cat.COMMITMENT,
            f"promise not in the creator's posts or offers ({kinds})",
            [f.text for f in promises],
        )

    # 3. The creator's boundaries.
    if statement := _forbidden_statement(folded, b.forbidden_statements):
        return stop(
            Cat.FORBIDDEN_STATEMENT, "reply makes a statement the creator forbids", [statement]
        )
    if topic := find_forbidden_topic(views, b):
        return stop(
            Cat.FORBIDDEN_TOPIC, f"reply discusses a forbidden topic: {topic[0]}", [topic[1]]
        )

    # 4. Generic assistant voice: another candidate will sound more like the creator.
    if found := _BOILERPLATE.search(folded):
        return stop(
            Cat.ASSISTANT_BOILERPLATE,
            "assistant boilerplate, not the creator's voice",
            [found.group(0)],
        )

    # 5. Strict mode: a factual question needs support in the retrieved posts.
    if ctx.strict and is_factual_question(ctx.question, ctx.lang):
        weak_retrieval = (
            ctx.retrieval_score is not None and ctx.retrieval_score < ctx.min_retrieval_score
        )
        if (
            not ctx.sources
            or weak_retrieval
            or not grounded(text, ctx.sources, ctx.grounding_threshold, known=[ctx.question])
        ):
            return OutboundDecision(
                Act.REPLACE_WITH_NO_ANSWER,
                Cat.UNGROUNDED,
                "factual question without support in the creator's posts (strict mode)",
                _label(b.no_answer_for(ctx.lang), ctx),
                False,
                (),
                meta,
            )

    return OutboundDecision(
        Act.SEND, Cat.OK, "passed outbound checks", _label(text, ctx), False, (), meta
    )


def _label(text: str, ctx: OutboundContext) -> str:
    return apply_label(
        text, ctx.label_setting, lang=ctx.lang, creator_display_name=ctx.creator_display_name
    )


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _prompt_leak(folded_reply: str, ctx: OutboundContext) -> str | None:
    if found := _LEAK_MARKERS.search(folded_reply):
        return found.group(0)
    if not ctx.system_prompt or ctx.leak_ngram < 3:
        return None
    n = ctx.leak_ngram
    shared = _ngrams(_WORDS.findall(folded_reply), n) & _ngrams(
        _WORDS.findall(fold(ctx.system_prompt)), n
    )
    if not shared:
        return None
    # Posts quoted in the prompt as examples may be echoed: only the prompt's own text leaks.
    public = [ctx.boundaries.published_facts_text, *ctx.sources, ctx.question]
    for text in public:
        shared -= _ngrams(_WORDS.findall(fold(text)), n)
    return " ".join(min(shared)) if shared else None


_CONTRACTIONS = (
    ("i'm", "i am"),
    ("i'll", "i will"),
    ("i've", "i have"),
    ("i'd", "i would"),
    ("can't", "cannot"),
    ("won't", "will not"),
    ("don't", "do not"),
    ("isn't", "is not"),
    ("it's", "it is"),
    ("j'suis", "je suis"),
    ("t'es", "tu es"),
)


def _expand(folded: str) -> str:
    for short, full in _CONTRACTIONS:
        folded = re.sub(rf"(?<![a-z]){re.escape(short)}(?![a-z])", full, folded)
    return folded


def _forbidden_statement(folded_reply: str, statements: Sequence[str]) -> str | None:
    folded_reply = _expand(folded_reply)
    sentences = [set(_WORDS.findall(s)) for s in _SENTENCES.findall(folded_reply)]
    for statement in statements:
        target = _expand(fold(statement)).strip(" .!?")
        if not target:
            continue
        if re.search(rf"(?<![a-z]){re.escape(target)}(?![a-z])", folded_reply):
            return statement
        # Same content words in one sentence: "I am quitting YouTube" vs "I'm quitting YouTube".
        content = set(_WORDS.findall(target)) - _STATEMENT_STOP
        if len(content) >= 2 and any(content <= words for words in sentences):
            return statement
    return None
