"""Scale-out curve in production mode: replies/s and webhook intake/s for 1, 2 and 4 API
workers, each against a bare `GET /healthz` on the same workers and client, in one run.

For each worker count (`--workers 1,2,4`) a fresh deployment, as the production tests build
it (tests/test_production_support.py): `persona serve --workers N` on PostgreSQL 15, Redis
and the Chroma server (started by .ci/services unless PERSONA_TEST_SERVICES_ENV names a
running set), the demo creator's first 30 posts ingested, and a stub OpenAI-compatible model
server in this process (bench_soak.StubModelServer: instant short replies) reached by the
production client, so that the figures are the platform's. The DM channel is paused for the
whole run: each webhook is taken in (HMAC, validation, group commit) and decided by an inbox
worker (recorded as skipped), without a reply; replies are measured on their own path.

The client is `wrk` (1 thread; `--connections` sockets, `--reply-connections` for replies), so
that it is not the ceiling:
- `healthz`: GET /healthz (the baseline: what the workers answer with no work);
- `webhooks`: each request a distinct pre-signed DM webhook (bench_webhooks' Lua script);
- `replies`: POST /v1/chat/completions (not streamed) with the creator's API token, each
  request a different fan message, answered through the engine (embedding, retrieval in the
  Chroma server, `--candidates` model calls, checks, the reply recorded in PostgreSQL).
Rounds of `--seconds` alternate between the three, `--rounds` times; before each round the
inbox workers have decided every event of the round before. During each round the CPU time
of every process is read from /proc (the API workers, PostgreSQL, Redis, Chroma, this
process with the stub model, wrk), which says where the 2 cores went.

    python -m bench.bench_scaleout [--workers 1,2,4] [--seconds 8] [--rounds 3]
        [--connections 32] [--reply-connections 8] [--benchmarks]

`--benchmarks` writes the "Scale-out (production mode)" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from bench.bench_soak import StubModelServer  # noqa: E402
from bench.bench_webhooks import (  # noqa: E402
    _DONE_LUA,
    _THREADS_LUA,
    cpu_s,
    signed_batch,
    wrk_round,
)
from bench.report import machine_line, table, write_section  # noqa: E402

TITLE = "Scale-out (production mode)"
OUT = REPO / "bench" / "out" / "scaleout.json"
KINDS = ("healthz", "webhooks", "replies")

# Each request a different fan message (args: token, path); counts the 200s.
REPLIES_LUA = (
    _THREADS_LUA
    + r"""
local dishes = {"tarte au citron", "madeleines", "pain maison", "ratatouille", "crêpes",
  "quiche", "tiramisu", "gratin", "risotto", "brioche", "clafoutis", "pesto"}
local asks = {"c'est quoi ton astuce pour %s ?", "combien de temps au four pour %s ?",
  "tu as une variante de %s pour les enfants ?", "quel ingrédient secret dans %s ?"}
function init(args)
  token = args[1]
  path = args[2]
  n = 0
  accepted, duplicate, other, wrapped = 0, 0, 0, 0
