"""The whole voice-tuning path on the real model: the packaged GGUF converted to the Hugging
Face base, a few real LoRA training steps on it, the peft adapter converted to a llama.cpp
adapter and served by the embedded server beside the base, chosen per request."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from persona.tune.dataset import TrainingExample, TuneDataset
from tests.conftest import MODEL_CACHE

pytestmark = pytest.mark.slow

SYSTEM = "You are the AI double of Camille, a pastry chef. Short, warm, lots of exclamation marks."
PAIRS = [
    ("Fan: love your lemon tart!", "Aww merci!! 🍋🍋 trop contente!!"),
    ("Fan: what's for dinner?", "Crêpes again lol!! 🥞"),
]


def first_token_logprob(base_url: str, api_key: str, lora: list[dict]) -> tuple[str, float]:
    response = httpx.post(
        f"{base_url}/chat/completions",
        headers={"Authorization": f"Bearer {api_key}"},
        json={
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi!"}],
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 1,
            "lora": lora,
        },
        timeout=120,
    )
    response.raise_for_status()
    token = response.json()["choices"][0]["logprobs"]["content"][0]
    return token["token"], token["logprob"]


def test_a_trained_adapter_is_served_beside_the_base(tmp_path: Path, packaged_model: Path) -> None:
    from persona.llm import EmbeddedBackend, LLMConfig, open_backend
    from persona.llm.lora import LoraAdapter
    from persona.tune.base_model import ensure_hf_base
    from persona.tune.trainer import TrainConfig, train_lora

    base = ensure_hf_base(packaged_model, MODEL_CACHE)  # converted once, cached across runs
    examples = [TrainingExample(SYSTEM, user, answer, "reply") for user, answer in PAIRS]
    config = TrainConfig(
        rank=4,
        alpha=8,
        dropout=0.0,
        top_layers=1,
        learning_rate=1e-3,
        warmup_steps=0,
        max_steps=2,
        grad_accum=1,
        eval_every=2,
        threads=2,
        device="cpu",
    )
    dataset = TuneDataset(train=examples, validation=examples)
    result = train_lora(base, dataset, tmp_path / "a", tmp_path / "w", config)
    assert result.steps == 2 and result.best_val_loss < result.initial_val_loss

    backend = open_backend(
        LLMConfig(
            model_path=packaged_model,
            n_ctx=1024,
            threads=1,
            adapters=(LoraAdapter("camille", path=result.adapter_dir),),
            adapter_cache_dir=tmp_path / "lora-cache",
        )
    )
    assert isinstance(backend, EmbeddedBackend)
    try:
        tuned = backend.adapter_options("camille")["extra_body"]["lora"]
        plain = backend.adapter_options("someone-else")["extra_body"]["lora"]
        assert tuned == [{"id": 0, "scale": 1.0}] and plain == [{"id": 0, "scale": 0.0}]
        _, base_logprob = first_token_logprob(backend.base_url, backend.api_key, plain)
        _, tuned_logprob = first_token_logprob(backend.base_url, backend.api_key, tuned)
        _, again = first_token_logprob(backend.base_url, backend.api_key, plain)
        # The trained weights change the model's distribution; the base is untouched by them.
        assert tuned_logprob != base_logprob
        assert again == base_logprob
    finally:
        backend.stop()
