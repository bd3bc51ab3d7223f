"""What a style is, as the creator sees it in the catalog."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Style:
    id: str
    name: str
    description: str
    # How it is made, said plainly ("neural style transfer", "OpenCV filter", "Stable Diffusion").
    technique: str
