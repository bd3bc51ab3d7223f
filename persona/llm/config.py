"""Plain configuration of the chat-model backend (built by `channels.settings`, never env)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from persona.llm.lora import LoraAdapter

DEFAULT_MODEL_NAME = "qwen2.5-coder-0.5b-instruct"


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Which backend to use and how to call it.

    `backend` is a name in `persona.llm.chat_models`: "embedded" starts llama.cpp's server
    on loopback; "openai" talks to any OpenAI-compatible `base_url` (vLLM in production).
    Only standard OpenAI request parameters are sent, so both behave the same.
    """

    backend: str = "embedded"
    base_url: str | None = None  # "openai": e.g. http://127.0.0.1:8000/v1
    api_key: str = "none"  # "openai": the server's --api-key; "embedded" makes its own
    model: str = DEFAULT_MODEL_NAME  # served model name (vLLM: --served-model-name / LoRA name)
    model_path: Path | None = None  # "embedded": a GGUF; None assembles the packaged Qwen
    models_dir: Path | None = None  # where the packaged model is assembled
    # "embedded": the name of that packaged model (persona.llm.packaged_model.PACKAGED_MODELS);
    # None: the default one.
    packaged_model: str | None = None
    # "embedded": a small GGUF with the same vocabulary as draft model (speculative decoding,
    # see EmbeddedServerConfig); None decodes without a draft.
    draft_model_path: Path | None = None
    draft_max: int = 8
    draft_min: int = 0
    draft_p_min: float = 0.5
    lora_path: Path | None = None  # "embedded": a GGUF LoRA adapter applied at scale 1.0
    # Creators' active adapters, chosen per request (`LLMBackend.adapter_options`).
    # "embedded" loads them all at start; "openai" names them in `model` (vLLM LoRA names).
    adapters: tuple[LoraAdapter, ...] = ()
    adapter_cache_dir: Path | None = None  # "embedded": converted GGUFs; None: models_dir/lora
    threads: int = 1
    n_ctx: int = 4096  # context per parallel slot
    parallel: int = 1  # requests decoded together by the embedded server
    port: int = 0  # 0 picks a free loopback port
    timeout_s: float = 120.0
    startup_timeout_s: float = 60.0
    max_retries: int = 2
    temperature: float = 0.7
    top_p: float = 0.9
    max_tokens: int = 256
