"""Prometheus metrics at `/metrics`, and what feeds them.

What is measured (all names start with `persona_`):
- `http_requests_total{method,route,status}`, `http_request_seconds{method,route}`: every
  request and websocket session, by route template (never the raw path);
- `replies_total{channel,action}`, `moderation_decisions_total{channel,action,category}`,
  `reply_first_token_seconds{channel}`, `reply_seconds{channel}`,
  `reply_errors_total{channel,cause}`: from the reply engine (`InstrumentedEngine`);
- `queue_depth{queue}`: inbox events and outbox replies by status, avatar jobs, the job
  queue, live-stream pending messages, hub events waiting for Redis;
- `drops_total{where,reason}`: live-stream messages not answered themselves, hub events lost;
- `dependency_up{component}`, `dependency_errors_total{component,operation}`,
  `dependency_recoveries_total{component}`: the database, Redis, the Chroma server and
  the model endpoint, probed by every worker;
- `worker_starts_total`: API worker processes started (a worker restarted after a crash
  counts again).

Several API workers (`persona serve --workers N`) share one `/metrics` through
prometheus_client's multiprocess mode: each worker writes its values to files in
`PROMETHEUS_MULTIPROC_DIR`, and whichever worker answers the scrape adds them up. That
variable is prometheus_client's own switch (it is read when prometheus_client is imported),
so the CLI sets it to a fresh directory before it starts the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

# Seconds: from a cached scripted reply (ms) to a slow CPU model (a minute).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)


def worker_id() -> str:
    """Names this process in headers and logs (`pid@host`)."""
    return f"{os.getpid()}@{socket.gethostname()}"


def multiprocess_dir() -> Path | None:
    """prometheus_client's multiprocess directory, when several workers share `/metrics`."""
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


class Metrics:
    """The platform's metrics, in a registry of their own (several apps in one test process
    each get theirs; in multiprocess mode the values go to the shared directory anyway)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "persona_http_requests",
            "HTTP requests and websocket sessions, by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "persona_http_request_seconds",
            "HTTP request latency (websocket sessions excluded)",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.replies = Counter(
            "persona_replies",
            "Replies of the AI double, by channel and action",
            ["channel", "action"],
            registry=r,
        )
        self.moderation = Counter(
            "persona_moderation_decisions",
            "What the safety checks decided for each reply (send, hold, block, safe_reply...)",
            ["channel", "action", "category"],
            registry=r,
        )
        self.first_token = Histogram(
            "persona_reply_first_token_seconds",
            "Time until the fan can see the first token: the first streamed delta, or the "
            "whole reply on channels that deliver replies whole",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.reply_seconds = Histogram(
            "persona_reply_seconds",
            "Time to a complete, checked reply",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.reply_errors = Counter(
            "persona_reply_errors",
            "Replies that failed, by the component that failed",
            ["channel", "cause"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "persona_queue_depth",
            "Items waiting in this worker's in-memory queues (summed over live workers)",
            ["queue"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.drops = Counter(
            "persona_drops",
            "Messages or events not delivered themselves, by where and why",
            ["where", "reason"],
            registry=r,
        )
        self.dependency_up = Gauge(
            "persona_dependency_up",
            "1 when every live worker reaches the component, 0 when one does not",
            ["component"],
            multiprocess_mode="livemin",
            registry=r,
        )
        self.dependency_errors = Counter(
            "persona_dependency_errors",
            "Failed calls to a component (the platform retried or fell back)",
            ["component", "operation"],
            registry=r,
        )
        self.dependency_recoveries = Counter(
            "persona_dependency_recoveries",
            "A component came back after being unreachable",
            ["component"],
            registry=r,
        )
        self.worker_starts = Counter(
            "persona_worker_starts", "API worker processes started", registry=r
        )

    # -- recording helpers -------------------------------------------------------------------

    def record_reply(self, channel: str, result: Any) -> None:
        action = str(getattr(result, "action", "unknown"))
        self.replies.labels(channel, action).inc()
        self.moderation.labels(channel, action, str(getattr(result, "category", "") or "ok")).inc()
        timings = getattr(result, "timings_ms", None) or {}
        total = timings.get("total")
        if total is not None:
            self.reply_seconds.labels(channel).observe(total / 1000)
        first = timings.get("first_token", total)
        if first is not None:
            self.first_token.labels(channel).observe(first / 1000)

    def dependency_error(self, component: str, operation: str = "call") -> None:
        self.dependency_errors.labels(component, operation).inc()


# The client libraries of each component; HTTP transports (httpx) are not named: a chromadb
# HttpClient and the OpenAI client both raise httpx errors, told apart by who called httpx.
_COMPONENT_OF_PACKAGE = {
    "chromadb": "chroma",
    "sqlalchemy": "database",
    "psycopg": "database",
    "psycopg2": "database",
    "sqlite3": "database",
    "redis": "redis",
    "openai": "model",
    "langchain_openai": "model",
}


def failure_cause(exc: BaseException) -> str:
    """Which component an exception came from: the client library deepest in its traceback
    (or that defines its type), looking through the exception's causes."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if type(error).__name__ == "CreatorNotFound":
            return "not_found"
        found = None
        tb = error.__traceback__
        while tb is not None:
            package = str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0]
            found = _COMPONENT_OF_PACKAGE.get(package, found)
            tb = tb.tb_next
        found = _COMPONENT_OF_PACKAGE.get(type(error).__module__.split(".")[0], found)
        if found is not None:
            return found
        error = error.__cause__ or error.__context__
    return "internal"


