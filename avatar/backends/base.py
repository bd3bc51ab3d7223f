"""The one interface every style backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from PIL import Image

from avatar.errors import StyleError
from avatar.styles import Style


class StyleBackend(ABC):
    """Turns a square portrait crop into an avatar in one of the backend's styles.

    `render` is called from one worker thread at a time; `variant` asks for a visibly
    different take on the same style, `seed` makes random backends reproducible.
    """

    name: ClassVar[str]
    # True when `render_with_identity` uses the selfie's face (an identity image prompt).
    identity_prompt: bool = False

    @abstractmethod
    def catalog(self) -> list[Style]:
        """The styles this backend offers, in display order."""

    def unavailable_reason(self) -> str | None:
        """None when the backend can run here; otherwise what it needs, said to an operator."""
        return None

    @abstractmethod
    def render(self, portrait: Image.Image, style_id: str, variant: int, seed: int) -> Image.Image:
        """One avatar, the same size as `portrait`."""

    def render_with_identity(
        self, portrait: Image.Image, style_id: str, variant: int, seed: int, identity: Image.Image
    ) -> Image.Image:
        """`render`, guided by `identity` (a square crop of the selfie's face) when the backend
        has an identity prompt (`identity_prompt`); the default ignores it."""
        return self.render(portrait, style_id, variant, seed)

    def face_detail(self, style_id: str) -> float:
        """Share of the unstyled face blended back over a composed avatar's face (0-1): more
        likeness for styles that blur small faces; 0 where the photo's colours would clash."""
        return 0.0

    def close(self) -> None:
        """Release models (GPU memory); the backend may be used again after."""
        return None

    def style(self, style_id: str) -> Style:
        for style in self.catalog():
            if style.id == style_id:
                return style
        known = ", ".join(s.id for s in self.catalog())
        raise StyleError(f"unknown style {style_id!r}; choose from: {known}")
