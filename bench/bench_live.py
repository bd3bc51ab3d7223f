"""Live-stream intake benchmark: a websockets load client against the real server.

The server runs in its own process (uvicorn on loopback, the demo creator, the scripted model:
answers go out at the normal cadence, the figures are about intake). This process sends
>= 20,000 chat messages per scenario as fast as the acks allow (a window of frames in
flight), in batches and one by one, and reports messages accepted a second, ack latency,
loss (every message sent must be counted by the server, and every count settled), and the
server's memory. Writes the "## Live stream intake" section of BENCHMARKS.md.

    python bench/bench_live.py [--messages 30000] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECTION = "## Live stream intake"

QUESTIONS = [
    "what's your favourite recipe?",
    "how do you make croissants?",
    "where do you live?",
    "what camera do you use?",
    "do you have a dog?",
    "when is the next video?",
    "how long do you knead bread?",
    "what oven do you have?",
    "can you make a vegan version?",
    "what's the secret for crispy fries?",
]
CHATTER = ["lol", "so good", "omg yes", "love this", "haha", "first!", "yum", "wow", "🔥🔥🔥"]


@dataclass
class Scenario:
    name: str
    batch: int  # messages a frame
    window: int  # frames in flight before waiting for acks


SCENARIOS = [
    Scenario("batches of 100, 4 frames in flight", 100, 4),
    Scenario("single messages, 32 in flight", 1, 32),
    Scenario("single messages, 1 in flight (send, wait, send)", 1, 1),
]


def chat_messages(count: int, prefix: str, rng: random.Random) -> list[dict[str, Any]]:
    """A busy live chat: chatter, near-duplicate questions, newcomers, gifts, paid messages."""
    out: list[dict[str, Any]] = []
    for i in range(count):
        user = f"{prefix}-v{i // 2}"  # two messages a viewer: within the per-viewer rate
        roll = rng.random()
        base = {"id": f"{prefix}-{i}", "user": user, "name": f"Viewer {i // 2}"}
        if roll < 0.30:
            text = rng.choice(QUESTIONS)
            if rng.random() < 0.5:
                text = text.upper().replace("YOU", "U") + "??"
            out.append({**base, "kind": "chat", "text": text})
        elif roll < 0.35:
            out.append({**base, "kind": "join"})
        elif roll < 0.36:
            out.append({**base, "kind": "gift", "amount": rng.choice([1, 5, 10])})
        elif roll < 0.37:
            out.append({**base, "kind": "paid", "amount": 20, "text": "hi from Lyon, love it!"})
        else:
            out.append({**base, "kind": "chat", "text": f"{rng.choice(CHATTER)} {i % 97}"})
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run_scenario(
    ws_base: str, token: str, stream: str, scenario: Scenario, messages: list[dict[str, Any]]
) -> dict[str, Any]:
    if scenario.batch == 1:
        frames = [(json.dumps(m), m["id"], 1) for m in messages]
    else:
        frames = [
            (json.dumps(chunk), chunk[-1]["id"], len(chunk))
            for chunk in (
                messages[i : i + scenario.batch] for i in range(0, len(messages), scenario.batch)
            )
        ]
    latencies: list[float] = []
    totals = {"received": 0, "accepted": 0, "acks": 0, "mismatched": 0}
    sent_at: list[float] = [0.0] * len(frames)
    slots = asyncio.Semaphore(scenario.window)
    url = f"{ws_base}/in?token={token}"
    async with connect(url, max_queue=None) as feed:

        async def receive() -> None:
            for index, (_, last_id, size) in enumerate(frames):
                ack = json.loads(await feed.recv())
                latencies.append(time.perf_counter() - sent_at[index])
                slots.release()
                totals["acks"] += 1
                totals["received"] += ack["received"]
                totals["accepted"] += ack["accepted"]
                if ack["ack"] != last_id or ack["received"] != size:
                    totals["mismatched"] += 1

        started = time.perf_counter()
        receiver = asyncio.create_task(receive())
        for index, (payload, _, _) in enumerate(frames):
            await slots.acquire()
            sent_at[index] = time.perf_counter()
            await feed.send(payload)
        await receiver
        elapsed = time.perf_counter() - started
    return {
        "scenario": scenario.name,
        "messages": len(messages),
        "frames": len(frames),
        "elapsed_s": elapsed,
        "sent_per_s": len(messages) / elapsed,
        "accepted_per_s": totals["accepted"] / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        **totals,
    }


def prepare_data(data_dir: Path) -> str:
    """The demo creator and an API token, in a fresh data dir."""
    import tests.doubles  # noqa: F401 - registers the scripted model backend
    from channels.demo_creator import ensure_demo
    from channels.deps import new_api_token
    from channels.services import Services
    from channels.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        llm_backend="scripted",
        log_level="WARNING",
        embed_threads=1,
    )
    services = Services.build(settings)
    try:
        creator_id = ensure_demo(services)
        return creator_id + "\n" + new_api_token(services, creator_id)
    finally:
        services.close()


def write_section(path: Path, body: str) -> None:
    """Replace only this benchmark's section (others edit the file too): read, modify, write."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + (text[end + 1 :] if end != -1 else "")
    path.write_text(text.rstrip("\n") + "\n")


