"""The YouTube Data API's daily quota, counted here: every request costs units (Google's
table: `liveChatMessages.list` 5, `liveChatMessages.insert` 50; an invalid request at
least 1), a project has 10,000 a day by default, and the day ends at midnight Pacific time.
Counted per API base in this process (one Google project behind one server's tokens); a
restart starts the count again, so the budget should leave room."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LIST_COST = 5
INSERT_COST = 50

try:
    _PACIFIC: dt.tzinfo = ZoneInfo("America/Los_Angeles")
except ZoneInfoNotFoundError:  # no tz database: standard time, an hour off in summer
    _PACIFIC = dt.timezone(dt.timedelta(hours=-8))


def pacific_day(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(_PACIFIC).date()


@dataclass(slots=True)
class Quota:
    day: dt.date = field(default_factory=pacific_day)
    used: int = 0

    def _roll(self) -> None:
        today = pacific_day()
        if today != self.day:
            self.day, self.used = today, 0

    def spend(self, units: int) -> None:
        self._roll()
        self.used += units

    def spent(self) -> int:
        self._roll()
        return self.used

    def allows(self, units: int, budget: int) -> bool:
        return self.spent() + units <= budget


_LEDGERS: dict[str, Quota] = {}


def ledger(api_base: str) -> Quota:
    """The process's count for one API (every connector on it shares the project's quota)."""
    return _LEDGERS.setdefault(api_base, Quota())
