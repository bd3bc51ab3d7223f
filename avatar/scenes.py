"""Procedural backgrounds for avatars: painted-looking landscapes, skies, studio light, comic
and poster patterns. Drawn from numbers (a seeded generator), never from photos, so no other
person can appear behind the creator. Each style has the scene kinds and palettes that suit
it; the style backend then paints the scene together with the person.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RGB = tuple[int, int, int]
SceneFn = Callable[[np.random.Generator, int, list[np.ndarray]], np.ndarray]


@dataclass(frozen=True, slots=True)
class SceneFamily:
    kinds: tuple[str, ...]
    palettes: tuple[tuple[RGB, ...], ...]
    # How far (degrees) the palette's hue may turn per take: colour varies within a style.
    hue_jitter: float = 20.0


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(axis, axis)  # x, y in (0, 1)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[..., None]


def _noise(rng: np.random.Generator, size: int, octaves: int = 4, base: int = 4) -> np.ndarray:
    """Smooth fractal noise in [0, 1] (value noise: upscaled random grids, summed)."""
    import cv2

    total = np.zeros((size, size), np.float32)
    weight = 1.0
    for octave in range(octaves):
        cells = base * 2**octave
        grid = rng.random((cells, cells), dtype=np.float32)
        total += weight * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        weight *= 0.5
    total -= total.min()
    return total / (total.max() + 1e-6)


def _ridge(rng: np.random.Generator, size: int, height: float, rough: float) -> np.ndarray:
    """A hill line: y (0 top .. 1 bottom) per column, from a few random sines."""
    x = np.linspace(0, 1, size, dtype=np.float32)
    y = np.full(size, height, np.float32)
    for k in range(1, 5):
        y += rough / k * np.sin(2 * np.pi * (k * rng.uniform(0.6, 1.4) * x + rng.random()))
    return y


def sky_hills(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """Sky gradient, a sun with a glow, two or three layers of hills fading into the haze."""
    x, y = _grid(size)
    image = _mix(pal[0], pal[1], np.clip(y * 1.3, 0, 1))
    sx, sy = rng.uniform(0.15, 0.85), rng.uniform(0.12, 0.35)
    dist = np.hypot(x - sx, y - sy)
    glow = np.exp(-((dist / 0.22) ** 2))
    image = _mix(image, np.array([255, 244, 214], np.float32), 0.6 * glow)
    image = _mix(image, np.array([255, 250, 235], np.float32), (dist < 0.055).astype(np.float32))
    layers = int(rng.integers(2, 4))
    accents = pal[2:] or [pal[1] * 0.6]
    for i in range(layers):
        line = _ridge(rng, size, 0.55 + 0.12 * i, 0.05 / (i + 1))
        colour = accents[i % len(accents)] * (0.75 + 0.25 * (layers - i) / layers)
        colour = colour * (1 - 0.35 * (layers - 1 - i) / layers) + pal[1] * (
            0.35 * (layers - 1 - i) / layers
        )
        image = _mix(image, colour, (y > line[None, :]).astype(np.float32))
    return image


def clouds(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """A soft sky of drifting clouds."""
    _, y = _grid(size)
    image = _mix(pal[0], pal[1], y)
    cover = np.clip((_noise(rng, size, 5, 3) - 0.45) * 2.2, 0, 1)
    return _mix(image, pal[2] * 0.4 + 255 * 0.6, cover)


def bokeh(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """Out-of-focus lights: blurred discs over a dark-to-light gradient."""
    import cv2

    x, y = _grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip(0.5 + 0.7 * ((x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle)), 0, 1)
    image = _mix(pal[0] * 0.6, pal[1], t)
    lights = np.zeros((size, size, 3), np.float32)
    for _ in range(int(rng.integers(18, 34))):
        colour = pal[int(rng.integers(1, len(pal)))] * rng.uniform(0.5, 1.0)
        centre = (int(rng.integers(0, size)), int(rng.integers(0, size)))
        radius = int(size * rng.uniform(0.025, 0.09))
        cv2.circle(lights, centre, radius, tuple(float(c) for c in colour), -1, cv2.LINE_AA)
    lights = cv2.GaussianBlur(lights, (0, 0), size / 180)
    return np.clip(image + 0.55 * lights, 0, 255)


def studio(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """A painted backdrop lit from behind the sitter, mottled like canvas."""
    x, y = _grid(size)
    cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.5)
    light = np.exp(-((np.hypot(x - cx, (y - cy) * 0.8) / 0.45) ** 2))
    image = _mix(pal[0] * 0.5, pal[1], light)
    mottle = _noise(rng, size, 4, 3) - 0.5
    return np.clip(image * (1 + 0.25 * mottle[..., None]), 0, 255)


def skyline(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """A city at dusk: a glowing sky, blocks of buildings with lit windows."""
    _, y = _grid(size)
    image = _mix(pal[0], pal[1], np.clip(y * 1.5, 0, 1))
    body = pal[0] * 0.35
    light = pal[2 % len(pal)] * 0.5 + 255 * 0.5
    x0 = -int(rng.integers(0, size // 10))
    while x0 < size:
        width = int(size * rng.uniform(0.07, 0.16))
        top = int(size * rng.uniform(0.35, 0.7))
        image[top:, max(0, x0) : x0 + width] = body * rng.uniform(0.7, 1.2)
        step = max(6, size // 40)
        for wy in range(top + step // 2, size, step):
            for wx in range(max(0, x0) + step // 3, min(size, x0 + width) - step // 3, step):
                if rng.random() < 0.35:
                    image[wy : wy + step // 2, wx : wx + step // 3] = light
        x0 += width + int(rng.integers(0, size // 40 + 1))
    return image


def sunburst(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """Comic-book rays from a point, two colours, darker towards the corners."""
    x, y = _grid(size)
    cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.6)
    rays = int(rng.integers(10, 22))
    angle = np.arctan2(y - cy, x - cx) + rng.uniform(0, np.pi)
    stripe = (np.floor(angle / np.pi * rays) % 2).astype(np.float32)
    image = _mix(pal[0], pal[1], stripe)
    fade = np.clip(np.hypot(x - cx, y - cy) * 1.1, 0, 1)
    return image * (1 - 0.35 * fade[..., None])


def halftone(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """A print-like field of dots that grow along a gradient."""
    x, y = _grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip(0.5 + 0.8 * ((x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle)), 0, 1)
    cell = int(rng.integers(12, 22)) / size
    fx, fy = (x / cell) % 1 - 0.5, (y / cell) % 1 - 0.5
    dots = (np.hypot(fx, fy) < 0.12 + 0.33 * t).astype(np.float32)
    return _mix(pal[0], pal[1], dots)


def shapes(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """Flat poster shapes (circles, triangles, bars) on a plain ground."""
    import cv2

    image = np.empty((size, size, 3), np.float32)
    image[:] = pal[0]
    for _ in range(int(rng.integers(7, 13))):
        colour = tuple(float(c) for c in pal[int(rng.integers(1, len(pal)))])
        cx, cy = (int(v) for v in rng.integers(0, size, 2))
        r = int(size * rng.uniform(0.06, 0.22))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            cv2.circle(image, (cx, cy), r, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
            cv2.fillPoly(image, [pts], colour, cv2.LINE_AA)
        else:
            box = ((cx, cy), (r * 2.5, r * 0.5), float(rng.uniform(0, 180)))
            cv2.fillPoly(image, [cv2.boxPoints(box).astype(np.int32)], colour, cv2.LINE_AA)
    return image


def stripes(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """Bold diagonal stripes in the palette's colours."""
    x, y = _grid(size)
    angle = rng.uniform(0, np.pi)
    width = rng.uniform(0.06, 0.14)
    band = np.floor((x * np.cos(angle) + y * np.sin(angle)) / width).astype(np.int64)
    colours = np.stack(pal[: max(2, min(len(pal), 3))])
    return colours[band % len(colours)]