class InstrumentedEngine:
    """The reply engine with metrics around `reply` and `stream` (everything else passes
    through), so that every channel is measured the same way."""

    def __init__(self, engine: Any, metrics: Metrics) -> None:
        self._engine = engine
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def _failed(self, request: Any, exc: BaseException) -> None:
        cause = failure_cause(exc)
        channel = str(request.channel)
        self._metrics.reply_errors.labels(channel, cause).inc()
        if cause != "not_found":
            log.warning(
                "reply failed",
                extra={"channel": channel, "cause": cause, "error": type(exc).__name__},
            )

    async def reply(self, request: Any) -> Any:
        try:
            result = await self._engine.reply(request)
        except Exception as exc:
            self._failed(request, exc)
            raise
        self._metrics.record_reply(str(request.channel), result)
        return result

    async def stream(self, request: Any) -> AsyncIterator[Any]:
        try:
            async for item in self._engine.stream(request):
                if not isinstance(item, str):
                    self._metrics.record_reply(str(request.channel), item)
                yield item
        except Exception as exc:
            self._failed(request, exc)
            raise


# -- the HTTP middleware -----------------------------------------------------------------------


class MetricsMiddleware:
    """Counts every request and websocket session by route template, and names the worker
    that served it in an `X-Persona-Worker` header (also on websocket handshakes), so that
    an operator or a test can tell the workers behind one address apart."""

    def __init__(self, app: Any, metrics: Metrics, worker: str | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.header = (b"x-persona-worker", (worker or worker_id()).encode())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": "500" if kind == "http" else "closed"}

        async def send_wrapper(message: dict[str, Any]) -> None:
            mtype = message["type"]
            if mtype in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", []), self.header]}
                status["code"] = str(message.get("status", 101))
            elif mtype == "websocket.close" and status["code"] == "closed":
                status["code"] = "403"  # closed before the handshake completed
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "WS") if kind == "http" else "WS"
            self.metrics.http_requests.labels(method, template, status["code"]).inc()
            if kind == "http":
                self.metrics.http_seconds.labels(method, template).observe(
                    time.perf_counter() - started
                )


# -- queue depths that live in the database and in Redis ---------------------------------------


class StoreQueueCollector:
    """Queue depths read at scrape time from the shared stores (the same for every worker,
    so they are exported once, by the worker that answers the scrape)."""

    def __init__(
        self, services: Platform, job_depth: Callable[[], int | None] | None = None
    ) -> None:
        self.services = services
        self.job_depth = job_depth

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        family = GaugeMetricFamily(
            "persona_store_queue_depth",
            "Items waiting in the shared stores: inbox events and outbox replies by status, "
            "avatar jobs by state, the job queue",
            labels=["queue", "status"],
        )
        for queue, status, count in self._rows():
            family.add_metric([queue, status], count)
        return [family]

    def _rows(self) -> list[tuple[str, str, int]]:
        from sqlalchemy import func, select

        rows: list[tuple[str, str, int]] = []
        # (queue, status column, the statuses that always get a series, zero or not)
        sources: list[tuple[str, Any, list[str]]] = []
        with contextlib.suppress(ImportError):
            from channels.inbox.models import EventStatus, InboxEvent, OutboxReply, ReplyStatus

            sources += [
                ("inbox", InboxEvent.status, [str(s) for s in EventStatus]),
                ("outbox", OutboxReply.status, [str(s) for s in ReplyStatus]),
            ]
        with contextlib.suppress(ImportError):
            from avatar.store import AvatarJob, JobState

            sources.append(("avatar", AvatarJob.state, [s.value for s in JobState]))
        for queue, column, known in sources:
            try:
                with self.services.db.session() as session:
                    counts = session.execute(select(column, func.count()).group_by(column)).all()
            except Exception:  # noqa: BLE001 - a missing table or a database outage
                continue
            found = {str(status): int(n) for status, n in counts}
            rows += [(queue, status, found.get(status, 0)) for status in known]
            rows += [(queue, status, n) for status, n in found.items() if status not in known]
        if self.job_depth is not None:
            with contextlib.suppress(Exception):
                depth = self.job_depth()
                if depth is not None:
                    rows.append(("jobs", "queued", depth))
        return rows


