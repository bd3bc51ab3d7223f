"""Plain configuration for the avatar studio. The caller (channels) fills it from its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from avatar.diversity import NEAR_DUPLICATE_BITS

# The formats a selfie may come in; Pillow's names for them (HEIF comes from pillow-heif).
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF")


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """Limits checked on every upload before its pixels are decoded."""

    min_photos: int = 3
    max_photos: int = 10
    max_bytes: int = 20 * 1024 * 1024
    # 40 megapixels: above a phone's usual photo (12-24 MP), and a bound on the work: a
    # 49 MP PNG of a few kilobytes costs ~150 MB and seconds to decode (issue 14).
    max_pixels: int = 40_000_000
    min_side: int = 128
    # Selfies are scaled down to this longer side on intake; avatars never need more.
    keep_side: int = 2048
    formats: tuple[str, ...] = ALLOWED_FORMATS


@dataclass(frozen=True, slots=True)
class CheckThresholds:
    """The measured gates a selfie (and every output) must pass. See docs/avatar.md."""

    # YuNet detection score for a face to count at all.
    face_score: float = 0.6
    # A second face counts only when it is at least this fraction of the main face's size,
    # so that a tiny face in the background does not reject a good selfie.
    other_face_ratio: float = 0.4
    min_face_px: int = 80
    # Face height as a fraction of the photo's shorter side.
    min_face_fraction: float = 0.12
    # Variance of the Laplacian of the face scaled to 112x112 grey pixels.
    min_sharpness: float = 30.0
    # Mean grey level of the face (0-255).
    min_brightness: float = 55.0
    max_brightness: float = 215.0
    # SFace cosine similarity; 0.363 is SFace's published same-person threshold.
    same_person: float = 0.363
    # An avatar must still look like the person: SFace similarity to the selfies' median.
    output_similarity: float = 0.363
    # nudenet: an exposed-body-part detection at or above this score rejects the image.
    nudenet_exposed: float = 0.6
    # open_nsfw: probability at or above this rejects the image on its own ...
    open_nsfw: float = 0.9
    # ... and these two together reject it (both models mildly agree).
    nudenet_exposed_soft: float = 0.35
    open_nsfw_soft: float = 0.6


@dataclass(frozen=True, slots=True)
class AvatarConfig:
    """Everything the avatar studio needs; no field is read from the environment."""

    data_dir: Path
    backend: str = "art"
    limits: IntakeLimits = field(default_factory=IntakeLimits)
    checks: CheckThresholds = field(default_factory=CheckThresholds)
    # Jobs a creator may start in `daily_window_s`; None means no limit.
    daily_limit: int | None = 1
    daily_window_s: int = 24 * 3600
    # Uploads are deleted when the job ends, and at the latest this long after upload.
    upload_ttl_s: int = 300
    # Avatars the creator did not choose are deleted this long after the job ends.
    output_retention_s: int = 7 * 24 * 3600
    max_outputs: int = 30
    min_styles: int = 2
    max_styles: int = 5
    # Side of the square avatars, in pixels.
    output_size: int = 512
    # "scene": the person cut out and set in a scene matching the style, a different framing
    # and light per take (avatar.compose). "photo": the selfie's own portrait crop and
    # background, styled (the studio before issue 20; kept for comparison).
    composition: Literal["scene", "photo"] = "scene"
    # An avatar within this many bits (of 64) of a kept one's perceptual hash is dropped as a
    # near-duplicate and another take is made; 0 keeps near-duplicates.
    near_duplicate_bits: int = NEAR_DUPLICATE_BITS
    # Thread count inside every model (onnxruntime, OpenCV, torch); 1 is fastest on shared
    # cores (measured: 2 threads were 2x slower than 1 on a busy 2-core machine).
    threads: int = 1
    # Avatar takes made in parallel, each with `threads` threads: use the cores this way.
    workers: int = 1
    # A visible "AI" mark in the corner of every avatar (the machine-readable label is always on).
    visible_mark: bool = False
    # C2PA signing: an operator certificate chain and key (PEM); None makes a local test CA.
    c2pa_cert_chain: Path | None = None
    c2pa_private_key: Path | None = None
    c2pa_enabled: bool = True
    # How often the worker enforces deadlines, in seconds.
    sweep_interval_s: float = 15.0
    # A running job whose worker has not reported for this long is taken over after a restart.
    stale_job_s: int = 120
    # diffusers backend (GPU): a folder saved with `save_pretrained` (Stable Diffusion 1.x/2.x).
    diffusers_model_dir: Path | None = None
    diffusers_device: str = "auto"
    diffusers_steps: int = 30
    diffusers_strength: float = 0.55
    diffusers_guidance: float = 7.0
    # Identity-preserving image prompt (IP-Adapter, loaded with diffusers' load_ip_adapter):
    # a folder laid out like h94/IP-Adapter (Apache-2.0): `<subfolder>/<weight>` and the CLIP
    # image encoder in `<subfolder>/image_encoder/`. The selfie's face is the image prompt.
    # Not the FaceID variants: they need insightface embeddings (non-commercial models).
    diffusers_ip_adapter_dir: Path | None = None
    diffusers_ip_adapter_subfolder: str = "models"
    diffusers_ip_adapter_weight: str = "ip-adapter-plus-face_sd15.safetensors"
    diffusers_ip_adapter_scale: float = 0.6

    @property
    def root(self) -> Path:
        return Path(self.data_dir) / "avatar"
