"""Helpers shared by the production-mode tests (no tests here): the services that `.ci/services`
starts (PostgreSQL, Redis, the Chroma server), a fresh database per test, restartable Redis and
Chroma processes for the fault tests, `persona serve --workers N` on production settings (the
product's own app: production mode is a matter of settings), and readers of the shared tables.

The services come from the env file named by PERSONA_TEST_SERVICES_ENV (what `.ci/run` sets
after `.ci/services`); without it, the first test that needs them runs `.ci/services` itself
and `.ci/services-stop` when the test session ends. Where PostgreSQL or Redis is not installed
the production tests are skipped with the reason.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import tests.doubles  # noqa: F401 - the scripted chat backend (workers load it as a plugin)
from channels.settings import Settings

REPO = Path(__file__).resolve().parents[1]
ENV_VAR = "PERSONA_TEST_SERVICES_ENV"
CREATOR = "camille.cuisine"
PLATFORM = "testgram"
SECRET = "test-secret-0123456789abcdef"


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the services of .ci/services ----------------------------------------------------------------


@dataclass(frozen=True)
class ServiceURLs:
    database_url: str  # the server's maintenance database; tests create their own
    redis_url: str
    chroma_host: str
    chroma_port: int
    directory: Path


_SERVICES: ServiceURLs | None = None


def _read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value.strip()
    return values


def _start_ci_services() -> Path:
    missing = [
        what
        for what, found in (
            (
                "PostgreSQL 15 (/usr/lib/postgresql/15/bin)",
                Path("/usr/lib/postgresql/15/bin/initdb").exists(),
            ),
            ("redis-server", shutil.which("redis-server") is not None or os.geteuid() == 0),
            ("the chroma command", (Path(sys.executable).parent / "chroma").exists()),
        )
        if not found
    ]
    if missing:
        pytest.skip(f"production services unavailable here: {', '.join(missing)}")
    directory = Path(f"/tmp/persona-test-services-{os.getpid()}")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "CHROMA": str(Path(sys.executable).parent / "chroma"),
    }
    done = subprocess.run(
        ["bash", str(REPO / ".ci" / "services"), str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f".ci/services failed:\n{done.stderr[-3000:]}")
    atexit.register(
        subprocess.run, ["bash", str(REPO / ".ci" / "services-stop"), str(directory)], check=False
    )
    return directory / "services.env"


def service_urls() -> ServiceURLs:
    """The running services (started once per test session when no env file is given)."""
    global _SERVICES
    if _SERVICES is None:
        env_file = os.environ.get(ENV_VAR)
        path = Path(env_file) if env_file else _start_ci_services()
        values = _read_env_file(path)
        _SERVICES = ServiceURLs(
            database_url=values["PERSONA_TEST_DATABASE_URL"],
            redis_url=values["PERSONA_TEST_REDIS_URL"],
            chroma_host=values["PERSONA_TEST_CHROMA_HOST"],
            chroma_port=int(values["PERSONA_TEST_CHROMA_PORT"]),
            directory=Path(values["PERSONA_TEST_SERVICES_DIR"]),
        )
    return _SERVICES


def _admin_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def fresh_database(services: ServiceURLs) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    import psycopg

    name = f"persona_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_url(services.database_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = services.database_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_admin_url(services.database_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- processes a fault test may kill and restart -------------------------------------------------


class ServiceProcess:
    """A child process on a fixed loopback port that can be killed and started again."""

    name = "service"

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout_s: float = 60.0) -> ServiceProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.directory
        )
        log.close()
        self.starts += 1

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log_tail()}")
            return self.ready()

        wait_until(up, timeout_s, 0.1)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        path = self.directory / f"{self.name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class RedisProcess(ServiceProcess):
    name = "redis"

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes",
        ]

    def ready(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class ChromaProcess(ServiceProcess):
    name = "chroma"

    def command(self) -> list[str]:
        chroma = Path(sys.executable).parent / "chroma"
        return [
            str(chroma),
            "run",
            "--path",
            str(self.directory / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]

    def ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


# -- production settings --------------------------------------------------------------------------


def production_values(
    data_dir: Path,
    database_url: str,
    redis_url: str | None,
    chroma: tuple[str, int],
    **overrides: Any,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "vector_backend": "chroma-server",
        "chroma_host": chroma[0],
        "chroma_port": chroma[1],
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
        # Fault tests watch persona_dependency_up change: probe every second.
        "probe_interval_s": 1.0,
        # Every worker registers the scripted chat backend through the product's plugin path.
        "plugins": ["tests.doubles"],
    }
    if redis_url:
        # With Redis, the limiter, hub and job queue default to the shared ones.
        values["redis_url"] = redis_url
    values.update(overrides)
    return values


def make_production_settings(values: dict[str, Any]) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def environment(values: dict[str, Any], metrics_dir: Path | None = None) -> dict[str, str]:
    """The environment of a server process with these settings (PERSONA_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    for key, value in values.items():
        text = json.dumps(value) if isinstance(value, dict | list) else str(value)
        env[f"PERSONA_{key.upper()}"] = text
    env.update({"TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if metrics_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env


# -- the data: schema, a small creator, a token ----------------------------------------------------


def prepare_platform(settings: Settings, posts: int = 40) -> str:
    """Migrate, ingest a small creator (the first `posts` posts of the demo creator), and
    return a fresh API token for them."""
    from channels.deps import new_api_token
    from channels.services import Services
    from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME, demo_posts_path
    from ingest.pipeline import ingest_file

    services = Services.build(settings)
    try:
        subset = settings.data_dir / "posts.jsonl"
        lines = demo_posts_path().read_text(encoding="utf-8").splitlines()[:posts]
        subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
        ingest_file(
            services.ingestor(), subset, creator=DEMO_CREATOR_ID, display_name=DEMO_DISPLAY_NAME
        )
        return new_api_token(services, DEMO_CREATOR_ID)
    finally:
        services.close()


def set_policy(database_url: str, channel: str, **changes: Any) -> None:
    from channels.inbox.policy import load_policy, store_policy
    from persona.store import Creator, Database, DatabaseConfig

    db = Database(DatabaseConfig(database_url))
    try:
        with db.session() as session:
            creator = session.get(Creator, CREATOR)
            assert creator is not None
            current = load_policy(creator.settings or {}, channel)
            policy = type(current).model_validate(current.model_dump() | changes)
            creator.settings = store_policy(creator.settings or {}, channel, policy)
    finally:
        db.dispose()


def rows(database_url: str, model: Any) -> list[Any]:
    from sqlalchemy import select

    from persona.store import Database, DatabaseConfig

    db = Database(DatabaseConfig(database_url))
    try:
        with db.session() as session:
            return list(session.scalars(select(model).order_by(model.id)))
    finally:
        db.dispose()


# -- the production app: `persona serve --workers N` -----------------------------------------------


class Workers:
    """`persona serve --workers N` serving the product's app on one loopback port (settings
    from the PERSONA_* environment, as an operator would run it)."""

    def __init__(self, values: dict[str, Any], directory: Path, workers: int = 2) -> None:
        self.values = values
        self.directory = directory
        self.workers = workers
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_dir = directory / "metrics"
        self.log_path = directory / "workers.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 240.0) -> Workers:
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True)
        self.port = free_port()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "channels.cli",
                "serve",
                "--no-demo",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            cwd=REPO,
            env=environment(self.values, self.metrics_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(self._all_ready, timeout_s, 0.5)
        return self

    def _all_ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"uvicorn exited:\n{self.log_tail()}")
        pids = self.worker_pids()
        if len(pids) < self.workers:
            return False
        return set(pids) <= self.serving_pids(attempts=20)

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the supervisor that serve HTTP)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            pids = [int(p) for p in children.read_text().split()]
        except OSError:
            return []
        # multiprocessing's resource tracker is a child too: keep the uvicorn workers.
        return [p for p in pids if b"resource_tracker" not in _cmdline(p)]

    def serving_pids(self, attempts: int = 10) -> set[int]:
        """Worker pids seen answering /healthz in a few tries."""
        seen: set[int] = set()
        for _ in range(attempts):
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200:
                    seen.add(int(response.headers["x-persona-worker"].split("@")[0]))
        return seen

    def kill_worker(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=10).text


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 when none)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


