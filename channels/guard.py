"""The engine's guard as the settings ask: the code checks alone, or with a guard model."""

from __future__ import annotations

from typing import Any

from channels.settings import Settings


def guard_model(settings: Settings) -> Any:
    """The configured GuardModel, or None without PERSONA_GUARD_URL."""
    if not settings.guard_url:
        return None
    from persona.safety.guard_model import GuardModel, GuardModelConfig

    return GuardModel(
        GuardModelConfig(
            base_url=settings.guard_url,
            model=settings.guard_model,
            api_key=settings.guard_api_key,
            timeout_s=settings.guard_timeout_s,
            style=settings.guard_style,
        )
    )


def guard_with_model(guard: Any, settings: Settings) -> Any:
    """`guard` (a SafetyGuard) as it is when no guard URL is set; otherwise the guard model
    is its inbound judge and reads every outbound draft (persona.safety.guard_model)."""
    model = guard_model(settings)
    if model is None:
        return guard
    from persona.safety.guard_model import ModelCheckedGuard

    guard.judge = model
    return ModelCheckedGuard(guard, model)
