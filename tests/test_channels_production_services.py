"""The platform on the production services: PostgreSQL (migrations, ingest, replies, the inbox
claim), the Chroma server (through HttpClient), Redis (rate limits shared by workers, the job
queue with a real arq worker)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from channels.ratelimit import Bucket, InProcessRateLimiter, RedisRateLimiter, build_rate_limiter
from tests.production_support import (
    CREATOR,
    ServiceURLs,
    fresh_database,
    make_production_settings,
    prepare_platform,
    production_values,
    service_urls,
)


@pytest.fixture
def urls() -> ServiceURLs:
    return service_urls()


@pytest.fixture
def database_url(urls: ServiceURLs) -> Iterator[str]:
    with fresh_database(urls) as url:
        yield url


def _settings(tmp_path: Path, urls: ServiceURLs, database_url: str, **overrides: object):
    values = production_values(
        tmp_path / "data",
        database_url,
        urls.redis_url,
        (urls.chroma_host, urls.chroma_port),
        **overrides,
    )
    return make_production_settings(values)


def test_ingest_and_reply_through_postgresql_and_the_chroma_server(
    tmp_path: Path, urls: ServiceURLs, database_url: str
) -> None:
    from channels.migrate import current_heads, expected_heads
    from channels.services import Services
    from persona.engine import Channel, ReplyAction, ReplyRequest
    from persona.store import Message, Post

    settings = _settings(tmp_path, urls, database_url)
    prepare_platform(settings, posts=40)
    services = Services.build(settings)
    try:
        assert services.db.dialect == "postgresql"
        assert current_heads(services.db.engine) == expected_heads()
        with services.db.session() as session:
            stored = session.scalar(
                select(func.count()).select_from(Post).where(Post.creator_id == CREATOR)
            )
        assert stored and stored >= 30
        # The index lives in the Chroma server: a second client (another "worker") sees it.
        import chromadb

        other = chromadb.HttpClient(host=urls.chroma_host, port=urls.chroma_port)
        from persona.retrieval.index import collection_name

        assert other.get_collection(collection_name(CREATOR)).count() >= stored
        result = asyncio.run(
            services.engine.reply(
                ReplyRequest(
                    CREATOR, "tu as une recette de tarte au citron ?", Channel.DM, fan_handle="f1"
                )
            )
        )
        assert result.action == ReplyAction.SEND and result.text
        assert result.sources, "retrieval through the Chroma server found nothing"
        with services.db.session() as session:
            recorded = session.scalars(
                select(Message.text).where(Message.conversation_id == result.conversation_id)
            ).all()
        assert result.text in recorded
    finally:
        services.close()


def test_ingest_again_is_idempotent_on_postgresql(
    tmp_path: Path, urls: ServiceURLs, database_url: str
) -> None:
    from channels.services import Services
    from persona.retrieval.index import collection_name
    from persona.store import Post

    settings = _settings(tmp_path, urls, database_url)
    prepare_platform(settings, posts=25)
    prepare_platform(settings, posts=25)  # a retried import: nothing doubled
    services = Services.build(settings)
    try:
        with services.db.session() as session:
            count = session.scalar(
                select(func.count()).select_from(Post).where(Post.creator_id == CREATOR)
            )
        import chromadb

        client = chromadb.HttpClient(host=urls.chroma_host, port=urls.chroma_port)
        indexed = client.get_collection(collection_name(CREATOR)).count()
        assert count == 25
        assert indexed >= count
    finally:
        services.close()


def test_inbox_claims_on_postgresql_give_each_event_to_one_worker(
    tmp_path: Path, urls: ServiceURLs, database_url: str
) -> None:
    """Two claimers race for the same due events: every event is claimed exactly once."""
    from datetime import UTC, datetime

    from channels.inbox import store
    from channels.inbox.models import InboxEvent
    from channels.services import Services

    settings = _settings(tmp_path, urls, database_url)
    prepare_platform(settings, posts=5)
    services = Services.build(settings)
    try:
        now = datetime.now(UTC)
        with services.db.session() as session:
            for n in range(40):
                session.add(_event(n, now))
        claimed: dict[str, list[int]] = {"a": [], "b": []}

        def claim(owner: str) -> None:
            while True:
                got = store.claim_due(services.db, owner, 3, set(), 30.0, datetime.now(UTC))
                if not got:
                    return
                claimed[owner] += [e.id for e in got]

        threads = [threading.Thread(target=claim, args=(o,)) for o in claimed]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        all_ids = claimed["a"] + claimed["b"]
        with services.db.session() as session:
            total = session.scalar(select(func.count()).select_from(InboxEvent))
        assert sorted(all_ids) == sorted(set(all_ids)), "an event was claimed twice"
        assert len(all_ids) == total == 40
    finally:
        services.close()


def _event(n: int, now):
    from channels.inbox.models import InboxEvent

    return InboxEvent(
        platform="testgram",
        message_id=f"m{n}",
        creator_id=CREATOR,
        channel="dm",
        # One thread per event, so that the per-thread claim does not serialize them.
        thread_key=f"t{n}",
        fan_id=f"fan{n}",
        fan_handle=f"fan{n}",
        fan_name="Fan",
        text="bonjour",
        text_hash=f"{n:032d}",
        payload={},
        status="pending",
        attempts=0,
        received_at=now,
        not_before=now,
    )


# -- rate limits ------------------------------------------------------------------------------


def test_redis_rate_limiter_is_shared_and_all_or_nothing(urls: ServiceURLs) -> None:
    import uuid

    scope = uuid.uuid4().hex[:8]
    fan = Bucket(f"{scope}:fan", SimpleNamespace(count=3, per_s=60))
    channel = Bucket(f"{scope}:channel", SimpleNamespace(count=4, per_s=60))
    worker_a = build_rate_limiter(urls.redis_url)
    worker_b = RedisRateLimiter(urls.redis_url)
    assert isinstance(worker_a, RedisRateLimiter)
    # Two workers share the fan's 3 tokens.
    results = [w.acquire([fan, channel]).ok for w in (worker_a, worker_b, worker_a, worker_b)]
    assert results == [True, True, True, False]
    refused = worker_b.acquire([fan, channel])
    assert refused.blocked_by == fan.key and 0 < refused.retry_after_s <= 20.5
    # All or nothing: the refusals did not take the channel's tokens; one is left.
    other_fan = Bucket(f"{scope}:fan2", SimpleNamespace(count=3, per_s=60))
    assert worker_a.acquire([other_fan, channel]).ok
    assert worker_a.acquire([other_fan, channel]).blocked_by == channel.key


def test_redis_rate_limiter_falls_back_when_redis_is_gone() -> None:
    """With the inbox's own bucket and limit types, as the inbox worker calls it."""
    from channels.inbox.policy import RateLimit
    from channels.inbox.ratelimit import Bucket as InboxBucket
    from tests.production_support import free_port

    fallbacks: list[str] = []
    limiter = RedisRateLimiter(
        f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2, on_fallback=fallbacks.append
    )
    bucket = InboxBucket("k", RateLimit(count=2, per_s=60))
    assert [limiter.acquire([bucket]).ok for _ in range(3)] == [True, True, False]
    assert limiter.fallbacks == 3 and fallbacks == ["ratelimit"] * 3


