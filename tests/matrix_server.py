"""A real Matrix homeserver (Synapse, from PyPI, in its own virtualenv: `.ci/matrix-deps`) on
loopback for connector tests, and a plain client-server API client (httpx, no Matrix
library) that plays a fan.

Synapse runs in the foreground under its pid with a config written to a temp dir: SQLite,
loopback only, open registration (the test registers its users), no federation, no
presence, rate limits out of the way."""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_VENV = Path.home() / ".cache" / "persona" / "synapse-venv"
SERVER_NAME = "persona.test"
PASSWORD = "matrix test password"
UNLIMITED = "{per_second: 1000, burst_count: 1000}"
CONFIG = """\
server_name: "@NAME@"
pid_file: @DIR@/homeserver.pid
listeners:
  - bind_addresses: ['127.0.0.1']
    port: @PORT@
    resources: [{names: [client], compress: false}]
    tls: false
    type: http
database:
  name: sqlite3
  args: {database: @DIR@/homeserver.db}
media_store_path: @DIR@/media
signing_key_path: @DIR@/signing.key
registration_shared_secret: "persona-test-only"
enable_registration: true
enable_registration_without_verification: true
report_stats: false
macaroon_secret_key: "persona-test-only-macaroon"
form_secret: "persona-test-only-form"
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
use_presence: false
bcrypt_rounds: 4
rc_message: @U@
rc_registration: @U@
rc_joins: {local: @U@, remote: @U@}
rc_invites: {per_room: @U@, per_user: @U@, per_issuer: @U@}
rc_login: {address: @U@, account: @U@, failed_attempts: @U@}
""".replace("@U@", UNLIMITED).replace("@NAME@", SERVER_NAME)


def synapse_python() -> Path | None:
    given = os.environ.get("PERSONA_SYNAPSE_PYTHON")
    path = Path(given) if given else DEFAULT_VENV / "bin" / "python"
    return path if path.exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Synapse:
    directory: Path
    port: int
    python: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> Synapse:
        self.directory.mkdir(parents=True, exist_ok=True)
        key = self.directory / "signing.key"
        if not key.exists():  # Synapse's own format: algorithm, key id, unpadded base64 seed
            seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
            key.write_text(f"ed25519 a_test {seed}\n")
        conf = self.directory / "homeserver.yaml"
        conf.write_text(
            CONFIG.replace("@DIR@", str(self.directory)).replace("@PORT@", str(self.port))
        )
        log = (self.directory / "synapse.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.python), "-m", "synapse.app.homeserver", "-c", str(conf)],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"synapse exited: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/_matrix/client/versions", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"synapse did not answer in {timeout_s} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL by pid: the server goes away without a word to its clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "synapse.log").read_text(errors="replace")[-chars:]
        return ""

    def register(self, localpart: str) -> MatrixUser:
        body = {
            "username": localpart,
            "password": PASSWORD,
            "auth": {"type": "m.login.dummy"},
            "initial_device_display_name": localpart,
        }
        response = httpx.post(f"{self.url}/_matrix/client/v3/register", json=body, timeout=30)
        assert response.status_code == 200, response.text
        found = response.json()
        return MatrixUser(self.url, found["user_id"], found["access_token"])


_txn = itertools.count()


@dataclass
class MatrixUser:
    """A user of the homeserver over the plain client-server API (a fan, in the tests)."""

    base_url: str
    user_id: str
    token: str

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = httpx.request(
            method,
            f"{self.base_url}/_matrix/client/v3{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            **kwargs,
        )
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        return dict(response.json())

    def create_room(self, invite: list[str], direct: bool) -> str:
        body: dict[str, Any] = {"invite": invite, "preset": "private_chat"}
        if direct:
            body.update(is_direct=True, preset="trusted_private_chat")
        return str(self._call("POST", "/createRoom", json=body)["room_id"])

    def join(self, room_id: str) -> None:
        self._call("POST", f"/join/{quote(room_id)}", json={})

    def say(self, room_id: str, text: str, mentions: list[str] | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if mentions is not None:
            content["m.mentions"] = {"user_ids": mentions}
        txn = f"fan-{os.getpid()}-{next(_txn)}"
        path = f"/rooms/{quote(room_id)}/send/m.room.message/{txn}"
        return str(self._call("PUT", path, json=content)["event_id"])

    def members(self, room_id: str) -> set[str]:
        return set(self._call("GET", f"/rooms/{quote(room_id)}/joined_members")["joined"])

    def messages_from(self, room_id: str, sender: str) -> list[dict[str, Any]]:
        """The room's text messages by `sender`, oldest first (the last 200 events)."""
        found = self._call(
            "GET", f"/rooms/{quote(room_id)}/messages", params={"dir": "b", "limit": 200}
        )
        events = [
            e
            for e in found.get("chunk", [])
            if e.get("type") == "m.room.message" and e.get("sender") == sender
        ]
        return list(reversed(events))

    def wait_for_messages(
        self, room_id: str, sender: str, count: int, timeout_s: float = 90.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.messages_from(room_id, sender)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.3)

    def wait_joined(self, room_id: str, user_id: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while user_id not in self.members(room_id):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user_id} did not join {room_id}")
            time.sleep(0.2)
