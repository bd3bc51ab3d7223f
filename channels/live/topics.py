"""The hub topic a live stream's answers and top questions are published on: its own module,
so that the stream, the paid-message path and the router share it without importing each
other."""

from __future__ import annotations


def topic(creator_id: str, stream_id: str) -> str:
    return f"live:{creator_id}:{stream_id}"
