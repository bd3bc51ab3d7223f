"""Ready replies (disclosure, self-harm support, deflections, no-answer) and the AI label.

Short, honest, never jokes where it matters. Each has a few variants per register (warm,
playful, formal) picked from the creator's `style_hint`; the choice is a hash of the creator
and `seed`, so the same fan gets the same wording and tests are reproducible. Every ready
reply exists in each of `SUPPORTED_LANGS` and follows the fan's language; `no_answer_text` is
the one place that picks the no-answer message (the creator's text for that language, or
ours).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from persona.safety.decisions import ReplyTemplate
from persona.safety.language import guess_lang
from persona.settings import CreatorSettings

SUPPORTED_LANGS = ("en", "fr", "es", "de", "it", "pt")

_DISCLOSURE: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "warm": (
            "I'm {name}'s AI double, not {name} in person. I write in {name}'s style, but I'm an "
            "AI.",
            "Honest answer: you're chatting with {name}'s AI, not {name} typing. Still happy to "
            "talk!",
            "Good question! This is {name}'s AI double answering. Same style, but I'm not {name}.",
        ),
        "playful": (
            "Busted 🤖 I'm {name}'s AI double, not {name} in person. Same vibe, different "
            "circuits!",
            "Ha, fair question! I'm {name}'s AI, not the real {name}. Still here to chat though ✨",
        ),
        "formal": (
            "To be transparent: you are talking with {name}'s AI assistant, not with {name} "
            "personally.",
            "Thank you for asking. These replies are written by {name}'s AI, not by {name} in "
            "person.",
        ),
    },
    "fr": {
        "warm": (
            "Je suis le double IA de {name}, pas {name} en personne. J'écris dans son style, mais "
            "je suis une IA.",
            "Pour être honnête : c'est l'IA de {name} qui te répond, pas {name} en direct. Mais je "
            "suis toujours là pour discuter !",
            "Bonne question ! C'est le double IA de {name} qui répond. Même style, mais je ne suis "
            "pas {name}.",
        ),
        "playful": (
            "Démasqué 🤖 Je suis le double IA de {name}, pas {name} en vrai. Même vibe, autres "
            "circuits !",
            "Ha, bonne question ! Je suis l'IA de {name}, pas {name} en personne. Mais je suis là "
            "pour papoter ✨",
        ),
        "formal": (
            "En toute transparence : vous échangez avec l'assistant IA de {name}, et non avec "
            "{name} en personne.",
            "Merci de poser la question. Ces réponses sont rédigées par l'IA de {name}, pas par "
            "{name} personnellement.",
        ),
    },
    "es": {
        "warm": ("Te lo digo con sinceridad: soy el doble de IA de {name}, no {name} en persona.",)
    },
    "de": {"warm": ("Ehrlich gesagt: Ich bin das KI-Double von {name}, nicht {name} persönlich.",)},
    "it": {"warm": ("Sinceramente: sono il doppio IA di {name}, non {name} in persona.",)},
    "pt": {"warm": ("Sinceramente: sou o duplo de IA de {name}, não {name} em pessoa.",)},
}

_SELF_HARM_OPENING: dict[str, tuple[str, ...]] = {
    "en": (
        "I'm really sorry you're going through this, and I'm glad you told me. You matter.",
        "Thank you for telling me. What you're feeling matters, and so do you.",
    ),
    "fr": (
        "Merci de me l'avoir confié, et je suis vraiment triste que tu traverses ça. Tu comptes.",
        "Merci de m'en parler. Ce que tu ressens compte, et toi aussi.",
    ),
    "es": ("Siento mucho que estés pasando por esto, y gracias por contármelo. Importas.",),
    "de": (
        "Es tut mir wirklich leid, dass es dir so geht, und danke, dass du es mir sagst. Du "
        "zählst.",
    ),
    "it": (
        "Mi dispiace davvero che tu stia passando tutto questo, e grazie per avermelo detto. Tu "
        "conti.",
    ),
    "pt": ("Sinto muito que estejas a passar por isto, e obrigado por me contares. Tu importas.",),
}
# National free lines as published by their operators; findahelpline.com covers the rest.
# Review these numbers before each release: they are the one part of a reply we must not get wrong.
_SELF_HARM_HELP: dict[str, str] = {
    "en": (
        "I'm {name}'s AI, so please reach out to someone who can be there for you right now: in "
        "the "
        "US or Canada, call or text 988; in the UK or Ireland, call Samaritans on 116 123; in "
        "France, "
        "call 3114; anywhere else, findahelpline.com lists free lines. If you are in immediate "
        "danger, call your local emergency number."
    ),
    "fr": (
        "Je suis l'IA de {name} : parle tout de suite à quelqu'un qui peut t'aider. En France, "
        "appelle le 3114 (gratuit, 24h/24) ; en Belgique, le 0800 32 123 ; en Suisse, le 143 ; au "
        "Canada, le 988 ; ailleurs, findahelpline.com. En cas de danger immédiat, appelle le 112."
    ),
    "es": (
        "Soy la IA de {name}: habla ahora con alguien que pueda ayudarte. En España, llama al 024; "
        "en otros países, busca en findahelpline.com. Si estás en peligro inmediato, llama al "
        "número de emergencias."
    ),
    "de": (
        "Ich bin die KI von {name}: Bitte sprich jetzt mit jemandem, der dir helfen kann. In "
        "Deutschland: Telefonseelsorge 0800 111 0 111; anderswo: findahelpline.com. In akuter "
        "Gefahr wähle 112."
    ),
    "it": (
        "Sono l'IA di {name}: parla subito con qualcuno che possa aiutarti. Trovi linee gratuite "
        "su "
        "findahelpline.com. Se sei in pericolo immediato, chiama il 112."
    ),
    "pt": (
        "Sou a IA de {name}: fala agora com alguém que te possa ajudar. No Brasil, CVV 188; em "
        "Portugal, SNS 24: 808 24 24 24; noutros países, findahelpline.com. Em perigo imediato, "
        "liga para o número de emergência."
    ),
}

_DEFLECT: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "warm": (
            "I can't change how I work or share what's behind the scenes, but I'm happy to keep "
            "chatting! What's on your mind?",
        ),
        "playful": (
            "Nice try 😄 My settings stay backstage. Anything else you want to chat about?",
        ),
        "formal": (
            "I'm not able to change my rules or share my configuration, but I'm glad to continue "
            "our conversation.",
        ),
    },
    "fr": {
        "warm": (
            "Je ne peux pas changer ma façon de fonctionner ni montrer les coulisses, mais je suis "
            "là pour discuter ! Qu'est-ce qui te ferait plaisir ?",
        ),
        "playful": ("Bien essayé 😄 Mes réglages restent en coulisses. On parle d'autre chose ?",),
        "formal": (
            "Je ne peux ni modifier mes règles ni partager ma configuration, mais je reste "
            "disponible pour échanger.",
        ),
    },
    "es": {
        "warm": (
            "No puedo cambiar cómo funciono ni enseñar lo que hay entre bastidores, ¡pero me "
            "encanta seguir charlando! ¿De qué te apetece hablar?",
        ),
    },
    "de": {
        "warm": (
            "Ich kann nicht ändern, wie ich funktioniere, und zeige auch nicht, was hinter den "
            "Kulissen steckt, aber ich plaudere gern weiter! Worüber möchtest du reden?",
        ),
    },
    "it": {
        "warm": (
            "Non posso cambiare il mio modo di funzionare né mostrare il dietro le quinte, ma "
            "chiacchiero volentieri! Di cosa ti va di parlare?",
        ),
    },
    "pt": {
        "warm": (
            "Não posso mudar a forma como funciono nem mostrar os bastidores, mas gosto muito de "
            "continuar a conversa! Sobre o que queres falar?",
        ),
    },
}
_FORBIDDEN_TOPIC: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "warm": (
            "That's a topic {name} keeps off this chat, so I'll pass on that one. Anything else "
            "you'd like to talk about?",
        ),
        "playful": ("Ooh, that one's off the menu here 🙊 Ask me about anything else!",),
        "formal": (
            "{name} prefers not to discuss that topic here. Happy to talk about something else.",
        ),
    },
    "fr": {
        "warm": (
            "C'est un sujet que {name} préfère garder hors de cette discussion, donc je passe mon "
            "tour. On parle d'autre chose ?",
        ),
        "playful": ("Oh, ça c'est un sujet qu'on laisse de côté ici 🙊 Demande-moi autre chose !",),
        "formal": (
            "{name} préfère ne pas aborder ce sujet ici. Avec plaisir pour parler d'autre chose.",
        ),
    },
    "es": {
        "warm": (
            "Es un tema que {name} prefiere dejar fuera de este chat, así que paso. ¿Hablamos de "
            "otra cosa?",
        ),
    },
    "de": {
        "warm": (
            "Über dieses Thema spricht {name} hier lieber nicht, deshalb lasse ich es aus. Worüber "
            "möchtest du sonst reden?",
        ),
    },
    "it": {
        "warm": (
            "È un argomento che {name} preferisce tenere fuori da questa chat, quindi passo. "
            "Parliamo d'altro?",
        ),
    },
    "pt": {
        "warm": (
            "É um tema que {name} prefere deixar fora desta conversa, por isso passo. Falamos de "
            "outra coisa?",
        ),
    },
}

# What fans get instead of an answer the double must not or cannot give, when the creator has
# not written their own for the fan's language (`no_answer_text`).
_NO_ANSWER: dict[str, str] = {
    "en": "I'll have to pass on that one here, sorry! Anything else you'd like to ask me?",
    "fr": "Celle-là, je préfère ne pas y répondre ici, désolé·e ! Tu as une autre question ?",
    "es": "Prefiero no responder a eso por aquí, ¡lo siento! ¿Quieres preguntarme otra cosa?",
    "de": "Darauf antworte ich hier lieber nicht, tut mir leid! Möchtest du etwas anderes wissen?",
    "it": "Preferisco non rispondere a questa domanda qui, scusami! Vuoi chiedermi altro?",
    "pt": "Prefiro não responder a isso por aqui, desculpa! Queres perguntar-me outra coisa?",
}


class LabelSetting(StrEnum):
    """Where a channel shows that a reply is AI-written (it is always in the metadata)."""

    METADATA = "metadata"  # metadata only (the channel's UI shows its own badge)
    TAG = "tag"  # "[AI] ..." before the text
    SIGNATURE = "signature"  # "... — Camille's AI" after the text


_LABELS = {
    "en": ("[AI]", "{name}'s AI", "AI reply on behalf of {name}"),
    "fr": ("[IA]", "l'IA de {name}", "réponse de l'IA au nom de {name}"),
    "es": ("[IA]", "la IA de {name}", "respuesta de la IA en nombre de {name}"),
    "de": ("[KI]", "die KI von {name}", "KI-Antwort im Namen von {name}"),
    "it": ("[IA]", "l'IA di {name}", "risposta dell'IA per conto di {name}"),
    "pt": ("[IA]", "a IA de {name}", "resposta da IA em nome de {name}"),
}


def _base(lang: str | None) -> str:
    return (lang or "").strip().split("-")[0].split("_")[0].casefold()


def _lang(lang: str | None) -> str:
    base = _base(lang)
    return base if base in SUPPORTED_LANGS else "en"


def _register(style_hint: str) -> str:
    hint = style_hint.casefold()
    if any(w in hint for w in ("formal", "vous", "professional", "poli", "soutenu", "courteous")):
        return "formal"
    if any(
        w in hint for w in ("playful", "fun", "emoji", "casual", "joyful", "enthusiastic", "humor")
    ):
        return "playful"
    return "warm"


def _pick(variants: tuple[str, ...], *keys: str) -> str:
    digest = hashlib.sha256("\x00".join(keys).encode()).digest()
    return variants[int.from_bytes(digest[:4], "big") % len(variants)]


def _name(creator_display_name: str) -> str:
    name = creator_display_name.strip()
    if not name:
        raise ValueError("creator_display_name is empty: pass the creator's display name")
    return name


def _variants(
    table: dict[str, dict[str, tuple[str, ...]]], lang: str, style_hint: str
) -> tuple[str, ...]:
    by_register = table.get(lang) or table["en"]
    return by_register.get(_register(style_hint)) or by_register["warm"]


def disclosure_reply(
    lang: str | None, creator_display_name: str, style_hint: str = "", *, seed: str = ""
) -> str:
    """Honest answer to "are you real / a bot?": the creator's AI, in the fan's language."""
    name = _name(creator_display_name)
    code = _lang(lang)
    variants = _variants(_DISCLOSURE, code, style_hint)
    return _pick(variants, "disclosure", code, name, style_hint, seed).format(name=name)


def self_harm_reply(lang: str | None, creator_display_name: str = "", *, seed: str = "") -> str:
    """A caring reply with real help lines; the same tone whatever the creator's style."""
    code = _lang(lang)
    opening = _pick(_SELF_HARM_OPENING[code], "self_harm", code, creator_display_name, seed)
    name = creator_display_name.strip()
    help_text = _SELF_HARM_HELP[code]
    if not name:  # still honest that an AI is answering
        generic = {"en": "the creator", "fr": "la personne que tu suis", "es": "la creadora",
                   "de": "der Creatorin", "it": "la creatrice", "pt": "a criadora"}  # fmt: skip
        name = generic[code]
    return f"{opening} {help_text.format(name=name)}"


