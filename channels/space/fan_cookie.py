"""Who a fan of the space is: a random visitor id the server hands out in a signed cookie.

The cookie is HttpOnly (page scripts, and so injected ones, never see it), SameSite=Lax,
Secure over https, and valid 180 days from the fan's last visit (each page load re-signs
it). Its value is `v1.<visitor id>.<issued, unix s>.<HMAC-SHA256>`: the server refuses any id
it did not sign, so a fan's history (channels/space/history.py) is reached only by the
browser that holds the cookie, and the id never travels in a URL (access logs).

The key: PERSONA_FAN_COOKIE_SECRET, else a random key made once in the data directory
(every worker on the machine shares it; set the variable when several machines serve the
space). Changing it starts every fan afresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.responses import Response

from channels.space.connection import VISITOR_ID

FAN_COOKIE = "persona_fan"
MAX_AGE_S = 180 * 24 * 3600
_VERSION = "v1"
# A clock a little ahead on another worker must not void a cookie it just signed.
_SKEW_S = 300
KEY_FILE = Path("secrets") / "fan-cookie.key"


def new_visitor_id() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 random bits


def _key_from_file(path: Path) -> bytes:
    """The key in `path`, made on first use. Written to a temporary file then linked into
    place, so workers starting together all read the one key that won."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return bytes.fromhex(path.read_text().strip())


@dataclass(frozen=True, slots=True)
class FanCookies:
    key: bytes
    max_age_s: int = MAX_AGE_S

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self.key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def value(self, visitor_id: str, now: float | None = None) -> str:
        if not VISITOR_ID.match(visitor_id):
            raise ValueError(f"not a visitor id: {visitor_id!r}")
        payload = f"{_VERSION}.{visitor_id}.{int(time.time() if now is None else now)}"
        return f"{payload}.{self._sign(payload)}"

    def read(self, value: str | None, now: float | None = None) -> str | None:
        """The visitor id of a cookie this server signed and that has not expired, else None."""
        if not value or len(value) > 200:
            return None
        parts = value.split(".")
        if len(parts) != 4 or parts[0] != _VERSION or not parts[2].isdigit():
            return None
        payload = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._sign(payload)):
            return None
        age = (time.time() if now is None else now) - int(parts[2])
        if not -_SKEW_S <= age <= self.max_age_s or not VISITOR_ID.match(parts[1]):
            return None
        return parts[1]

    def set(self, response: Response, visitor_id: str, secure: bool) -> None:
        response.set_cookie(
            FAN_COOKIE,
            self.value(visitor_id),
            max_age=self.max_age_s,
            path="/",  # the page and its websocket (/ws/space/...)
            httponly=True,
            samesite="lax",
            secure=secure,
        )


def build_fan_cookies(settings: Any) -> FanCookies:
    """The signer of fans' cookies, from the settings' secret or the data dir's key file
    (made the first time); `create_app` builds the app's one."""
    secret = getattr(settings, "fan_cookie_secret", None)
    if secret is not None and secret.get_secret_value():
        key = hashlib.sha256(secret.get_secret_value().encode()).digest()
    else:
        key = _key_from_file(Path(settings.data_dir) / KEY_FILE)
    return FanCookies(key)


def fan_cookies(app: Any) -> FanCookies:
    """The app's signer (built with the app)."""
    return app.state.fan_cookies
