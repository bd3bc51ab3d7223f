"""The intake screen: cheap checks every live message passes before it is queued.

Duplicate ids (platforms re-send on reconnect), per-viewer rate, obvious spam (links,
character floods, the same line again), and whether a viewer was welcomed already. The full
moderation runs later, in the reply engine, only for the few messages chosen to be answered.
Every structure here has a fixed size."""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from dataclasses import dataclass

_LINK = re.compile(
    r"https?://|www\.|\b[a-z0-9-]{2,}\.(?:com|net|org|ru|xyz|io|ly|gg|me|link|click|top|info|biz|"
    r"cc|tk|shop|site|online|live|app)\b",
    re.IGNORECASE,
)
_FLOOD = re.compile(r"(.)\1{9,}", re.DOTALL)


def looks_like_spam(text: str) -> bool:
    """Links and floods of one character: never worth an answer on a live."""
    return bool(_LINK.search(text) or _FLOOD.search(text))


@dataclass(frozen=True, slots=True)
class ScreenLimits:
    seen_ids: int = 20_000  # message ids remembered to drop re-sent duplicates
    users: int = 10_000  # viewers remembered (rate, newcomer, last line)
    rate_per_s: float = 0.5  # sustained chat messages a viewer may send
    burst: float = 5.0
    repeat_window_s: float = 30.0  # the same line from the same viewer within this is a repeat


@dataclass(slots=True)
class Viewer:
    tokens: float
    updated: float
    last_line: int = 0
    last_line_at: float = 0.0
    welcomed: bool = False


class IntakeScreen:
    def __init__(self, limits: ScreenLimits) -> None:
        self.limits = limits
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._viewers: OrderedDict[str, Viewer] = OrderedDict()

    def first_time(self, message_id: str) -> bool:
        """True the first time an id is seen (within the last `seen_ids` ids)."""
        if message_id in self._seen:
            return False
        self._seen.add(message_id)
        self._seen_order.append(message_id)
        if len(self._seen_order) > self.limits.seen_ids:
            self._seen.discard(self._seen_order.popleft())
        return True

    def viewer(self, user: str, now: float) -> Viewer:
        viewer = self._viewers.get(user)
        if viewer is None:
            viewer = Viewer(tokens=self.limits.burst, updated=now)
            self._viewers[user] = viewer
            if len(self._viewers) > self.limits.users:
                self._viewers.popitem(last=False)
        else:
            self._viewers.move_to_end(user)
        return viewer

    def allow_rate(self, viewer: Viewer, now: float) -> bool:
        """Token bucket: `burst` at once, then `rate_per_s` a second."""
        limits = self.limits
        viewer.tokens = min(
            limits.burst, viewer.tokens + (now - viewer.updated) * limits.rate_per_s
        )
        viewer.updated = now
        if viewer.tokens < 1.0:
            return False
        viewer.tokens -= 1.0
        return True

    def repeated(self, viewer: Viewer, folded: str, now: float) -> bool:
        line = hash(folded)
        if line == viewer.last_line and now - viewer.last_line_at < self.limits.repeat_window_s:
            return True
        viewer.last_line, viewer.last_line_at = line, now
        return False

    def sizes(self) -> dict[str, int]:
        return {"seen_ids": len(self._seen), "viewers": len(self._viewers)}
