"""Avatar compositions: the person cut out of the selfie and set in a scene, each take framed
differently (headshot or bust, centred or off-centre, mirrored or not), lit and tinted to
match the scene. The style backend then paints the whole composition.

Why: the same five photos through filters give thirty pictures with one framing and one
background. A new framing, a new scene and new light per take is what makes thirty avatars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from avatar.faces import Face
from avatar.scenes import render_scene
from avatar.segment import PersonSegmenter


@dataclass(frozen=True, slots=True)
class Framing:
    name: str
    # Face-box height as a share of the square's side, and where the face centre lands.
    face: float
    x: float
    y: float


# Ordered so that consecutive takes differ most. Faces stay large (>= 150 px at 512): the
# styles work at a fixed pixel scale, and on smaller faces the painted and comic styles lost
# likeness (measured: median SFace 0.64 at 0.24-0.36 of the side, 0.75 at 0.31-0.47).
FRAMINGS: tuple[Framing, ...] = (
    Framing("headshot", 0.46, 0.50, 0.45),
    Framing("bust-left", 0.31, 0.38, 0.38),
    Framing("close-up", 0.56, 0.50, 0.50),
    Framing("headshot-right", 0.42, 0.58, 0.43),
    Framing("bust", 0.32, 0.50, 0.37),
    Framing("headshot-left", 0.42, 0.42, 0.45),
    Framing("bust-right", 0.30, 0.62, 0.37),
    Framing("bust-high", 0.34, 0.46, 0.32),
)


@dataclass(frozen=True, slots=True)
class Plan:
    framing: Framing
    mirror: bool
    scene_index: int
    # Light from this angle (radians, 0 = from the left); strength of the tint to the scene.
    light_angle: float
    light: float
    tint: float


def plan_take(attempt: int, style_index: int, seed: int) -> Plan:
    """The composition of one take. Framings cycle (offset per style, so that styles start
    on different ones); the mirror alternates so that a framing met again in the next style
    comes mirrored; position, size, light and tint are jittered from the seed, because the
    same layout twice reads as a near-duplicate whatever the scene."""
    rng = np.random.default_rng(seed)
    base = FRAMINGS[(attempt + 3 * style_index) % len(FRAMINGS)]
    framing = Framing(
        base.name,
        base.face * float(rng.uniform(0.93, 1.07)),
        base.x + float(rng.uniform(-0.04, 0.04)),
        base.y + float(rng.uniform(-0.025, 0.025)),
    )
    return Plan(
        framing=framing,
        mirror=bool(attempt % 2),
        scene_index=attempt + style_index,
        light_angle=float(rng.uniform(0, 2 * np.pi)),
        light=float(rng.uniform(0.08, 0.2)),
        tint=float(rng.uniform(0.08, 0.2)),
    )


@dataclass(frozen=True, slots=True)
class Composed:
    scene: str
    image: Image.Image
    # Where the face ended up: (x, y, w, h) in the composed picture.
    face: tuple[float, float, float, float]


class Composer:
    """Builds the picture the style backend paints. Thread-safe (the segmenter is per thread)."""

    def __init__(self, segmenter: PersonSegmenter) -> None:
        self.segmenter = segmenter

    @property
    def method(self) -> str:
        return self.segmenter.method

    def compose(
        self, photo: Image.Image, face: Face, style_id: str, plan: Plan, size: int, seed: int
    ) -> Composed:
        """The person placed, cut out, lit and set in the scene: `size` x `size` RGB."""
        import cv2

        # 1. Place the person: scale and move the photo so the face lands where the framing says.
        rgb = np.asarray(photo.convert("RGB"))
        f = plan.framing
        scale = f.face * size / max(face.h, 1.0)
        cx, cy = face.center
        # A photo that ends soon below the chin (a close selfie) cannot fill a bust: zoom in
        # up to a third so its bottom edge reaches the canvas's; what is left fades (below).
        reach = size * (1 - f.y) / max(rgb.shape[0] - cy, 1.0)
        scale = min(max(scale, reach), scale * 1.33)
        tx, ty = f.x * size - scale * cx, f.y * size - scale * cy
        matrix = np.array([[scale, 0, tx], [0, scale, ty]], np.float32)
        if plan.mirror:  # x -> size - x: the person faces the other way, the framing flips
            matrix = np.array([[-scale, 0, size - tx], [0, scale, ty]], np.float32)
        placed = cv2.warpAffine(
            rgb, matrix, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )  # fmt: skip
        placed_face = _moved_face(face, matrix)

        # 2. Cut the person out (on the placed picture: the mask is at the output's scale),
        # fading them out softly where the photo ends inside the canvas (else the edge shows
        # as a cut, or streaks), like a vignetted portrait.
        alpha = self.segmenter.mask(np.ascontiguousarray(placed[:, :, ::-1]), placed_face)
        alpha *= _photo_fade(rgb.shape[:2], matrix, size)

        # 3. The scene, and the person lit and tinted to belong in it.
        kind, scene = render_scene(style_id, plan.scene_index, size, seed)
        person = _relight(placed, scene, plan)

        # 4. A soft shadow behind the person, then the person over the scene (cv2 in uint8:
        # this step ran at ~25 ms in numpy floats, a quarter of the composition).
        shadow = cv2.GaussianBlur(alpha, (0, 0), size / 60)
        shift = np.float32([[1, 0, size * 0.02], [0, 1, size * 0.015]])
        shadow = 1.0 - 0.35 * cv2.warpAffine(shadow, shift, (size, size))
        back = cv2.multiply(scene, cv2.merge([shadow, shadow, shadow]), dtype=cv2.CV_8U)
        out = cv2.blendLinear(person, back, alpha, 1.0 - alpha)
        image = Image.fromarray(out)
        box = (placed_face.x, placed_face.y, placed_face.w, placed_face.h)
        return Composed(kind, image, box)


def keep_face_detail(styled: Image.Image, composed: Composed, share: float) -> Image.Image:
    """Blend `share` of the unstyled face back into the avatar, in a soft oval over the face.

    Why: styles work at a fixed pixel scale, so the smaller faces of a bust lose the detail
    that makes them recognisable (measured: +0.06 to +0.12 median SFace for the painted and
    comic styles at 0.25). Only for styles whose colours the photo does not clash with.
    """
    if share <= 0:
        return styled
    import cv2

    size = styled.size[0]
    x, y, w, h = composed.face
    oval = np.zeros((size, size), np.float32)
    centre = (round(x + w / 2), round(y + h * 0.55))
    cv2.ellipse(oval, centre, (round(w * 0.5), round(h * 0.62)), 0, 0, 360, 1.0, -1)
    oval = cv2.GaussianBlur(oval, (0, 0), max(1.0, h * 0.12))[..., None] * share
    a = np.asarray(styled.convert("RGB"), np.float32)
    b = np.asarray(composed.image, np.float32)
    return Image.fromarray(np.clip(a + (b - a) * oval, 0, 255).astype(np.uint8))


def _photo_fade(shape: tuple[int, int], matrix: np.ndarray, size: int) -> np.ndarray:
    """1 well inside the placed photo, falling to 0 over ~8% of the side towards any photo
    edge that lies inside the canvas (edges beyond the canvas do not fade)."""
    import cv2

    inside = cv2.warpAffine(
        np.full(shape, 255, np.uint8), matrix, (size, size), flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip
    if inside.min() == 255:
        return np.ones((size, size), np.float32)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    return np.clip(distance / (0.08 * size), 0.0, 1.0).astype(np.float32)


def _moved_face(face: Face, matrix: np.ndarray) -> Face:
    """The face box after the placement (for the GrabCut seeds; landmarks are not needed)."""
    xs = matrix[0, 0] * np.array([face.x, face.x + face.w]) + matrix[0, 2]
    ys = matrix[1, 1] * np.array([face.y, face.y + face.h]) + matrix[1, 2]
    x0, y0 = float(xs.min()), float(ys.min())
    return Face(x0, y0, float(xs.max()) - x0, float(ys.max()) - y0, face.score, face.raw)


def _relight(person: np.ndarray, scene: np.ndarray, plan: Plan) -> np.ndarray:
    """Key light from one side, and a little of the scene's colour on the person (uint8)."""
    import cv2

    size = person.shape[0]
    axis = (np.arange(size, dtype=np.float32) / size) - 0.5
    # Brightness falls off along the light's direction: 1 + light at the lit edge.
    ramp = np.add.outer(axis * np.sin(plan.light_angle), axis * np.cos(plan.light_angle))
    gain = 1.0 - 2 * plan.light * ramp
    mean = np.asarray(cv2.mean(scene)[:3], np.float32)
    tint = 1 - plan.tint + plan.tint * mean / (mean.mean() + 1e-6)  # colour cast, not light
    return cv2.multiply(person, cv2.merge([gain * t for t in tint]), dtype=cv2.CV_8U)
