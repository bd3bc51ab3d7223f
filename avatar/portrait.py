"""Square head-and-shoulders crops around the face: every backend starts from one of these.

Styling a crop where the face fills the frame keeps far more of the face than styling the
whole photo (measured: neural styles lose the face on a full 512 px photo, keep it on a crop).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from avatar.faces import Face

# How many face heights the square crop spans; variants differ in framing.
FRAMINGS: tuple[float, ...] = (2.3, 1.9, 2.8)


def portrait_crop(
    image: Image.Image, face: Face, size: int, framing: float = FRAMINGS[0]
) -> Image.Image:
    """A `size` x `size` crop centred a little below the face centre (to include shoulders)."""
    cx, cy = face.center
    side = max(face.w, face.h) * framing
    cy += 0.12 * side
    left, top = round(cx - side / 2), round(cy - side / 2)
    box = (left, top, left + round(side), top + round(side))
    width, height = image.size
    if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
        # Mirror the edges instead of painting black bars where the photo ends.
        pad = round(side)
        image = _reflect_pad(image, pad)
        box = (box[0] + pad, box[1] + pad, box[2] + pad, box[3] + pad)
    return image.crop(box).resize((size, size), Image.Resampling.LANCZOS)


def _reflect_pad(image: Image.Image, pad: int) -> Image.Image:
    array = np.asarray(image.convert("RGB"))
    pad_y = min(pad, array.shape[0] - 1)
    pad_x = min(pad, array.shape[1] - 1)
    padded = np.pad(array, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect")
    # Bring the result to a uniform `pad` border so the crop box arithmetic stays simple.
    extra_y, extra_x = pad - pad_y, pad - pad_x
    if extra_y or extra_x:
        padded = np.pad(padded, ((extra_y, extra_y), (extra_x, extra_x), (0, 0)), mode="edge")
    return Image.fromarray(padded)
