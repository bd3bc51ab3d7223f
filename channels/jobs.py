"""Background jobs (post imports, avatar generation) behind one small interface.

- `inline` (default): jobs run in this process, one at a time, in a worker thread; what a
  single server needs.
- `arq` (production, when Redis is configured): jobs go to a Redis queue (arq) and run in
  separate job-worker processes (`persona jobs`, i.e. `run_job_worker(settings)`), so that
  CPU-heavy work never slows the API workers and a crashed job worker's jobs are run again.

Jobs are at-least-once (arq re-runs a job whose worker died), so every handler is
idempotent: an import upserts by content hash and skips duplicates; avatar jobs are claimed
with a conditional update in the database. Job payloads and results are JSON, never pickle.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from persona.registry import Registry

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

QUEUE_NAME = "persona:jobs"
INGEST = "ingest"
AVATARS = "avatars"
# Failures worth another try: the component may be back in a moment.
TRANSIENT_CAUSES = {"database", "chroma", "redis"}


@dataclass(slots=True)
class JobInfo:
    id: str
    kind: str
    state: str  # queued | running | done | failed | unknown
    result: dict[str, Any] | None = None
    error: str = ""


class JobQueue(Protocol):
    async def enqueue(self, kind: str, payload: dict[str, Any], job_id: str | None = None) -> str:
        """Queue a job. A job id already queued, running, or done and still remembered (arq
        keeps results 2 days; ids are unique in the whole Redis database) is not queued
        again: derive it from what the job is for (an import's id) to make retries safe."""
        ...

    async def info(self, job_id: str) -> JobInfo: ...

    def depth(self) -> int | None:
        """Jobs waiting (None when unknown); callable from any thread."""
        ...

    async def close(self) -> None: ...


class JobError(Exception):
    """A job that cannot succeed (bad input); not retried. The message is for the creator."""


# -- what the jobs do (shared by both queues) ------------------------------------------------------


class JobContext:
    """What handlers need, built once per process: the services, and the avatar studio on
    first use (it loads face and nudity models)."""

    def __init__(self, services: Platform) -> None:
        self.services = services
        self._avatar: Any = None
        self._lock = threading.Lock()

    @property
    def avatar(self) -> Any:
        with self._lock:
            if self._avatar is None:
                from avatar import AvatarService
                from channels.avatar_config import avatar_config

                self._avatar = AvatarService(
                    avatar_config(self.services.settings), self.services.db.engine
                )
            return self._avatar

    def close(self) -> None:
        if self._avatar is not None:
            self._avatar.stop()


def run_ingest(context: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Import a file of posts for one creator. Payload: creator_id, path, and optionally
    fmt, display_name, delete_after (remove the upload once imported)."""
    from ingest.pipeline import ingest_file
    from ingest.sources import IngestFormatError

    path = Path(payload["path"])
    creator_id = str(payload["creator_id"])
    if not path.is_file():
        raise JobError(f"the upload {path.name} is gone; upload the file again")
    try:
        report = ingest_file(
            context.services.ingestor(),
            path,
            creator=creator_id,
            fmt=payload.get("fmt"),
            display_name=payload.get("display_name"),
        )
    except IngestFormatError as exc:
        raise JobError(f"{path.name}: {exc}") from None
    stats = report.creators.get(creator_id)
    if payload.get("delete_after"):
        path.unlink(missing_ok=True)
    return {
        "creator_id": creator_id,
        "parsed": stats.parsed if stats else 0,
        "added": stats.added if stats else 0,
        "duplicates": stats.duplicates if stats else 0,
        "seconds": round(report.seconds, 2),
    }


def run_avatars(context: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Make the avatars of every queued avatar job (the database says which; a job is
    claimed by one worker only)."""
    done = context.avatar.run_pending()
    return {"jobs": done}


HANDLERS: dict[str, Callable[[JobContext, dict[str, Any]], dict[str, Any]]] = {
    INGEST: run_ingest,
    AVATARS: run_avatars,
}


def _transient(exc: BaseException) -> bool:
    from channels.observability import failure_cause

    return failure_cause(exc) in TRANSIENT_CAUSES


# -- in-process ----------------------------------------------------------------------------------


class InlineJobQueue:
    """Jobs in this process: one at a time in a thread; transient failures retried."""

    def __init__(
        self, context: JobContext, *, max_tries: int = 5, retry_s: float = 2.0, keep: int = 1000
    ) -> None:
        self.context = context
        self.max_tries = max_tries
        self.retry_s = retry_s
        self._keep = keep
        self._jobs: OrderedDict[str, JobInfo] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._one_at_a_time = asyncio.Semaphore(1)

    async def enqueue(self, kind: str, payload: dict[str, Any], job_id: str | None = None) -> str:
        if kind not in HANDLERS:
            raise ValueError(f"unknown job kind {kind!r}; one of {sorted(HANDLERS)}")
        job_id = job_id or uuid.uuid4().hex
        known = self._jobs.get(job_id)
        if known is not None and known.state != "failed":
            return job_id
        self._jobs[job_id] = JobInfo(job_id, kind, "queued")
        while len(self._jobs) > self._keep:
            self._jobs.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._run(job_id, kind, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def _run(self, job_id: str, kind: str, payload: dict[str, Any]) -> None:
        info = self._jobs[job_id]
        async with self._one_at_a_time:
            info.state = "running"
            for attempt in range(1, self.max_tries + 1):
                try:
                    info.result = await asyncio.to_thread(HANDLERS[kind], self.context, payload)
                    info.state = "done"
                    return
                except JobError as exc:
                    info.state, info.error = "failed", str(exc)
                    return
                except Exception as exc:  # noqa: BLE001 - recorded, retried if transient
                    if _transient(exc) and attempt < self.max_tries:
                        log.warning(
                            "job failed; retrying",
                            extra={"job": job_id, "kind": kind, "error": type(exc).__name__},
                        )
                        await asyncio.sleep(self.retry_s * attempt)
                        continue
                    log.exception("job failed", extra={"job": job_id, "kind": kind})
                    info.state = "failed"
                    info.error = "the job failed on our side; see the server log"
                    return

    async def info(self, job_id: str) -> JobInfo:
        return self._jobs.get(job_id) or JobInfo(job_id, "", "unknown")

    def depth(self) -> int | None:
        return sum(1 for info in list(self._jobs.values()) if info.state == "queued")

    async def wait(self) -> None:
        """Wait for every job started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.wait()


# -- arq (Redis) ---------------------------------------------------------------------------------


def _serialize(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


def _deserialize(data: bytes) -> Any:
    return json.loads(data)


def _redis_settings(url: str) -> Any:
    from arq.connections import RedisSettings

    return RedisSettings.from_dsn(url)


class ArqJobQueue:
    """Jobs in Redis, run by `persona jobs` workers (arq)."""

    _STATES = {
        "deferred": "queued",
        "queued": "queued",
        "in_progress": "running",
        "not_found": "unknown",
    }

    def __init__(self, redis_url: str, queue_name: str = QUEUE_NAME) -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name
        self._pool: Any = None
        self._sync: Any = None

    async def _connect(self) -> Any:
        if self._pool is None:
            from arq import create_pool

            self._pool = await create_pool(
                _redis_settings(self.redis_url),
                job_serializer=_serialize,
                job_deserializer=_deserialize,
                default_queue_name=self.queue_name,
            )
        return self._pool

    async def enqueue(self, kind: str, payload: dict[str, Any], job_id: str | None = None) -> str:
        if kind not in HANDLERS:
            raise ValueError(f"unknown job kind {kind!r}; one of {sorted(HANDLERS)}")
        job_id = job_id or uuid.uuid4().hex
        pool = await self._connect()
        # None when a job with this id is queued, running or kept as done: not queued twice.
        await pool.enqueue_job(kind, payload, _job_id=job_id, _expires=timedelta(days=2))
        return job_id

    async def info(self, job_id: str) -> JobInfo:
        from arq.jobs import Job

        pool = await self._connect()
        job = Job(job_id, pool, _queue_name=self.queue_name, _deserializer=_deserialize)
        status = (await job.status()).value
        if status != "complete":
            return JobInfo(job_id, "", self._STATES.get(status, status))
        result = await job.result_info()
        if result is None:
            return JobInfo(job_id, "", "unknown")
        outcome = result.result
        if result.success and isinstance(outcome, dict):
            if "error" in outcome:
                return JobInfo(job_id, result.function, "failed", None, str(outcome["error"]))
            return JobInfo(job_id, result.function, "done", outcome)
        return JobInfo(job_id, result.function, "failed", None, "the job failed; see its log")

    def depth(self) -> int | None:
        import redis

        if self._sync is None:
            self._sync = redis.Redis.from_url(self.redis_url, socket_timeout=1.0)
        try:
            return int(self._sync.zcard(self.queue_name))
        except redis.RedisError:
            return None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None


# Job queues by name, like the other swappable parts (persona.registry): a plugin or a test
# double registers here and `PERSONA_JOB_QUEUE` picks it.
job_queues: Registry[JobQueue] = Registry("job queue")


@job_queues.register("inline")
def _inline_queue(services: Platform, redis_url: str | None) -> JobQueue:
    return InlineJobQueue(JobContext(services))


@job_queues.register("arq")
def _arq_queue(services: Platform, redis_url: str | None) -> JobQueue:
    if not redis_url:
        raise ValueError("the arq job queue needs PERSONA_REDIS_URL (redis://HOST:6379/0)")
    return ArqJobQueue(redis_url)


def build_job_queue(
    services: Platform, redis_url: str | None, backend: str | None = None
) -> JobQueue:
    """arq when Redis is configured (or `backend="arq"`), else in-process."""
    return job_queues.create(backend or ("arq" if redis_url else "inline"), services, redis_url)


# -- avatars in production mode ------------------------------------------------------------------


class AvatarJobFeed:
    """With the arq queue, API workers do not make avatars (CPU-heavy): a job submitted to the
    studio is queued in the database as always, then an `avatars` job tells the job workers
    (`persona jobs`) to run what is pending. Every `interval_s` the API worker enforces the
    studio's deletion deadlines and queues such a job again, so that a job submitted while
    Redis was down, or put back after a job worker died, is still made."""

    def __init__(self, avatar: Any, jobs: JobQueue, interval_s: float = 60.0) -> None:
        self.avatar = avatar
        self.jobs = jobs
        self.interval_s = interval_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._tick(), name="avatar-job-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def queued(self, job_id: str) -> None:
        """A job was queued in the database (called from a request's thread)."""
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(
            self.jobs.enqueue(AVATARS, {"job_id": job_id}, f"avatars-{job_id}"), self._loop
        )
        try:
            future.result(timeout=5.0)
        except Exception as exc:  # noqa: BLE001 - the database has the job; the tick retries
            log.warning(
                "could not queue the avatar job for the job workers; retrying within a minute",
                extra={"job": job_id, "error": type(exc).__name__},
            )

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.avatar.sweep)
                # One id per interval: the workers of every API process queue it once.
                slot = int(time.time() // self.interval_s)
                await self.jobs.enqueue(AVATARS, {}, f"avatars-tick-{slot}")
            except Exception as exc:  # noqa: BLE001 - Redis or the database is away; next tick
                log.warning("avatar job feed: tick failed", extra={"error": type(exc).__name__})


# -- the job worker process ----------------------------------------------------------------------


@dataclass
class _WorkerState:
    context: JobContext | None = None
    done: int = 0
    failed: list[str] = field(default_factory=list)


def _arq_function(kind: str, state: _WorkerState) -> Callable[..., Any]:
    async def job(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        from arq import Retry

        assert state.context is not None
        try:
            result = await asyncio.to_thread(HANDLERS[kind], state.context, payload)
        except JobError as exc:
            state.failed.append(ctx.get("job_id", ""))
            return {"error": str(exc)}
        except Exception as exc:
            if _transient(exc) and ctx.get("job_try", 1) < 5:
                log.warning(
                    "job failed; it will be retried",
                    extra={"job": ctx.get("job_id"), "kind": kind, "error": type(exc).__name__},
                )
                raise Retry(defer=2 * ctx.get("job_try", 1)) from exc
            raise
        state.done += 1
        return result

    job.__name__ = kind
    return job


def create_job_worker(
    settings: Any,
    *,
    burst: bool = False,
    max_jobs: int = 1,
    handle_signals: bool = True,
    services_factory: Callable[[Any], Any],
    queue_name: str = QUEUE_NAME,
) -> Any:
    """An arq worker for the platform's jobs; `.run()` blocks (`persona jobs`). One job at a
    time by default: imports and avatars are CPU-bound, run more processes to use more cores.
    `services_factory(settings)` builds the worker's platform at startup (`Platform.build`)."""
    from arq.worker import Worker, func

    redis_url = getattr(settings, "redis_url", None)
    if not redis_url:
        raise ValueError("the job worker needs PERSONA_REDIS_URL (redis://HOST:6379/0)")
    state = _WorkerState()

    async def startup(ctx: dict[str, Any]) -> None:
        services = await asyncio.to_thread(services_factory, settings)
        state.context = JobContext(services)
        log.info("job worker started", extra={"queue": queue_name})

    async def shutdown(ctx: dict[str, Any]) -> None:
        if state.context is not None:
            state.context.close()
            state.context.services.close()

    return Worker(
        functions=[
            func(_arq_function(INGEST, state), name=INGEST, max_tries=5, timeout=6 * 3600),
            func(_arq_function(AVATARS, state), name=AVATARS, max_tries=5, timeout=6 * 3600),
        ],
        queue_name=queue_name,
        redis_settings=_redis_settings(redis_url),
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        max_jobs=max_jobs,
        handle_signals=handle_signals,
        health_check_interval=10,
        job_serializer=_serialize,
        job_deserializer=_deserialize,
        keep_result=timedelta(days=2),
    )


async def job_worker_alive(redis_url: str, queue_name: str = QUEUE_NAME) -> str | None:
    """The health line a running job worker refreshes every 10 s, or None when none runs."""
    import redis.asyncio as aioredis
    from arq.constants import health_check_key_suffix

    client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        value = await client.get(queue_name + health_check_key_suffix)
    finally:
        await client.aclose()
    return value.decode() if value else None
