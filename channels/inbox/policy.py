"""Channel policies: what the creator lets their AI double do on each channel.

A policy lives in `Creator.settings["channels"][channel]`; what is not stored takes the
defaults below. The gate (`gate`) turns a policy and the moment into a decision for one
inbound message: go on, wait until a time, or skip with a reason.

Every channel (DMs, comments, groups, live, the space), every writer (the JSON API, the
console's forms) and the outbox read a channel's switches through this module only: the
stored policy (`load_policy`) and `halted` (the creator's kill switch, the channel's
`enabled` and `paused`). A second key that only some of them read is how a pause through
the API once left the live channel answering.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from persona.engine.types import CHANNEL_MAX_CHARS, Channel, ReplyAction


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


def load_policy(creator_settings: dict[str, Any], channel: str) -> ChannelPolicy:
    """The stored policy of a channel, defaults filled in."""
    model = POLICY_MODELS[PolicyChannel(channel)]
    stored = ((creator_settings or {}).get("channels") or {}).get(str(channel)) or {}
    return model.model_validate(stored)


def store_policy(
    creator_settings: dict[str, Any], channel: str, policy: ChannelPolicy
) -> dict[str, Any]:
    """A new settings dict with the policy stored (assign it: JSON columns track assignment)."""
    channels = dict((creator_settings or {}).get("channels") or {})
    channels[str(channel)] = policy.model_dump(mode="json")
    return {**(creator_settings or {}), "channels": channels}


# -- creator presence ------------------------------------------------------------------------


def presence_until(creator_settings: dict[str, Any]) -> datetime | None:
    raw = ((creator_settings or {}).get("presence") or {}).get("online_until")
    if not raw:
        return None
    try:
        until = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return until if until.tzinfo else until.replace(tzinfo=UTC)


def is_online(creator_settings: dict[str, Any], now: datetime) -> bool:
    until = presence_until(creator_settings)
    return until is not None and until > now


def with_presence(
    creator_settings: dict[str, Any], online: bool, ttl_s: int, now: datetime
) -> dict[str, Any]:
    until = (now + timedelta(seconds=ttl_s)).isoformat() if online else None
    return {**(creator_settings or {}), "presence": {"online_until": until}}


# -- the gate --------------------------------------------------------------------------------


class Verdict(StrEnum):
    GO = "go"
    WAIT = "wait"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    until: datetime | None = None

    @classmethod
    def go(cls) -> Decision:
        return cls(Verdict.GO)

    @classmethod
    def skip(cls, reason: str) -> Decision:
        return cls(Verdict.SKIP, reason)

    @classmethod
    def wait(cls, until: datetime, reason: str) -> Decision:
        return cls(Verdict.WAIT, reason, until)


# How often a message waiting for the creator to go offline looks again (going offline
# through the API wakes them at once).
PRESENCE_RECHECK_S = 60.0
WAITING_FOR_OFFLINE = "the creator is online"


GLOBAL_PAUSE = "paused: the creator's kill switch is on"
CHANNEL_DISABLED = "channel disabled by the creator"
CHANNEL_PAUSED = "paused: the channel's kill switch is on"


def halted(policy: ChannelPolicy, creator_settings: dict[str, Any]) -> str | None:
    """Why nothing may be answered or sent on this channel now, or None: the creator's kill
    switch (`Creator.settings["paused"]`), then the channel switched off, then paused."""
    if (creator_settings or {}).get("paused"):
        return GLOBAL_PAUSE
    if not policy.enabled:
        return CHANNEL_DISABLED
    if policy.paused:
        return CHANNEL_PAUSED
    return None


def gate(
    policy: ChannelPolicy,
    creator_settings: dict[str, Any],
    received_at: datetime,
    now: datetime,
) -> Decision:
    """The time-and-switch part of a policy (kill switches, hours, presence, staleness).
    Selection (comments, groups) and rate limits come after it, in the worker."""
    stopped = halted(policy, creator_settings)
    if stopped is not None:
        return Decision.skip(stopped)
    if (now - received_at).total_seconds() > policy.max_wait_s:
        return Decision.skip(f"stale: not answered within {policy.max_wait_s} s")
    if policy.active_hours is not None and not policy.active_hours.is_active(now):
        return Decision.wait(policy.active_hours.next_start(now), "outside active hours")
    if policy.only_when_offline and is_online(creator_settings, now):
        until = presence_until(creator_settings) or now
        recheck = min(until, now + timedelta(seconds=PRESENCE_RECHECK_S))
        return Decision.wait(max(recheck, now + timedelta(seconds=1)), WAITING_FOR_OFFLINE)
    return Decision.go()


# -- what waits for the creator's approval ---------------------------------------------------

# The inbound category whose ready reply is crisis support (persona.safety: self-harm).
CRISIS_CATEGORY = "self_harm"


def is_crisis_support(action: str, category: str) -> bool:
    return action == ReplyAction.SAFE_REPLY and category == CRISIS_CATEGORY


def review_reason(policy: ChannelPolicy, action: str, category: str, reason: str = "") -> str:
    """Why a reply must wait for the creator's approval ("" when it may go out), the same
    for every channel (the inbox worker and the interactive space).

    In review mode everything waits, whoever wrote it: the model's reply and the texts the
    model did not write (the no-answer message, ready replies, fallbacks). One exception:
    the crisis-support reply to a fan at risk of self-harm goes out at once, because help
    held in a queue may come too late; the caller alerts the creator instead."""
    if is_crisis_support(action, category):
        return ""
    if action == ReplyAction.HOLD:
        return f"sensitive: {category}: {reason}".strip(": ")
    if category in policy.review_categories:
        return f"sensitive category: {category}"
    if policy.mode == "review":
        if action == ReplyAction.SEND:
            return "the channel is set to review every reply"
        return f"the channel is set to review every reply ({action}, not written by the model)"
    return ""