def report(results: list[dict[str, Any]], server: dict[str, Any], messages: int) -> str:
    lines = [
        SECTION,
        "",
        f"`python bench/bench_live.py --messages {messages}` — the server (uvicorn, one worker, "
        "scripted model) and this websockets load client run as two processes on loopback; "
        f"{server['machine']}. Each scenario is a fresh stream of {messages:,} messages (30% "
        "questions, 5% joins, 2% gifts and paid messages, the rest chatter; two messages a "
        "viewer), sent as fast as the acks allow with a window of frames in flight.",
        "",
        "| scenario | msgs/s accepted | msgs/s sent | p50 ack ms | p99 ack ms | lost "
        "| unsettled | server RSS after, MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r['accepted_per_s']:,.0f} | {r['sent_per_s']:,.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['lost']} | {r['unaccounted']} | "
            f"{r['rss_mib']:.0f} |"
        )
    lines += [
        "",
        '"lost" = messages sent minus messages the server counted as received (acks and stats '
        'agree); "unsettled" = received minus (answered + merged + dropped + pending). '
        f"Server memory: {server['rss_start']:.0f} MiB resident after start-up, "
        f"{server['rss_warm']:.0f} MiB after a warm-up answer (it loads the embedding model), "
        f"{server['rss_end']:.0f} MiB after all scenarios (the three streams still open), "
        f"peak {server['peak']:.0f} MiB (VmHWM). Structures of the last stream at its end, "
        f"all bounded: {server['structures']}.",
        "",
        f"Dropped in the first scenario, by reason: {server['dropped']}. The machine is "
        f"shared: 1-minute load average {server['load'][0]:.1f} before, "
        f"{server['load'][1]:.1f} after the scenarios. The last scenario waits for each ack "
        "before sending the next message: its rate is bound by the round trip, not the intake.",
        "",
    ]
    return "\n".join(lines)


async def bench(messages: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from tests.live_server import start_server

    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        data_dir = Path(tmp) / "data"
        creator_id, token = prepare_data(data_dir).split("\n")
        env = {
            "PERSONA_DATA_DIR": str(data_dir),
            "PERSONA_LLM_BACKEND": "scripted",
            "PERSONA_LOG_LEVEL": "WARNING",
            "PERSONA_EMBED_THREADS": "1",
            "PERSONA_REPLY_CANDIDATES": "1",
            "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        server = start_server(env, Path(tmp) / "server.log", imports=["tests.doubles"], cwd=REPO)
        try:
            rss_start = _rss(server.process.pid)
            await warm_up(server.ws_url, server.base_url, creator_id, token)
            rss_warm = _rss(server.process.pid)
            load_before = os.getloadavg()
            results = []
            rng = random.Random(11)
            headers = {"Authorization": f"Bearer {token}"}
            stats: dict[str, Any] = {}
            first_dropped: dict[str, int] = {}
            for n, scenario in enumerate(SCENARIOS):
                stream = f"bench-{n}"
                batch = chat_messages(messages, stream, rng)
                base = f"{server.ws_url}/ws/live/{creator_id}/{stream}"
                result = await run_scenario(base, token, stream, scenario, batch)
                async with httpx.AsyncClient(base_url=server.base_url) as http:
                    response = await http.get(
                        f"/api/creators/{creator_id}/live/{stream}/stats", headers=headers
                    )
                    response.raise_for_status()
                    stats = response.json()
                result["lost"] = messages - stats["received"] + result["mismatched"]
                result["unaccounted"] = stats["unaccounted"]
                result["rss_mib"] = _rss(server.process.pid)
                if n == 0:
                    first_dropped = stats["dropped"]
                results.append(result)
                print(
                    f"{scenario.name}: {result['accepted_per_s']:,.0f} msgs/s accepted, "
                    f"p99 {result['p99_ms']:.2f} ms, lost {result['lost']}",
                    flush=True,
                )
            server_info = {
                "load": (load_before[0], os.getloadavg()[0]),
                "rss_start": rss_start,
                "rss_warm": rss_warm,
                "rss_end": _rss(server.process.pid),
                "peak": server.peak_rss_mib() or 0.0,
                "structures": stats.get("structures", {}),
                "dropped": first_dropped,
                "machine": f"{time.strftime('%Y-%m-%d')}, {_cpu_model()}, "
                f"{os.cpu_count()} cores, Python {platform.python_version()}",
            }
        finally:
            server.stop()
    return results, server_info


async def warm_up(ws_url: str, base_url: str, creator_id: str, token: str) -> None:
    """One paid message answered end to end first, so that loading the embedding model (on
    the first answer) does not fall inside a measurement."""
    stream = "bench-warm-up"
    message = {"id": "w1", "user": "w", "name": "W", "kind": "paid", "amount": 1, "text": "hi?"}
    async with connect(f"{ws_url}/ws/live/{creator_id}/{stream}/in?token={token}") as feed:
        await feed.send(json.dumps(message))
        await feed.recv()
    async with httpx.AsyncClient(base_url=base_url) as http:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            response = await http.get(
                f"/api/creators/{creator_id}/live/{stream}/stats",
                headers={"Authorization": f"Bearer {token}"},
            )
            stats = response.json()
            if stats["pending"] == 0:
                if stats["answered"] != 1:
                    print(f"warning: the warm-up message was not answered: {stats['dropped']}")
                return
            await asyncio.sleep(0.5)
    raise TimeoutError("the warm-up answer took more than 180 s")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description="Live-stream intake benchmark")
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    if args.messages < 1000:
        parser.error("--messages: at least 1000")
    results, server = asyncio.run(bench(args.messages))
    body = report(results, server, args.messages)
    print(body)
    if not args.no_write:
        write_section(args.output, body)
        print(f"wrote {SECTION!r} in {args.output}")


if __name__ == "__main__":
    main()
