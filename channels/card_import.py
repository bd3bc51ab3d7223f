"""Reading a Character Card (V2, or V1 upgraded) and creating a new creator from it.

Every problem raises `CardError` naming the file, the field and what to do. The card's
example replies go through the real ingest path (`Ingestor.ingest_records`), so the new
creator gets a voice profile and a retrieval index like any imported posts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from channels.api.safejson import JSONInputError, loads
from channels.card_errors import CardError
from channels.card_png import PNG_SIGNATURE, card_json_from_png
from channels.cards import EXTENSION, PORTABLE_SETTINGS, SPEC, SPEC_VERSION, portable_settings
from channels.deps import CREATOR_ID_PATTERN
from channels.list_limits import MAX_ITEM_CHARS, MAX_LIST_ITEMS
from persona.domain import PostKind, slugify_creator
from persona.engine.prompt import Example
from persona.safety.boundaries import Boundaries
from persona.settings import CreatorSettings
from persona.store import Creator, Post

if TYPE_CHECKING:
    from channels.services import Platform

MAX_CARD_BYTES = 1_000_000
MAX_NAME_CHARS = 200
MAX_GREETING_CHARS = 2000
MAX_EXAMPLES = 500
MAX_EXAMPLE_CHARS = 2000
_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
_V2_STRINGS = (
    *_V1_FIELDS,
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
# Who speaks on a mes_example line: {{user}}/{{char}}, or V1's <USER>/<BOT>.
_SPEAKER = re.compile(r"^\s*(\{\{user\}\}|<user>|\{\{char\}\}|<bot>)\s*:\s?", re.IGNORECASE)
_START = re.compile(r"^\s*<start>\s*$", re.IGNORECASE)


@dataclass(slots=True)
class CardPersona:
    """What the platform takes from a card."""

    name: str
    greeting: str
    examples: list[Example]
    settings: dict[str, Any] = field(default_factory=dict)
    upgraded_from_v1: bool = False


def read_card_file(path: Path) -> dict[str, Any]:
    """The card's JSON document, from a .json file or a PNG card (tEXt chunk "chara")."""
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CardError(source, "file", f"cannot read it ({exc.strerror})") from None
    if size > MAX_CARD_BYTES:
        raise CardError(
            source,
            "file",
            f"{size} bytes; a card is at most {MAX_CARD_BYTES // 1_000_000} MB (a bigger one "
            "likely embeds an image or a lorebook: export the card as JSON without them)",
        )
    return read_card_bytes(path.read_bytes(), source)


def read_card_bytes(raw: bytes, source: str = "<card>") -> dict[str, Any]:
    """The card's JSON document from a file's bytes (an upload): JSON or a PNG card."""
    if len(raw) > MAX_CARD_BYTES:
        raise CardError(source, "file", f"a card is at most {MAX_CARD_BYTES // 1_000_000} MB")
    if raw.startswith(PNG_SIGNATURE):
        text = card_json_from_png(raw, source)
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CardError(source, "file", "not UTF-8 text: save the card as UTF-8 JSON") from None
    return parse_card_json(text, source)


def parse_card_json(text: str, source: str = "<card>") -> dict[str, Any]:
    if len(text.encode()) > MAX_CARD_BYTES:
        raise CardError(source, "file", f"a card is at most {MAX_CARD_BYTES // 1_000_000} MB")
    try:  # the platform's guarded decoder: no deep nesting, giant numbers or NUL strings
        document = loads(text, what="the card")
    except JSONInputError as exc:
        where = "/".join(str(part) for part in exc.loc) or "file"
        raise CardError(source, where, f"{exc}: export the card again as JSON") from None
    if not isinstance(document, dict):
        raise CardError(source, "top level", "a card is a JSON object {...}")
    return document


