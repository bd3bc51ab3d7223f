"""Errors of the model backends. Each message names the problem and the fix."""

from __future__ import annotations


class LLMBackendError(RuntimeError):
    """Base class: anything that keeps the platform from reaching a chat model."""


class PackagedModelError(LLMBackendError):
    """The packaged GGUF cannot be assembled (packages missing, or chunks corrupt)."""


class ModelFileNotFoundError(LLMBackendError, FileNotFoundError):
    """The configured model file does not exist or is not a GGUF file."""


class EmbeddedServerError(LLMBackendError):
    """The embedded llama.cpp server failed to start or died."""


class ModelEndpointError(LLMBackendError):
    """An OpenAI-compatible endpoint is unreachable, rejects our key, or lacks the model."""


def error_summary(exc: BaseException) -> str:
    """The exception's type and the first line of its message (200 characters at most), for
    a one-line report such as `persona doctor`'s."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
