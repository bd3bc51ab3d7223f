"""Channel policies: what the creator lets their AI double do on each channel.

A policy lives in `Creator.settings["channels"][channel]`; what is not stored takes the
defaults of its model (`persona.settings`, where the creator's settings are typed, re-exported
here). The gate (`gate`) turns a policy and the moment into a decision for one
inbound message: go on, wait until a time, or skip with a reason.

Every channel (DMs, comments, groups, live, the space), every writer (the JSON API, the
console's forms) and the outbox read a channel's switches through this module only: the
stored policy (`load_policy`) and `halted` (the creator's kill switch, the channel's
`enabled` and `paused`). A second key that only some of them read is how a pause through
the API once left the live channel answering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from persona.engine.types import ReplyAction
from persona.settings import (
    POLICY_MODELS,
    ActiveHours,
    ChannelPolicy,
    CommentPolicy,
    CreatorSettings,
    DMPolicy,
    GroupPolicy,
    LivePolicy,
    PolicyChannel,
    RateLimit,
    ReplyDelay,
    SpacePolicy,
)

__all__ = [
    "POLICY_MODELS",
    "ActiveHours",
    "ChannelPolicy",
    "CommentPolicy",
    "CreatorSettings",
    "DMPolicy",
    "GroupPolicy",
    "LivePolicy",
    "PolicyChannel",
    "RateLimit",
    "ReplyDelay",
    "SpacePolicy",
    "Decision",
    "Verdict",
    "gate",
    "halted",
    "is_online",
    "load_policy",
    "presence_until",
    "review_reason",
    "store_policy",
    "with_presence",
]

# A creator's settings, typed or as stored (`Creator.settings`).
AnySettings = CreatorSettings | Mapping[str, Any] | None


def load_policy(creator_settings: AnySettings, channel: str) -> ChannelPolicy:
    """The stored policy of a channel, defaults filled in."""
    return CreatorSettings.of(creator_settings, lenient=True).policy(channel)


def store_policy(
    creator_settings: AnySettings, channel: str, policy: ChannelPolicy
) -> dict[str, Any]:
    """A new settings dict with the policy stored (assign it: JSON columns track assignment)."""
    return (
        CreatorSettings.of(creator_settings, lenient=True).with_policy(channel, policy).to_stored()
    )


# -- creator presence ------------------------------------------------------------------------


def presence_until(creator_settings: AnySettings) -> datetime | None:
    return CreatorSettings.of(creator_settings, lenient=True).online_until()


def is_online(creator_settings: AnySettings, now: datetime) -> bool:
    until = presence_until(creator_settings)
    return until is not None and until > now


def with_presence(
    creator_settings: AnySettings, online: bool, ttl_s: int, now: datetime
) -> dict[str, Any]:
    until = now + timedelta(seconds=ttl_s) if online else None
    return CreatorSettings.of(creator_settings, lenient=True).with_presence(until).to_stored()


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


def halted(policy: ChannelPolicy, creator_settings: AnySettings) -> str | None:
    """Why nothing may be answered or sent on this channel now, or None: the creator's kill
    switch (`Creator.settings["paused"]`), then the channel switched off, then paused."""
    if CreatorSettings.of(creator_settings, lenient=True).paused:
        return GLOBAL_PAUSE
    if not policy.enabled:
        return CHANNEL_DISABLED
    if policy.paused:
        return CHANNEL_PAUSED
    return None


def gate(
    policy: ChannelPolicy,
    creator_settings: AnySettings,
    received_at: datetime,
    now: datetime,
) -> Decision:
    """The time-and-switch part of a policy (kill switches, hours, presence, staleness).
    Selection (comments, groups) and rate limits come after it, in the worker."""
    creator_settings = CreatorSettings.of(creator_settings, lenient=True)
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
