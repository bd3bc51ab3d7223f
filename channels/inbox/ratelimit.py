"""Rate limiters behind one small interface (token buckets), chosen by name.

The in-process limiter serves one server process; a shared one (Redis) registers under
another name for several workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from channels.inbox.policy import RateLimit
from persona.registry import Registry


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    limit: RateLimit


@dataclass(frozen=True, slots=True)
class Acquired:
    ok: bool
    # When not ok: the bucket that said no, and how long until it has a token.
    blocked_by: str = ""
    retry_after_s: float = 0.0


class RateLimiter(Protocol):
    def acquire(self, buckets: Sequence[Bucket]) -> Acquired:
        """Take one token from every bucket, or from none (all or nothing)."""
        ...


class InProcessRateLimiter:
    """Token buckets in a dict, guarded by a lock (callers may be threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (tokens, last refill time, seconds an empty bucket takes to be full)
        self._state: dict[str, tuple[float, float, float]] = {}

    def _level(self, bucket: Bucket, now: float) -> float:
        tokens, last, _ = self._state.get(bucket.key, (float(bucket.limit.count), now, 0.0))
        refill = (now - last) * bucket.limit.per_second
        return min(float(bucket.limit.count), tokens + refill)

    def acquire(self, buckets: Sequence[Bucket]) -> Acquired:
        with self._lock:
            now = self._clock()
            levels = [(bucket, self._level(bucket, now)) for bucket in buckets]
            for bucket, tokens in levels:
                if tokens < 1.0:
                    wait = (1.0 - tokens) / bucket.limit.per_second
                    return Acquired(False, bucket.key, wait)
            for bucket, tokens in levels:
                self._state[bucket.key] = (tokens - 1.0, now, bucket.limit.per_s)
            self._forget_full(now)
            return Acquired(True)

    def _forget_full(self, now: float) -> None:
        # Keep memory bounded: a bucket idle long enough to be full again is the same as no
        # bucket (checked only when the table has grown).
        if len(self._state) < 10_000:
            return
        idle = [key for key, (_, last, full) in self._state.items() if now - last >= full]
        for key in idle:
            del self._state[key]


rate_limiters: Registry[RateLimiter] = Registry("rate limiter")
rate_limiters.add("memory", InProcessRateLimiter)
