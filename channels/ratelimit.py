"""Rate limiters behind one small interface (token buckets), chosen by name.

- `memory`: token buckets in a dict, for one server process;
- `redis`: the same buckets in Redis (one Lua script takes a token from every bucket or
  from none, atomically, on the Redis clock), shared by every API worker. When Redis cannot
  be reached, it falls back to a per-process limiter and says so in the log and metrics,
  so that fans keep getting answers during a Redis restart.

A bucket's limit is anything with `count` (tokens) and `per_s` (seconds to refill them all),
such as `channels.inbox.policy.RateLimit`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from persona.registry import Registry

log = logging.getLogger(__name__)


class Limit(Protocol):
    @property
    def count(self) -> int: ...

    @property
    def per_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    limit: Limit


def _per_second(bucket: Any) -> float:
    # From the limit, so that any bucket with `key` and `limit` works (the inbox's too).
    return bucket.limit.count / bucket.limit.per_s


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

    def __init__(self, clock: Callable[[], float] = time.monotonic, **_: Any) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (tokens, last refill time, seconds an empty bucket takes to be full)
        self._state: dict[str, tuple[float, float, float]] = {}

    def _level(self, bucket: Bucket, now: float) -> float:
        tokens, last, _ = self._state.get(bucket.key, (float(bucket.limit.count), now, 0.0))
        refill = (now - last) * _per_second(bucket)
        return min(float(bucket.limit.count), tokens + refill)

    def acquire(self, buckets: Sequence[Bucket]) -> Acquired:
        with self._lock:
            now = self._clock()
            levels = [(bucket, self._level(bucket, now)) for bucket in buckets]
            for bucket, tokens in levels:
                if tokens < 1.0:
                    return Acquired(False, bucket.key, (1.0 - tokens) / _per_second(bucket))
            for bucket, tokens in levels:
                self._state[bucket.key] = (tokens - 1.0, now, float(bucket.limit.per_s))
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


# KEYS: the buckets; ARGV: count and per_s of each bucket, in KEYS order.
# Returns {1} or {0, index of the bucket that said no (1-based), seconds to wait as a string}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
for i = 1, #KEYS do
  local count = tonumber(ARGV[2 * i - 1])
  local rate = count / tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(state[1])
  local at = tonumber(state[2])
  if tokens == nil or at == nil then
    tokens = count
    at = now
  end
  tokens = math.min(count, tokens + math.max(0, now - at) * rate)
  if tokens < 1 then
    return {0, i, tostring((1 - tokens) / rate)}
  end
  levels[i] = tokens
end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'tokens', tostring(levels[i] - 1), 'at', tostring(now))
  -- A bucket idle long enough to be full again is the same as no bucket.
  redis.call('EXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2 * i])) + 1)
end
return {1}
"""


class RedisRateLimiter:
    """Token buckets shared by every worker through Redis (synchronous: one ~0.2 ms round
    trip on loopback, called from request handlers and the inbox worker)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "persona:rl:",
        timeout_s: float = 0.5,
        on_fallback: Callable[[str], None] | None = None,
        client: Any = None,
    ) -> None:
        import redis

        self.prefix = prefix
        self._client = client or redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._script = self._client.register_script(_ACQUIRE)
        self._fallback = InProcessRateLimiter()
        self._on_fallback = on_fallback
        self._degraded_since: float | None = None
        self.fallbacks = 0

    def acquire(self, buckets: Sequence[Bucket]) -> Acquired:
        if not buckets:
            return Acquired(True)
        import redis

        keys = [self.prefix + b.key for b in buckets]
        args: list[float] = []
        for bucket in buckets:
            args += [bucket.limit.count, float(bucket.limit.per_s)]
        try:
            reply = self._script(keys=keys, args=args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            return self._degraded(buckets, exc)
        if self._degraded_since is not None:
            log.warning(
                "rate limits are shared through Redis again",
                extra={"degraded_s": round(time.monotonic() - self._degraded_since, 1)},
            )
            self._degraded_since = None
        if int(reply[0]) == 1:
            return Acquired(True)
        blocked = buckets[int(reply[1]) - 1]
        return Acquired(False, blocked.key, float(reply[2]))

    def _degraded(self, buckets: Sequence[Bucket], exc: Exception) -> Acquired:
        self.fallbacks += 1
        if self._degraded_since is None:
            self._degraded_since = time.monotonic()
            log.warning(
                "Redis unreachable: rate limits are per worker until it is back",
                extra={"error": type(exc).__name__},
            )
        if self._on_fallback is not None:
            self._on_fallback("ratelimit")
        return self._fallback.acquire(buckets)

    def close(self) -> None:
        self._client.close()


rate_limiters: Registry[RateLimiter] = Registry("rate limiter")
rate_limiters.add("memory", InProcessRateLimiter)
rate_limiters.add("redis", RedisRateLimiter)


def build_rate_limiter(
    redis_url: str | None, name: str | None = None, **options: Any
) -> RateLimiter:
    """The shared limiter when Redis is configured, else the in-process one; `name` picks
    one explicitly (a registered name)."""
    chosen = name or ("redis" if redis_url else "memory")
    if chosen == "redis":
        if not redis_url:
            raise ValueError(
                "the 'redis' rate limiter needs PERSONA_REDIS_URL (redis://HOST:6379/0)"
            )
        return rate_limiters.create("redis", redis_url, **options)
    return rate_limiters.create(chosen, **options)
