"""Chat-model backends: every model is reached over the OpenAI-compatible HTTP API.

`chat_models` maps a backend name to a factory `(LLMConfig) -> LLMBackend`. A backend owns
the endpoint's lifecycle (the embedded one starts llama.cpp's server; the openai one only
knows a URL, e.g. vLLM's) and hands out langchain `ChatOpenAI` models bound to it. Test
doubles register through the same registry.

Creators' LoRA adapters (`persona.llm.lora`) are chosen per request: bind
`backend.adapter_options(creator_id)` onto a chat model (`model.bind(**options)`).
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx

from persona.llm.config import LLMConfig
from persona.llm.embedded_server import EmbeddedLlamaServer, EmbeddedServerConfig
from persona.llm.errors import LLMBackendError, ModelEndpointError, error_summary
from persona.llm.lora import AdapterTable, LoraAdapter, gguf_adapter_files
from persona.llm.packaged_model import (
    DEFAULT_PACKAGED_MODEL,
    assemble_packaged_model,
    packaged_artifact,
)
from persona.registry import Registry

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One finding of `LLMBackend.health_checks`: what was found and, unless it is ok, the
    fix, in words an operator can act on (`persona doctor` prints them)."""

    status: Literal["ok", "warn", "fail", "skip"]
    detail: str
    fix: str = ""


class LLMBackend(ABC):
    """One model endpoint. Subclasses say how the endpoint comes to exist (`start`).

    Building one (the `chat_models` factory) acquires nothing; `start` does. So `persona
    doctor` builds the configured backend and asks it `health_checks()`: a backend registered
    in `chat_models` brings its own checks, and the doctor never names a backend.
    """

    name: ClassVar[str]
    # Why several API worker processes cannot each use this backend, with the fix (empty:
    # they can). `persona serve --workers N` refuses to start when it is not empty.
    multi_worker_problem: ClassVar[str] = ""
    # Does the server continue a final assistant message instead of starting a new one?
    # llama.cpp does by default; vLLM only with its non-standard `continue_final_message`,
    # and an unknown OpenAI-compatible server cannot be assumed to.
    continues_assistant_prefix: ClassVar[bool] = False

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.adapters = AdapterTable(config.adapters)

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

        from persona.llm.http_clients import LoopLocalAsyncClient

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
            # Never reuse a pooled connection from another (possibly closed) event loop.
            "http_async_client": LoopLocalAsyncClient(),
        }
        kwargs.update(overrides)
        # langchain-openai >= 1.8 also gives up on a stream after 120 s without a chunk,
        # whatever `timeout` says: a long prompt on a busy CPU server waits longer than that
        # for its first token (seen: eval requests errored at 120 s under load).
        kwargs["stream_chunk_timeout"] = kwargs.get("timeout", cfg.timeout_s)
        return ChatOpenAI(**kwargs)

    def adapter_options(self, creator: str | None) -> dict[str, Any]:
        """Request options (for `chat_model(...).bind(**options)`) that make one request
        answer with `creator`'s active adapter, or with the base model when they have none.

        Here: vLLM's way, the adapter's served name as `model`. The embedded backend
        overrides it with llama.cpp's per-request `lora` list.
        """
        adapter = self.adapters.get(creator)
        return {"model": adapter.model_name} if adapter is not None else {}

    def model_for(self, creator: str | None) -> str:
        """The model name a reply for `creator` is recorded under (adapter or base)."""
        adapter = self.adapters.get(creator)
        return adapter.model_name if adapter is not None else self.config.model

    def set_adapters(self, adapters: tuple[LoraAdapter, ...]) -> None:
        """Serve another set of active adapters (e.g. after `persona tune` activated one).
        Here only the routing changes: the operator loads adapters into vLLM."""
        self.adapters = AdapterTable(adapters)

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

    def health_checks(self, timeout_s: float = 5.0) -> list[HealthCheck]:
        """Whether this backend could serve with its configuration, checked without starting
        or changing anything, each network call giving up after `timeout_s`. Here: nothing
        to check; backends override it."""
        return [HealthCheck("skip", f"backend {self.name!r}: it has no checks of its own")]

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

    def health_checks(self, timeout_s: float = 5.0) -> list[HealthCheck]:
        """The server answers GET /models with our key and lists the configured model."""
        base = self.base_url
        try:
            response = httpx.get(
                f"{base}/models",
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=timeout_s,
            )
        except httpx.HTTPError as exc:
            return [
                HealthCheck(
                    "fail",
                    f"cannot reach the model server at {base}: {error_summary(exc)}",
                    "start it (for vLLM: `vllm serve MODEL --host HOST --port 8000`) or correct "
                    "PERSONA_LLM_BASE_URL (it ends in /v1)",
                )
            ]
        if response.status_code in (401, 403):
            return [
                HealthCheck(
                    "fail",
                    f"the model server at {base} refused the API key",
                    "set PERSONA_LLM_API_KEY to the server's key (vLLM: --api-key)",
                )
            ]
        if response.status_code >= 400:
            return [
                HealthCheck(
                    "fail",
                    f"{base}/models answered {response.status_code}: is this an "
                    "OpenAI-compatible server?",
                    "PERSONA_LLM_BASE_URL must be the server's OpenAI API root, e.g. "
                    "http://HOST:8000/v1",
                )
            ]
        try:
            served = [str(m.get("id")) for m in response.json().get("data", [])]
        except ValueError:
            served = []
        model = self.config.model
        if served and model not in served:
            return [
                HealthCheck(
                    "fail",
                    f"the server at {base} does not serve {model!r}",
                    f"set PERSONA_LLM_MODEL to one of: {', '.join(served[:5])}",
                )
            ]
        return [HealthCheck("ok", f"{model} served at {base}")]

    def unserved_adapters(self, timeout_s: float = 5.0) -> list[str]:
        """Adapter names the platform would send that the server does not list at
        GET /models: requests for those creators would fail (HTTP 404) until vLLM loads them
        (`--lora-modules NAME=PATH`, see docs/vllm.md). For `persona doctor`."""
        served = set(self.served_models(timeout_s))
        return [a.model_name for a in self.adapters if a.model_name not in served]

    @property
    def base_url(self) -> str:
        assert self.config.base_url is not None
        return self.config.base_url.rstrip("/")


