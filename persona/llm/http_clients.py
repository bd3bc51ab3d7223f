"""An async HTTP client for the OpenAI SDK that is safe across event loops.

langchain-openai shares one cached async HTTP client per (base URL, timeout) in the whole
process, and its pooled keep-alive connections belong to the event loop that opened them.
The platform calls the same model from several loops (the CLI's `asyncio.run`, then
uvicorn's loop in `persona serve`; each test's loop): a connection reused from a closed loop
fails with "Event loop is closed". This client keeps one inner client per running loop, so
connections are pooled (cheap for a remote vLLM) but never cross loops.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

import openai


class LoopLocalAsyncClient(openai.DefaultAsyncHttpxClient):  # type: ignore[misc]
    """Sends each request through an inner client owned by the running event loop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._inner_kwargs = kwargs
        self._inner: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _for_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._inner.get(loop)
            if client is None:
                client = openai.DefaultAsyncHttpxClient(**self._inner_kwargs)
                self._inner[loop] = client
            return client

    async def send(self, request: Any, **kwargs: Any) -> Any:
        return await self._for_loop().send(request, **kwargs)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._inner.pop(loop, None)
        if client is not None:
            await client.aclose()
        await super().aclose()
