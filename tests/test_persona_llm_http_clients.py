"""The model client across event loops: a pooled connection must never cross loops."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from persona.llm.backends import OpenAICompatibleBackend
from persona.llm.config import LLMConfig
from tests.http_stub import send_json, serve_on_loopback


class _Completions(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client pools the connection

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        send_json(
            self,
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "stub",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "coucou !"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture()
def stub_url() -> Iterator[str]:
    with serve_on_loopback(_Completions) as url:
        yield f"{url}/v1"


def test_one_chat_model_answers_from_several_event_loops(stub_url: str) -> None:
    # The CLI answers the demo in one asyncio.run, then uvicorn serves on another loop; each
    # test runs its own loop. A connection pooled by the first loop must not be reused.
    backend = OpenAICompatibleBackend(LLMConfig(backend="openai", base_url=stub_url))
    model = backend.chat_model(streaming=False)
    for _ in range(3):
        reply = asyncio.run(model.ainvoke("salut"))
        assert reply.content == "coucou !"
