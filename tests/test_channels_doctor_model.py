"""`persona doctor`'s model row: what it says for each backend (the same words whichever
code produces them), and that a backend registered in `chat_models` brings its own checks."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from channels.doctor import (
    FAIL,
    OK,
    SKIP,
    TIMEOUT_S,
    WARN,
    Check,
    check_model,
    multi_worker_problems,
)
from persona.llm.backends import HealthCheck, LLMBackend, chat_models
from tests.conftest import make_settings
from tests.http_stub import send_json, serve_on_loopback

EMBEDDED_WORKERS = (
    "set PERSONA_LLM_BACKEND=openai and PERSONA_LLM_BASE_URL (vLLM): each worker would "
    "start its own embedded model"
)


def _models_server(status: int, payload: object):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            assert self.path == "/v1/models"
            assert self.headers["Authorization"] == "Bearer sk-test"
            send_json(self, payload, status)

        def log_message(self, *args: object) -> None:
            return None

    return serve_on_loopback(Handler)


def _openai(tmp_path: Path, base: str, model: str = "served-model"):
    return make_settings(
        tmp_path, llm_backend="openai", llm_base_url=base, llm_api_key="sk-test", llm_model=model
    )


def test_openai_served_model_is_ok(tmp_path: Path) -> None:
    with _models_server(200, {"data": [{"id": "served-model"}]}) as url:
        assert check_model(_openai(tmp_path, f"{url}/v1/")) == [
            Check("model", OK, f"served-model served at {url}/v1")
        ]


def test_openai_model_not_served(tmp_path: Path) -> None:
    with _models_server(200, {"data": [{"id": "a"}, {"id": "b"}]}) as url:
        assert check_model(_openai(tmp_path, f"{url}/v1")) == [
            Check(
                "model",
                FAIL,
                f"the server at {url}/v1 does not serve 'served-model'",
                "set PERSONA_LLM_MODEL to one of: a, b",
            )
        ]


@pytest.mark.parametrize("status", [401, 403])
def test_openai_refused_key(tmp_path: Path, status: int) -> None:
    with _models_server(status, {"error": "no"}) as url:
        assert check_model(_openai(tmp_path, f"{url}/v1")) == [
            Check(
                "model",
                FAIL,
                f"the model server at {url}/v1 refused the API key",
                "set PERSONA_LLM_API_KEY to the server's key (vLLM: --api-key)",
            )
        ]


def test_openai_not_an_openai_server(tmp_path: Path) -> None:
    with _models_server(404, {"error": "no"}) as url:
        assert check_model(_openai(tmp_path, f"{url}/v1")) == [
            Check(
                "model",
                FAIL,
                f"{url}/v1/models answered 404: is this an OpenAI-compatible server?",
                "PERSONA_LLM_BASE_URL must be the server's OpenAI API root, e.g. "
                "http://HOST:8000/v1",
            )
        ]


def test_openai_unreachable(tmp_path: Path) -> None:
    with _models_server(200, {}) as url:
        pass  # closed again: nothing listens there any more
    (check,) = check_model(_openai(tmp_path, f"{url}/v1"))
    assert check.status == FAIL
    assert check.detail.startswith(f"cannot reach the model server at {url}/v1: ConnectError")
    assert check.fix == (
        "start it (for vLLM: `vllm serve MODEL --host HOST --port 8000`) or correct "
        "PERSONA_LLM_BASE_URL (it ends in /v1)"
    )


def test_embedded_with_a_model_file(tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF")
    settings = make_settings(tmp_path, llm_backend="embedded", llm_model_path=model)
    assert check_model(settings) == [Check("model", OK, "embedded llama.cpp with mine.gguf")]


def test_embedded_with_a_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.gguf"
    settings = make_settings(tmp_path, llm_backend="embedded", llm_model_path=missing)
    assert check_model(settings) == [
        Check(
            "model",
            FAIL,
            f"no model file at {missing}",
            "set PERSONA_LLM_MODEL_PATH to a GGUF file, or unset it for the packaged model",
        )
    ]


@pytest.mark.parametrize("packaged", ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
def test_embedded_with_the_packaged_model(tmp_path: Path, packaged: str) -> None:
    from persona.llm.packaged_model import packaged_artifact

    artifact = packaged_artifact(packaged)
    settings = make_settings(tmp_path, llm_backend="embedded", packaged_model=packaged)
    missing = []
    for part in artifact.parts:
        try:
            part.locate()
        except (ModuleNotFoundError, FileNotFoundError):
            missing.append(part.dist)
    if missing:
        expected = Check(
            "model",
            FAIL,
            f"the packaged chat model is incomplete: {', '.join(missing)} not installed",
            artifact.pip_hint(),
        )
    elif importlib.util.find_spec("xllamacpp") is None:
        expected = Check(
            "model", FAIL, "the embedded backend needs xllamacpp", "pip install xllamacpp"
        )
    else:
        expected = Check("model", OK, f"embedded llama.cpp with the packaged {artifact.name}")
    assert check_model(settings) == [expected]


def test_the_scripted_test_double_is_skipped(tmp_path: Path) -> None:
    assert check_model(make_settings(tmp_path)) == [
        Check("model", SKIP, "backend 'scripted' (a test double)", "")
    ]


def test_several_workers_and_the_embedded_model(tmp_path: Path) -> None:
    embedded = make_settings(tmp_path, llm_backend="embedded")
    assert EMBEDDED_WORKERS in multi_worker_problems(embedded)
    remote = _openai(tmp_path, "http://127.0.0.1:9/v1")
    assert EMBEDDED_WORKERS not in multi_worker_problems(remote)
    assert EMBEDDED_WORKERS not in multi_worker_problems(make_settings(tmp_path))


class _RemoteOnly(LLMBackend):
    """A backend the doctor has never heard of: registered, it is checked all the same."""

    name = "remote-only"
    multi_worker_problem = "remote-only keeps state in the process: run one worker"

    def start(self) -> str:
        raise AssertionError("the doctor starts nothing")

    def stop(self) -> None:
        return None

    @property
    def base_url(self) -> str:
        return "remote://"

    def health_checks(self, timeout_s: float = 5.0) -> list[HealthCheck]:
        assert timeout_s == TIMEOUT_S
        return [
            HealthCheck("ok", f"{self.config.model} answers"),
            HealthCheck("warn", "quota at 90%", "raise the quota"),
        ]


@pytest.fixture
def remote_only() -> Iterator[None]:
    chat_models.add(_RemoteOnly.name, _RemoteOnly)
    try:
        yield
    finally:
        chat_models.remove(_RemoteOnly.name)


def test_a_newly_registered_backend_brings_its_own_checks(tmp_path: Path, remote_only) -> None:
    settings = make_settings(tmp_path, llm_backend="remote-only", llm_model="m1")
    assert check_model(settings) == [
        Check("model", OK, "m1 answers"),
        Check("model", WARN, "quota at 90%", "raise the quota"),
    ]
    assert multi_worker_problems(settings)[-1] == _RemoteOnly.multi_worker_problem


def test_a_backend_without_checks_says_so(tmp_path: Path, remote_only, monkeypatch) -> None:
    monkeypatch.setattr(_RemoteOnly, "health_checks", LLMBackend.health_checks)
    settings = make_settings(tmp_path, llm_backend="remote-only")
    assert check_model(settings) == [
        Check("model", SKIP, "backend 'remote-only': it has no checks of its own")
    ]


def test_an_unknown_backend_name_fails_with_the_choices(tmp_path: Path) -> None:
    (check,) = check_model(make_settings(tmp_path, llm_backend="llamafile"))
    assert check.status == FAIL
    assert "unknown chat model backend 'llamafile'; choose one of:" in check.detail
    assert "embedded, openai" in check.detail and "PERSONA_LLM_BACKEND" in check.fix
