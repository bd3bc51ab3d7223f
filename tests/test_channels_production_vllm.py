"""The platform against a real vLLM server (the OpenAI-compatible API it serves in
production). Skipped unless PERSONA_TEST_VLLM_URL names one, e.g. the CPU build started as in
docs/deploy.md ("vLLM (CPU build)"):

    PERSONA_TEST_VLLM_URL=http://127.0.0.1:8011/v1 pytest tests/test_channels_production_vllm.py

PERSONA_TEST_VLLM_API_KEY is sent if the server has `--api-key`. The served model name is read
from `/v1/models`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings

URL = os.environ.get("PERSONA_TEST_VLLM_URL", "")
API_KEY = os.environ.get("PERSONA_TEST_VLLM_API_KEY", "none")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not URL, reason="no vLLM server: set PERSONA_TEST_VLLM_URL to its /v1 URL"),
]


@pytest.fixture(scope="module")
def served_model() -> str:
    response = httpx.get(
        f"{URL.rstrip('/')}/models", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()["data"][0]["id"]


def _settings(data_dir: Path, model: str):
    return make_settings(
        data_dir,
        llm_backend="openai",
        llm_base_url=URL,
        llm_api_key=API_KEY,
        llm_model=model,
        llm_timeout_s=300,
        reply_candidates=2,
        reply_max_tokens=48,
    )


def test_ping_and_doctor_accept_the_vllm_endpoint(tmp_path: Path, served_model: str) -> None:
    from channels.doctor import OK, check_model
    from channels.services import llm_config
    from persona.llm import open_backend

    settings = _settings(tmp_path, served_model)
    backend = open_backend(llm_config(settings))
    try:
        backend.ping(timeout_s=120)
    finally:
        backend.stop()
    (check,) = check_model(settings)
    assert check.status == OK and served_model in check.detail


def test_engine_replies_and_streams_through_vllm(demo_dir: Path, served_model: str) -> None:
    """The demo creator answers a fan through vLLM: candidates generated in parallel, checked,
    labelled; streaming yields deltas and records the time to first token."""
    from prometheus_client import generate_latest

    from channels.observability import InstrumentedEngine, Metrics
    from channels.services import Services
    from persona.engine import Channel, ReplyAction, ReplyRequest
    from tests.production_support import metric_value

    metrics = Metrics()
    services = Services.build(_settings(demo_dir, served_model))
    try:
        engine = InstrumentedEngine(services.engine, metrics)

        async def scenario() -> tuple[object, list[object]]:
            # One event loop for both: the model client's connections belong to it.
            request = ReplyRequest(
                "camille.cuisine", "Coucou ! Tu as une recette de tarte au citron ?", Channel.DM
            )
            result = await engine.reply(request)
            streamed = ReplyRequest("camille.cuisine", "tu fais quoi ce soir ?", Channel.SPACE)
            return result, [item async for item in engine.stream(streamed)]

        result, items = asyncio.run(scenario())
        assert result.action in (ReplyAction.SEND, ReplyAction.HOLD), result.reason
        assert result.text.strip() and result.label
        assert result.model == served_model
    finally:
        services.close()
    deltas = [i for i in items if isinstance(i, str)]
    assert deltas and "first_token" in items[-1].timings_ms
    text = generate_latest(metrics.registry).decode()
    assert metric_value(text, "persona_reply_first_token_seconds_count", channel="space") == 1
    assert metric_value(text, "persona_replies_total", channel="dm") == 1
