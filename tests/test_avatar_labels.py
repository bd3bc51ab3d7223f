"""AI-generated labels: XMP digital source type and a C2PA manifest, both read back."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from avatar import testing
from avatar.labels import (
    TRAINED_ALGORITHMIC_MEDIA,
    Labeler,
    add_visible_mark,
    read_label,
)


def picture() -> Image.Image:
    return testing.astronaut().resize((256, 256))


def test_c2pa_and_xmp_labels_are_readable_back(tmp_path) -> None:
    labeler = Labeler(tmp_path / "signing")
    data = labeler.encode(picture(), "avatar.jpg")
    assert labeler.c2pa_error is None
    label = read_label(data)
    assert label.xmp_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert label.c2pa_source_type == TRAINED_ALGORITHMIC_MEDIA
    # Signed by the local CA: intact and valid, not (yet) trusted by third parties.
    assert label.c2pa_state == "Valid"
    assert label.ai_generated and label.kind == "c2pa+xmp"
    # Still an ordinary JPEG.
    assert Image.open(io.BytesIO(data)).size == (256, 256)


def test_local_signing_credentials_are_made_once_and_kept_private(tmp_path) -> None:
    signing = tmp_path / "signing"
    Labeler(signing).encode(picture(), "a.jpg")
    key = (signing / "signer.key").read_bytes()
    assert (signing / "signer.key").stat().st_mode & 0o077 == 0
    Labeler(signing).encode(picture(), "b.jpg")
    assert (signing / "signer.key").read_bytes() == key


def test_operator_certificate_is_used_when_configured(tmp_path) -> None:
    from avatar.labels import make_local_signing_chain

    chain, key = make_local_signing_chain()
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    labeler = Labeler(
        tmp_path / "unused", cert_chain=tmp_path / "chain.pem", private_key=tmp_path / "key.pem"
    )
    assert read_label(labeler.encode(picture(), "a.jpg")).kind == "c2pa+xmp"
    assert not (tmp_path / "unused").exists()


def test_xmp_label_alone_when_c2pa_is_off_or_fails(tmp_path) -> None:
    off = read_label(Labeler(tmp_path, c2pa_enabled=False).encode(picture(), "a.jpg"))
    assert off.kind == "xmp" and off.ai_generated and off.c2pa_state is None

    broken_key = tmp_path / "broken.pem"
    broken_key.write_text("not a key")
    broken = Labeler(tmp_path, cert_chain=broken_key, private_key=broken_key)
    data = broken.encode(picture(), "a.jpg")
    assert broken.c2pa_error is not None
    assert read_label(data).kind == "xmp"


def test_unlabelled_picture_reads_as_such() -> None:
    label = read_label(testing.encode(picture(), "JPEG"))
    assert label.kind == "none" and not label.ai_generated


def test_visible_mark_changes_only_the_corner() -> None:
    image = Image.new("RGB", (512, 512), (240, 240, 240))
    marked = np.asarray(add_visible_mark(image), dtype=np.int16)
    diff = np.abs(marked - np.asarray(image, dtype=np.int16)).sum(axis=2)
    assert diff[430:, 430:].sum() > 0
    assert diff[:400, :].sum() == 0 and diff[:, :400].sum() == 0
