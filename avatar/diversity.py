"""Perceptual hashes and the job's report: how different the avatars are from one another
(median pairwise pHash distance) and how much they look like the person (median SFace cosine).

pHash: the image in grey at 32x32, its 2-D DCT, the top-left 8x8 low frequencies (the DC term
included) against their median: 64 bits. Two pictures within a few bits of each other look
the same at a glance; unrelated pictures are ~32 bits apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np
from PIL import Image

# Two avatars this close (of 64 bits) count as near-duplicates: one is dropped.
NEAR_DUPLICATE_BITS = 12


def phash(image: Image.Image) -> int:
    import cv2

    grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), np.float32)
    low = cv2.dct(grey)[:8, :8].reshape(-1)
    bits = low > np.median(low)
    return int("".join("1" if b else "0" for b in bits), 2)


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def median_pairwise(hashes: Sequence[int]) -> float:
    if len(hashes) < 2:
        return 0.0
    return float(statistics.median(distance(a, b) for a, b in combinations(hashes, 2)))


def nearest(hash_: int, kept: Sequence[int]) -> int:
    """Bits to the closest of `kept` (64 when there is none)."""
    return min((distance(hash_, other) for other in kept), default=64)


@dataclass(frozen=True, slots=True)
class JobReport:
    """Stored with the job and shown to the creator."""

    avatars: int
    # Median SFace cosine of the avatars to the selfies' median embedding (higher: more like you).
    likeness_median: float
    likeness_min: float
    # Median pHash Hamming distance over all pairs of avatars, of 64 bits (higher: more varied).
    diversity_median: float
    # The closest pair: the test that no two kept avatars are near-duplicates reads this.
    closest_pair_bits: int
    near_duplicates_dropped: int
    composition: str
    segmentation: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def job_report(
    similarities: Sequence[float],
    hashes: Sequence[int],
    near_duplicates_dropped: int,
    composition: str,
    segmentation: str | None,
) -> JobReport:
    closest = min(
        (distance(a, b) for a, b in combinations(hashes, 2)),
        default=64,
    )
    return JobReport(
        avatars=len(similarities),
        likeness_median=round(float(statistics.median(similarities)), 3) if similarities else 0.0,
        likeness_min=round(min(similarities), 3) if similarities else 0.0,
        diversity_median=median_pairwise(hashes),
        closest_pair_bits=closest,
        near_duplicates_dropped=near_duplicates_dropped,
        composition=composition,
        segmentation=segmentation,
    )
