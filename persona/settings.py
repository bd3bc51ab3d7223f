"""A creator's settings: the one typed contract between the store, the engine and the channels.

`Creator.settings` is stored as JSON; `CreatorSettings.from_stored` reads it (every key any
layer reads, with its default here and nowhere else) and `to_stored` writes it back. Keys this
model does not know are kept as they are (`extra="allow"`), so a setting written by a newer
version, or by hand, survives a round trip. Only the keys a writer set are written back: a
default is never stored on a creator's behalf.

The channel policies (what the AI double may do on each channel) are typed models too, stored
per channel under `channels` and validated when a channel's policy is read (`policy`): one
malformed channel never stops the others. The gate that applies them is the platform's
(`channels.inbox.policy`).

The API token's hash is not a setting: it has a column of its own (`Creator.api_token_sha256`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from persona.engine.types import CHANNEL_MAX_CHARS, Channel


class PolicyChannel(StrEnum):
    DM = "dm"
    COMMENT = "comment"
    GROUP = "group"
    LIVE = "live"
    SPACE = "space"


class RateLimit(BaseModel):
    """A token bucket: `count` replies per `per_s` seconds, refilled smoothly."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=100_000)
    per_s: float = Field(gt=0, le=7 * 86_400)

    @property
    def per_second(self) -> float:
        return self.count / self.per_s