def test_in_process_limiter_keeps_the_inbox_interface() -> None:
    from channels.inbox.policy import RateLimit

    limiter = build_rate_limiter(None)
    assert isinstance(limiter, InProcessRateLimiter)
    bucket = Bucket("x", RateLimit(count=1, per_s=10))
    assert limiter.acquire([bucket]).ok
    assert not limiter.acquire([bucket]).ok


# -- the job queue --------------------------------------------------------------------------------


def test_arq_job_worker_imports_posts_into_postgresql_and_chroma(
    tmp_path: Path, urls: ServiceURLs, database_url: str
) -> None:
    """A real arq worker (burst mode: it stops when the queue is empty) runs an import queued
    twice under one job id: it runs once, and a second import of the same file adds nothing."""
    import uuid

    from channels.jobs import INGEST, ArqJobQueue, create_job_worker
    from channels.services import Services
    from ingest.demo import demo_posts_path
    from persona.store import Post

    settings = _settings(tmp_path, urls, database_url)
    prepare_platform(settings, posts=3)
    upload = tmp_path / "upload.jsonl"
    upload.write_text(
        "\n".join(demo_posts_path().read_text(encoding="utf-8").splitlines()[10:30]) + "\n"
    )
    run = uuid.uuid4().hex[:8]
    queue_name = f"persona:jobs:test:{run}"
    queue = ArqJobQueue(urls.redis_url, queue_name=queue_name)
    # Job ids are unique in the whole Redis database while their result is kept (2 days).
    first_id, second_id = f"import-1-{run}", f"import-2-{run}"

    async def enqueue() -> list[str]:
        payload = {"creator_id": CREATOR, "path": str(upload)}
        first = await queue.enqueue(INGEST, payload, job_id=first_id)
        again = await queue.enqueue(INGEST, payload, job_id=first_id)
        second = await queue.enqueue(INGEST, payload, job_id=second_id)
        await queue.close()  # each asyncio.run has its own loop: reconnect in the next one
        return [first, again, second]

    assert asyncio.run(enqueue()) == [first_id, first_id, second_id]
    assert queue.depth() == 2

    worker = create_job_worker(
        settings,
        burst=True,
        handle_signals=False,
        queue_name=queue_name,
        services_factory=Services.build,
    )
    worker.run()

    async def results():
        infos = [await queue.info(first_id), await queue.info(second_id)]
        await queue.close()
        return infos

    first, second = asyncio.run(results())
    assert first.state == "done" and first.result["added"] == 20
    assert second.state == "done" and second.result["added"] == 0
    assert second.result["duplicates"] == 20
    services = Services.build(settings, migrate=False)
    try:
        with services.db.session() as session:
            count = session.scalar(select(func.count()).select_from(Post))
        assert count == 23
    finally:
        services.close()


