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
