"""Per-creator LoRA adapters on vLLM: the request's `model` names the creator's adapter.

The wire format is checked here against a loopback HTTP endpoint that records requests.
The real path needs a vLLM server started with an adapter (see docs/vllm.md, "Per-creator
LoRA adapters"), e.g. the CPU build:

    python -m vllm.entrypoints.openai.api_server --enforce-eager --model MODEL_DIR \
        --enable-lora --max-lora-rank 8 --lora-modules ann=/path/to/peft_adapter --port 8011
    PERSONA_TEST_VLLM_URL=http://127.0.0.1:8011/v1 PERSONA_TEST_VLLM_LORA=ann \
        pytest tests/test_persona_lora_vllm.py

PERSONA_TEST_VLLM_API_KEY is sent if the server has `--api-key`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from persona.llm import LLMConfig, OpenAICompatibleBackend, open_backend
from persona.llm.lora import LoraAdapter
from tests.http_stub import send_json, serve_on_loopback

URL = os.environ.get("PERSONA_TEST_VLLM_URL", "")
ADAPTER = os.environ.get("PERSONA_TEST_VLLM_LORA", "")
API_KEY = os.environ.get("PERSONA_TEST_VLLM_API_KEY", "none")

needs_vllm = pytest.mark.skipif(
    not (URL and ADAPTER),
    reason="no vLLM LoRA server: set PERSONA_TEST_VLLM_URL and PERSONA_TEST_VLLM_LORA "
    "(a --lora-modules name)",
)


# -- what goes on the wire (fast) --------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Answers chat completions like an OpenAI server and keeps each request body."""

    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        reply = {
            "id": "r",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
        send_json(self, reply)

    def do_GET(self) -> None:  # noqa: N802 - /v1/models, as vLLM lists a base and an adapter
        models = [{"id": "qwen2.5-7b-instruct", "parent": None}, {"id": "ann", "parent": "q"}]
        send_json(self, {"object": "list", "data": models})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []
    handler = type("Recorder", (_Recorder,), {"bodies": bodies})
    with serve_on_loopback(handler) as url:
        yield f"{url}/v1", bodies


def test_a_creator_with_an_adapter_is_answered_by_the_adapter_named_in_model(
    recorder: tuple[str, list[dict[str, Any]]],
) -> None:
    url, bodies = recorder
    backend = open_backend(
        LLMConfig(
            backend="openai",
            base_url=url,
            model="qwen2.5-7b-instruct",
            adapters=(LoraAdapter("ann"), LoraAdapter("bob", served_name="bob-v2")),
            max_retries=0,
        )
    )
    chat = backend.chat_model(streaming=False)
    for creator in ("ann", "bob", "carl", None):
        reply = chat.bind(**backend.adapter_options(creator)).invoke("hello")
        assert reply.response_metadata["model_name"] == backend.model_for(creator)
    # Convention: the creator id is the adapter name; served_name overrides it; no adapter
    # (or no creator) means the base model. Nothing llama.cpp-specific goes to vLLM.
    base = "qwen2.5-7b-instruct"
    assert [b["model"] for b in bodies] == ["ann", "bob-v2", base, base]
    assert all("lora" not in b for b in bodies)

    assert isinstance(backend, OpenAICompatibleBackend)
    assert backend.unserved_adapters() == ["bob-v2"]  # what `persona doctor` should report

    backend.set_adapters((LoraAdapter("carl"),))  # routing follows the active set at once
    assert backend.adapter_options("carl") == {"model": "carl"}
    assert backend.adapter_options("ann") == {}


# -- the real vLLM server (skipped unless configured) ------------------------------------------


def _backend() -> OpenAICompatibleBackend:
    response = httpx.get(
        f"{URL.rstrip('/')}/models", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    )
    response.raise_for_status()
    served = response.json()["data"]
    base = next(m["id"] for m in served if not m.get("parent"))
    assert ADAPTER in [m["id"] for m in served], f"{ADAPTER} is not served: {served}"
    backend = open_backend(
        LLMConfig(
            backend="openai",
            base_url=URL,
            api_key=API_KEY,
            model=base,
            adapters=(LoraAdapter("ann", served_name=ADAPTER),),
            temperature=0.0,
            max_tokens=24,
            timeout_s=300,
        )
    )
    assert isinstance(backend, OpenAICompatibleBackend)
    assert backend.unserved_adapters() == []
    return backend


@pytest.mark.slow
@needs_vllm
def test_vllm_answers_a_tuned_creator_with_their_adapter() -> None:
    backend = _backend()
    backend.ping()
    chat = backend.chat_model(seed=0)
    prompt = "Write one sentence about the sea."
    tuned = chat.bind(**backend.adapter_options("ann")).invoke(prompt)
    base = chat.bind(**backend.adapter_options("carl")).invoke(prompt)
    assert tuned.response_metadata["model_name"] == ADAPTER
    assert base.response_metadata["model_name"] == backend.config.model
    assert str(tuned.content).strip() and str(base.content).strip()
    assert tuned.content != base.content  # the adapter changes what the model writes
    again = chat.bind(**backend.adapter_options("ann")).invoke(prompt)
    assert again.content == tuned.content  # greedy: the same adapter every time