# -- the sampler: per-worker gauges and drops ---------------------------------------------------


class Sampler:
    """Every few seconds: live-stream pending counts and drops, hub backlog, and a probe of
    every configured dependency (logged when one goes down and when it comes back)."""

    def __init__(
        self,
        metrics: Metrics,
        app: Any,
        probes: dict[str, Callable[[], Awaitable[None]]],
        interval_s: float = 5.0,
    ) -> None:
        self.metrics = metrics
        self.app = app
        self.probes = probes
        self.interval_s = interval_s
        self._seen_drops: dict[tuple[str, str, float], dict[str, int]] = {}
        self._down_since: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="metrics-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:  # noqa: BLE001 - metrics must never stop the worker
                log.exception("sampling metrics failed")
            await asyncio.sleep(self.interval_s)

    async def sample(self) -> None:
        self.sample_live()
        self.sample_hub()
        await self.probe()

    def sample_live(self) -> None:
        manager = getattr(getattr(self.app.state, "services", None), "live", None)
        if manager is None:
            self.metrics.queue_depth.labels("live").set(0)
            return
        pending = 0
        running: set[tuple[str, str, float]] = set()
        for name, stats in manager.metrics().items():
            creator, _, stream = name.partition("/")
            key = (creator, stream, float(stats.get("started_at", 0)))
            running.add(key)
            pending += int(stats.get("pending", 0))
            self._count_drops(key, stats)
        # Streams that ended since the last sample: their final counts.
        for key in [k for k in self._seen_drops if k not in running]:
            final = manager.stats(key[0], key[1])
            if final is not None and float(final.get("started_at", 0)) == key[2]:
                self._count_drops(key, final)
            del self._seen_drops[key]
        self.metrics.queue_depth.labels("live").set(pending)

    def _count_drops(self, key: tuple[str, str, float], stats: dict[str, Any]) -> None:
        seen = self._seen_drops.setdefault(key, {})
        for reason, total in (stats.get("dropped") or {}).items():
            new = int(total) - seen.get(reason, 0)
            if new > 0:
                self.metrics.drops.labels("live", reason).inc(new)
                seen[reason] = int(total)

    def sample_hub(self) -> None:
        hub = getattr(getattr(self.app.state, "services", None), "hub", None)
        backlog = getattr(hub, "backlog", None)
        self.metrics.queue_depth.labels("hub_to_redis").set(backlog() if callable(backlog) else 0)

    async def probe(self) -> dict[str, bool]:
        """Check every dependency once; log and count transitions."""
        states: dict[str, bool] = {}
        for component, check in self.probes.items():
            try:
                # asyncio.timeout, not wait_for: this runs in the sampler loop that shutdown
                # cancels (see channels/aio.py: a swallowed cancellation hung the shutdown).
                async with asyncio.timeout(5.0):
                    await check()
                ok = True
            except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
                ok = False
                if component not in self._down_since:
                    log.warning(
                        "%s unreachable",
                        component,
                        extra={"component": component, "error": type(exc).__name__},
                    )
                    self._down_since[component] = time.monotonic()
                self.metrics.dependency_error(component, "probe")
            if ok and component in self._down_since:
                down_s = time.monotonic() - self._down_since.pop(component)
                log.warning(
                    "%s reachable again",
                    component,
                    extra={"component": component, "down_s": round(down_s, 1)},
                )
                self.metrics.dependency_recoveries.labels(component).inc()
            self.metrics.dependency_up.labels(component).set(1 if ok else 0)
            states[component] = ok
        return states