class ReplyDelay(BaseModel):
    """How long a reply waits after the fan wrote, like a person reading and typing: at least
    `min_s`, plus typing time at `chars_per_s`, at most `max_s`, with some jitter."""

    model_config = ConfigDict(extra="forbid")

    min_s: float = Field(default=2.0, ge=0, le=3600)
    max_s: float = Field(default=8.0, ge=0, le=3600)
    chars_per_s: float = Field(default=25.0, gt=0, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> ReplyDelay:
        if self.max_s < self.min_s:
            raise ValueError("reply_delay.max_s must be at least min_s")
        return self

    def sample(self, text: str, rng: random.Random | None = None) -> float:
        if self.max_s == 0:
            return 0.0
        rng = rng or random
        typing = len(text) / self.chars_per_s * rng.uniform(0.7, 1.3)
        return min(self.max_s, self.min_s + typing)


class ActiveHours(BaseModel):
    """Local hours when the AI may answer; `end` before `start` spans midnight."""

    model_config = ConfigDict(extra="forbid")

    start: time = time(9, 0)
    end: time = time(22, 0)
    timezone: str = "UTC"
    # ISO weekdays (1 = Monday) when the hours apply; the other days are off.
    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/Paris'"
            ) from None
        return value

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if not days or any(d < 1 or d > 7 for d in days):
            raise ValueError("days are ISO weekdays 1 (Monday) .. 7 (Sunday), at least one")
        return sorted(set(days))

    def _inside(self, local: datetime) -> bool:
        t = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return local.isoweekday() in self.days and self.start <= t < self.end
        # Overnight: the part after midnight belongs to the previous day's window.
        if t >= self.start:
            return local.isoweekday() in self.days
        if t < self.end:
            return (local - timedelta(days=1)).isoweekday() in self.days
        return False

    def is_active(self, now: datetime) -> bool:
        return self._inside(now.astimezone(ZoneInfo(self.timezone)))

    def next_start(self, now: datetime) -> datetime:
        """The next moment (UTC) the window opens, after `now`."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        for offset in range(0, 9):
            day = (local + timedelta(days=offset)).date()
            start = datetime.combine(day, self.start, zone)
            if start > local and day.isoweekday() in self.days:
                return start.astimezone(UTC)
        return (now + timedelta(days=1)).astimezone(UTC)


class ChannelPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # The per-channel kill switch (the global one is Creator.settings["paused"]).
    paused: bool = False
    mode: Literal["auto", "review"] = "auto"
    max_chars: int = Field(default=400, ge=20, le=4000)
    fan_rate: RateLimit = RateLimit(count=6, per_s=60)
    channel_rate: RateLimit = RateLimit(count=120, per_s=60)
    reply_delay: ReplyDelay = ReplyDelay()
    active_hours: ActiveHours | None = None
    only_when_offline: bool = False
    # Shown with each reply; empty: the engine's label (the creator's AI label setting).
    ai_label: str = Field(default="", max_length=200)
    # Reply categories (the engine's) that always wait for the creator.
    review_categories: list[str] = Field(
        default_factory=lambda: ["commitment_request", "personal_data_request"]
    )
    # A message not answered within this long is skipped as stale.
    max_wait_s: int = Field(default=86_400, ge=60, le=30 * 86_400)


class DMPolicy(ChannelPolicy):
    max_chars: int = Field(default=CHANNEL_MAX_CHARS[Channel.DM], ge=20, le=4000)


class CommentPolicy(ChannelPolicy):
    max_chars: int = Field(default=CHANNEL_MAX_CHARS[Channel.COMMENT], ge=20, le=4000)
    replies_per_post_per_hour: int = Field(default=20, ge=0, le=10_000)
    # Comments of one post arriving within this window are ranked together.
    batch_window_s: float = Field(default=10.0, ge=0, le=3600)
    # Keep this share of the hourly cap for questions and warm comments.
    reserve_for_priority: float = Field(default=0.5, ge=0, le=1)


class GroupPolicy(ChannelPolicy):
    max_chars: int = Field(default=CHANNEL_MAX_CHARS[Channel.GROUP], ge=20, le=4000)
    # The AI's replies may be at most this share of the group's recent messages.
    max_share: float = Field(default=0.3, ge=0, le=1)
    share_window_messages: int = Field(default=50, ge=5, le=10_000)
    # A group with fewer messages counts as this many for the share: a share over a message
    # or two would refuse a new group's first @mention.
    share_min_messages: int = Field(default=10, ge=1, le=10_000)
    context_messages: int = Field(default=12, ge=0, le=100)
    # Other names the creator is called by in groups (nicknames, first name...).
    aliases: list[str] = Field(default_factory=list, max_length=20)


class LivePolicy(ChannelPolicy):
    max_chars: int = Field(default=CHANNEL_MAX_CHARS[Channel.LIVE], ge=20, le=4000)
    reply_delay: ReplyDelay = ReplyDelay(min_s=0, max_s=0)
    # One answer per this many seconds; None: the server's LiveConfig.cadence_s.
    cadence_s: float | None = Field(default=None, ge=0.1, le=600)


class SpacePolicy(ChannelPolicy):
    max_chars: int = Field(default=CHANNEL_MAX_CHARS[Channel.SPACE], ge=20, le=4000)
    reply_delay: ReplyDelay = ReplyDelay(min_s=0, max_s=0)


POLICY_MODELS: dict[PolicyChannel, type[ChannelPolicy]] = {
    PolicyChannel.DM: DMPolicy,
    PolicyChannel.COMMENT: CommentPolicy,
    PolicyChannel.GROUP: GroupPolicy,
    PolicyChannel.LIVE: LivePolicy,
    PolicyChannel.SPACE: SpacePolicy,
}


# -- the creator's settings ------------------------------------------------------------------

# Keys holding a list of strings (boundaries); anything else there is refused, as it always was.
_STRING_LISTS = (
    "forbidden_topics",
    "forbidden_statements",
    "allowed_commitments",
    "allowed_link_domains",
)
# Free-text keys: missing, null or empty all read as "".
_TEXTS = ("no_answer_message", "ai_label", "label_setting", "style_hint", "greeting", "avatar_url")


class Presence(BaseModel):
    """Whether the creator is online (a policy can answer only when they are not)."""

    model_config = ConfigDict(extra="allow")

    # ISO time until which the creator counts as online; null: offline.
    online_until: str | None = None

    def until(self) -> datetime | None:
        if not self.online_until:
            return None
        try:
            until = datetime.fromisoformat(self.online_until)
        except (TypeError, ValueError):
            return None
        return until if until.tzinfo else until.replace(tzinfo=UTC)


def _problems(exc: ValidationError) -> str:
    """What is wrong with stored settings, in the words the readers always used."""
    problems = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if error["type"] == "value_error" and cause is not None:
            problems.append(str(cause))
        else:
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"creator setting {where!r}: {error['msg']}")
    return "; ".join(problems)


class CreatorSettings(BaseModel):
    """Everything a creator controls about their AI double, as stored in `Creator.settings`.

    The defaults are what a creator who never set a key gets (what every reader's
    `settings.get(key, default)` gave before this model)."""

    model_config = ConfigDict(extra="allow")

    # The global kill switch: nothing is answered or sent on any channel.
    paused: bool = False
    # Boundaries (persona.safety.Boundaries): topics and sentences the double never touches,
    # the promises it may make, the link domains it may name, extra keywords per topic.
    forbidden_topics: list[str] = Field(default_factory=list)
    forbidden_statements: list[str] = Field(default_factory=list)
    allowed_commitments: list[str] = Field(default_factory=list)
    allowed_link_domains: list[str] = Field(default_factory=list)
    topic_keywords: dict[str, list[str]] = Field(default_factory=dict)
    # The creator's no-answer texts per language, and their older single one ("": ours).
    no_answer_messages: dict[str, str] = Field(default_factory=dict)
    no_answer_message: str = ""
    # The AI label's own text ("": the default label) and where it shows (metadata, tag or
    # signature; anything else: metadata).
    ai_label: str = ""
    label_setting: str = ""
    # The tone of the ready replies ("playful", "formal"; "": neutral).
    style_hint: str = ""
    # Factual answers only from what the posts verify, however close the retrieval.
    strict_grounding: bool = False
    # The space's greeting and picture ("": ours, none).
    greeting: str = ""
    avatar_url: str = ""
    # Channel policies as stored, by channel ("dm", "comment", ...): read with `policy`.
    channels: dict[str, Any] = Field(default_factory=dict)
    presence: Presence = Field(default_factory=Presence)
    # Connector specs (channels.connectors.store), as stored.
    connectors: list[Any] = Field(default_factory=list)
    # Keys a lenient read found malformed, as stored (read as their defaults, written back).
    _unread: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator(*_STRING_LISTS, mode="before")
    @classmethod
    def _strings(cls, value: Any, info: ValidationInfo) -> list[str]:
        value = value or []
        try:
            strings = not isinstance(value, str) and all(isinstance(v, str) for v in value)
        except TypeError:  # not a list at all
            strings = False
        if not strings:
            raise ValueError(f"creator setting {info.field_name!r} must be a list of strings")
        return list(value)

    @field_validator("topic_keywords", mode="before")
    @classmethod
    def _keywords(cls, value: Any) -> dict[str, list[str]]:
        try:
            return {str(k): [str(w) for w in v] for k, v in dict(value or {}).items()}
        except (TypeError, ValueError):
            raise ValueError(
                "creator setting 'topic_keywords' must map a topic to a list of keywords"
            ) from None

    @field_validator("no_answer_messages", mode="before")
    @classmethod
    def _messages(cls, value: Any) -> dict[str, str]:
        value = value or {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError(
                "creator setting 'no_answer_messages' must map a language code to a text, "
                'e.g. {"en": "...", "fr": "..."}'
            )
        return dict(value)

    @field_validator(*_TEXTS, mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return str(value) if value else ""

    @field_validator("paused", "strict_grounding", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> bool:
        return bool(value)

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, value: Any) -> dict[str, Any]:
        try:
            return dict(value or {})
        except (TypeError, ValueError):
            raise ValueError(
                "creator setting 'channels' must map a channel to its policy"
            ) from None

    @field_validator("presence", "connectors", mode="before")
    @classmethod
    def _empty(cls, value: Any, info: ValidationInfo) -> Any:
        if value:
            return value
        return {} if info.field_name == "presence" else []

    # -- stored form -------------------------------------------------------------------------

    @classmethod
    def from_stored(
        cls, stored: Mapping[str, Any] | None, *, lenient: bool = False
    ) -> CreatorSettings:
        """Read `Creator.settings` as stored (None or {}: every default). A malformed key
        raises (a `ValueError` that names it). `lenient` reads it as its default instead and
        keeps it as stored (`to_stored` writes it back unless it was changed): for the readers
        of a policy or a switch, and the writers, which a malformed boundary must not stop
        (the engine, which reads the boundaries, refuses it)."""
        data = dict(stored or {})
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            if not lenient:
                raise ValueError(_problems(exc)) from None
            bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            typed = cls.model_validate({k: v for k, v in data.items() if k not in bad})
            typed._unread = {k: v for k, v in data.items() if k in bad}
            return typed

    @classmethod
    def of(
        cls, settings: CreatorSettings | Mapping[str, Any] | None, *, lenient: bool = False
    ) -> CreatorSettings:
        """`settings` typed: as it is when it already is, else read as stored."""
        if isinstance(settings, CreatorSettings):
            return settings
        return cls.from_stored(settings, lenient=lenient)

    def to_stored(self) -> dict[str, Any]:
        """The JSON to store: the keys that were stored or set, unknown ones included."""
        stored = self.model_dump(mode="json", exclude_unset=True)
        return {**stored, **{k: v for k, v in self._unread.items() if k not in stored}}

    def with_changes(self, **changes: Any) -> CreatorSettings:
        """A copy with `changes` set (validated); the rest as it was."""
        return CreatorSettings.from_stored(
            {**self.to_stored(), **changes}, lenient=bool(self._unread)
        )

    def without(self, *keys: str) -> CreatorSettings:
        """A copy where `keys` are no longer stored (they read as their defaults)."""
        return CreatorSettings.from_stored(
            {k: v for k, v in self.to_stored().items() if k not in keys},
            lenient=bool(self._unread),
        )

    # -- what the readers ask ----------------------------------------------------------------

    def policy(self, channel: str) -> ChannelPolicy:
        """A channel's stored policy, defaults filled in (raises ValidationError if the stored
        one is malformed)."""
        model = POLICY_MODELS[PolicyChannel(channel)]
        return model.model_validate(self.channels.get(str(channel)) or {})

    def with_policy(self, channel: str, policy: ChannelPolicy) -> CreatorSettings:
        channels = {**self.channels, str(channel): policy.model_dump(mode="json")}
        return self.with_changes(channels=channels)

    def online_until(self) -> datetime | None:
        return self.presence.until()

    def with_presence(self, until: datetime | None) -> CreatorSettings:
        return self.with_changes(
            presence={"online_until": until.isoformat() if until is not None else None}
        )
