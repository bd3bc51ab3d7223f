"""Training examples for a creator's voice adapter.

Each example is one chat turn in the reply engine's own prompt shape, so that the adapter
learns exactly the task it serves:
- system: the creator-constant system prompt (`persona.engine.prompt.system_prompt`);
- user: the engine's context line then the fan's message ("Where: ...\n\nFan: <message>");
- answer: the creator's own words (the only tokens the loss is computed on).

A reply to a fan becomes (fan message -> reply); when the source does not know the fan's
message, a synthetic one is drawn from a small bank in the post's language. A broadcast post
becomes ("write a post about <topic>" -> post). The voice evaluation's judge and test posts
are left out (same split function), so a later base-vs-tuned comparison stays honest.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from persona.domain import PostKind, PostRecord
from persona.engine.prompt import context_block, system_prompt
from persona.engine.types import CHANNEL_MAX_CHARS, Channel
from persona.evaluation.voice import split_posts
from persona.style import VoiceProfile, describe_for_prompt
from persona.style.stopwords import is_stopword
from persona.style.text import MENTION_RE, URL_RE, find_emoji, hashtags, words

# Fan messages for replies whose original message is unknown. Varied on purpose: the model
# must learn the creator's way of answering, not one prompt.
SYNTHETIC_FAN_MESSAGES: dict[str, tuple[str, ...]] = {
    "en": (
        "Hey! What do you think?",
        "Quick question for you",
        "I have to ask you something",
        "What's your take on this?",
        "Love your posts!",
        "Can I ask you something?",
        "Any thoughts on this one?",
        "Did you see this?",
        "Hi!! Big fan here",
        "What would you say to this?",
        "Do you agree?",
        "Thoughts?",
        "I've been wondering about this for a while",
        "Can you help me with something?",
        "So what's the story here?",
        "You're the best, had to tell you",
    ),
    "fr": (
        "Coucou ! Tu en penses quoi ?",
        "Petite question pour toi",
        "Je peux te demander un truc ?",
        "C'est quoi ton avis là-dessus ?",
        "J'adore tes posts !",
        "Tu as vu ça ?",
        "Salut ! Grande fan ici",
        "Tu dirais quoi à ça ?",
        "T'es d'accord ?",
        "Ça fait longtemps que je me pose la question",
        "Tu peux m'aider ?",
        "Je voulais juste te dire merci",
    ),
}

POST_REQUESTS: dict[str, tuple[str, ...]] = {
    "en": (
        "Post something about {topic}.",
        "Write a post about {topic}.",
        "Share a post about {topic} with your followers.",
        "New post: {topic}.",
    ),
    "fr": (
        "Poste quelque chose sur {topic}.",
        "Écris un post sur {topic}.",
        "Partage un post sur {topic} avec tes abonnés.",
        "Nouveau post : {topic}.",
    ),
}
DEFAULT_TOPIC = {"en": "your day", "fr": "ta journée"}
POST_WHERE = "Where: a new post on your own feed, for all your followers; at most {words} words."


@dataclass(frozen=True, slots=True)
class TrainingExample:
    system: str
    user: str
    answer: str
    kind: str  # "reply" or "post"
    synthetic_prompt: bool = False  # the fan message / request was made up, not observed

    def messages(self) -> list[dict[str, str]]:
        """The prompt as chat messages (the answer is not among them)."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


@dataclass(slots=True)
class TuneDataset:
    train: list[TrainingExample]
    validation: list[TrainingExample]
    # Posts not used, by reason: held_out (eval judge/test), duplicate, no_text.
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def size(self) -> int:
        return len(self.train) + len(self.validation)


def creator_system_prompt(name: str, profile: VoiceProfile, boundaries_text: str = "") -> str:
    """The reply engine's system prompt for this creator (same functions, same text)."""
    return system_prompt(name, describe_for_prompt(profile, "reply"), boundaries_text)


def engine_max_words(channel: Channel = Channel.DM) -> int:
    # The reply engine's own rule (engine._prepare): about 6 characters a word.
    return max(6, min(60, int(CHANNEL_MAX_CHARS[channel] / 6)))


def reply_user_message(name: str, fan_message: str, channel: Channel = Channel.DM) -> str:
    """The last user turn the reply engine sends, with no memory or retrieved notes."""
    block = context_block(name, channel, None, "", [], [], [], [], None, engine_max_words(channel))
    return f"{block} {fan_message}"