end
function request()
  n = n + 1
  local dish = dishes[(n + id * 7) % #dishes + 1]
  local ask = asks[(math.floor(n / #dishes) + id) % #asks + 1]
  local text = string.format(ask, dish) .. " (fan " .. id .. "-" .. n .. ")"
  local body = '{"model":"camille.cuisine","messages":[{"role":"user","content":"'
    .. text .. '"}],"user":"fan-' .. id .. '-' .. (n % 50) .. '"}'
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end
function response(status, headers, body)
  if status == 200 then accepted = accepted + 1 else other = other + 1 end
end
"""
    + _DONE_LUA
)


@dataclass
class Round:
    workers: int
    kind: str
    n: int
    ok: int
    other: int
    seconds: float
    p50_ms: float
    p99_ms: float
    load: float
    cpu_s: dict[str, float] = field(default_factory=dict)  # process group -> CPU seconds

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds


# -- processes and their CPU -----------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree(pid: int) -> list[int]:
    out = [pid]
    for child in children(pid):
        out += tree(child)
    return out


def pid_cpu(groups: dict[str, list[int]]) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = {}
    for name, pids in groups.items():
        for pid in pids:
            with contextlib.suppress(OSError):
                out[name, pid] = cpu_s(pid)
    return out


def cpu_delta(
    before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]
) -> dict[str, float]:
    """CPU seconds of each group between two reads, over the processes alive at both (a
    PostgreSQL backend that came or went in between is not counted)."""
    total: dict[str, float] = {}
    for (name, pid), value in after.items():
        total.setdefault(name, 0.0)
        if (name, pid) in before:
            total[name] += value - before[name, pid]
    return total


def process_groups(workers_pid: int, services_dir: Path) -> dict[str, list[int]]:
    """API workers (uvicorn's supervisor and its children), PostgreSQL (the postmaster and
    its backends, read again each round: backends come and go), Redis, Chroma, this process."""
    groups = {"API workers": tree(workers_pid), "this process (stub model)": [os.getpid()]}
    for name, label in (("postgres", "PostgreSQL"), ("redis", "Redis"), ("chroma", "Chroma")):
        pid_file = services_dir / f"{name}.pid"
        if pid_file.exists():
            groups[label] = tree(int(pid_file.read_text().split()[0]))
    return groups


def undecided(database_url: str) -> int:
    from sqlalchemy import func, select

    from channels.inbox.models import EventStatus, InboxEvent
    from persona.store import Database, DatabaseConfig

    db = Database(DatabaseConfig(database_url))
    try:
        with db.session() as session:
            query = select(func.count()).where(
                InboxEvent.status.in_([EventStatus.PENDING, EventStatus.PROCESSING])
            )
            return int(session.scalar(query.select_from(InboxEvent)) or 0)
    finally:
        db.dispose()


def drained(database_url: str, timeout_s: float = 300.0) -> float:
    started = time.perf_counter()
    while undecided(database_url) and time.perf_counter() - started < timeout_s:
        time.sleep(0.3)
    return time.perf_counter() - started


# -- the deployment --------------------------------------------------------------------------


def one_or_more() -> type:
    from tests.test_production_support import Workers

    class OneOrMoreWorkers(Workers):
        """With one worker uvicorn serves in its own process (no children to wait for)."""

        def worker_pids(self) -> list[int]:
            if self.workers == 1 and self.proc is not None:
                return [self.proc.pid]
            return super().worker_pids()

    return OneOrMoreWorkers


@contextlib.contextmanager
def deployment(directory: Path, workers: int, model_url: str, candidates: int) -> Iterator[Any]:
    """tests.test_production_support.deploy, with the DM channel paused before the workers
    start (each webhook is taken in and decided, not answered)."""
    from tests.test_production_support import (
        FAST_RATE,
        Deployment,
        fresh_database,
        make_production_settings,
        prepare_platform,
        production_values,
        service_urls,
        set_policy,
    )

    urls = service_urls()
    OneOrMore = one_or_more()  # noqa: N806 - a class
    with fresh_database(urls) as database_url:
        values = production_values(
            directory / "data",
            database_url,
            urls.redis_url,
            (urls.chroma_host, urls.chroma_port),
            llm_backend="openai",
            llm_base_url=model_url,
            llm_model="stub",
            llm_api_key="none",
            reply_candidates=candidates,
        )
        token = prepare_platform(make_production_settings(values), posts=30)
        set_policy(database_url, "dm", paused=True, fan_rate=FAST_RATE, channel_rate=FAST_RATE)
        pool = OneOrMore(values, directory, workers).start()
        try:
            yield Deployment(pool, database_url, token, values), urls.directory
        finally:
            pool.stop()


def replies_round(url: str, token: str, connections: int, seconds: float, tmp: Path) -> Any:
    script = tmp / "replies.lua"
    script.write_text(REPLIES_LUA)
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
        "--",
        token,
        "/v1/chat/completions",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    match = re.search(
        r"RESULT accepted=(\d+) duplicate=(\d+) other=(\d+) wrapped=(\d+) us=(\d+) "
        r"p50=(\d+) p99=(\d+)",
        result.stdout,
    )
    assert match, result.stdout + result.stderr
    ok, _dup, other, _wrapped, micros, p50, p99 = map(int, match.groups())
    return ok, other, micros / 1e6, p50 / 1000, p99 / 1000


def measure(
    workers: int, args: argparse.Namespace, model: StubModelServer, model_url: str
) -> list[Round]:
    rounds: list[Round] = []
    directory = Path(tempfile.mkdtemp(prefix=f"bench-scaleout-{workers}-"))
    try:
        with deployment(directory, workers, model_url, args.candidates) as (d, services_dir):
            url = d.workers.url
            tmp = directory / "wrk"
            tmp.mkdir()
            # Warm every worker first: its reply path (models, creator, Chroma collection) and
            # its inbox worker (the moderation's models are trained on the first decision).
            replies_round(url, d.token, args.reply_connections, 3, tmp)
            wrk_round(url, args.connections, "webhooks", 3, tmp, signed_batch(3000, "warm"))
            drained(d.database_url)
            for r in range(args.rounds):
                order = KINDS[r % 3 :] + KINDS[: r % 3]
                for kind in order:
                    drained(d.database_url)
                    groups = process_groups(d.workers.proc.pid, services_dir)
                    before = pid_cpu(groups)
                    model_before = model.requests
                    if kind == "replies":
                        ok, other, secs, p50, p99 = replies_round(
                            url, d.token, args.reply_connections, args.seconds, tmp
                        )
                    else:
                        batch = (
                            signed_batch(int(args.seconds * 2500), f"w{workers}r{r}")
                            if kind == "webhooks"
                            else None
                        )
                        res = wrk_round(url, args.connections, kind, args.seconds, tmp, batch)
                        ok, other, secs, p50, p99 = (
                            res.ok,
                            res.other,
                            res.seconds,
                            res.p50_ms,
                            res.p99_ms,
                        )
                    cpu = cpu_delta(before, pid_cpu(groups))
                    cpu["model requests"] = float(model.requests - model_before)
                    done = Round(
                        workers, kind, r, ok, other, secs, p50, p99, os.getloadavg()[0], cpu
                    )
                    rounds.append(done)
                    print(
                        f"[{workers} workers] {kind:8} {done.per_s:7.1f}/s (other {other}), "
                        f"p50 {p50:.1f} ms p99 {p99:.1f} ms, load {done.load:.1f}, cpu "
                        + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()),
                        flush=True,
                    )
            waited = drained(d.database_url)
            print(f"[{workers} workers] inbox caught up {waited:.1f} s after the last round")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return rounds


# -- report ----------------------------------------------------------------------------------


def summarise(rounds: list[Round]) -> list[dict[str, Any]]:
    rows = []
    for workers in sorted({r.workers for r in rounds}):
        mine = [r for r in rounds if r.workers == workers]
        row: dict[str, Any] = {"workers": workers}
        for kind in KINDS:
            of = [r for r in mine if r.kind == kind]
            row[kind] = statistics.median(r.per_s for r in of)
            row[f"{kind}_p99"] = statistics.median(r.p99_ms for r in of)
            row[f"{kind}_errors"] = sum(r.other for r in of)
            cpu: dict[str, float] = {}
            for r in of:
                for name, value in r.cpu_s.items():
                    cpu[name] = cpu.get(name, 0.0) + value
            row[f"{kind}_cpu"] = {
                k: v / sum(r.seconds for r in of) for k, v in cpu.items() if k != "model requests"
            }
            served = max(1, sum(r.ok for r in of))
            row[f"{kind}_model_calls"] = cpu.get("model requests", 0.0) / served
            row[f"{kind}_worker_ms"] = 1000 * cpu.get("API workers", 0.0) / served
        row["load"] = statistics.median(r.load for r in mine)
        rows.append(row)
    base = rows[0]
    for row in rows:
        for kind in KINDS:
            row[f"{kind}_scale"] = row[kind] / base[kind]
        row["webhooks_ratio"] = row["webhooks"] / row["healthz"]
        row["replies_ratio"] = row["replies"] / row["healthz"]
    return rows


def cores(cpu: dict[str, float]) -> str:
    short = {
        "API workers": "workers",
        "PostgreSQL": "pg",
        "Redis": "redis",
        "Chroma": "chroma",
        "this process (stub model)": "stub",
    }
    return ", ".join(f"{short.get(k, k)} {v:.2f}" for k, v in cpu.items())


def render(rows: list[dict[str, Any]]) -> str:
    return table(
        [
            "API workers",
            "GET /healthz /s (x 1 worker)",
            "webhooks /s (x 1 worker)",
            "webhooks / healthz",
            "replies /s (x 1 worker)",
            "replies p99 ms",
            "API workers' CPU ms a healthz / webhook / reply",
            "cores busy during webhook rounds",
            "cores busy during reply rounds",
            "load (1 min)",
        ],
        [
            [
                str(r["workers"]),
                f"{r['healthz']:,.0f} ({r['healthz_scale']:.2f})",
                f"{r['webhooks']:,.0f} ({r['webhooks_scale']:.2f})",
                f"{r['webhooks_ratio']:.2f}",
                f"**{r['replies']:,.1f}** ({r['replies_scale']:.2f})",
                f"{r['replies_p99']:,.0f}",
                f"{r['healthz_worker_ms']:.1f} / {r['webhooks_worker_ms']:.1f} / "
                f"{r['replies_worker_ms']:.0f}",
                cores(r["webhooks_cpu"]),
                cores(r["replies_cpu"]),
                f"{r['load']:.1f}",
            ]
            for r in rows
        ],
    )


def section(args: argparse.Namespace, rows: list[dict[str, Any]], load: tuple[float, float]) -> str:
    errors = sum(r[f"{k}_errors"] for r in rows for k in KINDS)
    calls = statistics.median(r["replies_model_calls"] for r in rows)
    return (
        f"`python -m bench.bench_scaleout --workers {args.workers} --seconds {args.seconds:g} "
        f"--rounds {args.rounds} --connections {args.connections} --reply-connections "
        f"{args.reply_connections} --candidates "
        f"{args.candidates}` — {machine_line()}, 1-minute load average {load[0]:.1f} at the "
        f"start and {load[1]:.1f} at the end (other jobs shared the machine). `persona serve "
        "--workers N` on PostgreSQL 15, Redis and the Chroma server, a stub OpenAI-compatible "
        "model server (instant short replies, in the bench process) reached by the production "
        f"client, PERSONA_REPLY_CANDIDATES={args.candidates}, all on loopback; a fresh "
        f"deployment for each N. Client: `wrk`, 1 thread, {args.connections} connections "
        f"({args.reply_connections} for replies); "
        f"rounds of {args.seconds:g} s alternate between GET /healthz, signed DM webhooks "
        "(the DM channel paused: each taken in and decided by an inbox worker, not answered) "
        "and `POST /v1/chat/completions` (not streamed; each a different message, answered "
        f"through the engine: {calls:.1f} model calls a reply); medians of {args.rounds} "
        'rounds. "Cores busy" = CPU seconds of each process group over the rounds\' seconds '
        f"(from /proc). Non-2xx answers, all rounds: {errors}.\n\n"
        f"{render(rows)}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--reply-connections",
        type=int,
        default=8,
        help="wrk connections of the replies rounds: a reply takes ~0.1 s of a worker's CPU, "
        "so 32 in flight on a busy machine queue for seconds, about a round's length",
    )
    parser.add_argument("--candidates", type=int, default=3, help="PERSONA_REPLY_CANDIDATES")
    parser.add_argument("--benchmarks", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("needs wrk (apt-get install -y wrk)")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    load_start = os.getloadavg()[0]
    print(f"{machine_line()}, load {load_start:.2f}", flush=True)
    model = StubModelServer()
    model_url = model.start()
    rounds: list[Round] = []
    try:
        for workers in (int(x) for x in args.workers.split(",")):
            rounds += measure(workers, args, model, model_url)
    finally:
        model.stop()
    load_end = os.getloadavg()[0]
    rows = summarise(rounds)
    print()
    print(render(rows))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"load": [load_start, load_end], "rows": rows, "rounds": [asdict(r) for r in rounds]},
            indent=1,
        )
    )
    if args.benchmarks:
        write_section(TITLE, section(args, rows, (load_start, load_end)))
        print(f"updated BENCHMARKS.md ({TITLE})")


if __name__ == "__main__":
    main()