# -- signed webhooks and a callback sink (the inbox tests' helpers, reused) ------------------------


def dm(text: str, fan: str = "fan1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "dm",
        "creator_id": CREATOR,
        "message_id": f"m-{uuid.uuid4().hex[:12]}",
        "fan": {"id": fan, "handle": fan, "name": fan.title()},
        "text": text,
        **extra,
    }


def post_webhook(client: httpx.Client, base_url: str, event: dict[str, Any]) -> httpx.Response:
    from channels.inbox.signing import signed_headers

    body = json.dumps(event).encode()
    headers = {**signed_headers(SECRET, body, None), "Content-Type": "application/json"}
    return client.post(f"{base_url}/webhooks/{PLATFORM}", content=body, headers=headers)


# -- a whole deployment: two workers on a fresh database with a small creator ----------------------

FAST_RATE = {"count": 10_000, "per_s": 60}


@dataclass
class Deployment:
    workers: Workers
    database_url: str
    token: str
    values: dict[str, Any]


def set_live_cadence(database_url: str, cadence_s: float) -> None:
    from channels.inbox.policy import load_policy, store_policy
    from persona.store import Creator, Database, DatabaseConfig

    db = Database(DatabaseConfig(database_url))
    try:
        with db.session() as session:
            creator = session.get(Creator, CREATOR)
            assert creator is not None
            settings = dict(creator.settings or {})
            live = load_policy(settings, "live").model_copy(update={"cadence_s": cadence_s})
            creator.settings = store_policy(settings, "live", live)
    finally:
        db.dispose()


