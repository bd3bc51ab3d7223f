"""Model backends of the reply engine, all spoken to over the OpenAI-compatible HTTP API.

- `packaged_model`: assembles the offline Qwen GGUF shipped inside PyPI packages;
- `embedded_server`: llama.cpp's own server in a supervised child process;
- `backends`: the `chat_models` registry ("embedded", "openai") handing out `ChatOpenAI`;
- `lora`: creators' LoRA adapters on the one served base model, chosen per request.

Names are exported lazily: the server child runs `python -m persona.llm.embedded_server`,
which must not import the rest of the package first (runpy warns about that).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AdapterRouting": "lora",
    "AdapterTable": "lora",
    "LoraAdapter": "lora",
    "EmbeddedBackend": "backends",
    "HealthCheck": "backends",
    "LLMBackend": "backends",
    "OpenAICompatibleBackend": "backends",
    "chat_models": "backends",
    "open_backend": "backends",
    "DEFAULT_MODEL_NAME": "config",
    "LLMConfig": "config",
    "EmbeddedLlamaServer": "embedded_server",
    "EmbeddedServerConfig": "embedded_server",
    "EmbeddedServerError": "errors",
    "LLMBackendError": "errors",
    "ModelEndpointError": "errors",
    "ModelFileNotFoundError": "errors",
    "PackagedModelError": "errors",
    "QWEN_CODER_05B_Q4": "packaged_model",
    "assemble_packaged_model": "packaged_model",
}

__all__ = [
    "AdapterRouting",
    "AdapterTable",
    "LoraAdapter",
    "DEFAULT_MODEL_NAME",
    "EmbeddedBackend",
    "EmbeddedLlamaServer",
    "EmbeddedServerConfig",
    "EmbeddedServerError",
    "HealthCheck",
    "LLMBackend",
    "LLMBackendError",
    "LLMConfig",
    "ModelEndpointError",
    "ModelFileNotFoundError",
    "OpenAICompatibleBackend",
    "PackagedModelError",
    "QWEN_CODER_05B_Q4",
    "assemble_packaged_model",
    "chat_models",
    "open_backend",
]

if TYPE_CHECKING:
    from persona.llm.backends import (
        EmbeddedBackend,
        HealthCheck,
        LLMBackend,
        OpenAICompatibleBackend,
        chat_models,
        open_backend,
    )
    from persona.llm.config import DEFAULT_MODEL_NAME, LLMConfig
    from persona.llm.embedded_server import EmbeddedLlamaServer, EmbeddedServerConfig
    from persona.llm.errors import (
        EmbeddedServerError,
        LLMBackendError,
        ModelEndpointError,
        ModelFileNotFoundError,
        PackagedModelError,
    )
    from persona.llm.lora import AdapterRouting, AdapterTable, LoraAdapter
    from persona.llm.packaged_model import QWEN_CODER_05B_Q4, assemble_packaged_model


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'persona.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(f"persona.llm.{module}"), name)