def template_reply(
    key: ReplyTemplate | str,
    lang: str | None,
    creator_display_name: str,
    style_hint: str = "",
    *,
    seed: str = "",
) -> str:
    """Render the ready reply an `InboundDecision.reply_template` names."""
    template = ReplyTemplate(key)
    if template is ReplyTemplate.DISCLOSURE:
        return disclosure_reply(lang, creator_display_name, style_hint, seed=seed)
    if template is ReplyTemplate.SELF_HARM_SUPPORT:
        return self_harm_reply(lang, creator_display_name, seed=seed)
    table = _DEFLECT if template is ReplyTemplate.INJECTION_DEFLECT else _FORBIDDEN_TOPIC
    name = _name(creator_display_name)
    code = _lang(lang)
    variants = _variants(table, code, style_hint)
    return _pick(variants, template.value, code, name, style_hint, seed).format(name=name)


def no_answer_text(settings: CreatorSettings | Mapping[str, Any], lang: str | None) -> str:
    """The no-answer message for a fan writing in `lang`, from a creator's `settings`.

    In order: the creator's text for that language (`settings["no_answer_messages"]`, e.g.
    `{"en": "...", "fr": "..."}`); their older single `no_answer_message`, only when it is in
    the fan's language (or the fan's language is unknown: it is the creator's own choice
    then); else our default for that language, English for a language we do not know.
    """
    code = _lang(lang)
    settings = CreatorSettings.of(settings)
    own = {
        _base(key): value.strip()
        for key, value in settings.no_answer_messages.items()
        if value.strip()
    }
    if code in own:
        return own[code]
    legacy = settings.no_answer_message
    if legacy.strip():
        fan_known = _base(lang) in SUPPORTED_LANGS
        if not fan_known or guess_lang(legacy) in (code, "und"):
            return legacy.strip()
    return _NO_ANSWER[code]


