"""Helpers shared by the inbox tests (no tests here): a real server in a child process that a
test can kill -9, a signed-webhook client, a callback receiver, and readers of the tables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from sqlalchemy import select

from channels.deps import new_api_token
from channels.inbox.models import InboxEvent, OutboxReply
from channels.inbox.policy import load_policy, store_policy
from channels.inbox.signing import IDEMPOTENCY_HEADER, signed_headers, verify
from persona.store import Creator, Database, DatabaseConfig
from tests.http_stub import serve_on_loopback

REPO = Path(__file__).resolve().parents[1]
PLATFORM = "testgram"
SECRET = "test-secret-0123456789abcdef"
CREATOR = "camille.cuisine"


def wait_until(predicate: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy; the timeout only stops a hung test."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s: {predicate}")
        time.sleep(every_s)


# -- the data dir ----------------------------------------------------------------------------


def database(data_dir: Path) -> Database:
    return Database(DatabaseConfig(f"sqlite:///{data_dir / 'persona.db'}"))


def issue_token(data_dir: Path, creator_id: str = CREATOR) -> str:
    db = database(data_dir)
    try:
        return new_api_token(SimpleNamespace(db=db), creator_id)  # type: ignore[arg-type]
    finally:
        db.dispose()


def set_policy(data_dir: Path, channel: str, creator_id: str = CREATOR, **changes: Any) -> None:
    """Write a channel policy straight into the data dir (before a server starts)."""
    db = database(data_dir)
    try:
        with db.session() as session:
            creator = session.get(Creator, creator_id)
            assert creator is not None, f"no creator {creator_id} in {data_dir}"
            current = load_policy(creator.settings or {}, channel)
            policy = type(current).model_validate(current.model_dump() | changes)
            creator.settings = store_policy(creator.settings or {}, channel, policy)
    finally:
        db.dispose()


def events(data_dir: Path) -> list[InboxEvent]:
    db = database(data_dir)
    try:
        with db.session() as session:
            return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
    finally:
        db.dispose()


def replies(data_dir: Path) -> list[OutboxReply]:
    db = database(data_dir)
    try:
        with db.session() as session:
            return list(session.scalars(select(OutboxReply).order_by(OutboxReply.id)))
    finally:
        db.dispose()


# -- events ----------------------------------------------------------------------------------


def new_id(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def dm(text: str, fan: str = "fan1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "dm",
        "creator_id": CREATOR,
        "message_id": new_id(),
        "fan": {"id": fan, "handle": fan, "name": fan.title()},
        "text": text,
        **extra,
    }


def comment(text: str, post: dict[str, Any], fan: str = "fan1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "comment",
        "creator_id": CREATOR,
        "message_id": new_id("c"),
        "fan": {"id": fan, "handle": fan, "name": fan.title()},
        "text": text,
        "post": post,
        **extra,
    }


def group_message(text: str, group: str, fan: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "group_message",
        "creator_id": CREATOR,
        "message_id": new_id("g"),
        "fan": {"id": fan, "handle": fan, "name": fan.title()},
        "text": text,
        "group_id": group,
        **extra,
    }


def post_webhook(
    client: httpx.Client,
    base_url: str,
    event: dict[str, Any],
    platform: str = PLATFORM,
    secret: str = SECRET,
    now: float | None = None,
) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {**signed_headers(secret, body, now), "Content-Type": "application/json"}
    return client.post(f"{base_url}/webhooks/{platform}", content=body, headers=headers)


# -- the callback receiver -------------------------------------------------------------------


@dataclass
class CallbackSink:
    """A platform's callback endpoint on loopback: checks each signature, records the reply,
    and answers `fail_first` deliveries of each reply with `fail_status`."""

    secret: str = SECRET
    fail_first: int = 0
    fail_status: int = 503
    received: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    _tries: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def serving(self) -> Iterator[str]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    verify(
                        sink.secret,
                        self.headers.get("X-Persona-Timestamp"),
                        self.headers.get("X-Persona-Signature"),
                        body,
                        300,
                    )
                except ValueError:
                    with sink._lock:
                        sink.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                key = self.headers.get(IDEMPOTENCY_HEADER, "")
                with sink._lock:
                    tries = sink._tries.get(key, 0) + 1
                    sink._tries[key] = tries
                    failing = tries <= sink.fail_first
                    if not failing:
                        sink.received.append(json.loads(body))
                        sink.keys.append(key)
                self.send_response(sink.fail_status if failing else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        with serve_on_loopback(Handler) as url:
            yield f"{url}/callback"

    def tries(self, key: str) -> int:
        with self._lock:
            return self._tries.get(key, 0)

    def texts_for(self, message_id: str) -> list[str]:
        with self._lock:
            return [r["text"] for r in self.received if r["in_reply_to"] == message_id]


# -- the server ------------------------------------------------------------------------------


def server_env(data_dir: Path, **overrides: Any) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PERSONA_") or k.endswith("CACHE")
    }
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "llm_backend": "scripted",
        "log_level": "WARNING",
        "embed_threads": 1,
        "llm_threads": 1,
        "reply_candidates": 1,
        "webhook_secrets": {PLATFORM: SECRET},
        "inbox_poll_s": 0.2,
        "inbox_lease_s": 3.0,
        "inbox_retry_base_s": 0.2,
        "outbox_backoff_base_s": 0.1,
        "outbox_backoff_max_s": 0.5,
    }
    values.update(overrides)
    for key, value in values.items():
        text = json.dumps(value) if isinstance(value, dict | list) else str(value)
        env[f"PERSONA_{key.upper()}"] = text
    env.update({"TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    return env


class ServerProcess:
    """The real app under uvicorn in a child process, on a loopback port it picks itself."""

    def __init__(self, data_dir: Path, log_path: Path, **settings: Any) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.settings = settings
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout_s: float = 180.0) -> ServerProcess:
        port_file = self.log_path.with_suffix(f".port{uuid.uuid4().hex[:6]}")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.app_process",
                "--port-file",
                str(port_file),
                "--import",
                "tests.doubles",
            ],
            cwd=REPO,
            env=server_env(self.data_dir, **self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log_path.read_text()[-3000:]}")
            if not port_file.exists():
                return False
            self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout_s, 0.2)
        return self

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def running_server(data_dir: Path, log_path: Path, **settings: Any) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir, log_path, **settings).start()
    try:
        yield server
    finally:
        server.stop()
