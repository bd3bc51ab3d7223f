"""Make the avatars of one job: plan -> composition -> style backend -> checks, as events.

A composition is either the person cut out and set in a scene with its own framing and light
(`avatar.compose`, the default) or, without a composer, the older portrait crop of the photo.
Pure with respect to storage: the service consumes the events, writes files and rows, and
decides when to stop (cancel). Avatars that fail a check, or that look like one already kept
(perceptual hash), are dropped and another take is tried, within a budget, so that the job
still reaches its count when it can.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from avatar.backends.base import StyleBackend
from avatar.checks import CheckedPhoto, PhotoChecker
from avatar.compose import Composer, keep_face_detail, plan_take
from avatar.diversity import nearest, phash
from avatar.faces import Face, cosine
from avatar.intake import Reason
from avatar.portrait import FRAMINGS, portrait_crop

# Tries per wanted avatar before a style gives up (failed takes are dropped, not kept).
ATTEMPTS_PER_OUTPUT = 2

NEAR_DUPLICATE = Reason(
    "near_duplicate", "This avatar looked almost the same as another one, so we made a new one."
)


@dataclass(slots=True)
class Made:
    style: str
    photo_index: int
    variant: int
    image: Image.Image
    similarity: float
    percent: float
    # Perceptual hash (avatar.diversity) and how it was composed ("headshot-left/bokeh").
    hash: int = 0
    composition: str = "portrait"


@dataclass(slots=True)
class Dropped:
    style: str
    photo_index: int
    variant: int
    reason: Reason
    similarity: float
    percent: float


@dataclass(slots=True)
class Progress:
    percent: float


Event = Made | Dropped | Progress


def plan_counts(total: int, styles: Sequence[str]) -> dict[str, int]:
    """Spread `total` avatars over the styles as evenly as possible (first styles get extras)."""
    base, extra = divmod(total, len(styles))
    return {style: base + (1 if i < extra else 0) for i, style in enumerate(styles)}


def order_photos(photos: Sequence[CheckedPhoto], reference: np.ndarray) -> list[CheckedPhoto]:
    """Photos most like the person first: they make the most recognisable avatars."""
    return sorted(photos, key=lambda p: cosine(p.embedding, reference), reverse=True)


def face_crop(image: Image.Image, face: Face, side: int = 224) -> Image.Image:
    """A square crop of the face with some hair and chin around it: the identity prompt."""
    cx, cy = face.center
    half = max(face.w, face.h) * 0.8
    box = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
    return image.crop(box).resize((side, side), Image.Resampling.LANCZOS)


def generate(
    backend: StyleBackend,
    checker: PhotoChecker,
    photos: Sequence[CheckedPhoto],
    reference: np.ndarray,
    counts: dict[str, int],
    size: int,
    seed_key: str,
    workers: int = 1,
    *,
    composer: Composer | None = None,
    min_distance: int = 0,
) -> Iterator[Event]:
    """Events in a fixed order whatever `workers` is: take n is always the same photo,
    variant, composition and seed, and results are yielded in the order the takes were
    planned. A take within `min_distance` pHash bits of a kept avatar is dropped (0: never)."""
    ordered = order_photos(photos, reference)
    style_index = {style: i for i, style in enumerate(counts)}

    def take(style: str, attempt: int) -> Made | Dropped:
        photo = ordered[attempt % len(ordered)]
        variant = attempt // len(ordered)
        seed = zlib.crc32(f"{seed_key}:{style}:{photo.photo.index}:{variant}".encode())
        if composer is None:
            composition = "portrait"
            picture = portrait_crop(
                photo.photo.image, photo.face, size, FRAMINGS[variant % len(FRAMINGS)]
            )
        else:
            plan = plan_take(attempt, style_index[style], seed)
            composed = composer.compose(photo.photo.image, photo.face, style, plan, size, seed)
            picture = composed.image
            composition = f"{plan.framing.name}/{composed.scene}"
        if backend.identity_prompt:
            identity = face_crop(photo.photo.image, photo.face)
            image = backend.render_with_identity(picture, style, variant, seed, identity)
        else:
            image = backend.render(picture, style, variant, seed)
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.LANCZOS)
        if composer is not None:
            image = keep_face_detail(image, composed, backend.face_detail(style))
        check = checker.check_output(image, reference)
        if check.reason is None:
            index, similarity = photo.photo.index, check.similarity
            return Made(style, index, variant, image, similarity, 0.0, phash(image), composition)
        return Dropped(style, photo.photo.index, variant, check.reason, check.similarity, 0.0)

    wanted = sum(counts.values()) or 1
    finished = 0
    kept: list[int] = []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="avatar-take") as pool:
        for style, count in counts.items():
            made = attempts = 0
            pending: deque[Future[Made | Dropped]] = deque()
            while made < count:
                # Never more takes in flight than could still be kept: no wasted work.
                while (
                    len(pending) < workers
                    and made + len(pending) < count
                    and attempts < count * ATTEMPTS_PER_OUTPUT
                ):
                    pending.append(pool.submit(take, style, attempts))
                    attempts += 1
                if not pending:
                    break
                event = pending.popleft().result()
                if (
                    isinstance(event, Made)
                    and min_distance
                    and nearest(event.hash, kept) < (min_distance)
                ):
                    event = Dropped(
                        event.style,
                        event.photo_index,
                        event.variant,
                        NEAR_DUPLICATE,
                        event.similarity,
                        0.0,
                    )
                if isinstance(event, Made):
                    made += 1
                    kept.append(event.hash)
                event.percent = 100.0 * (finished + made) / wanted
                yield event
            finished += count
            if made < count:
                # A style that gave up still counts as finished, so the bar never stalls.
                yield Progress(100.0 * finished / wanted)
