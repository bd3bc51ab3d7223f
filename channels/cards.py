"""A creator's persona as a Character Card V2 (the "chara_card_v2" JSON of SillyTavern and
similar front-ends): the voice summary, greeting, boundaries and example exchanges.

The card is what a front-end can use, nothing more: no retrieval index, no fine-tuned
adapter, and never a secret (only the keys in `PORTABLE_SETTINGS` ever leave the platform;
the API token's hash has a column of its own, out of the settings). Import is in
`channels.card_import`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from channels.space.starters import greeting, subjects
from persona.engine.prompt import Example, choose_examples
from persona.safety.replies import no_answer_text
from persona.settings import CreatorSettings
from persona.store import Creator, Database
from persona.store.posts import load_post_records
from persona.style import VoiceProfile, describe_for_prompt, how_often
from persona.style.describe import LANGUAGE_NAMES

SPEC = "chara_card_v2"
SPEC_VERSION = "2.0"
EXTENSION = "persona_platform"
EXTENSION_VERSION = 1
TAG_COUNT = 8
# The creator settings a card carries: boundaries, label and tone. Everything else
# (pause switch, channel policies, connectors, keys this version does not know) stays on the
# platform.
PORTABLE_SETTINGS = (
    "forbidden_topics",
    "forbidden_statements",
    "allowed_commitments",
    "allowed_link_domains",
    "topic_keywords",
    "no_answer_messages",
    "no_answer_message",
    "ai_label",
    "style_hint",
    "label_setting",
    "strict_grounding",
)
# A second net under the allow-list: a key that looks like a credential is never exported,
# even if someone adds it to PORTABLE_SETTINGS by mistake.
_SECRET_KEY = re.compile(r"token|password|secret|hash|key$", re.IGNORECASE)


def portable_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: settings[key]
        for key in PORTABLE_SETTINGS
        if key in settings
        and settings[key] not in (None, "", [], {})
        and not _SECRET_KEY.search(key)
    }


def format_examples(examples: list[Example]) -> str:
    """mes_example: one <START> block per exchange; a post with no fan message is the
    creator's line alone."""
    blocks = []
    for example in examples:
        lines = ["<START>"]
        if example.fan:
            lines.append("{{user}}: " + example.fan)
        lines.append("{{char}}: " + example.reply)
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def personality(profile: VoiceProfile | None) -> str:
    """A few traits in words, for the card's short personality field."""
    if profile is None:
        return ""
    stats = profile.for_kind("reply")
    unit = "reply" if profile.replies.count else "post"
    traits = [f"writes short chat messages (typically {round(stats.words.median)} words)"]
    if stats.words.median >= 30:
        traits[0] = f"writes long messages (typically {round(stats.words.median)} words)"
    if stats.emoji_rate >= 0.02:
        traits.append(f"emoji {how_often(stats.emoji_rate, unit)}")
    if stats.exclamation_rate >= 0.3:
        traits.append("enthusiastic (lots of '!')")
    if stats.question_rate >= 0.25:
        traits.append("asks questions back")
    if stats.all_lowercase_rate >= 0.5:
        traits.append("types in lowercase")
    languages = [
        LANGUAGE_NAMES.get(code, code) for code, s in profile.languages.items() if s >= 0.05
    ]
    if len(languages) > 1:
        traits.append("switches between " + " and ".join(languages[:3]))
    traits.append("friendly and warm with fans")
    return "; ".join(traits) + "."


def _description(name: str, profile: VoiceProfile | None, topics: list[str]) -> str:
    head = (
        f"{name} is a content creator. This card is {name}'s AI double: it writes to fans in "
        f"{name}'s own voice, measured on {name}'s posts."
    )
    if profile is None:
        return head + " (No posts were imported yet, so there is no voice summary.)"
    about = f"\n\nTopics {name} posts about: {', '.join(topics)}." if topics else ""
    return f"{head}\n\nHow {name} writes:\n{describe_for_prompt(profile, 'reply')}{about}"