def ai_label(
    channel_setting: LabelSetting | str, *, lang: str | None = "en", creator_display_name: str = ""
) -> str:
    """The label text a channel shows in the reply itself ("" for metadata-only channels)."""
    setting = _setting(channel_setting)
    tag, signature, _ = _LABELS[_lang(lang)]
    if setting is LabelSetting.METADATA:
        return ""
    if setting is LabelSetting.TAG:
        return tag
    return "— " + signature.format(name=_name(creator_display_name))


def apply_label(
    text: str,
    channel_setting: LabelSetting | str,
    *,
    lang: str | None = "en",
    creator_display_name: str = "",
) -> str:
    """`text` with the channel's in-text label: "[AI] text", "text\\n— Camille's AI", or as is."""
    label = ai_label(channel_setting, lang=lang, creator_display_name=creator_display_name)
    if not label:
        return text
    if _setting(channel_setting) is LabelSetting.TAG:
        return f"{label} {text}"
    return f"{text}\n{label}"


def ai_metadata(
    channel_setting: LabelSetting | str, *, lang: str | None = "en", creator_display_name: str = ""
) -> dict[str, object]:
    """What every AI reply carries in `Message.meta`, whatever the channel shows."""
    _, _, description = _LABELS[_lang(lang)]
    name = creator_display_name.strip() or "the creator"
    return {
        "ai_generated": True,
        "ai_label": description.format(name=name),
        "label_setting": _setting(channel_setting).value,
    }


def _setting(channel_setting: LabelSetting | str) -> LabelSetting:
    try:
        return LabelSetting(channel_setting)
    except ValueError:
        choices = ", ".join(s.value for s in LabelSetting)
        raise ValueError(
            f"unknown AI label setting {channel_setting!r}; choose one of: {choices}"
        ) from None
