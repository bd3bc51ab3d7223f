"""Twitch's chat limit for a bot account: at most N messages in any sliding window of W
seconds (20 in 30 s for an ordinary account; over it, Twitch locks the account out of chat
for 30 minutes), so the sender waits instead of sending."""

from __future__ import annotations

import time
from collections import deque


class SlidingWindow:
    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a message rate needs a limit >= 1 and a positive window")
        self.limit = limit
        self.window_s = window_s
        self._sent: deque[float] = deque()

    def wait_s(self, now: float | None = None) -> float:
        """Seconds until one more message may go (0: now)."""
        now = time.monotonic() if now is None else now
        while self._sent and self._sent[0] <= now - self.window_s:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window_s - now

    def record(self, now: float | None = None) -> None:
        self._sent.append(time.monotonic() if now is None else now)
