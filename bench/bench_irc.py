"""Twitch connector intake: messages/s taken from a real IRC server (ngircd on loopback) into
the live intake, against a bare IRC client (raw lines, no library, no intake) reading the
same channel; and whether any message was lost on the way.

    python bench/bench_irc.py [--messages 20000] [--senders 20] [--rounds 3] [--write]

Each round: the senders (plain clients) write their share of chat lines as fast as ngircd
takes them; the rate is messages over the time from the first write to the last message
counted by the reader (bare client: PRIVMSG lines read; connector: messages the live intake
received, `StreamMetrics.received`). The two readers run one after the other (alternating),
in this one process, so that neither takes CPU from the other. The stream is paused (no
answers): this measures the way in, not the model."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import machine_line, table, write_section  # noqa: E402
from channels.connectors.base import Context  # noqa: E402
from channels.connectors.twitch import TwitchConnector, TwitchSpec  # noqa: E402
from channels.hub import Hub  # noqa: E402
from channels.live.answering import AnswerOutcome, LivePolicy  # noqa: E402
from channels.live.config import LiveConfig  # noqa: E402
from channels.live.manager import LiveManager  # noqa: E402
from tests.irc_server import IrcServer, Viewer, free_port  # noqa: E402

CHANNEL = "#bench"
TEXTS = [
    "what's your favourite recipe?",
    "hi everyone!",
    "lol",
    "do you ship to Lyon?",
    "how long do you bake the tart?",
    "this stream is great",
]


class Paused:
    async def policy(self) -> LivePolicy:
        return LivePolicy(cadence_s=1.0, paused=True)

    async def answer(self, work: object) -> AnswerOutcome:
        return AnswerOutcome(None, "paused")


async def senders_ready(port: int, count: int) -> list[Viewer]:
    senders = [Viewer(f"sender{i}", port) for i in range(count)]
    for sender in senders:
        await sender.connect()
        await sender.join(CHANNEL)
    return senders


def blast(senders: list[Viewer], messages: int, round_no: int) -> float:
    """Every sender writes its share in one go; returns when the writes started."""
    started = time.perf_counter()
    for i, sender in enumerate(senders):
        lines = [
            f"PRIVMSG {CHANNEL} :{TEXTS[n % len(TEXTS)]} r{round_no}n{n}"
            for n in range(i, messages, len(senders))
        ]
        assert sender._writer is not None
        sender._writer.write(("\r\n".join(lines) + "\r\n").encode())
    return started


async def bare_round(port: int, senders: list[Viewer], messages: int, round_no: int) -> dict:
    reader = Viewer("bare_reader", port)
    await reader.connect()
    await reader.join(CHANNEL)
    for sender in senders:  # the reader's JOIN reached every sender: drop those lines
        while not sender.lines.empty():
            sender.lines.get_nowait()
    got = 0
    started = blast(senders, messages, round_no)
    last = started
    try:
        async with asyncio.timeout(120):
            while got < messages:
                line = await reader.lines.get()
                if line.command == "PRIVMSG":
                    got += 1
                    last = time.perf_counter()
    except TimeoutError:
        pass
    await reader.close()
    return {"got": got, "seconds": last - started}


async def connector_round(port: int, senders: list[Viewer], messages: int, round_no: int) -> dict:
    config = LiveConfig(max_batch=10)
    live = LiveManager(SimpleNamespace(hub=Hub(), settings=None), config, lambda c, s: Paused())
    spec = TwitchSpec(
        channel=CHANNEL,
        nick="persona_bot",
        stream_id=f"bench-{round_no}",
        server="127.0.0.1",
        port=port,
        tls=False,
    )
    connector = TwitchConnector("bench", spec, Context(live=live, settings=SimpleNamespace()))
    await connector.start()
    async with asyncio.timeout(30):
        while connector.counters.state != "connected":
            await asyncio.sleep(0.05)
    stream = connector.bridge.stream()
    started = blast(senders, messages, round_no)
    last = started
    try:
        async with asyncio.timeout(120):
            seen = 0
            while stream.metrics.received < messages:
                await asyncio.sleep(0.001)
                if stream.metrics.received != seen:
                    seen, last = stream.metrics.received, time.perf_counter()
    except TimeoutError:
        pass
    got = stream.metrics.received
    dropped = dict(stream.metrics.dropped) if hasattr(stream.metrics, "dropped") else {}
    await connector.stop()
    await live.stop()
    return {"got": got, "seconds": last - started, "dropped": dropped}


async def run(messages: int, sender_count: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-irc-") as tmp:
        server = IrcServer(Path(tmp), free_port()).start()
        try:
            senders = await senders_ready(server.port, sender_count)
            bare, conn = [], []
            for r in range(rounds):
                bare.append(await bare_round(server.port, senders, messages, 2 * r))
                conn.append(await connector_round(server.port, senders, messages, 2 * r + 1))
            for sender in senders:
                await sender.close()
        finally:
            server.stop()
    return {"bare": bare, "connector": conn}


def summary(results: dict, messages: int) -> dict:
    def rate(rows: list[dict]) -> float:
        return statistics.median(r["got"] / r["seconds"] for r in rows if r["seconds"] > 0)

    bare, conn = rate(results["bare"]), rate(results["connector"])
    return {
        "bare": bare,
        "connector": conn,
        "ratio": conn / bare,
        "bare_lost": sum(messages - r["got"] for r in results["bare"]),
        "connector_lost": sum(messages - r["got"] for r in results["connector"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = asyncio.run(run(args.messages, args.senders, args.rounds))
    s = summary(results, args.messages)
    rows = [
        ["bare IRC client (raw lines)", f"{s['bare']:,.0f}", str(s["bare_lost"])],
        ["Twitch connector -> live intake", f"{s['connector']:,.0f}", str(s["connector_lost"])],
    ]
    body = table(["reader", "msgs/s (median)", "lost, all rounds"], rows)
    print(body)
    print(f"ratio connector / bare: {s['ratio']:.2f}")
    for name in ("bare", "connector"):
        print(name, [f"{r['got']}/{r['seconds']:.2f}s" for r in results[name]])
    if args.write:
        text = (
            f"`python bench/bench_irc.py --messages {args.messages} --senders {args.senders} "
            f"--rounds {args.rounds}` — {machine_line()}; ngircd 26.1 on loopback, "
            f"{args.senders} plain clients writing {args.messages:,} chat lines a round as fast "
            "as the server takes them; the readers one after the other (alternating, "
            f"{args.rounds} rounds each), in one process with the senders.\n\n"
            f'{body}\n\nRatio connector / bare client: **{s["ratio"]:.2f}**. "lost" = lines '
            "sent minus lines the bare client read, or minus messages the live intake counted "
            "as received (what the intake then drops by its own rules, e.g. a viewer's rate, "
            "is not loss). The stream is paused: no answers, the way in only. Untagged chat "
            "lines (ngircd relays no IRCv3 tags). The machine is shared: 1-minute load "
            f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after."
        )
        write_section("Twitch connector intake (IRC)", text)


if __name__ == "__main__":
    main()
