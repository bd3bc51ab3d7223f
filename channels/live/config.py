"""Limits and timings of the live channel (every structure has a fixed size)."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.live.queue import QueueLimits
from channels.live.screening import ScreenLimits


@dataclass(frozen=True, slots=True)
class LiveConfig:
    cadence_s: float = 4.0  # one answer per this many seconds; Creator.settings["live"] overrides
    idle_poll_s: float = 0.5  # how soon an empty queue is looked at again
    policy_refresh_s: float = 5.0  # how often the creator's live settings are re-read
    view_interval_s: float = 1.0  # top-questions view published at most this often
    top_questions: int = 10
    recent_answers: int = 20  # replayed to a viewer who connects mid-stream
    max_batch: int = 500  # messages in one inbound frame
    answer_timeout_s: float = 180.0
    idle_timeout_s: float = 300.0  # a stream without feed or messages this long is stopped
    reap_interval_s: float = 5.0
    max_streams: int = 50  # each takes at most ~15 MiB, every structure full
    ended_kept: int = 100  # final stats of ended streams kept for the stats endpoint
    queue: QueueLimits = field(default_factory=QueueLimits)
    screen: ScreenLimits = field(default_factory=ScreenLimits)

    def __post_init__(self) -> None:
        if self.cadence_s <= 0 or self.idle_poll_s <= 0 or self.view_interval_s <= 0:
            raise ValueError("live cadence, poll and view intervals must be positive")
        if self.max_batch < 1 or self.max_streams < 1:
            raise ValueError("live max_batch and max_streams must be at least 1")
