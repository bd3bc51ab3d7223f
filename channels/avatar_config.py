"""The avatar studio's configuration from the platform's settings: used by the services,
the job workers, `persona doctor` and `persona avatar`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avatar import AvatarConfig
    from channels.settings import Settings


def avatar_config(settings: Settings) -> AvatarConfig:
    """The avatar settings; `avatar_*` fields of Settings override the library defaults."""
    from avatar import AvatarConfig, IntakeLimits

    overrides: dict[str, object] = {
        name: getattr(settings, f"avatar_{name}")
        for name in (
            "backend",
            "daily_limit",
            "upload_ttl_s",
            "output_retention_s",
            "max_outputs",
            "threads",
            "workers",
            "visible_mark",
            "diffusers_model_dir",
            "diffusers_device",
            "diffusers_steps",
            "c2pa_cert_chain",
            "c2pa_private_key",
        )
        if getattr(settings, f"avatar_{name}", None) is not None
    }
    if settings.avatar_max_pixels is not None:
        overrides["limits"] = IntakeLimits(max_pixels=settings.avatar_max_pixels)
    return AvatarConfig(data_dir=settings.data_dir, **overrides)