@contextlib.contextmanager
def deploy(
    directory: Path,
    *,
    redis_url: str | None = None,
    chroma: tuple[str, int] | None = None,
    workers: int = 2,
    **overrides: Any,
) -> Iterator[Deployment]:
    """`workers` API workers on a fresh database with the small creator ingested, fast live
    answers (one every 0.5 s) and DM replies without the human-like delay."""
    urls = service_urls()
    with fresh_database(urls) as database_url:
        values = production_values(
            directory / "data",
            database_url,
            redis_url or urls.redis_url,
            chroma or (urls.chroma_host, urls.chroma_port),
            **overrides,
        )
        token = prepare_platform(make_production_settings(values), posts=30)
        set_live_cadence(database_url, 0.5)
        set_policy(
            database_url,
            "dm",
            reply_delay={"min_s": 0, "max_s": 0.2},
            fan_rate=FAST_RATE,
            channel_rate=FAST_RATE,
        )
        pool = Workers(values, directory, workers).start()
        try:
            yield Deployment(pool, database_url, token, values)
        finally:
            pool.stop()


def worker_of(connection: Any) -> int:
    """The pid of the worker that accepted a websocket (from its handshake header)."""
    return int(connection.response.headers["x-persona-worker"].split("@")[0])


def live_urls(workers: Workers, stream: str, token: str) -> tuple[str, str]:
    base = f"{workers.ws_url}/ws/live/{CREATOR}/{stream}"
    return f"{base}/in?token={token}", f"{base}/out"


def answered_once(database_url: str, sink: Any, message_ids: set[str]) -> None:
    """Every message has exactly one event, done, with exactly one reply, sent and delivered
    under one reply id."""
    from collections import Counter

    from channels.inbox.models import EventStatus, InboxEvent, OutboxReply, ReplyStatus

    events = [e for e in rows(database_url, InboxEvent) if e.message_id in message_ids]
    assert Counter(e.message_id for e in events) == Counter(message_ids), "lost or doubled"
    assert {e.status for e in events} == {EventStatus.DONE}, Counter(e.status for e in events)
    replies = rows(database_url, OutboxReply)
    per_event = Counter(r.event_id for r in replies)
    assert all(per_event[e.id] == 1 for e in events), "an event has no reply, or two"
    by_event = {r.event_id: r for r in replies}
    for event in events:
        reply = by_event[event.id]
        assert reply.status == ReplyStatus.SENT
        delivered = [r for r in sink.received if r["in_reply_to"] == event.message_id]
        assert delivered and {r["reply_id"] for r in delivered} == {reply.id}


def all_sent(database_url: str, count: int) -> bool:
    from channels.inbox.models import OutboxReply, ReplyStatus

    replies = rows(database_url, OutboxReply)
    return len(replies) >= count and all(r.status == ReplyStatus.SENT for r in replies)


def send_webhooks(
    url: str, messages: list[dict[str, Any]], threads: int = 4, pause_s: float = 0.0
) -> dict[str, str]:
    """Post each signed webhook; message id -> accepted | failed (refused or reset)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    outcome: dict[str, str] = {}
    lock = threading.Lock()

    def send(event: dict[str, Any]) -> None:
        try:
            with httpx.Client(timeout=20) as client:
                response = post_webhook(client, url, event)
            result = "accepted" if response.status_code in (200, 202) else "failed"
        except httpx.HTTPError:
            result = "failed"
        with lock:
            outcome[event["message_id"]] = result
        time.sleep(pause_s)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, messages))
    return outcome
