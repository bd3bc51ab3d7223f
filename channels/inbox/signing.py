"""HMAC-SHA256 signatures with a timestamp, the same both ways (webhooks in, callbacks out).

signature = hex(HMAC-SHA256(secret, f"{timestamp}.{raw body}")), sent as
`X-Persona-Signature: sha256=<hex>` with `X-Persona-Timestamp: <unix seconds>`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Persona-Timestamp"
SIGNATURE_HEADER = "X-Persona-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_PREFIX = "sha256="


class SignatureError(ValueError):
    """The request is not signed by the platform, or not now: the message says which."""


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    window_s: int,
    now: float | None = None,
) -> int:
    """Check the timestamp window, then the signature (constant-time); returns the timestamp."""
    if not timestamp or not signature_header:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        stamp = int(timestamp.strip())
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - stamp) > window_s:
        raise SignatureError(
            f"timestamp outside the {window_s} s window: sign each delivery when it is sent, "
            "and keep the sender's clock in sync"
        )
    expected = signature(secret, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode(), signature_header.strip().encode()):
        raise SignatureError("bad signature: sign f'{timestamp}.{raw body}' with the secret")
    return stamp
