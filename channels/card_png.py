"""PNG character cards: the card's JSON, base64-encoded, in a tEXt chunk named "chara".

Reading walks the PNG's chunks without decoding the picture (no decompression to run on an
untrusted file); writing draws a plain portrait with the creator's initial (Pillow).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
import zlib
from typing import Any

from channels.card_errors import CardError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHUNK = b"chara"


def card_json_from_png(raw: bytes, source: str = "<card>") -> str:
    """The card JSON of a PNG card's "chara" tEXt chunk."""
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[offset : offset + 8])
        body = raw[offset + 8 : offset + 8 + length]
        if len(body) < length:
            break
        if kind == b"tEXt" and body.startswith(CHUNK + b"\x00"):
            encoded = body[len(CHUNK) + 1 :]
            try:
                return base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise CardError(
                    source, "PNG chunk 'chara'", "not base64 of UTF-8 JSON: export the card again"
                ) from None
        if kind == b"IEND":
            break
        offset += 12 + length
    raise CardError(
        source,
        "PNG chunk 'chara'",
        "missing: this PNG is not a character card (or its metadata was stripped on upload); "
        "use the card's JSON instead",
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def card_to_png(card: dict[str, Any], size: tuple[int, int] = (400, 600)) -> bytes:
    """A PNG portrait carrying the card (what SillyTavern's "import character" reads)."""
    from PIL import Image, ImageDraw

    name = str(card["data"].get("name") or "?")
    image = Image.new("RGB", size, (86, 70, 160))
    draw = ImageDraw.Draw(image)
    initial = name[:1].upper()
    try:
        draw.text((size[0] / 2, size[1] / 2), initial, fill="white", anchor="mm", font_size=160)
    except (TypeError, ValueError, OSError):  # older Pillow without font_size: the default font
        draw.text((size[0] / 2, size[1] / 2), initial, fill="white", anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    png = buffer.getvalue()
    encoded = base64.b64encode(json.dumps(card, ensure_ascii=False).encode()).decode("ascii")
    text = _chunk(b"tEXt", CHUNK + b"\x00" + encoded.encode("ascii"))
    end = png.rindex(b"IEND") - 4  # the IEND chunk starts with its 4-byte length
    return png[:end] + text + png[end:]