def test_inline_job_queue_reports_a_bad_upload_in_words(tmp_path: Path) -> None:
    from channels.jobs import INGEST, InlineJobQueue, JobContext

    queue = InlineJobQueue(JobContext(SimpleNamespace()))

    async def run():
        job_id = await queue.enqueue(INGEST, {"creator_id": CREATOR, "path": str(tmp_path / "x")})
        await queue.wait()
        return await queue.info(job_id)

    info = asyncio.run(run())
    assert info.state == "failed"
    assert "upload the file again" in info.error


def test_avatar_jobs_go_to_the_job_workers_queue(urls: ServiceURLs) -> None:
    """With arq, an API worker hands each submitted avatar job to the Redis queue (once per
    job id), and its periodic tick enforces deadlines and queues a catch-up job."""
    import uuid

    from channels.jobs import ArqJobQueue, AvatarJobFeed

    class Studio:  # the studio's deadline sweep, counted (the jobs themselves are not run)
        sweeps = 0

        def sweep(self) -> None:
            Studio.sweeps += 1

    queue = ArqJobQueue(urls.redis_url, queue_name=f"persona:jobs:test:{uuid.uuid4().hex[:8]}")
    job_id = f"job-{uuid.uuid4().hex[:8]}"

    async def run() -> tuple[str, int | None]:
        feed = AvatarJobFeed(Studio(), queue, interval_s=0.2)
        feed.start()
        try:
            # Called from a request's thread, twice: queued once.
            await asyncio.to_thread(feed.queued, job_id)
            await asyncio.to_thread(feed.queued, job_id)
            state = (await queue.info(f"avatars-{job_id}")).state
            for _ in range(100):
                if Studio.sweeps >= 1 and (queue.depth() or 0) >= 2:
                    break
                await asyncio.sleep(0.1)
            return state, queue.depth()
        finally:
            await feed.stop()
            await queue.close()

    state, depth = asyncio.run(run())
    assert state == "queued"
    assert Studio.sweeps >= 1
    assert depth is not None and depth >= 2  # the job's own entry and a tick's


def test_workers_migrating_at_once_do_not_race(database_url: str) -> None:
    """Four processes upgrade one empty PostgreSQL database at the same moment, as workers
    starting together do: the advisory lock lets one migrate; the others find nothing left."""
    import subprocess
    import sys
    import time

    from channels.migrate import current_heads, expected_heads
    from persona.store import Database, DatabaseConfig

    # Each process imports first, then waits for the same instant to start migrating.
    script = (
        "import sys, time\n"
        "from channels.migrate import upgrade\n"
        "from persona.store import Database, DatabaseConfig\n"
        "db = Database(DatabaseConfig(sys.argv[1]))\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "upgrade(db.engine)\n"
    )
    at = str(time.time() + 8.0)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url, at],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [(proc.wait(180), proc.stdout.read() if proc.stdout else "") for proc in processes]
    assert all(code == 0 for code, _ in outputs), [out[-2000:] for _, out in outputs]
    db = Database(DatabaseConfig(database_url))
    try:
        assert current_heads(db.engine) == expected_heads()
    finally:
        db.dispose()
