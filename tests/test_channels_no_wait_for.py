"""No `asyncio.wait_for` in the platform: on Python 3.11 it can swallow a cancellation that
arrives as what it waits for completes (CPython gh-86296), and a loop cancelled at shutdown
then runs on (two shutdown hangs in clean-clone runs: the inbox worker and the metrics
sampler). `asyncio.timeout` or `channels.aio.wait_set` instead."""

from __future__ import annotations

import re

from tests.conftest import REPO

WAIT_FOR = re.compile(r"\bwait_for\(")


def test_the_platform_never_uses_asyncio_wait_for() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for package in ("channels", "persona", "avatar", "ingest")
        for path in sorted((REPO / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WAIT_FOR.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == [], f"asyncio.wait_for used at {found}: use asyncio.timeout (channels/aio.py)"
