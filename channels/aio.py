"""Waiting with a time limit in loops that are cancelled at shutdown.

`asyncio.timeout`, never `asyncio.wait_for`, in such loops: on Python 3.11, `wait_for` can
swallow a cancellation that arrives just as what it waits for completes (CPython gh-86296,
fixed in 3.12). The cancelled loop then carries on, and whoever awaits it on shutdown waits
forever: seen as a test suite hanging in the inbox worker's stop under load.
"""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `event` is set, at most `timeout_s`; True when it was set."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
