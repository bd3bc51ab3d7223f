"""Webhook intake benchmark: accepted webhooks a second against a bare `GET /healthz` on the
same server and client, in one run, then a kill -9 of the server in the middle of a burst.

1. Throughput: the real app (uvicorn, one process, SQLite, the inbox worker running) on
   loopback. The client is `wrk` when it is installed (each request a distinct, pre-signed
   webhook, fed by a Lua script), else a small asyncio HTTP/1.1 client in this process.
   Rounds of /healthz and of webhooks alternate, so that both see the same load; the ratio
   is of the medians. Every webhook answered 202 must be a row in the inbox.
2. Replay: the same webhooks again answer 200 `duplicate`.
3. kill -9: webhooks posted by concurrent clients; the server is killed in the middle of the
   burst and restarted; every webhook that had been acknowledged (202) must be in the
   database, and its replay must answer 200 with the same event id.

Writes the "## Webhook intake (group commit)" section of BENCHMARKS.md.

    python -m bench.bench_webhooks [--seconds 8] [--rounds 3] [--connections 16,64] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import machine_line, table, write_section

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECTION = "Webhook intake (group commit)"
KILL_CONNECTIONS = 16
_THREADS_LUA = r"""
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
"""
_DONE_LUA = r"""
function done(summary, latency, requests)
  local a, d, o, w = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    d = d + t:get("duplicate")
    o = o + t:get("other")
    w = w + t:get("wrapped")
  end
  io.write(string.format(
    "RESULT accepted=%d duplicate=%d other=%d wrapped=%d us=%d p50=%d p99=%d\n",
    a, d, o, w, summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""
# Each thread sends its share of the pre-signed webhooks (args: file, threads, path).
WEBHOOKS_LUA = (
    _THREADS_LUA
    + r"""
function init(args)
  local nthreads = tonumber(args[2])
  requests = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == id then
      local ts, sig, body = line:match("^(%S+)\t(%S+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", args[3], {
        ["Content-Type"] = "application/json",
        ["X-Persona-Timestamp"] = ts,
        ["X-Persona-Signature"] = sig,
      }, body)
    end
    i = i + 1
  end
  idx = 0
  accepted, duplicate, other, wrapped = 0, 0, 0, 0
end
function request()
  idx = idx + 1
  if idx > #requests then
    idx = 1
    wrapped = 1
  end
  return requests[idx]
end
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1
  elseif status == 200 then duplicate = duplicate + 1
  else other = other + 1 end
end
"""
    + _DONE_LUA
)
# Counts the 200s of a plain GET.
HEALTHZ_LUA = (
    _THREADS_LUA
    + r"""
accepted, duplicate, other, wrapped = 0, 0, 0, 0
function response(status, headers, body)
  if status == 200 then accepted = accepted + 1 else other = other + 1 end
end
"""
    + _DONE_LUA
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# -- webhooks --------------------------------------------------------------------------------


def signed_batch(n: int, tag: str) -> list[tuple[str, dict[str, str], bytes]]:
    """`n` distinct signed DMs: (message id, headers, body)."""
    from channels.inbox.signing import signed_headers
    from tests.inbox_support import SECRET, dm

    out = []
    for i in range(n):
        event = dm(f"hello from fan {i}, loved the tart!", fan=f"{tag}-{i % 500}")
        body = json.dumps(event).encode()
        out.append((event["message_id"], signed_headers(SECRET, body), body))
    return out


@dataclass
class Round:
    kind: str
    ok: int
    other: int
    seconds: float
    p50_ms: float
    p99_ms: float
    acked: list[str] = field(default_factory=list)
    # The server's CPU time a request (ms), when measured.
    cpu_ms: float = 0.0

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds


# -- the asyncio client (no wrk; the kill -9 phase) ------------------------------------------


class RawClient:
    """HTTP/1.1 keep-alive over asyncio streams: far less client CPU than httpx, so that the
    server, not the client, is what is measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        if length:
            await self.reader.readexactly(int(length.group(1)))
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def python_round(
    url: str,
    connections: int,
    kind: str,
    seconds: float,
    batch: list[tuple[str, dict[str, str], bytes]] | None = None,
    expected: int = 200,
    stop_after: int | None = None,
) -> Round:
    """Requests from `connections` clients for `seconds` (or until `batch` runs out or
    `stop_after` answers came back); answers other than `expected` are counted apart."""
    from tests.inbox_support import PLATFORM

    host, port = url.removeprefix("http://").split(":")
    items = iter(batch or [])
    acked: list[str] = []
    latencies: list[float] = []
    other = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal other
        client = RawClient(host, int(port))
        try:
            while time.perf_counter() < deadline:
                if stop_after is not None and len(acked) >= stop_after:
                    return
                if kind == "healthz":
                    path, headers, body, message = "/healthz", {}, b"", ""
                    method = "GET"
                else:
                    nxt = next(items, None)
                    if nxt is None:
                        return
                    message, headers, body = nxt
                    path, method = f"/webhooks/{PLATFORM}", "POST"
                    headers = headers | {"Content-Type": "application/json"}
                started = time.perf_counter()
                try:
                    status = await client.request(method, path, headers, body)
                except (OSError, asyncio.IncompleteReadError):
                    return  # the server went away (the kill -9 phase)
                latencies.append(time.perf_counter() - started)
                if status == expected:
                    acked.append(message)
                else:
                    other += 1
        finally:
            client.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    took = time.perf_counter() - started
    return Round(
        kind,
        len(acked),
        other,
        took,
        statistics.median(latencies) * 1000 if latencies else 0.0,
        pct(latencies, 0.99) * 1000 if latencies else 0.0,
        acked,
    )


# -- wrk -------------------------------------------------------------------------------------


def wrk_round(
    url: str,
    connections: int,
    kind: str,
    seconds: float,
    tmp: Path,
    batch: list[tuple[str, dict[str, str], bytes]] | None = None,
) -> Round:
    from tests.inbox_support import PLATFORM

    threads = 1  # the client shares the 2 cores with the server: one thread drives 16 sockets
    script = tmp / "webhooks.lua"
    script.write_text(WEBHOOKS_LUA)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if kind == "healthz":
        counting = tmp / "healthz.lua"
        counting.write_text(HEALTHZ_LUA)
        command += ["-s", str(counting), f"{url}/healthz"]
    else:
        assert batch is not None
        requests = tmp / f"requests-{time.monotonic_ns()}.tsv"
        with requests.open("w") as out:
            for _, headers, body in batch:
                stamp = headers["X-Persona-Timestamp"]
                out.write(f"{stamp}\t{headers['X-Persona-Signature']}\t{body.decode()}\n")
        command += ["-s", str(script), url, "--", str(requests), str(threads)]
        command.append(f"/webhooks/{PLATFORM}")
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    match = re.search(
        r"RESULT accepted=(\d+) duplicate=(\d+) other=(\d+) wrapped=(\d+) us=(\d+) "
        r"p50=(\d+) p99=(\d+)",
        result.stdout,
    )
    assert match, result.stdout + result.stderr
    accepted, duplicate, other, wrapped, micros, p50, p99 = map(int, match.groups())
    if kind != "healthz":
        assert not wrapped, "wrk ran out of distinct webhooks: generate more"
        other += duplicate
    return Round(kind, accepted, other, micros / 1e6, p50 / 1000, p99 / 1000)


# -- the server and the database -------------------------------------------------------------


def prepare(data_dir: Path) -> None:
    """A migrated database with the creator, its DM channel paused (the worker records each
    event as skipped: the figures are the intake's, with the worker still running beside)."""
    from channels.services import Services
    from persona.store import Creator
    from tests.conftest import make_settings
    from tests.inbox_support import CREATOR, set_policy

    services = Services.build(make_settings(data_dir))
    try:
        with services.db.session() as session:
            session.add(Creator(id=CREATOR, display_name="Camille", settings={}))
    finally:
        services.close()
    set_policy(data_dir, "dm", paused=True)


def stored(data_dir: Path) -> dict[str, int]:
    """message id -> event id of every inbox row."""
    import sqlite3

    with sqlite3.connect(data_dir / "persona.db") as connection:
        return dict(connection.execute("SELECT message_id, id FROM inbox_events"))


def count_rows(data_dir: Path) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "persona.db") as connection:
        return int(connection.execute("SELECT count(*) FROM inbox_events").fetchone()[0])


def undecided(data_dir: Path) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "persona.db") as connection:
        query = "SELECT count(*) FROM inbox_events WHERE status IN ('pending', 'processing')"
        return int(connection.execute(query).fetchone()[0])


async def drained(data_dir: Path, timeout_s: float = 300.0) -> float:
    """Wait until the worker decided every event (so that a /healthz round does not share
    the machine with the previous round's backlog); returns the seconds waited."""
    started = time.perf_counter()
    while undecided(data_dir) and time.perf_counter() - started < timeout_s:
        await asyncio.sleep(0.2)
    return time.perf_counter() - started


def cpu_s(pid: int) -> float:
    """CPU seconds the process used so far (all its threads, user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_now() -> float:
    return os.getloadavg()[0]


# -- phases ----------------------------------------------------------------------------------


async def throughput(
    args: argparse.Namespace,
    connections: int,
    url: str,
    pid: int,
    data_dir: Path,
    tmp: Path,
    client: str,
) -> dict[str, Any]:
    healthz: list[Round] = []
    hooks: list[Round] = []
    loads: list[float] = []
    per_round = int(args.max_rate * args.seconds)
    sent: list[tuple[str, dict[str, str], bytes]] = []
    for i in range(args.rounds):
        await drained(data_dir)
        loads.append(load_now())
        batch = signed_batch(per_round, f"c{connections}r{i}")
        sent += batch
        before = count_rows(data_dir)
        started = cpu_s(pid)
        if client == "wrk":
            healthz.append(wrk_round(url, connections, "healthz", args.seconds, tmp))
        else:
            healthz.append(await python_round(url, connections, "healthz", args.seconds))
        healthz[-1].cpu_ms = (cpu_s(pid) - started) * 1000 / max(1, healthz[-1].ok)
        started = cpu_s(pid)
        if client == "wrk":
            hooks.append(wrk_round(url, connections, "webhook", args.seconds, tmp, batch))
        else:
            hooks.append(await python_round(url, connections, "webhook", args.seconds, batch, 202))
        added = count_rows(data_dir) - before
        # The worker deciding the round's events is part of what a webhook costs.
        backlog = await drained(data_dir)
        hooks[-1].cpu_ms = (cpu_s(pid) - started) * 1000 / max(1, hooks[-1].ok)
        # Rows >= 202s: a request cut at the end of the round may be stored unanswered.
        hooks[-1].acked = [str(added)]
        print(
            f"{connections} connections, round {i + 1}: healthz {healthz[-1].per_s:,.0f}/s, "
            f"webhooks {hooks[-1].per_s:,.0f}/s ({hooks[-1].ok} accepted, {added} rows, "
            f"{hooks[-1].other} other), load {loads[-1]:.1f}, worker caught up in "
            f"{backlog:.1f} s",
            flush=True,
        )
    lost = sum(max(0, r.ok - int(r.acked[0])) for r in hooks)
    # Replays: stored webhooks again, each answered 200 `duplicate`.
    rows = stored(data_dir)
    replay_batch = [item for item in sent if item[0] in rows][:2000]
    replay = await python_round(url, connections, "webhook", 60, replay_batch, 200)
    return {
        "connections": connections,
        "healthz": healthz,
        "webhooks": hooks,
        "loads": loads,
        "lost": lost,
        "replay": replay,
        "replay_n": len(replay_batch),
    }


async def kill_phase(args: argparse.Namespace, data_dir: Path, tmp: Path) -> dict[str, Any]:
    from tests.inbox_support import ServerProcess

    total = args.kill_webhooks
    batch = signed_batch(total, "kill")
    server = ServerProcess(data_dir, tmp / "kill.log", inbox_concurrency=4).start()
    load = load_now()
    before = count_rows(data_dir)
    try:
        burst = asyncio.create_task(
            python_round(server.url, KILL_CONNECTIONS, "webhook", 300, batch, 202)
        )
        # Kill once about half of them are acknowledged: many requests are in flight.
        while not burst.done():
            await asyncio.sleep(0.01)
            if count_rows(data_dir) - before >= total // 2:
                break
        await asyncio.to_thread(server.kill)
        result = await burst
    finally:
        server.kill()
    acked = set(result.acked)
    restarted = ServerProcess(data_dir, tmp / "restart.log", inbox_concurrency=4).start()
    try:
        rows = stored(data_dir)
        kill_ids = {m for m, _, _ in batch}
        missing = [m for m in acked if m not in rows]
        # The acknowledged ones answer 200 duplicate with the id they were given.
        replay = [b for b in batch if b[0] in acked][:500]
        again = await python_round(restarted.url, KILL_CONNECTIONS, "webhook", 60, replay, 200)
    finally:
        restarted.stop()
    return {
        "sent": total,
        "acked": len(acked),
        "stored": len(kill_ids & rows.keys()),
        "missing": len(missing),
        "replayed": len(replay),
        "replay_dup": again.ok,
        "load": load,
    }


# -- report ----------------------------------------------------------------------------------


def level_table(taken: dict[str, Any]) -> tuple[str, float]:
    healthz = statistics.median(r.per_s for r in taken["healthz"])
    hooks = statistics.median(r.per_s for r in taken["webhooks"])
    rows = [
        [
            f"{taken['connections']}",
            str(i + 1),
            f"{h.per_s:,.0f}",
            f"{w.per_s:,.0f}",
            f"{w.per_s / h.per_s:.2f}",
            f"{w.p50_ms:.1f}",
            f"{w.p99_ms:.1f}",
            f"{h.cpu_ms:.2f}",
            f"{w.cpu_ms:.2f}",
            f"{load:.1f}",
        ]
        for i, (h, w, load) in enumerate(
            zip(taken["healthz"], taken["webhooks"], taken["loads"], strict=True)
        )
    ]
    rows.append(
        [f"{taken['connections']}", "median", f"{healthz:,.0f}", f"{hooks:,.0f}"]
        + [f"**{hooks / healthz:.2f}**"]
        + [""] * 5
    )
    return "\n".join(table(HEADERS, rows).splitlines()[2:]), hooks / healthz


HEADERS = [
    "connections",
    "round",
    "GET /healthz /s",
    "webhooks accepted (202) /s",
    "ratio",
    "webhook p50 ms",
    "p99 ms",
    "server CPU ms / healthz",
    "server CPU ms / webhook",
    "load (1 min)",
]


def render(
    args: argparse.Namespace, client: str, levels: list[dict[str, Any]], kill: dict[str, Any]
) -> str:
    header = "\n".join(table(HEADERS, []).splitlines()[:2])
    body = "\n".join(level_table(taken)[0] for taken in levels)
    loads = [load for taken in levels for load in taken["loads"]]
    lost = sum(taken["lost"] for taken in levels)
    replays = "; ".join(
        f"{t['replay'].ok:,} of {t['replay_n']:,} answered 200 `duplicate` "
        f"({t['replay'].other} otherwise) at {t['connections']} connections, "
        f"{t['replay'].per_s:,.0f}/s"
        for t in levels
    )
    client_words = (
        "`wrk` (1 thread; a Lua script sends each request as a distinct pre-signed webhook)"
        if client == "wrk"
        else "an asyncio HTTP/1.1 keep-alive client in the bench process (no wrk installed)"
    )
    connections = ",".join(str(t["connections"]) for t in levels)
    return (
        f"`python -m bench.bench_webhooks --seconds {args.seconds:g} --rounds {args.rounds} "
        f"--connections {connections}` — {machine_line()}, 1-minute load average "
        f"{min(loads):.1f}-{max(loads):.1f} during the rounds (other jobs shared the "
        "machine). Server: the real app under uvicorn, one process, SQLite (WAL), the inbox "
        "worker running beside the intake (the DM channel paused, so it records each event "
        f"as skipped). Client: {client_words}. Rounds of {args.seconds:g} s alternate between "
        "a bare `GET /healthz` and signed webhooks (HMAC, timestamp window, validation, "
        "committed before the 202); before each round the worker has decided every event, "
        "so that a /healthz round does not share the server with a backlog. The ratio is of "
        "the medians. Server CPU ms is the server process's CPU time (all threads) over the "
        "requests of the round; for webhooks it includes the worker deciding the round's "
        "events.\n\n"
        "Group commit (`channels/inbox/intake.py`): each webhook is queued to one writer, "
        "which stores everything waiting in one transaction (one look-up of duplicates, one "
        "INSERT of many rows) and only then answers each request: a webhook is acknowledged "
        "only once its row is committed.\n\n"
        f"{header}\n{body}\n\n"
        f"- Lost: {lost} (every 202 of every round is a row in the inbox).\n"
        f"- Replays of stored webhooks: {replays} (the asyncio client).\n"
        f"- kill -9 in the middle of a burst of {kill['sent']:,} webhooks ({KILL_CONNECTIONS} "
        "connections, "
        f"the asyncio client; load {kill['load']:.1f}): {kill['acked']:,} acknowledged "
        f"before the kill, {kill['stored']:,} rows after the restart, **{kill['missing']} "
        f"acknowledged webhooks missing**; {kill['replay_dup']:,} of {kill['replayed']:,} "
        "acknowledged ones replayed after the restart answered 200 `duplicate` with their "
        "event id.\n"
    )


async def run(args: argparse.Namespace) -> str:
    from tests.inbox_support import running_server

    client = "wrk" if shutil.which("wrk") and not args.python_client else "python"
    levels = []
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as name:
        tmp = Path(name)
        data_dir = tmp / "data"
        print("preparing ...", flush=True)
        await asyncio.to_thread(prepare, data_dir)
        with running_server(data_dir, tmp / "server.log", inbox_concurrency=4) as server:
            assert server.proc is not None
            # Warm-up: first requests import and compile what the hot path needs.
            await python_round(server.url, 4, "webhook", 5, signed_batch(200, "warm"), 202)
            for connections in args.connections:
                print(f"throughput ({client}, {connections} connections) ...", flush=True)
                levels.append(
                    await throughput(
                        args, connections, server.url, server.proc.pid, data_dir, tmp, client
                    )
                )
        print("kill -9 in the middle of a burst ...", flush=True)
        kill = await kill_phase(args, data_dir, tmp)
    return render(args, client, levels, kill)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[16, 64],
        help="client connections, one level after another (16,64)",
    )
    parser.add_argument("--kill-webhooks", type=int, default=3000)
    parser.add_argument(
        "--max-rate", type=float, default=3000.0, help="webhooks generated a second a round"
    )
    parser.add_argument("--python-client", action="store_true", help="even if wrk exists")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    body = asyncio.run(run(args))
    print(body)
    if not args.no_write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
