"""Prometheus metrics in one process: requests by route template, replies by channel with time
to first token and the safety decision, reply failures by the component that failed, queue
depths from the stores, and the worker header on HTTP and websocket responses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from channels.observability import InstrumentedEngine, Metrics, exposition, failure_cause
from persona.engine import Channel, ReplyRequest
from tests.conftest import make_settings
from tests.production_support import metric_value


@pytest.fixture
def client(demo_dir: Path):
    """The product's own app: create_app measures requests and replies by itself."""
    from channels.app import create_app
    from channels.deps import new_api_token

    app = create_app(make_settings(demo_dir, probe_interval_s=0.2), warm_up=False)
    with TestClient(app) as test_client:
        token = new_api_token(app.state.services, "camille.cuisine")
        yield test_client, app.state.metrics, token


def _text(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_requests_are_counted_by_route_template_with_the_worker_header(client) -> None:
    test_client, _, _ = client
    for _ in range(3):
        response = test_client.get("/healthz")
        assert response.headers["x-persona-worker"].split("@")[0].isdigit()
    test_client.get("/no/such/page/42")
    test_client.get("/api/creators/nobody/whatever")
    text = _text(test_client)
    assert metric_value(text, "persona_http_requests_total", route="/healthz", status="200") == 3
    assert metric_value(text, "persona_http_request_seconds_count", route="/healthz") == 3
    # Unknown paths share one label: a scanner cannot blow up the series count.
    assert metric_value(text, "persona_http_requests_total", route="unmatched") == 2
    assert "/no/such/page/42" not in text


def test_replies_are_counted_by_channel_with_decisions_and_latency(client) -> None:
    test_client, _, token = client
    response = test_client.post(
        "/api/creators/camille.cuisine/reply",
        headers={"Authorization": f"Bearer {token}"},
        json={"message": "tu as une recette de tarte au citron ?", "channel": "dm"},
    )
    assert response.status_code == 200, response.text
    text = _text(test_client)
    action = response.json()["action"]
    assert metric_value(text, "persona_replies_total", channel="dm", action=action) == 1
    assert metric_value(text, "persona_moderation_decisions_total", channel="dm") == 1
    assert metric_value(text, "persona_reply_first_token_seconds_count", channel="dm") == 1
    assert metric_value(text, "persona_reply_seconds_count", channel="dm") == 1


def test_streamed_replies_record_the_first_token(demo_dir: Path) -> None:
    from channels.services import Services

    metrics = Metrics()
    services = Services.build(make_settings(demo_dir))
    try:
        engine = InstrumentedEngine(services.engine, metrics)

        async def stream() -> list[object]:
            request = ReplyRequest("camille.cuisine", "coucou !", Channel.SPACE, record=False)
            return [item async for item in engine.stream(request)]

        items = asyncio.run(stream())
    finally:
        services.close()
    result = items[-1]
    assert "first_token" in result.timings_ms
    text = generate_latest(metrics.registry).decode()
    assert metric_value(text, "persona_reply_first_token_seconds_count", channel="space") == 1
    first = metric_value(text, "persona_reply_first_token_seconds_sum", channel="space")
    total = metric_value(text, "persona_reply_seconds_sum", channel="space")
    assert 0 < first <= total


def test_failures_are_counted_by_the_component_that_failed() -> None:
    metrics = Metrics()

    class Broken:
        async def reply(self, request):
            import sqlalchemy

            sqlalchemy.create_engine("postgresql+psycopg://x@127.0.0.1:1/x").connect()

    engine = InstrumentedEngine(Broken(), metrics)
    with pytest.raises(Exception, match="127.0.0.1"):
        asyncio.run(engine.reply(ReplyRequest("c", "hi", Channel.DM)))
    text = generate_latest(metrics.registry).decode()
    assert metric_value(text, "persona_reply_errors_total", channel="dm", cause="database") == 1


def test_failure_cause_names_the_client_library() -> None:
    import chromadb

    from tests.production_support import free_port

    with pytest.raises(Exception) as chroma_error:
        chromadb.HttpClient(host="127.0.0.1", port=free_port())
    assert failure_cause(chroma_error.value) == "chroma"
    with pytest.raises(httpx.HTTPError) as plain:
        httpx.get(f"http://127.0.0.1:{free_port()}/")
    assert failure_cause(plain.value) == "internal"  # httpx alone says nothing about who
    try:
        raise RuntimeError("wrapped") from KeyError("x")
    except RuntimeError as exc:
        assert failure_cause(exc) == "internal"


def test_store_queue_depths_are_read_at_scrape_time(client) -> None:
    test_client, _, _ = client
    text = _text(test_client)
    # Every status of the inbox and outbox has a series, zero or not.
    assert "persona_store_queue_depth" in text
    for status in ("pending", "processing", "done"):
        assert f'queue="inbox",status="{status}"' in text


def test_dependency_probe_marks_the_database_up(client) -> None:
    test_client, _, _ = client
    from tests.production_support import wait_until

    wait_until(lambda: metric_value(_text(test_client), "persona_dependency_up") == 1, 10)


def test_multiprocess_exposition_adds_workers_and_forgets_dead_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two 'workers' write their values to the shared directory; a scrape adds them up; the
    live gauge of a worker that died without cleaning up (kill -9) is dropped."""
    import subprocess
    import sys

    script = (
        "from channels.observability import Metrics\n"
        "m = Metrics()\n"
        "m.http_requests.labels('GET', '/healthz', '200').inc(5)\n"
        "m.queue_depth.labels('live').set(7)\n"
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], env=env, check=True, cwd=Path.cwd())
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = exposition(Metrics(), []).decode()
    assert metric_value(text, "persona_http_requests_total", route="/healthz") == 10
    # Both writer processes have exited: their live gauges are gone.
    assert metric_value(text, "persona_queue_depth", queue="live") == 0


def test_sampler_counts_live_drops_once(tmp_path: Path) -> None:
    from channels.observability import Sampler

    class Manager:
        def __init__(self) -> None:
            self.running = {"c/s": {"started_at": 1.0, "pending": 4, "dropped": {"spam": 2}}}
            self.final = None

        def metrics(self):
            return self.running

        def stats(self, creator, stream):
            return self.final

    manager = Manager()
    app = SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(live=manager)))
    metrics = Metrics()
    sampler = Sampler(metrics, app, {})
    sampler.sample_live()
    sampler.sample_live()  # the same totals again: nothing new
    manager.final = {"started_at": 1.0, "dropped": {"spam": 3, "stream_ended": 5}}
    manager.running = {}
    sampler.sample_live()  # the stream ended: its last drops are counted
    text = generate_latest(metrics.registry).decode()
    assert metric_value(text, "persona_drops_total", where="live", reason="spam") == 3
    assert metric_value(text, "persona_drops_total", where="live", reason="stream_ended") == 5
    assert metric_value(text, "persona_queue_depth", queue="live") == 0
