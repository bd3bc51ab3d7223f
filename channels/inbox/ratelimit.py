"""The inbox's rate limiters: those of `channels.ratelimit` (token buckets chosen by name:
'memory' for one process, 'redis' shared by every API worker), under the names the inbox
has always imported."""

from channels.ratelimit import (
    Acquired,
    Bucket,
    InProcessRateLimiter,
    RateLimiter,
    build_rate_limiter,
    rate_limiters,
)

__all__ = [
    "Acquired",
    "Bucket",
    "InProcessRateLimiter",
    "RateLimiter",
    "build_rate_limiter",
    "rate_limiters",
]
