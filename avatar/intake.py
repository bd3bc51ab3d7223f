"""Decode uploaded selfies safely: limits before pixels, orientation applied, metadata dropped.

Everything this module returns is a fresh RGB image that carries no EXIF, GPS, XMP, ICC
profile or comment of the upload; what is stored is re-encoded from those pixels alone.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from avatar.config import IntakeLimits
from avatar.errors import TooManyPixelsError

_heif_lock = threading.Lock()
_heif_registered = False

FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC", "AVIF": "AVIF"}


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file as received; `data` is never written to disk as is."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a photo (or an avatar) was not used: a stable code and a sentence for the user."""

    code: str
    message: str


class PhotoRejectedError(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.message)
        self.reason = reason


@dataclass(slots=True)
class Photo:
    index: int
    filename: str
    image: Image.Image
    source_format: str


def _register_heif() -> None:
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True


def apply_pixel_limit(max_pixels: int) -> None:
    """Pillow's own bomb check at our limit, for every image this process opens (it warns
    above `MAX_IMAGE_PIXELS` and refuses above twice that)."""
    Image.MAX_IMAGE_PIXELS = max_pixels


def check_pixels(uploads: Sequence[Upload], limits: IntakeLimits) -> None:
    """Read every upload's header (its size, no pixels) and raise TooManyPixelsError for the
    first over `limits.max_pixels`: before anything is decoded, one such photo costs a
    fraction of a millisecond instead of seconds and a hundred megabytes. Files Pillow
    cannot read are left to `decode_photo`, which says why per photo."""
    if "HEIF" in limits.formats:
        _register_heif()
    for upload in uploads:
        if not upload.data or len(upload.data) > limits.max_bytes:
            continue
        try:
            with warnings.catch_warnings():
                # The size is checked below, with a message that gives it.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(upload.data), formats=list(limits.formats)) as image:
                    width, height = image.size
        except Image.DecompressionBombError:
            raise TooManyPixelsError(
                f"{upload.filename} declares more than {2 * limits.max_pixels / 1e6:.0f} "
                f"megapixels; photos may have at most {limits.max_pixels / 1e6:.0f}. "
                "Export it at a smaller size."
            ) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            continue
        if width * height > limits.max_pixels:
            raise TooManyPixelsError(
                f"{upload.filename} is {width}x{height} pixels ({width * height / 1e6:.0f} "
                f"megapixels); photos may have at most {limits.max_pixels / 1e6:.0f}. "
                "Export it at a smaller size."
            )


def _formats_text(limits: IntakeLimits) -> str:
    names = [FORMAT_NAMES.get(f, f) for f in limits.formats]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _reject(code: str, message: str) -> PhotoRejectedError:
    return PhotoRejectedError(Reason(code, message))


def decode_photo(upload: Upload, index: int, limits: IntakeLimits) -> Photo:
    """Open one upload within the limits; raise PhotoRejectedError with a reason otherwise."""
    size = len(upload.data)
    if size == 0:
        raise _reject("empty_file", "This file is empty. Choose the photo again.")
    if size > limits.max_bytes:
        raise _reject(
            "file_too_large",
            f"This file is {size / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB. "
            "Export the photo as a smaller JPEG.",
        )
    if "HEIF" in limits.formats:
        _register_heif()
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS (our limit, apply_pixel_limit): the check
            # below says the same with the photo's size. Above twice the limit it refuses.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(upload.data), formats=list(limits.formats))
            fmt = image.format or "?"
            width, height = image.size
            # The header is read, the pixels are not: check the size before decoding.
            if width * height > limits.max_pixels:
                raise _reject(
                    "too_many_pixels",
                    f"This photo is {width}x{height} pixels ({width * height / 1e6:.0f} "
                    f"megapixels); the limit is {limits.max_pixels / 1e6:.0f}. "
                    "Export it at a smaller size.",
                )
            if min(width, height) < limits.min_side:
                raise _reject(
                    "too_small",
                    f"This photo is only {width}x{height} pixels; both sides need at least "
                    f"{limits.min_side}. Use the original photo, not a thumbnail.",
                )
            if fmt == "JPEG":
                # Decode big JPEGs at a reduced scale: faster, and we keep at most keep_side.
                image.draft("RGB", (limits.keep_side, limits.keep_side))
            image.load()
    except PhotoRejectedError:
        raise
    except Image.DecompressionBombError:
        raise _reject(
            "too_many_pixels",
            "This file declares far more pixels than any photo (a decompression bomb). "
            "Upload the original photo.",
        ) from None
    except UnidentifiedImageError:
        raise _reject(
            "unsupported_format",
            f"We could not read this file as a photo. Upload a {_formats_text(limits)} file.",
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise _reject(
            "corrupt_file", "This photo is damaged or cut off. Export it again and re-upload."
        ) from None
    return Photo(index, upload.filename, _clean_pixels(image, limits.keep_side), fmt)


def _clean_pixels(image: Image.Image, keep_side: int) -> Image.Image:
    """Apply EXIF orientation, flatten to RGB, cap the size, and drop every piece of metadata."""
    oriented = ImageOps.exif_transpose(image) or image
    if oriented.mode in ("RGBA", "LA", "PA") or (
        oriented.mode == "P" and "transparency" in oriented.info
    ):
        rgba = oriented.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        oriented = flat
    rgb = oriented.convert("RGB")
    if max(rgb.size) > keep_side:
        rgb.thumbnail((keep_side, keep_side), Image.Resampling.LANCZOS)
    # A new image gets no `info` (comments, EXIF, XMP, ICC) from the upload: pixels only.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    return clean


def encode_jpeg(image: Image.Image, quality: int = 93) -> bytes:
    """Encode pixels only. Pillow writes no EXIF/XMP/ICC/comment unless asked to."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=False)
    return buffer.getvalue()
