"""Per-stream counters. Every message received ends in exactly one bucket, so that
received == answered + merged + dropped + queued + in_flight at any moment."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Why a message was not answered itself. Intake reasons mean the message was not accepted.
DROP_REASONS: dict[str, str] = {
    "invalid": "intake: not JSON, or not a valid message (see the ack's error)",
    "batch_too_large": "intake: more messages in one frame than LiveConfig.max_batch",
    "duplicate_id": "intake: an id already received (re-sent by the platform)",
    "rate_limited": "intake: the viewer sent more than their per-second allowance",
    "spam": "intake: links, character floods or promotion",
    "repeat": "intake: the same line from the same viewer again",
    "abuse": "intake: insults aimed at the creator (lexicon check)",
    "threat": "intake: threats (lexicon check)",
    "sexual": "intake: sexual requests (lexicon check)",
    "scam": "intake: scams, phishing (lexicon check)",
    "chatter": "accepted: neither a question nor a newcomer's greeting",
    "repeat_join": "accepted: a viewer who was welcomed already",
    "overflow": "a full queue made room for higher-priority items",
    "expired": "a question nobody repeated for QueueLimits.question_ttl_s",
    "moderation": "the reply engine blocked the message or its reply",
    "held_for_review": "the reply engine held the reply for the creator's review",
    "paused": "the creator's kill switch was on",
    "empty_reply": "the reply engine returned no text",
    "answer_timeout": "the reply engine took longer than LiveConfig.answer_timeout_s",
    "engine_error": "the reply engine failed (see the server log)",
    "stream_ended": "still waiting when the stream ended (a paid message goes back to the inbox)",
    "handed_over": "a paid message given to the inbox worker to answer (engine error, timeout)",
    "answered_elsewhere": "a paid message another worker answered (its lease here ran out)",
}


class RateMeter:
    """Messages a second over the last `window` whole seconds (a fixed ring: bounded memory)."""

    def __init__(self, window: int = 10) -> None:
        self.window = window
        self._counts = [0] * window
        self._seconds = [-1] * window

    def add(self, n: int, now: float) -> None:
        second = int(now)
        slot = second % self.window
        if self._seconds[slot] != second:
            self._seconds[slot], self._counts[slot] = second, 0
        self._counts[slot] += n

    def rate(self, now: float) -> float:
        current = int(now)
        # The current second is still filling: average over the complete ones.
        total = sum(
            c
            for c, s in zip(self._counts, self._seconds, strict=True)
            if current - self.window < s < current
        )
        return total / (self.window - 1)


@dataclass
class StreamMetrics:
    creator_id: str
    stream_id: str
    started_at: float = field(default_factory=time.time)
    frames: int = 0
    received: int = 0
    accepted: int = 0
    answered: int = 0
    merged: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    queued: int = 0
    in_flight: int = 0
    answers_published: int = 0
    # Turns of the answer loop that took nothing because the kill switch was on: a pause is
    # seen to hold the queue (an operator's "why no answers?", a test's proof).
    paused_turns: int = 0
    feeds: int = 0
    last_frame_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    ended_reason: str = ""
    intake: RateMeter = field(default_factory=RateMeter)

    def drop(self, reason: str, n: int = 1) -> None:
        if n:
            self.dropped[reason] += n

    @property
    def unaccounted(self) -> int:
        """Zero unless a message was lost: the check tests and the benchmark make."""
        settled = self.answered + self.merged + sum(self.dropped.values())
        return self.received - settled - self.queued - self.in_flight

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "creator_id": self.creator_id,
            "stream_id": self.stream_id,
            "active": self.ended_at is None,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "ended_reason": self.ended_reason,
            "frames": self.frames,
            "received": self.received,
            "accepted": self.accepted,
            "answered": self.answered,
            "merged": self.merged,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_total": sum(self.dropped.values()),
            "queued": self.queued,
            "in_flight": self.in_flight,
            "pending": self.queued + self.in_flight,
            "unaccounted": self.unaccounted,
            "answers_published": self.answers_published,
            "paused_turns": self.paused_turns,
            "feeds_connected": self.feeds,
            "rate_msgs_per_s": round(self.intake.rate(now), 2),
            "idle_s": round(max(0.0, now - self.last_frame_at), 2),
        }
