"""What a channel needs from the reply engine: a reply, or the same reply streamed.

`ReplyEngine` is one; so is the engine with metrics around it, and any test double with
these two methods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from persona.engine.types import ReplyRequest, ReplyResult


@runtime_checkable
class Replier(Protocol):
    async def reply(self, request: ReplyRequest) -> ReplyResult:
        """The reply to one fan message (checked, ranked, recorded as the request says)."""
        ...

    def stream(self, request: ReplyRequest) -> AsyncIterator[str | ReplyResult]:
        """The reply's text as the release gate lets it through, then the `ReplyResult`."""
        ...