def paper(rng: np.random.Generator, size: int, pal: list[np.ndarray]) -> np.ndarray:
    """Sketchbook paper with a few loose construction strokes and a shaded corner."""
    import cv2

    image = np.empty((size, size, 3), np.float32)
    image[:] = pal[0]
    image *= (0.93 + 0.07 * _noise(rng, size, 5, 8))[..., None]
    for _ in range(int(rng.integers(6, 14))):
        start = tuple(int(v) for v in rng.integers(0, size, 2))
        direction = rng.uniform(0, 2 * np.pi)
        length = size * rng.uniform(0.15, 0.5)
        end = (
            int(start[0] + length * np.cos(direction)),
            int(start[1] + length * np.sin(direction)),
        )
        shade = tuple(float(c) for c in pal[1] * rng.uniform(0.8, 1.1))
        cv2.line(image, start, end, shade, int(rng.integers(1, 4)), cv2.LINE_AA)
    x, y = _grid(size)
    corner = np.clip(1 - np.hypot(x - rng.integers(0, 2), y - 1) * 1.4, 0, 1)
    return _mix(image, pal[1], 0.5 * corner)


SCENES: dict[str, SceneFn] = {
    "sky-hills": sky_hills,
    "clouds": clouds,
    "bokeh": bokeh,
    "studio": studio,
    "skyline": skyline,
    "sunburst": sunburst,
    "halftone": halftone,
    "shapes": shapes,
    "stripes": stripes,
    "paper": paper,
}

