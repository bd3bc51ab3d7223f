"""Machine-readable "AI-generated" labels on every avatar, and an optional visible mark.

Two labels, so that most tools find one:
- IPTC/XMP: `Iptc4xmpExt:DigitalSourceType = .../trainedAlgorithmicMedia` in the JPEG's XMP;
- C2PA: a signed manifest whose `c2pa.created` action carries the same digital source type
  (c2pa-python, offline). Without an operator certificate we sign with a local certificate
  authority made on first use: the manifest is intact and readable, and verifiers report the
  signer as untrusted until an operator configures a certificate from a trusted CA.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATOR = "persona-avatar-studio"

XMP_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about=""'
    ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
    f"<Iptc4xmpExt:DigitalSourceType>{TRAINED_ALGORITHMIC_MEDIA}</Iptc4xmpExt:DigitalSourceType>"
    '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">AI-generated avatar</rdf:li>'
    "</rdf:Alt></dc:description>"
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
).encode()

_XMP_SOURCE = re.compile(rb"DigitalSourceType>\s*([^<\s]+)\s*<|DigitalSourceType=\"([^\"]+)\"")


@dataclass(frozen=True, slots=True)
class LabelInfo:
    """What a reader finds in a file."""

    xmp_source_type: str | None
    c2pa_source_type: str | None
    c2pa_state: str | None  # c2pa's validation state ("Valid", "Trusted"...), None without one

    @property
    def ai_generated(self) -> bool:
        return TRAINED_ALGORITHMIC_MEDIA in (self.xmp_source_type, self.c2pa_source_type)

    @property
    def kind(self) -> str:
        return "c2pa+xmp" if self.c2pa_source_type else ("xmp" if self.xmp_source_type else "none")


def add_visible_mark(image: Image.Image, text: str = "AI") -> Image.Image:
    """A small badge in the bottom-right corner; the machine-readable label is separate."""
    marked = image.convert("RGB").copy()
    side = min(marked.size)
    font_px = max(10, side // 18)
    try:
        font = ImageFont.load_default(size=font_px)
    except (TypeError, OSError):  # Pillow without FreeType: fixed bitmap font
        font = ImageFont.load_default()
    overlay = Image.new("RGBA", marked.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(3, font_px // 3)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    x0, y0 = marked.width - w - pad, marked.height - h - pad
    draw.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=pad, fill=(0, 0, 0, 150))
    draw.text((x0 + pad - left, y0 + pad - top), text, font=font, fill=(255, 255, 255, 235))
    return Image.alpha_composite(marked.convert("RGBA"), overlay).convert("RGB")


class Labeler:
    """Encodes an avatar as a JPEG carrying the XMP label and, when possible, a C2PA manifest."""

    def __init__(
        self,
        signing_dir: Path,
        *,
        c2pa_enabled: bool = True,
        cert_chain: Path | None = None,
        private_key: Path | None = None,
    ) -> None:
        self.signing_dir = signing_dir
        self.c2pa_enabled = c2pa_enabled
        self.cert_chain = cert_chain
        self.private_key = private_key
        self._lock = threading.Lock()
        self._signer_info = None
        self._context = None
        self.c2pa_error: str | None = None

    def encode(self, image: Image.Image, title: str, quality: int = 92) -> bytes:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=quality, xmp=XMP_PACKET)
        jpeg = buffer.getvalue()
        if not self.c2pa_enabled:
            return jpeg
        with self._lock:
            try:
                return self._sign(jpeg, title)
            except Exception as exc:  # noqa: BLE001 - the XMP label is still there
                if self.c2pa_error is None:
                    log.warning(
                        "C2PA signing unavailable, XMP label only", extra={"error": str(exc)}
                    )
                self.c2pa_error = str(exc)
                return jpeg

    def _sign(self, jpeg: bytes, title: str) -> bytes:
        import c2pa

        if self._signer_info is None:
            chain, key = self._credentials()
            self._signer_info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None)
            # No embedded thumbnail: it would triple the file and duplicate the picture.
            settings = c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}})
            self._context = c2pa.Context(settings=settings)
        manifest = {
            "claim_generator_info": [{"name": GENERATOR, "version": "0.1.0"}],
            "title": title,
            "format": "image/jpeg",
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            }
                        ]
                    },
                }
            ],
        }
        signer = c2pa.Signer.from_info(self._signer_info)
        try:
            builder = c2pa.Builder(manifest, context=self._context)
            out = io.BytesIO()
            builder.sign(signer, "image/jpeg", io.BytesIO(jpeg), out)
        finally:
            signer.close()
        return out.getvalue()

    def _credentials(self) -> tuple[bytes, bytes]:
        if self.cert_chain and self.private_key:
            return self.cert_chain.read_bytes(), self.private_key.read_bytes()
        chain_path = self.signing_dir / "chain.pem"
        key_path = self.signing_dir / "signer.key"
        if not (chain_path.exists() and key_path.exists()):
            chain, key = make_local_signing_chain()
            self.signing_dir.mkdir(parents=True, exist_ok=True)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key)
            chain_path.write_bytes(chain)
        return chain_path.read_bytes(), key_path.read_bytes()


def make_local_signing_chain() -> tuple[bytes, bytes]:
    """A local CA and an end-entity signing certificate (C2PA refuses self-signed leaves)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Persona avatar studio (local)"),
            ]
        )

    def usage(*, sign_certs: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=sign_certs,
            crl_sign=sign_certs,
            encipher_only=False,
            decipher_only=False,
        )

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Persona avatar studio local CA"))
        .issuer_name(name("Persona avatar studio local CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign_certs=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Persona avatar studio signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign_certs=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    private = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, private


def read_label(data: bytes) -> LabelInfo:
    """Read back both labels from an avatar's bytes."""
    xmp_source = None
    with Image.open(io.BytesIO(data)) as image:
        xmp = image.info.get("xmp") or b""
    if isinstance(xmp, str):
        xmp = xmp.encode()
    match = _XMP_SOURCE.search(xmp)
    if match:
        xmp_source = (match.group(1) or match.group(2)).decode()
    c2pa_source = c2pa_state = None
    try:
        import c2pa

        reader = c2pa.Reader("image/jpeg", io.BytesIO(data))
        try:
            manifest = reader.get_active_manifest() or {}
            c2pa_state = reader.get_validation_state()
        finally:
            reader.close()
        for assertion in manifest.get("assertions", []):
            if assertion.get("label", "").startswith("c2pa.actions"):
                for action in assertion.get("data", {}).get("actions", []):
                    c2pa_source = action.get("digitalSourceType") or c2pa_source
    except Exception:  # noqa: BLE001 - no manifest, or c2pa missing: report what XMP says
        pass
    return LabelInfo(xmp_source, c2pa_source, c2pa_state)