class EmbeddedBackend(LLMBackend):
    """llama.cpp's server in a supervised child process on loopback (dev, CI, small hosts)."""

    name = "embedded"
    continues_assistant_prefix = True
    multi_worker_problem = (
        "set PERSONA_LLM_BACKEND=openai and PERSONA_LLM_BASE_URL (vLLM): each worker would "
        "start its own embedded model"
    )

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

    def chat_model(self, **overrides: Any) -> BaseChatModel:
        """As `LLMBackend.chat_model`; with adapters loaded, unbound requests name the base
        explicitly (see `persona.llm.lora` for why every request carries the list)."""
        if len(self.adapters):
            overrides.setdefault("extra_body", self.adapter_options(None)["extra_body"])
        return super().chat_model(**overrides)

    def adapter_options(self, creator: str | None) -> dict[str, Any]:
        if not len(self.adapters):
            return {}
        return {"extra_body": {"lora": self.adapters.llama_selection(creator)}}

    def set_adapters(self, adapters: tuple[LoraAdapter, ...]) -> None:
        """Load another set of adapters: llama.cpp loads adapters only at start, so a
        running server is restarted (~2 s) on the same URL with the same API key, which
        keeps chat models made earlier working. Requests in flight during the restart fail."""
        table = AdapterTable(adapters)
        if table == self.adapters:
            return
        previous, self.adapters = self.adapters, table
        running = self.server
        if running is None or running.pid is None:
            self.server = None  # start() builds the server with the new adapters
            return
        port, key = running.port, running.api_key
        try:
            config = replace(self.server_config(), port=port, api_key=key)
        except BaseException:
            self.adapters = previous  # e.g. an adapter that does not convert: keep serving
            raise
        running.stop()
        self.server = EmbeddedLlamaServer(config)
        try:
            self.server.start()
        except BaseException:
            # Bring the previous adapters back on the same URL, then report the failure.
            self.adapters = previous
            self.server = EmbeddedLlamaServer(replace(running.config, port=port, api_key=key))
            self.server.start()
            raise

    def server_config(self) -> EmbeddedServerConfig:
        cfg = self.config
        model_path = self.resolve_model_path()
        return EmbeddedServerConfig(
            model_path=model_path,
            n_ctx=cfg.n_ctx,
            threads=cfg.threads,
            port=cfg.port,
            parallel=cfg.parallel,
            startup_timeout_s=cfg.startup_timeout_s,
            lora_path=cfg.lora_path,
            lora_adapters=self._adapter_files(model_path),
            model_alias=cfg.model,
            draft_model_path=cfg.draft_model_path,
            draft_max=cfg.draft_max,
            draft_min=cfg.draft_min,
            draft_p_min=cfg.draft_p_min,
        )

    def _adapter_files(self, model_path: Path) -> tuple[Path, ...]:
        if not len(self.adapters):
            return ()
        cache_dir = self.config.adapter_cache_dir or (
            self.config.models_dir / "lora" if self.config.models_dir is not None else None
        )
        return gguf_adapter_files(self.adapters, model_path, cache_dir)

    def resolve_model_path(self) -> Path:
        if self.config.model_path is not None:
            return self.config.model_path
        if self.config.models_dir is None:
            raise LLMBackendError(
                "the embedded backend needs a GGUF: set model_path (PERSONA_LLM_MODEL_PATH) "
                "or models_dir so that the packaged Qwen model can be assembled there"
            )
        return assemble_packaged_model(
            self.config.models_dir, self.config.packaged_model or DEFAULT_PACKAGED_MODEL
        )

    def health_checks(self, timeout_s: float = 5.0) -> list[HealthCheck]:
        """The model file is there, or every chunk package of the packaged model is
        installed (nothing is assembled), and llama.cpp's server can be imported."""
        if self.config.model_path is not None:
            path = Path(self.config.model_path)
            if not path.is_file():
                return [
                    HealthCheck(
                        "fail",
                        f"no model file at {path}",
                        "set PERSONA_LLM_MODEL_PATH to a GGUF file, or unset it for the "
                        "packaged model",
                    )
                ]
            return [HealthCheck("ok", f"embedded llama.cpp with {path.name}")]
        artifact = packaged_artifact(self.config.packaged_model or DEFAULT_PACKAGED_MODEL)
        missing = []
        for part in artifact.parts:
            try:
                part.locate()
            except (ModuleNotFoundError, FileNotFoundError):
                missing.append(part.dist)
        if missing:
            return [
                HealthCheck(
                    "fail",
                    f"the packaged chat model is incomplete: {', '.join(missing)} not installed",
                    artifact.pip_hint(),
                )
            ]
        if importlib.util.find_spec("xllamacpp") is None:
            return [
                HealthCheck("fail", "the embedded backend needs xllamacpp", "pip install xllamacpp")
            ]
        return [HealthCheck("ok", f"embedded llama.cpp with the packaged {artifact.name}")]

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
        if len(self.adapters):
            info["adapters"] = ", ".join(a.creator for a in self.adapters)
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