# Palettes: (sky/ground, light, accents...) in RGB.
SUNNY = ((120, 180, 235), (250, 225, 170), (90, 150, 80), (60, 110, 70), (150, 170, 90))
PASTEL = ((190, 210, 240), (250, 215, 225), (200, 230, 200), (235, 200, 240), (255, 235, 190))
SEPIA = ((70, 45, 30), (210, 170, 120), (120, 85, 55), (160, 120, 80))
EMBER = ((60, 20, 30), (250, 150, 70), (140, 40, 30), (90, 25, 35), (230, 90, 50))
DUSK = ((30, 40, 55), (120, 140, 130), (50, 70, 60), (80, 95, 90), (150, 160, 140))
NEON = ((20, 10, 50), (240, 60, 160), (60, 220, 240), (250, 230, 80))
POP = ((250, 220, 60), (240, 60, 90), (40, 170, 230), (250, 250, 250), (30, 30, 30))
INK = ((245, 240, 228), (90, 90, 90))

FAMILIES: dict[str, SceneFamily] = {
    "painted-sunlit": SceneFamily(("sky-hills", "clouds", "bokeh"), (SUNNY, PASTEL)),
    "painted-sepia": SceneFamily(("studio", "clouds", "sky-hills"), (SEPIA,), 8.0),
    "painted-pastel": SceneFamily(("clouds", "bokeh", "shapes", "sky-hills"), (PASTEL,), 35.0),
    "painted-ember": SceneFamily(("sky-hills", "bokeh", "skyline"), (EMBER,), 12.0),
    "painted-dusk": SceneFamily(("skyline", "sky-hills", "studio", "clouds"), (DUSK,), 25.0),
    "watercolor": SceneFamily(("clouds", "sky-hills", "bokeh"), (PASTEL, SUNNY)),
    "pencil-sketch": SceneFamily(("paper", "sky-hills", "shapes"), (INK,), 0.0),
    "comic": SceneFamily(("sunburst", "halftone", "skyline"), (POP, NEON), 30.0),
    "duotone": SceneFamily(("shapes", "sunburst", "stripes", "halftone"), (POP, PASTEL), 40.0),
    "pop-poster": SceneFamily(("stripes", "shapes", "sunburst", "halftone"), (POP, NEON), 40.0),
    # diffusers styles: the prompt paints the scene; a matching backdrop helps img2img.
    "cyberpunk": SceneFamily(("skyline", "bokeh"), (NEON,), 25.0),
    "fantasy": SceneFamily(("sky-hills", "clouds"), (EMBER, SUNNY)),
    "renaissance": SceneFamily(("studio",), (SEPIA,), 8.0),
    "pencil": SceneFamily(("paper",), (INK,), 0.0),
    "comic-book": SceneFamily(("sunburst", "halftone"), (POP,), 30.0),
    "pop-art": SceneFamily(("stripes", "shapes", "halftone"), (POP,), 40.0),
}
DEFAULT_FAMILY = SceneFamily(("bokeh", "clouds", "studio", "sky-hills"), (SUNNY, PASTEL, DUSK))


def family(style_id: str) -> SceneFamily:
    return FAMILIES.get(style_id, DEFAULT_FAMILY)


def turn_hue(palette: tuple[RGB, ...], degrees: float) -> list[np.ndarray]:
    out = []
    for r, g, b in palette:
        h, s, v = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
        rr, gg, bb = colorsys.hsv_to_rgb((h + degrees / 360) % 1.0, s, v)
        out.append(np.array([rr * 255, gg * 255, bb * 255], np.float32))
    return out


def render_scene(style_id: str, kind_index: int, size: int, seed: int) -> tuple[str, np.ndarray]:
    """(kind, RGB uint8 image) of the `kind_index`-th scene kind of the style, seeded."""
    import cv2

    fam = family(style_id)
    rng = np.random.default_rng(seed)
    kind = fam.kinds[kind_index % len(fam.kinds)]
    palette = fam.palettes[int(rng.integers(0, len(fam.palettes)))]
    colours = turn_hue(palette, float(rng.uniform(-fam.hue_jitter, fam.hue_jitter)))
    # Drawn at half size and scaled up: 4x less work, and the style repaints the edges anyway.
    half = SCENES[kind](rng, max(16, size // 2), colours)
    image = cv2.resize(np.clip(half, 0, 255).astype(np.uint8), (size, size), cv2.INTER_LINEAR)
    return kind, image
