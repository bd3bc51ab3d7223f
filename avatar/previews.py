"""Catalog preview pictures, rendered by the style backend itself on first use and cached.

The sitter is a public-domain photo that ships inside scikit-image (NASA's astronaut portrait)
when that package is installed, otherwise a portrait drawn here. No third-party photo is
stored in the repository.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter


def preview_sitter() -> Image.Image:
    try:
        from skimage import data
    except ImportError:
        return drawn_portrait()
    return Image.fromarray(data.astronaut())


def drawn_portrait(size: int = 512) -> Image.Image:
    """A simple painted-looking head and shoulders, for when no photo is available."""
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for y in range(size):  # soft vertical background gradient
        shade = int(90 + 100 * y / size)
        draw.line([(0, y), (size, y)], fill=(shade // 2, shade // 2 + 30, shade + 40))
    s = size / 512
    draw.ellipse((96 * s, 380 * s, 416 * s, 640 * s), fill=(60, 90, 150))  # shoulders
    draw.rectangle((226 * s, 300 * s, 286 * s, 400 * s), fill=(224, 176, 140))  # neck
    draw.ellipse((166 * s, 110 * s, 346 * s, 340 * s), fill=(232, 186, 150))  # face
    draw.chord((156 * s, 90 * s, 356 * s, 260 * s), 180, 360, fill=(70, 45, 30))  # hair
    for cx in (216, 296):  # eyes
        draw.ellipse(((cx - 14) * s, 200 * s, (cx + 14) * s, 218 * s), fill=(250, 250, 250))
        draw.ellipse(((cx - 7) * s, 202 * s, (cx + 7) * s, 216 * s), fill=(60, 40, 30))
    draw.line((256 * s, 215 * s, 248 * s, 262 * s, 262 * s, 266 * s), fill=(190, 130, 100), width=3)
    draw.arc((220 * s, 262 * s, 292 * s, 302 * s), 20, 160, fill=(170, 70, 70), width=4)
    return image.filter(ImageFilter.GaussianBlur(1.2))
