"""Shared fixtures: settings in a temp dir, the real packaged LLM served once per session,
and a demo-creator data dir ingested once and copied per test."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tests.doubles  # noqa: F401 - registers the scripted chat backend
from channels.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_TWEETS = REPO.parent / "shared" / "data" / "creators" / "tweets_dev.csv"
MODEL_CACHE = Path(
    os.environ.get("PERSONA_TEST_MODEL_CACHE", Path.home() / ".cache" / "persona-test-models")
)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """An app built in a test configures logging for the process (`configure_logging`: the
    root's level and handlers; uvicorn.Config: its own loggers' level, handlers and
    propagation); put them back, so that a later test's log capture sees what it logs (a
    guard-model test missed its WARNING after another test left the root at ERROR; the
    access-log test saw no uvicorn line after a test server left "uvicorn.access" at WARNING
    and not propagating)."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.level, lg.handlers[:], lg.propagate, lg.disabled) for lg in loggers]
    yield
    for lg, (level, handlers, propagate, disabled) in zip(loggers, saved, strict=True):
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate, lg.disabled = propagate, disabled


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "llm_backend": "scripted",
        "log_level": "WARNING",
        "embed_threads": 1,
        "llm_threads": 1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def packaged_model() -> Path:
    """The packaged Qwen2.5-Coder-0.5B GGUF, assembled once into a cache shared across test
    runs: the fast model of the tests that check mechanics (serving, adapters, the draft)."""
    from persona.llm.packaged_model import QWEN_CODER_05B_Q4, assemble_packaged_model

    return assemble_packaged_model(MODEL_CACHE, QWEN_CODER_05B_Q4.name)


@pytest.fixture(scope="session")
def default_model() -> Path:
    """The default packaged chat model (the one fans get), for the quality gates."""
    from persona.llm.packaged_model import assemble_packaged_model

    return assemble_packaged_model(MODEL_CACHE)


@dataclass(frozen=True)
class RealLLM:
    url: str
    api_key: str
    model: str = "qwen2.5-coder-0.5b-instruct"

    def overrides(self) -> dict[str, object]:
        """Settings that point the platform at this server through the OpenAI backend."""
        return {
            "llm_backend": "openai",
            "llm_base_url": self.url,
            "llm_api_key": self.api_key,
            "llm_model": self.model,
        }


def _serve(model_path: Path, alias: str) -> Iterator[RealLLM]:
    from persona.llm.embedded_server import EmbeddedLlamaServer, EmbeddedServerConfig

    server = EmbeddedLlamaServer(
        EmbeddedServerConfig(
            model_path=model_path, threads=1, n_ctx=4096, parallel=3, model_alias=alias
        )
    )
    url = server.start()
    try:
        yield RealLLM(url, server.api_key, alias)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def real_llm(packaged_model: Path) -> Iterator[RealLLM]:
    """One real llama.cpp server (the 0.5B) for the whole session: the mechanics tests."""
    yield from _serve(packaged_model, "qwen2.5-coder-0.5b-instruct")


@pytest.fixture(scope="session")
def default_llm(default_model: Path) -> Iterator[RealLLM]:
    """The default model (what fans get) served once: the quality gates (useful answers, red
    team) measure this one."""
    from persona.llm.packaged_model import DEFAULT_PACKAGED_MODEL

    yield from _serve(default_model, f"{DEFAULT_PACKAGED_MODEL}-instruct")


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the demo creator ingested (SQLite + Chroma), built once."""
    from channels.demo_creator import ensure_demo
    from channels.services import Services

    data_dir = tmp_path_factory.mktemp("demo-template")
    services = Services.build(make_settings(data_dir))
    try:
        ensure_demo(services)
    finally:
        services.close()
    return data_dir


@pytest.fixture
def demo_dir(demo_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def shared_tweets() -> Path:
    if not SHARED_TWEETS.exists():
        pytest.skip(f"real creator data not found at {SHARED_TWEETS} (CI has it)")
    return SHARED_TWEETS


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    """A stub guard model on loopback (tests/guard_model_support.py): its /v1 URL."""
    from tests.guard_model_support import serve_stub_guard

    yield from serve_stub_guard()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, packaged_model: Path) -> Path:
    """A randomly initialised 2-layer Qwen2 with the packaged GGUF's tokenizer."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(packaged_model.parent, gguf_file=packaged_model.name)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        # Wider than the default 0.02: the tied output layer can then move the logits far
        # enough in a few steps for the test to see the loss fall.
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
