"""Limits and timings of the live channel (every structure has a fixed size)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.live.queue import QueueLimits
from channels.live.screening import ScreenLimits


@dataclass(frozen=True, slots=True)
class LiveConfig:
    cadence_s: float = 4.0  # one answer per this many seconds; the live policy's cadence_s wins
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
    # One creator's streams: without it one creator's 50 streams locked every other out.
    max_streams_per_creator: int = 5
    # Viewer sockets (public): per creator, and per client address over all creators.
    max_viewers_per_creator: int = 5000
    max_viewers_per_client: int = 20
    # A viewer socket on a stream that is not running here and has published nothing for
    # this long is closed (sockets on never-started or ended streams were kept forever).
    viewer_idle_timeout_s: float = 300.0
    ended_kept: int = 100  # final stats of ended streams kept for the stats endpoint
    queue: QueueLimits = field(default_factory=QueueLimits)
    screen: ScreenLimits = field(default_factory=ScreenLimits)

    def __post_init__(self) -> None:
        if self.cadence_s <= 0 or self.idle_poll_s <= 0 or self.view_interval_s <= 0:
            raise ValueError("live cadence, poll and view intervals must be positive")
        if self.max_batch < 1 or self.max_streams < 1:
            raise ValueError("live max_batch and max_streams must be at least 1")
        caps = (self.max_streams_per_creator, self.max_viewers_per_creator)
        if min(caps) < 1 or self.max_viewers_per_client < 1:
            raise ValueError("live stream and viewer caps must be at least 1")
        if self.viewer_idle_timeout_s <= 0:
            raise ValueError("the live viewer idle timeout must be positive")

    @classmethod
    def from_settings(cls, settings: Any) -> LiveConfig:
        """The defaults, with the `live_*` settings that are set (PERSONA_LIVE_...)."""
        names = (
            "max_streams",
            "max_streams_per_creator",
            "max_viewers_per_creator",
            "max_viewers_per_client",
            "viewer_idle_timeout_s",
        )
        values = {n: getattr(settings, f"live_{n}", None) for n in names}
        return cls(**{n: v for n, v in values.items() if v is not None})
