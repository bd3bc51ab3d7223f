"""Helpers for tests and benchmarks: real photos from installed packages, their augmentations,
and a tiny random Stable Diffusion pipeline. Nothing here is used by the product.

No package ships several photos of one person, so "several selfies" are augmentations of one
real photo (flip, crop, light, rotation, JPEG re-encoding). The photos come from packages at
run time; none is committed to the repository.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from avatar.intake import Upload

GROUP_PHOTO_MEMBER = "insightface/data/images/t1.jpg"


def astronaut() -> Image.Image:
    """NASA's portrait of Eileen Collins (public domain), shipped in scikit-image."""
    from skimage import data

    return Image.fromarray(data.astronaut())


def cameraman() -> Image.Image:
    """Another person, face turned and small (scikit-image's `camera`)."""
    from skimage import data

    return Image.fromarray(data.camera()).convert("RGB")


def cameraman_closeup(size: int = 512) -> Image.Image:
    """The cameraman's head, cropped and enlarged so that it passes the face-size gate."""
    return cameraman().crop((150, 60, 330, 240)).resize((size, size), Image.Resampling.LANCZOS)


def augment(image: Image.Image, n: int) -> list[Image.Image]:
    """`n` different-looking photos of the same face (deterministic)."""
    w, h = image.size
    takes = [
        lambda im: im,
        lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        lambda im: ImageEnhance.Brightness(im).enhance(0.85),
        lambda im: im.crop((int(w * 0.05), int(h * 0.04), int(w * 0.95), int(h * 0.94))).resize(
            (int(w * 1.2), int(h * 1.2)), Image.Resampling.LANCZOS
        ),
        lambda im: im.rotate(6, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)),
        lambda im: ImageEnhance.Contrast(im).enhance(1.2),
        lambda im: ImageEnhance.Color(im).enhance(0.6).transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        lambda im: im.rotate(-5, resample=Image.Resampling.BICUBIC, fillcolor=(90, 90, 90)),
        lambda im: im.filter(ImageFilter.SMOOTH),
        lambda im: ImageEnhance.Brightness(im).enhance(1.12),
    ]
    return [takes[i % len(takes)](image.convert("RGB")) for i in range(n)]


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def selfie_uploads(n: int = 5, image: Image.Image | None = None) -> list[Upload]:
    """`n` JPEG uploads of the same person, each at a different JPEG quality."""
    photos = augment(image or astronaut(), n)
    return [
        Upload(f"selfie-{i}.jpg", encode(photo, "JPEG", quality=95 - 7 * (i % 4)))
        for i, photo in enumerate(photos)
    ]


def fetch_group_photo(cache_dir: Path, timeout_s: float = 120.0) -> Image.Image:
    """insightface's 6-person test photo, read from its wheel (downloaded, never imported).

    Raises RuntimeError with the reason when the package index cannot be reached.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("insightface-*.whl"))
    if not wheels:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--disable-pip-version-check", "-q", "-d", str(cache_dir), "insightface"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"pip download insightface failed: {exc}") from None
        wheels = sorted(cache_dir.glob("insightface-*.whl"))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(f"pip download insightface failed: {done.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        if GROUP_PHOTO_MEMBER not in wheel.namelist():
            raise RuntimeError(f"{wheels[-1].name} has no {GROUP_PHOTO_MEMBER}")
        data = wheel.read(GROUP_PHOTO_MEMBER)
    return Image.open(io.BytesIO(data)).convert("RGB")


# -- tiny random Stable Diffusion pipeline ---------------------------------------------------


def _byte_alphabet() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table: every byte has a printable stand-in."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def build_tiny_sd_pipeline(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random StableDiffusionImg2ImgPipeline to `folder`; returns the folder.

    The tokenizer is written as vocab.json + merges.txt and loaded with from_pretrained:
    transformers 5 silently ignores `CLIPTokenizer(vocab_file=..., merges_file=...)`.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        PNDMScheduler,
        StableDiffusionImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    chars = _byte_alphabet()
    vocab: dict[str, int] = {}
    for suffix in ("", "</w>"):
        for char in chars:
            vocab.setdefault(char + suffix, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    words = folder.parent / f"{folder.name}-tokenizer"
    words.mkdir(parents=True, exist_ok=True)
    (words / "vocab.json").write_text(json.dumps(vocab))
    (words / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer.from_pretrained(str(words), model_max_length=77)

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=32,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=vocab["<|startoftext|>"],
            eos_token_id=vocab["<|endoftext|>"],
            pad_token_id=vocab["<|endoftext|>"],
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-5,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(vocab) + 8,
            max_position_embeddings=77,
        )
    )
    pipe = StableDiffusionImg2ImgPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(folder))
    return folder


def as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def build_tiny_ip_adapter(folder: Path, pipeline_dir: Path, seed: int = 0) -> Path:
    """Save a tiny random IP-Adapter for the tiny pipeline in `pipeline_dir`, laid out like
    h94/IP-Adapter: `models/ip-adapter_tiny.safetensors` (image projection + one key/value
    projection per cross-attention layer, numbered as diffusers' loader expects: 1, 3, 5...)
    and a tiny CLIP image encoder in `models/image_encoder/`. Returns `folder`."""
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    models = folder / "models"
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            image_size=32,
            patch_size=4,
            projection_dim=32,
        )
    )
    encoder.save_pretrained(str(models / "image_encoder"))
    unet = UNet2DConditionModel.from_pretrained(str(pipeline_dir), subfolder="unet")
    cross = unet.config.cross_attention_dim
    tokens = 4  # a plain IP-Adapter ("proj.weight"): 4 image tokens
    weights = {
        "image_proj.proj.weight": torch.randn(tokens * cross, 32) * 0.1,
        "image_proj.proj.bias": torch.zeros(tokens * cross),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    key_id = 1
    channels = unet.config.block_out_channels
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        for kind in ("to_k_ip", "to_v_ip"):
            weights[f"ip_adapter.{key_id}.{kind}.weight"] = torch.randn(hidden, cross) * 0.5
        key_id += 2
    save_file(weights, str(models / "ip-adapter_tiny.safetensors"))
    return folder
