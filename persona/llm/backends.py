"""Chat-model backends: every model is reached over the OpenAI-compatible HTTP API.

`chat_models` maps a backend name to a factory `(LLMConfig) -> LLMBackend`. A backend owns
the endpoint's lifecycle (the embedded one starts llama.cpp's server; the openai one only
knows a URL, e.g. vLLM's) and hands out langchain `ChatOpenAI` models bound to it. Test
doubles register through the same registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from persona.llm.config import LLMConfig
from persona.llm.embedded_server import EmbeddedLlamaServer, EmbeddedServerConfig
from persona.llm.errors import LLMBackendError, ModelEndpointError
from persona.llm.packaged_model import assemble_packaged_model
from persona.registry import Registry

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class LLMBackend(ABC):
    """One model endpoint. Subclasses say how the endpoint comes to exist (`start`)."""

    name: ClassVar[str]

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    @abstractmethod
    def start(self) -> str:
        """Make the endpoint usable and return its OpenAI base URL (ending in /v1)."""

    @abstractmethod
    def stop(self) -> None:
        """Release what `start` acquired. Safe to call twice."""

    @property
    @abstractmethod
    def base_url(self) -> str: ...

    @property
    def api_key(self) -> str:
        return self.config.api_key

    def chat_model(self, **overrides: Any) -> BaseChatModel:
        """A streaming `ChatOpenAI` bound to this endpoint.

        `overrides` are ChatOpenAI fields (e.g. `temperature`, `max_tokens`, `model` to pick
        a vLLM LoRA adapter by name, `timeout`). Only standard OpenAI parameters go on the
        wire: vLLM silently ignores llama.cpp-only names.
        """
        from langchain_openai import ChatOpenAI  # 1.4 s import: only when a model is needed

        cfg = self.config
        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "api_key": self.api_key,
            "model": cfg.model,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "max_tokens": cfg.max_tokens,  # sent as max_completion_tokens
            "streaming": True,
            "stream_usage": True,  # usage (incl. cached prompt tokens) on the last chunk
            "timeout": cfg.timeout_s,
            "max_retries": cfg.max_retries,
        }
        kwargs.update(overrides)
        return ChatOpenAI(**kwargs)

    def ping(self, timeout_s: float = 15.0) -> None:
        """Health check: a 1-token completion. Raises ModelEndpointError naming the fix."""
        import openai

        model = self.chat_model(max_tokens=1, max_retries=0, timeout=timeout_s, streaming=False)
        try:
            model.invoke("ping")
        except openai.APIConnectionError as exc:  # includes timeouts
            raise ModelEndpointError(self._unreachable_message()) from exc
        except openai.AuthenticationError as exc:
            raise ModelEndpointError(
                f"model endpoint {self.base_url} rejected the API key: set "
                "PERSONA_LLM_API_KEY to the key the server was started with (vLLM: --api-key)"
            ) from exc
        except openai.NotFoundError as exc:
            served = ", ".join(self.served_models()) or "unknown"
            raise ModelEndpointError(
                f"model {self.config.model!r} is not served at {self.base_url} (served: "
                f"{served}): set PERSONA_LLM_MODEL to one of them (vLLM: --served-model-name)"
            ) from exc
        except openai.APIStatusError as exc:
            raise ModelEndpointError(
                f"model endpoint {self.base_url} failed a 1-token completion with HTTP "
                f"{exc.status_code}: check the server's log"
            ) from exc

    def served_models(self, timeout_s: float = 5.0) -> list[str]:
        """Model ids the endpoint lists at GET /models (empty when it cannot tell)."""
        try:
            response = httpx.get(
                f"{self.base_url}/models",
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=timeout_s,
            )
            response.raise_for_status()
            return [str(item["id"]) for item in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return []

    def describe(self) -> dict[str, str]:
        """What an operator needs to know (never the API key)."""
        return {"backend": self.name, "base_url": self.base_url, "model": self.config.model}

    def _unreachable_message(self) -> str:
        return (
            f"model endpoint {self.base_url} not reachable: start vLLM with "
            f"`vllm serve MODEL_DIR --served-model-name {self.config.model} --port 8000` "
            "(see docs/vllm.md) or set PERSONA_LLM_BASE_URL to a running OpenAI-compatible server"
        )

    def __enter__(self) -> LLMBackend:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class OpenAICompatibleBackend(LLMBackend):
    """Any OpenAI-compatible server the operator runs: vLLM in production."""

    name = "openai"

    def __init__(self, config: LLMConfig) -> None:
        if not config.base_url:
            raise LLMBackendError(
                "the openai backend needs a base URL: set PERSONA_LLM_BASE_URL "
                "(vLLM: http://HOST:8000/v1)"
            )
        super().__init__(config)

    def start(self) -> str:
        # The server's lifecycle is the operator's; `ping()` checks it is up.
        return self.base_url

    def stop(self) -> None:
        """Nothing to release: the HTTP clients belong to the chat models."""

    @property
    def base_url(self) -> str:
        assert self.config.base_url is not None
        return self.config.base_url.rstrip("/")


class EmbeddedBackend(LLMBackend):
    """llama.cpp's server in a supervised child process on loopback (dev, CI, small hosts)."""

    name = "embedded"

    def __init__(self, config: LLMConfig) -> None:
        super().__init__(config)
        self.server: EmbeddedLlamaServer | None = None

    def start(self) -> str:
        if self.server is None:
            self.server = EmbeddedLlamaServer(self.server_config())
        return self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def server_config(self) -> EmbeddedServerConfig:
        cfg = self.config
        return EmbeddedServerConfig(
            model_path=self.resolve_model_path(),
            n_ctx=cfg.n_ctx,
            threads=cfg.threads,
            port=cfg.port,
            parallel=cfg.parallel,
            startup_timeout_s=cfg.startup_timeout_s,
            lora_path=cfg.lora_path,
            model_alias=cfg.model,
        )

    def resolve_model_path(self) -> Path:
        if self.config.model_path is not None:
            return self.config.model_path
        if self.config.models_dir is None:
            raise LLMBackendError(
                "the embedded backend needs a GGUF: set model_path (PERSONA_LLM_MODEL_PATH) "
                "or models_dir so that the packaged Qwen model can be assembled there"
            )
        return assemble_packaged_model(self.config.models_dir)

    @property
    def base_url(self) -> str:
        if self.server is None:
            raise LLMBackendError("the embedded backend is not started: call start() first")
        return self.server.base_url

    @property
    def api_key(self) -> str:
        if self.server is None:
            raise LLMBackendError("the embedded backend is not started: call start() first")
        return self.server.api_key

    def describe(self) -> dict[str, str]:
        running = self.server is not None and self.server.pid is not None
        info = {
            "backend": self.name,
            "base_url": self.base_url if running else "not started",
            "model": self.config.model,
        }
        if self.server is not None:
            info.update(
                model_path=str(self.server.config.model_path),
                threads=str(self.config.threads),
                parallel=str(self.config.parallel),
                pid=str(self.server.pid),
                restarts=str(self.server.restarts),
            )
        return info

    def _unreachable_message(self) -> str:
        return (
            f"embedded llama server at {self.base_url} not reachable: it restarts by itself "
            "after a crash (see the persona.llm log); or use a vLLM server with "
            "PERSONA_LLM_BACKEND=openai and PERSONA_LLM_BASE_URL"
        )


chat_models: Registry[LLMBackend] = Registry("chat model")
chat_models.add(EmbeddedBackend.name, EmbeddedBackend)
chat_models.add(OpenAICompatibleBackend.name, OpenAICompatibleBackend)


def open_backend(config: LLMConfig) -> LLMBackend:
    """Build the configured backend and start it. The caller stops it (or uses `with`)."""
    backend = chat_models.create(config.backend, config)
    backend.start()
    return backend
