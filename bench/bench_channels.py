"""Channels benchmark: what the platform integration adds around the model, and how fast
webhooks are taken in.

1. Per-channel reply overhead: a signed webhook in -> the reply pushed to a websocket
   subscriber, through the real server (uvicorn on loopback, its own process; the scripted
   model, so the figures are everything but the model), against the baseline of a raw
   `engine.reply()` call with the same scripted model in this process. One message at a
   time, so the figures are latencies, not queueing.
2. Webhook intake: signed webhooks posted by concurrent clients until each is committed
   (202), and replays of them (200, duplicate).

Writes the "## Channels" section of BENCHMARKS.md.

    python -m bench.bench_channels [--replies 40] [--webhooks 2000] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from bench.report import machine_line, table, write_section

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHANNELS = ("dm", "comment", "group")
OPEN_POLICY: dict[str, Any] = {
    "reply_delay": {"min_s": 0, "max_s": 0},
    "fan_rate": {"count": 100_000, "per_s": 60},
    "channel_rate": {"count": 100_000, "per_s": 60},
    "review_categories": [],
}
CHANNEL_POLICY: dict[str, dict[str, Any]] = {
    "dm": {},
    "comment": {"replies_per_post_per_hour": 10_000, "batch_window_s": 0},
    "group": {"max_share": 1.0},
}
QUESTIONS = [
    "what flour do you use for the tart",
    "how long does the dough rest",
    "which lemons are best for this",
    "can I make it the day before",
    "what oven temperature do you use",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def message_text(channel: str, i: int) -> str:
    question = f"{QUESTIONS[i % len(QUESTIONS)]} (number {i})?"
    return f"@camille.cuisine {question}" if channel == "group" else question


def event_for(channel: str, i: int, run: str) -> dict[str, Any]:
    from tests.inbox_support import comment, dm, group_message

    text = message_text(channel, i)
    fan = f"bench-{run}-{channel}-{i}"
    if channel == "dm":
        return dm(text, fan=fan)
    if channel == "comment":
        post = {"id": f"post-{run}", "caption": "tarte au citron du dimanche"}
        return comment(text, post, fan=fan)
    return group_message(text, f"group-{run}", fan)


# -- setup -----------------------------------------------------------------------------------


def prepare(data_dir: Path) -> str:
    """The demo creator, open channel policies, and an API token."""
    import tests.doubles  # noqa: F401 - registers the scripted model backend
    from channels.demo_creator import ensure_demo
    from channels.deps import new_api_token
    from channels.services import Services
    from tests.conftest import make_settings
    from tests.inbox_support import set_policy

    services = Services.build(make_settings(data_dir))
    try:
        creator = ensure_demo(services)
        token = new_api_token(services, creator)
    finally:
        services.close()
    for channel in CHANNELS:
        set_policy(data_dir, channel, **OPEN_POLICY, **CHANNEL_POLICY[channel])
    return token


def raw_request(channel: str, i: int) -> Any:
    from persona.engine import Channel, ReplyRequest
    from persona.engine.types import Turn
    from tests.inbox_support import CREATOR

    return ReplyRequest(
        CREATOR,
        message_text(channel, i),
        Channel(channel),
        fan_handle=f"raw-{channel}-{i}",
        thread_id=f"raw:{channel}:{i if channel != 'group' else 0}",
        context=[Turn("Ana", "hello all")] if channel == "group" else [],
        context_note="a question under your post" if channel == "comment" else None,
    )


async def measure(
    data_dir: Path, url: str, token: str, n: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Raw `engine.reply()` calls (this process) and webhook -> websocket replies (the
    server), interleaved one by one so that both see the same load on the machine."""
    from channels.inbox.signing import signed_headers
    from channels.services import Services
    from tests.conftest import make_settings
    from tests.inbox_support import CREATOR, PLATFORM, SECRET

    services = Services.build(make_settings(data_dir, reply_candidates=1), migrate=False)
    engine = services.engine
    ws_url = url.replace("http", "ws") + f"/ws/creators/{CREATOR}/replies"
    raw: dict[str, list[float]] = {c: [] for c in CHANNELS}
    served: dict[str, list[float]] = {c: [] for c in CHANNELS}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client, connect(ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            assert json.loads(await ws.recv())["type"] == "ready"

            async def through_server(event: dict[str, Any]) -> float:
                body = json.dumps(event).encode()
                headers = signed_headers(SECRET, body) | {"Content-Type": "application/json"}
                started = time.perf_counter()
                response = await client.post(f"/webhooks/{PLATFORM}", content=body, headers=headers)
                assert response.status_code == 202, response.text
                while True:
                    pushed = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if pushed.get("in_reply_to") == event["message_id"]:
                        return time.perf_counter() - started

            async def direct(channel: str, i: int) -> float:
                started = time.perf_counter()
                await engine.reply(raw_request(channel, i))
                return time.perf_counter() - started

            for i in range(5):  # warm-up: caches, first embeddings, the server's engine
                await direct("dm", 1000 + i)
                await through_server(event_for("dm", 1000 + i, "warm"))
            for channel in CHANNELS:
                for i in range(n):
                    raw[channel].append(await direct(channel, i))
                    served[channel].append(await through_server(event_for(channel, i, "run")))
        await engine.drain()
    finally:
        services.close()
    return raw, served


async def intake(url: str, n: int, concurrency: int) -> dict[str, float]:
    """Webhooks a second until committed (202), then the same again replayed (200)."""
    from channels.inbox.signing import signed_headers
    from tests.inbox_support import PLATFORM, SECRET, dm

    bodies = [json.dumps(dm(f"hello number {i}", fan=f"intake-{i}")).encode() for i in range(n)]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def post_all(expected: int) -> tuple[float, list[float]]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        latencies: list[float] = []

        async def worker(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                body = queue.get_nowait()
                headers = signed_headers(SECRET, body) | {"Content-Type": "application/json"}
                started = time.perf_counter()
                response = await client.post(f"/webhooks/{PLATFORM}", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == expected, response.text

        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            started = time.perf_counter()
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
            return time.perf_counter() - started, latencies

    async def healthz_all() -> float:
        """The floor: the same client and server answering a bare GET."""
        remaining = list(range(n))

        async def worker(client: httpx.AsyncClient) -> None:
            while remaining:
                remaining.pop()
                assert (await client.get("/healthz")).status_code == 200

        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            started = time.perf_counter()
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
            return n / (time.perf_counter() - started)

    floor = await healthz_all()
    first_s, first = await post_all(202)
    replay_s, replays = await post_all(200)
    return {
        "healthz_per_s": floor,
        "accepted_per_s": n / first_s,
        "accepted_p50_ms": statistics.median(first) * 1000,
        "accepted_p99_ms": pct(first, 0.99) * 1000,
        "replayed_per_s": n / replay_s,
        "replayed_p50_ms": statistics.median(replays) * 1000,
    }


# -- report ----------------------------------------------------------------------------------


def render(
    raw: dict[str, list[float]],
    served: dict[str, list[float]],
    taken: dict[str, float],
    n: int,
    webhooks: int,
    concurrency: int,
    load: float,
) -> str:
    rows = []
    for channel in CHANNELS:
        pairs = list(zip(raw[channel], served[channel], strict=True))
        # Paired: each webhook against the raw call made just before it.
        overhead = statistics.median(s - r for r, s in pairs)
        ratio = statistics.median(s / r for r, s in pairs)
        rows.append(
            [
                channel,
                f"{statistics.median(raw[channel]) * 1000:.1f}",
                f"{statistics.median(served[channel]) * 1000:.1f}",
                f"{pct(served[channel], 0.95) * 1000:.1f}",
                f"{overhead * 1000:.1f}",
                f"{ratio:.2f}",
            ]
        )
    reply_table = table(
        [
            "channel",
            "raw engine.reply p50 ms",
            "webhook -> websocket p50 ms",
            "p95 ms",
            "overhead ms (paired p50)",
            "ratio (paired p50)",
        ],
        rows,
    )
    intake_table = table(
        [
            "webhooks",
            "accepted (202) /s",
            "p50 ms",
            "p99 ms",
            "replayed (200 dup) /s",
            "p50 ms",
            "baseline: GET /healthz /s",
        ],
        [
            [
                f"{webhooks:,}",
                f"{taken['accepted_per_s']:,.0f}",
                f"{taken['accepted_p50_ms']:.1f}",
                f"{taken['accepted_p99_ms']:.1f}",
                f"{taken['replayed_per_s']:,.0f}",
                f"{taken['replayed_p50_ms']:.1f}",
                f"{taken['healthz_per_s']:,.0f}",
            ]
        ],
    )
    return (
        f"`python -m bench.bench_channels --replies {n} --webhooks {webhooks}` — "
        f"{machine_line()}, load average {load:.1f} at the start (other jobs shared the "
        "machine). The server (uvicorn, one process, SQLite, the demo creator, the scripted "
        "model) and this client run as two processes on loopback.\n\n"
        f"Reply overhead, one message at a time ({n} a channel, after a warm-up): a signed "
        "webhook posted -> committed -> claimed by the worker -> policy (selection for "
        "comments, addressing and share for groups, rate limits) -> engine -> reply and "
        "event status in one transaction -> delivery -> pushed to a websocket subscriber. "
        "Baseline: `engine.reply()` with the same scripted model and the same kind of "
        "request, called directly in the client process, interleaved one to one with the "
        "webhooks so that both see the same load on the machine. The overhead is everything "
        "the channel layer adds; the model's own time comes on top of both (see the LLM "
        "backend section).\n\n"
        f"{reply_table}\n\n"
        f"Webhook intake, {concurrency} concurrent clients: each webhook is verified (HMAC, "
        "timestamp window), validated and committed before its 202; the replay of the same "
        "webhooks answers 200 `duplicate` from the unique (platform, message id) key. The "
        "DM channel is paused meanwhile, so the worker only records each event as skipped "
        "(it shares the two cores with the server and the client). Baseline: the same "
        "client and server answering a bare `GET /healthz`, the ceiling of this HTTP "
        "stack on this machine.\n\n"
        f"{intake_table}\n"
    )


async def run(args: argparse.Namespace) -> str:
    from tests.inbox_support import CREATOR, running_server

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-channels-") as tmp:
        data_dir = Path(tmp) / "data"
        print("preparing the demo creator ...", flush=True)
        token = await asyncio.to_thread(prepare, data_dir)
        with running_server(data_dir, Path(tmp) / "server.log", inbox_concurrency=4) as server:
            print("replies: raw engine and through the server ...", flush=True)
            raw, served = await measure(data_dir, server.url, token, args.replies)
            async with httpx.AsyncClient(
                base_url=server.url, headers={"Authorization": f"Bearer {token}"}
            ) as api:
                (await api.post(f"/api/creators/{CREATOR}/channels/dm/pause")).raise_for_status()
            print("webhook intake ...", flush=True)
            taken = await intake(server.url, args.webhooks, args.concurrency)
    return render(raw, served, taken, args.replies, args.webhooks, args.concurrency, load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=40, help="messages a channel")
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    body = asyncio.run(run(args))
    print(body)
    if not args.no_write:
        write_section("Channels", body)


if __name__ == "__main__":
    main()