def dependency_probes(services: Platform) -> dict[str, Callable[[], Awaitable[None]]]:
    """One cheap check per configured component (the database always; Redis, the Chroma
    server and the model endpoint when the settings use them)."""
    settings = services.settings
    probes: dict[str, Callable[[], Awaitable[None]]] = {}

    async def database() -> None:
        from sqlalchemy import text

        def ping() -> None:
            with services.db.session() as session:
                session.execute(text("SELECT 1"))

        await asyncio.to_thread(ping)

    probes["database"] = database
    redis_url = getattr(settings, "redis_url", None)
    if redis_url:

        async def redis_ping() -> None:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                await client.ping()
            finally:
                await client.aclose()

        probes["redis"] = redis_ping
    if settings.vector_backend == "chroma-server":
        url = f"http://{settings.chroma_host}:{settings.chroma_port}/api/v2/heartbeat"
        probes["chroma"] = _http_probe(url)
    if settings.llm_backend == "openai" and settings.llm_base_url:
        probes["model"] = _http_probe(
            settings.llm_base_url.rstrip("/") + "/models", settings.llm_api_key
        )
    return probes


def _http_probe(url: str, api_key: str | None = None) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        async with httpx.AsyncClient(timeout=3.0) as client:
            response = await client.get(url, headers=headers)
            response.raise_for_status()

    return check


# -- exposition ---------------------------------------------------------------------------------


def _prune_dead_workers(directory: Path) -> None:
    """Forget the live gauges of workers that died without running their exit code (kill -9):
    prometheus_client only does it when told."""
    from prometheus_client import multiprocess

    pids: set[int] = set()
    for path in directory.glob("gauge_live*_*.db"):
        with contextlib.suppress(ValueError):
            pids.add(int(path.stem.rsplit("_", 1)[1]))
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))
        except PermissionError:
            continue


def exposition(metrics: Metrics, extra: list[Any] | None = None) -> bytes:
    """The text a scrape gets: this worker's registry, or every worker's values in
    multiprocess mode, plus collectors of shared state."""
    directory = multiprocess_dir()
    if directory is None:
        registry = metrics.registry
        for collector in extra or []:
            with contextlib.suppress(ValueError):  # registered on an earlier scrape
                registry.register(collector)
        return generate_latest(registry)
    from prometheus_client import multiprocess

    _prune_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    for collector in extra or []:
        registry.register(collector)
    return generate_latest(registry)


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["observability"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        state = request.app.state
        extra = getattr(state, "metrics_collectors", [])
        body = await asyncio.to_thread(exposition, state.metrics, extra)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router


def instrument(app: Any, metrics: Metrics | None = None) -> Metrics:
    """Add the middleware and `/metrics` to an app (call before it starts); the lifespan
    then calls `start_observability(app)` / `await stop_observability(app)`."""
    metrics = metrics or Metrics()
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(metrics_router())
    return metrics


def start_observability(
    app: Any, job_depth: Callable[[], int | None] | None = None, interval_s: float = 5.0
) -> Sampler:
    """In the lifespan, once `app.state.services` exists: register the store collector and
    start the sampler (the engine is wrapped in `InstrumentedEngine` where it is built)."""
    metrics: Metrics = app.state.metrics
    services = app.state.services
    metrics.worker_starts.inc()
    app.state.metrics_collectors = [StoreQueueCollector(services, job_depth)]
    sampler = Sampler(metrics, app, dependency_probes(services), interval_s)
    sampler.start()
    app.state.metrics_sampler = sampler
    return sampler


async def stop_observability(app: Any) -> None:
    sampler = getattr(app.state, "metrics_sampler", None)
    if sampler is not None:
        await sampler.stop()


def readiness_checks(services: Platform, hub: Any = None) -> dict[str, str]:
    """What `/readyz` can add in production mode, without network calls: the hub's Redis
    connection as the worker last saw it."""
    checks: dict[str, str] = {}
    hub = hub or getattr(services, "hub", None)
    connected = getattr(hub, "connected", None)
    if connected is not None:
        checks["redis"] = "ok" if connected else "error: Redis unreachable (hub reconnecting)"
    return checks


# -- values the database refuses ------------------------------------------------------------------


def handle_data_errors(app: Any) -> None:
    """Answer 422, not 500, when PostgreSQL refuses a value that SQLite would take: an integer
    beyond 64 bits in a path or query (`bigint out of range`), a NUL character in a string,
    a string longer than its column. The body has FastAPI's validation-error shape, so it
    matches every operation's declared 422 response."""
    from fastapi.responses import JSONResponse
    from sqlalchemy.exc import DataError

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        log.warning(
            "the database refused a value from the request",
            extra={"path": request.url.path, "error": type(exc.orig).__name__},
        )
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.drops.labels("api", "data_error").inc()
        detail = [
            {
                "loc": ["request"],
                "msg": "a value in this request is out of range for the database (an integer "
                "beyond 64 bits, a NUL character, or a text that is too long)",
                "type": "value_error",
            }
        ]
        return JSONResponse({"detail": detail}, status_code=422)
