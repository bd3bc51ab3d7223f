"""Intake: formats, limits checked before decoding, EXIF orientation, metadata stripped."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from avatar.config import IntakeLimits
from avatar.intake import PhotoRejectedError, Upload, decode_photo, encode_jpeg

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def two_colour(width: int = 300, height: int = 200) -> Image.Image:
    """Left half red, right half blue: orientation is visible in the pixels."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def with_metadata(image: Image.Image, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x9286] = "private user comment"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    buffer = io.BytesIO()
    image.save(
        buffer,
        "JPEG",
        exif=exif,
        comment=b"secret comment",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-xmp</x:xmpmeta>',
        icc_profile=b"\0" * 128,
    )
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size but whose pixel data is garbage: decoding would fail."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"garbage")
        + chunk(b"IEND", b"")
    )


def encoded(image: Image.Image, fmt: str) -> bytes:
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def reason_of(upload: Upload, limits: IntakeLimits | None = None) -> str:
    with pytest.raises(PhotoRejectedError) as rejected:
        decode_photo(upload, 0, limits or IntakeLimits())
    return rejected.value.reason.code


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF", "AVIF"])
def test_every_allowed_format_decodes_to_rgb(fmt: str) -> None:
    photo = decode_photo(Upload(f"x.{fmt.lower()}", encoded(two_colour(), fmt)), 3, IntakeLimits())
    assert photo.source_format == fmt
    assert photo.index == 3
    assert photo.image.mode == "RGB"
    assert photo.image.size == (300, 200)
    red, _, blue = photo.image.getpixel((10, 100))
    assert red > 200 and blue < 60


def test_other_formats_are_refused_with_the_list_of_allowed_ones() -> None:
    upload = Upload("x.gif", encoded(two_colour(), "GIF"))
    with pytest.raises(PhotoRejectedError) as rejected:
        decode_photo(upload, 0, IntakeLimits())
    assert rejected.value.reason.code == "unsupported_format"
    assert "JPEG, PNG, WebP, HEIC or AVIF" in rejected.value.reason.message


def test_transparent_png_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    photo = decode_photo(Upload("t.png", encoded(image, "PNG")), 0, IntakeLimits())
    assert photo.image.getpixel((5, 5)) == (255, 255, 255)


def test_byte_limit_is_checked_first() -> None:
    data = encoded(two_colour(), "PNG")
    assert (
        reason_of(Upload("big.png", data), IntakeLimits(max_bytes=len(data) - 1))
        == "file_too_large"
    )
    assert reason_of(Upload("empty.jpg", b"")) == "empty_file"


def test_pixel_limit_is_checked_before_decoding() -> None:
    # 60 megapixels declared, garbage pixel data: only a header check can say "too many".
    assert reason_of(Upload("bomb.png", png_header_only(10_000, 6_000))) == "too_many_pixels"
    # Far beyond Pillow's own bomb limit: refused as a bomb, still without decoding.
    assert reason_of(Upload("bomb.png", png_header_only(40_000, 40_000))) == "too_many_pixels"
    # Within the limits the same garbage is reported as a damaged file (so it was decoded).
    assert reason_of(Upload("small.png", png_header_only(400, 300))) == "corrupt_file"


def test_real_decompression_bomb_is_rejected() -> None:
    # A real 1-bit PNG of 80 megapixels compresses to a few kilobytes.
    bomb = Image.new("1", (10_000, 8_000))
    data = encoded(bomb, "PNG")
    assert len(data) < 200_000
    assert reason_of(Upload("bomb.png", data)) == "too_many_pixels"


def test_tiny_and_truncated_photos_are_refused() -> None:
    assert reason_of(Upload("thumb.jpg", encoded(two_colour(100, 80), "JPEG"))) == "too_small"
    data = encoded(two_colour(), "JPEG")
    assert reason_of(Upload("cut.jpg", data[: len(data) // 3])) == "corrupt_file"


def test_exif_orientation_is_applied() -> None:
    # Orientation 6: the camera held sideways; displayed rotated 90 degrees clockwise,
    # so the stored left half (red) becomes the top half.
    photo = decode_photo(Upload("o.jpg", with_metadata(two_colour(), 6)), 0, IntakeLimits())
    assert photo.image.size == (200, 300)
    top = photo.image.getpixel((100, 20))
    bottom = photo.image.getpixel((100, 280))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_all_metadata_is_stripped() -> None:
    upload = Upload("meta.jpg", with_metadata(two_colour(), 1))
    source = Image.open(io.BytesIO(upload.data))
    assert source.getexif().get_ifd(GPS_IFD), "the fixture must really carry GPS"
    assert source.info.get("comment") == b"secret comment"

    photo = decode_photo(upload, 0, IntakeLimits())
    assert not photo.image.info
    stored = encode_jpeg(photo.image)
    reopened = Image.open(io.BytesIO(stored))
    assert len(reopened.getexif()) == 0
    assert not reopened.getexif().get_ifd(GPS_IFD)
    assert "comment" not in reopened.info
    assert "xmp" not in reopened.info
    assert "icc_profile" not in reopened.info
    for secret in (
        b"secret comment",
        b"secret-xmp",
        b"PhoneMaker",
        b"private user comment",
        b"Exif",
    ):
        assert secret not in stored


def test_big_photos_are_scaled_down_on_intake() -> None:
    photo = decode_photo(
        Upload("big.jpg", encoded(two_colour(3000, 2000), "JPEG")), 0, IntakeLimits(keep_side=1024)
    )
    assert max(photo.image.size) == 1024