def post_user_message(topic: str, lang: str, salt: str) -> str:
    bank = POST_REQUESTS[_bank_lang(lang)]
    request = bank[_pick(salt, len(bank))].format(topic=topic)
    return f"{POST_WHERE.format(words=engine_max_words())}\n\n{request}"


def has_substance(text: str) -> bool:
    """False for a post that is only @mentions, links, punctuation or digits."""
    rest = MENTION_RE.sub(" ", URL_RE.sub(" ", text))
    rest = rest.replace("@user", " ")  # what cleaning leaves of an inner mention
    return any(len(w) >= 2 and not w.isdigit() for w in words(rest)) or bool(find_emoji(rest))


def post_topic(text: str, lang: str) -> str:
    """A few words saying what a broadcast post is about: its hashtags, else its longest
    content words (in order of appearance)."""
    tags = hashtags(text)
    if tags:
        return " ".join(f"#{t}" for t in dict.fromkeys(tags[:2]))
    content = [w for w in words(text) if len(w) > 3 and not w.isdigit() and not is_stopword(w)]
    longest = sorted(dict.fromkeys(content), key=lambda w: -len(w))[:2]
    chosen = [w for w in dict.fromkeys(content) if w in longest]
    return " ".join(chosen).lower() if chosen else DEFAULT_TOPIC[_bank_lang(lang)]


def build_dataset(
    records: Sequence[PostRecord],
    name: str,
    system: str,
    *,
    validation_share: float = 0.1,
    max_examples: int | None = None,
    include_posts: bool = True,
    seed: int = 0,
) -> TuneDataset:
    """Examples from one creator's posts; deterministic for the same posts and seed."""
    skipped: Counter[str] = Counter()
    held_out = split_posts([r for r in records if r.clean_text])
    skipped["held_out"] = len(held_out.judge) + len(held_out.test)
    skipped["no_text"] = sum(1 for r in records if not r.clean_text)
    seen: set[str] = set()
    examples: list[tuple[str, TrainingExample]] = []
    for record in held_out.train:
        text = record.clean_text.strip()
        if not has_substance(text):
            skipped["no_text"] += 1
            continue
        key = _dedupe_key(text)
        if key in seen:
            skipped["duplicate"] += 1
            continue
        if record.kind == PostKind.POST and not include_posts:
            continue
        seen.add(key)
        examples.append((_hash(f"{seed}\x00{key}"), _example(record, text, name, system, seed)))
    if max_examples is not None and len(examples) > max_examples:
        # Observed fan messages first (they teach the real task best), then a stable sample.
        examples.sort(key=lambda item: (item[1].synthetic_prompt, item[0]))
        examples = examples[:max_examples]
    examples.sort(key=lambda item: item[0])
    # The split draws its own hash: the budget above kept the lowest selection hashes.
    validation, train = [], []
    for _, example in examples:
        bucket = int(_hash(f"split\x00{seed}\x00{example.answer}")[:8], 16) / 0xFFFFFFFF
        (validation if bucket < validation_share else train).append(example)
    if not validation and len(train) >= 2 and validation_share > 0:
        validation.append(train.pop())  # early stopping needs at least one held-out example
    return TuneDataset(train, validation, skipped)


def _example(record: PostRecord, text: str, name: str, system: str, seed: int) -> TrainingExample:
    salt = f"{seed}\x00{text}"
    if record.kind == PostKind.REPLY:
        fan = (record.reply_to_text or "").strip()
        synthetic = not fan
        if synthetic:
            bank = SYNTHETIC_FAN_MESSAGES[_bank_lang(record.lang)]
            fan = bank[_pick(salt, len(bank))]
        return TrainingExample(system, reply_user_message(name, fan), text, "reply", synthetic)
    topic = post_topic(text, record.lang)
    return TrainingExample(system, post_user_message(topic, record.lang, salt), text, "post", True)


def _dedupe_key(text: str) -> str:
    text = MENTION_RE.sub(" ", URL_RE.sub(" ", text)).replace("@user", " ")
    return " ".join(text.casefold().split())


def _bank_lang(lang: str) -> str:
    return "fr" if lang.lower().startswith("fr") else "en"


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _pick(salt: str, n: int) -> int:
    return int(_hash(salt)[:8], 16) % n