def _rules(name: str, settings: CreatorSettings) -> list[str]:
    rules = [
        f"If asked whether you are real or a bot: you are {name}'s AI double, say so. Never "
        f"claim to be {name} in person.",
        f"Never invent facts about {name}: no dates, prices, places or names {name} has not "
        "posted.",
        "Never give addresses, phone numbers or e-mails, and never promise money, gifts, "
        "discounts or meetings.",
    ]
    if settings.forbidden_topics:
        rules.append(f"Never discuss: {', '.join(settings.forbidden_topics)}.")
    if settings.forbidden_statements:
        said = "; ".join(f'"{s}"' for s in settings.forbidden_statements)
        rules.append(f"Never say: {said}.")
    if settings.allowed_commitments:
        rules.append(f"Allowed exceptions: {'; '.join(settings.allowed_commitments)}.")
    rules.append(
        f"When {name}'s posts give you nothing to go on, say so, e.g.: "
        f'"{no_answer_text(settings, "en")}"'
    )
    return rules


def _system_prompt(name: str, settings: CreatorSettings) -> str:
    rules = "\n".join(f"- {rule}" for rule in _rules(name, settings))
    return (
        f"You are the AI double of {name}, a content creator, writing to a fan in {name}'s "
        f"own voice. The fan knows they talk to {name}'s AI double.\n\nRules:\n{rules}"
    )


def _creator_notes(creator_id: str, name: str, settings: CreatorSettings) -> str:
    boundaries = []
    if settings.forbidden_topics:
        boundaries.append(f"never discusses {', '.join(settings.forbidden_topics)}")
    if settings.forbidden_statements:
        boundaries.append(f"{len(settings.forbidden_statements)} sentence(s) it never says")
    summary = "; ".join(boundaries) or "the platform's defaults (no extra topics)"
    return (
        f"Exported from the persona platform (creator '{creator_id}'): {name}'s AI double. "
        f"Fans are told they talk to an AI, not to {name}. Boundaries: {summary}; it says it "
        "is an AI when asked, shares no contact details and promises nothing.\n"
        "This card carries the voice summary, greeting, boundaries and example replies, not "
        f"the platform's index of {name}'s posts nor a fine-tuned voice model: in another "
        "front-end it knows less and sounds less like them."
    )


def build_card(db: Database, creator_id: str) -> dict[str, Any]:
    """The creator's Character Card V2 (a JSON-safe dict). Raises LookupError if unknown."""
    with db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            raise LookupError(f"unknown creator {creator_id!r}")
        name = creator.display_name
        settings = CreatorSettings.from_stored(creator.settings, lenient=True)
        profile_dict, updated = creator.profile, creator.profile_updated_at
    profile = VoiceProfile.from_dict(profile_dict) if profile_dict else None
    records = load_post_records(db, creator_id)
    topics = subjects(profile_dict, TAG_COUNT)
    portable = portable_settings(settings.to_stored())
    carried = CreatorSettings.from_stored(portable, lenient=True)
    languages = dict(profile.languages) if profile else {}
    data = {
        "name": name,
        "description": _description(name, profile, topics),
        "personality": personality(profile),
        "scenario": (
            f"{{{{user}}}} is a fan chatting with {name}'s AI double: an AI that answers in "
            f"{name}'s voice, from what {name} has posted. {{{{user}}}} knows it is an AI, "
            f"not {name} in person."
        ),
        # The default greeting names the character with SillyTavern's {{char}} macro, so a
        # creator seeded from this card greets under their own name; an own greeting is kept.
        "first_mes": greeting("{{char}}", settings, profile_dict),
        "mes_example": format_examples(choose_examples(records)),
        "creator_notes": _creator_notes(creator_id, name, carried),
        "system_prompt": _system_prompt(name, carried),
        "post_history_instructions": (
            f"Reply as {name} would type it to a fan: plain chat text, short, in the fan's "
            "language."
        ),
        "alternate_greetings": [],
        "tags": topics,
        "creator": name,
        "character_version": updated.date().isoformat() if updated else "",
        "extensions": {
            EXTENSION: {
                "version": EXTENSION_VERSION,
                "creator_id": creator_id,
                "settings": portable,
                "no_answer_texts": {
                    lang: no_answer_text(carried, lang) for lang in (languages or {"en": 1.0})
                },
                "languages": languages,
            }
        },
    }
    return {"spec": SPEC, "spec_version": SPEC_VERSION, "data": data}