def _string(source: str, data: Mapping[str, Any], key: str, prefix: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CardError(source, f"{prefix}{key}", f"must be text, not {type(value).__name__}")
    return value


def upgrade(document: dict[str, Any], source: str = "<card>") -> tuple[dict[str, Any], bool]:
    """(V2 data, was V1): a V2 card's data, or a V1 card's fields moved under data."""
    spec = document.get("spec")
    if spec is None and "data" not in document and isinstance(document.get("name"), str):
        data: dict[str, Any] = {key: _string(source, document, key, "") for key in _V1_FIELDS}
        return data | {"tags": [], "alternate_greetings": [], "extensions": {}}, True
    if spec != SPEC:
        raise CardError(
            source,
            "spec",
            f"is {spec!r}; this platform imports Character Card V2 ('{SPEC}') and V1 cards "
            "(name, description, first_mes, mes_example at the top level): export the card "
            "as V2 from your tool",
        )
    if str(document.get("spec_version", SPEC_VERSION)) != SPEC_VERSION:
        raise CardError(
            source, "spec_version", f"is {document.get('spec_version')!r}, expected '2.0'"
        )
    data = document.get("data")
    if not isinstance(data, dict):
        raise CardError(
            source, "data", "missing or not an object: a V2 card keeps its fields there"
        )
    return data, False


def parse_examples(text: str, source: str = "<card>") -> list[Example]:
    """mes_example -> the creator's replies, each with the fan line before it (if any)."""
    examples: list[Example] = []
    speaker: str | None = None
    fan: str | None = None
    lines: list[str] = []

    def flush() -> None:
        nonlocal fan
        said = "\n".join(lines).strip()
        if speaker == "user":
            fan = said or None
        elif speaker == "char" and said:
            examples.append(Example(fan, said))
            fan = None

    for line in text.splitlines():
        if _START.match(line):
            flush()
            speaker, fan, lines = None, None, []
            continue
        match = _SPEAKER.match(line)
        if match:
            flush()
            tag = match.group(1).lower()
            speaker = "user" if tag in ("{{user}}", "<user>") else "char"
            lines = [line[match.end() :]]
        elif speaker is not None:
            lines.append(line)
    flush()
    if len(examples) > MAX_EXAMPLES:
        raise CardError(
            source,
            "data.mes_example",
            f"{len(examples)} example replies; at most {MAX_EXAMPLES}: import the rest as "
            "posts with `persona ingest`",
        )
    for example in examples:
        if len(example.reply) > MAX_EXAMPLE_CHARS or len(example.fan or "") > MAX_EXAMPLE_CHARS:
            raise CardError(
                source, "data.mes_example", f"an example is over {MAX_EXAMPLE_CHARS} characters"
            )
    return examples


def _settings(source: str, data: Mapping[str, Any]) -> dict[str, Any]:
    prefix = f"data.extensions.{EXTENSION}"
    extensions = data.get("extensions") or {}
    if not isinstance(extensions, dict):
        raise CardError(source, "data.extensions", "must be an object")
    ours = extensions.get(EXTENSION) or {}
    if not isinstance(ours, dict):
        raise CardError(source, prefix, "must be an object")
    stored = ours.get("settings") or {}
    if not isinstance(stored, dict):
        raise CardError(source, f"{prefix}.settings", "must be an object")
    unknown = sorted(set(stored) - set(PORTABLE_SETTINGS))
    if unknown:
        raise CardError(
            source,
            f"{prefix}.settings",
            f"unknown key(s) {', '.join(unknown)}; a card carries only "
            f"{', '.join(PORTABLE_SETTINGS)}",
        )
    settings = portable_settings(stored)
    try:
        Boundaries.from_settings(settings)  # the engine's own reading of them
    except (ValueError, TypeError, AttributeError) as exc:
        raise CardError(source, f"{prefix}.settings", str(exc)) from None
    for key in ("ai_label", "style_hint", "label_setting", "no_answer_message"):
        if key in settings and not isinstance(settings[key], str):
            raise CardError(source, f"{prefix}.settings.{key}", "must be text")
    if not isinstance(settings.get("strict_grounding", False), bool):
        raise CardError(source, f"{prefix}.settings.strict_grounding", "must be true or false")
    # The console's limits on the same lists: a card cannot store what the form would refuse.
    for key, value in settings.items():
        items = value if isinstance(value, list) else []
        if len(items) > MAX_LIST_ITEMS or any(len(item) > MAX_ITEM_CHARS for item in items):
            raise CardError(
                source,
                f"{prefix}.settings.{key}",
                f"at most {MAX_LIST_ITEMS} entries of {MAX_ITEM_CHARS} characters each",
            )
    return settings


def card_persona(document: dict[str, Any], source: str = "<card>") -> CardPersona:
    """Validate a card document and take what the platform uses from it."""
    data, was_v1 = upgrade(document, source)
    prefix = "" if was_v1 else "data."
    for key in _V2_STRINGS:
        _string(source, data, key, prefix)
    name = _string(source, data, "name", prefix).strip()
    if not name:
        raise CardError(source, f"{prefix}name", "empty: the card must name the creator")
    if len(name) > MAX_NAME_CHARS:
        raise CardError(source, f"{prefix}name", f"over {MAX_NAME_CHARS} characters")
    greeting = _string(source, data, "first_mes", prefix).strip()
    if len(greeting) > MAX_GREETING_CHARS:
        raise CardError(source, f"{prefix}first_mes", f"over {MAX_GREETING_CHARS} characters")
    for key in ("tags", "alternate_greetings"):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CardError(source, f"{prefix}{key}", "must be a list of texts")
    examples = parse_examples(_string(source, data, "mes_example", prefix), source)
    return CardPersona(
        name=name,
        greeting=greeting,
        examples=examples,
        settings=_settings(source, data),
        upgraded_from_v1=was_v1,
    )


def new_creator_id(value: str) -> str:
    creator_id = slugify_creator(value)
    if not re.match(CREATOR_ID_PATTERN, creator_id):
        raise ValueError(
            f"{value!r} is not a creator id: 1-64 characters, lowercase letters, digits, '.', "
            "'_' or '-', starting with a letter or digit"
        )
    return creator_id


_CHAR_MACRO = re.compile(r"\{\{char\}\}|<bot>", re.IGNORECASE)
_USER_MACRO = re.compile(r"[ \t]*(\{\{user\}\}|<user>)", re.IGNORECASE)


def fill_macros(text: str, name: str) -> str:
    """A card's greeting as the space shows it: {{char}} (V1: <BOT>) is the creator's name;
    {{user}} is dropped, since the space greets a fan before it knows their name."""
    return _USER_MACRO.sub("", _CHAR_MACRO.sub(name, text)).strip()


class CardSeedRefused(ValueError):
    """A card may seed only an account without posts; the message says what to do."""


@dataclass(slots=True)
class ImportResult:
    creator_id: str
    name: str
    posts_added: int
    has_profile: bool


def import_persona(
    services: Platform,
    persona: CardPersona,
    creator_id: str,
    source: str,
    *,
    into_new_account: bool = False,
) -> ImportResult:
    """Create `creator_id` from a card: its example replies become the creator's seed posts
    (ingested: profile and index built), then its greeting and boundaries are stored.

    `into_new_account`: the creator exists already (an admin made their console account) and
    has no posts yet; the card seeds it and its display name stays. A creator with posts is
    refused (`CardSeedRefused`): the card's greeting and boundaries would replace theirs."""
    from ingest.sources import RawPost, to_record

    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if into_new_account:
            if creator is None:
                raise LookupError(f"unknown creator {creator_id!r}")
            posts = session.scalar(select(func.count(Post.id)).where(Post.creator_id == creator_id))
            if posts:
                raise CardSeedRefused(
                    f"a persona card starts a new account, and yours already has {posts} "
                    "posts (its greeting and boundaries would replace yours): ask your admin "
                    "for a new account (`persona admin create-creator NEW-ID --name NAME`) "
                    "and import the card there"
                )
        elif creator is not None:
            raise FileExistsError(
                f"creator {creator_id!r} already exists: import the card under a new --creator"
            )
    records = []
    for line, example in enumerate(persona.examples, start=1):
        raw = RawPost(
            line=line,
            text=example.reply,
            reply_to_text=example.fan,
            kind=PostKind.REPLY if example.fan else None,
        )
        record = to_record(raw, creator_id=creator_id, source=f"card:{source}")
        if record is not None:
            records.append(record)
    added = 0
    if records:
        report = services.ingestor().ingest_records(
            records, source=f"card:{source}", display_names={creator_id: persona.name}
        )
        added = report.added
    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:  # a card without examples: the creator starts with no posts
            creator = Creator(id=creator_id, display_name=persona.name, settings={})
            session.add(creator)
        changes = dict(persona.settings)
        if persona.greeting:
            name = creator.display_name or persona.name
            changes["greeting"] = fill_macros(persona.greeting, name)
        current = CreatorSettings.from_stored(creator.settings, lenient=True)
        creator.settings = current.with_changes(**changes).to_stored()
        has_profile = bool(creator.profile)
    return ImportResult(creator_id, persona.name, added, has_profile)
