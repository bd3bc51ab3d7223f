"""Streaming that streams: time to first token and total time of a reply, as fans get it.

One run sets up what `persona serve` runs, on this machine:

- a temporary data dir with the demo creator (Camille Roux, `camille.cuisine`) loaded with
  `channels.demo_creator.ensure_demo`, and an API token for her (`channels.deps.new_api_token`, what
  `persona token` issues);
- ONE embedded llama.cpp model server, started the way the product starts it
  (`channels.services.llm_config` -> `persona.llm.open_backend`; the packaged model of
  `--model`, `--threads` threads, PERSONA_REPLY_CANDIDATES=1 so one slot);
- the platform (`python -m channels.cli serve --no-demo`, i.e. `persona serve`: uvicorn, one
  process) on a free loopback port, pointed at that model server with
  PERSONA_LLM_BACKEND=openai, so the model loads once and both sides share it.

Then each fan message (written below, English and French) is sent once down each of three
paths, one request at a time, the order of the paths rotated from message to message so that
the prompt cache and the machine's drift fall on all three alike:

- `api`: `POST /v1/chat/completions` with `stream: true` and
  `stream_options.include_usage`, read with httpx as SSE. TTFT = the first chunk whose delta
  has non-empty content (not the opening role chunk); total = `data: [DONE]`;
- `space`: the interactive space's websocket, `/ws/space/camille.cuisine?visitor=ID` (a new
  visitor, so a new fan, per message), connected and `ready` before the clock starts. TTFT =
  the first `token` event with text (or the `final` event when no token came before it);
  total = the `final` event;
- `raw`: the baseline, the same model server's own `/v1/chat/completions`, streamed
  directly with the engine's draft sampling (temperature 0.8, top_p 0.9, seed 0, at most
  120 tokens) and the prompt the engine builds for that message on the API (its private
  `ReplyEngine._prepare`, run in this process on the same data before the platform starts):
  the creator-constant prefix (system prompt, example replies), which llama.cpp serves from
  its prompt cache as it does for the engine, then the per-message part (retrieved notes,
  the language line, the message). That part gets a first line of its own and its notes in
  reverse order, so that it is evaluated afresh, as the engine's is, and not taken from the
  cache that the same message's engine request may have left (llama.cpp also reuses chunks
  of 256 matching tokens after a divergence). A message the engine answers without the model
  gets the prefix and the bare message.

Reported per path: TTFT and total, p50 / p95 (nearest rank); the TTFT p50 over raw's (the
ratio); the median share of the total at which the first text arrived (TTFT / total: well
under 1 when the reply streams, 1 when the first text comes with the last), and how many
replies had their first text in the last 10 % of their time; how many streamed text that the
final reply then replaced (a guardrail withdrew the draft: API `persona.text`, space `final`
text not extending the tokens); the tokens the model server generated and the prompt tokens
it evaluated (not served from its cache) during each request, from its /metrics counters, so
that extra model calls (a fact check, a retry round) show. One warm-up message goes down each
path first and is not counted. Every reply goes to bench/out/streaming_replies.json.

    python bench/bench_streaming.py [--model qwen2.5-coder-1.5b] [--messages 12]
        [--threads 1] [--benchmarks]

`--benchmarks` writes the "Streaming (time to first token)" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from bench.report import machine_line, table, write_section  # noqa: E402

TITLE = "Streaming (time to first token)"
OUT = REPO / "bench" / "out" / "streaming_replies.json"
CREATOR = "camille.cuisine"
PATHS = ("api", "space", "raw")
PATH_NAMES = {
    "api": "`/v1/chat/completions`, stream",
    "space": "space websocket",
    "raw": "raw model server (baseline)",
}
# The engine's draft sampling (persona.engine.engine.EngineConfig, persona.llm.config).
RAW_SAMPLING: dict[str, Any] = {"temperature": 0.8, "top_p": 0.9, "seed": 0}
ROLES = {"system": "system", "human": "user", "ai": "assistant"}  # langchain -> OpenAI
# "First text with the last": the first text arrived in the last tenth of the reply's time.
LATE_SHARE = 0.9

WARM_UP = "Hello Camille! I just found your channel, it looks delicious."
FAN_MESSAGES = [
    "Made your lemon tart last night and my whole family loved it, thank you Camille!",
    "J'adore tes recettes, elles sont simples et tellement bonnes !",
    "What's your favourite thing to cook on a lazy Sunday?",
    "Tu as un conseil pour réussir une pâte brisée bien croustillante ?",
    "Your videos make me want to cook every day. How did you get started?",
    "Quelle est ta recette préférée pour un dîner entre amis ?",
    "Any tips for someone who always burns the garlic? 😅",
    "Merci pour le gratin dauphinois, un vrai succès à la maison !",
    "Do you have a go-to dessert when you only have twenty minutes?",
    "Comment tu fais pour garder tes herbes fraîches plus longtemps ?",
    "Your kitchen looks so cozy! Where do you find ideas for new recipes?",
    "Bravo pour ta dernière vidéo, on sent la passion ! Tu cuisines quoi ce week-end ?",
]

Prompt = list[dict[str, str]]  # OpenAI chat messages


# -- processes -------------------------------------------------------------------------------


def start_model(model: str, threads: int, models_data_dir: Path) -> Any:
    """The embedded llama.cpp server, as the product starts it (one slot)."""
    from channels.services import llm_config
    from channels.settings import Settings
    from persona.llm import open_backend

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=models_data_dir,  # only its models/ is used: the packaged GGUF, assembled once
        packaged_model=model,
        llm_threads=threads,
        reply_candidates=1,
    )
    return open_backend(llm_config(settings))


def prepare_data(
    data_dir: Path, llm_env: dict[str, str], messages: list[str]
) -> tuple[str, dict[str, tuple[Prompt, bool]]]:
    """The demo creator in a fresh data dir, her API token, and for each message the prompt
    the engine builds for it on the API (True: the engine's own; False: it answers without
    the model, so the constant prefix and the bare message)."""
    from channels.demo_creator import ensure_demo
    from channels.deps import new_api_token
    from channels.services import Services
    from channels.settings import Settings
    from persona.engine import Channel, ReplyRequest, ReplyResult

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        log_level="WARNING",
        llm_backend="openai",
        llm_base_url=llm_env["PERSONA_LLM_BASE_URL"],
        llm_api_key=llm_env["PERSONA_LLM_API_KEY"],
        llm_model=llm_env["PERSONA_LLM_MODEL"],
    )
    services = Services.build(settings)
    try:
        creator = ensure_demo(services)
        token = new_api_token(services, creator)
        engine = services.engine
        prompts: dict[str, tuple[Prompt, bool]] = {}
        prefix: Prompt = []
        for message in messages:
            prepared = engine._prepare(ReplyRequest(creator, message, Channel.API, record=False))
            if not isinstance(prepared, ReplyResult):
                prompt = [
                    {"role": ROLES[m.type], "content": str(m.content)} for m in prepared.messages
                ]
                prompts[message] = (prompt, True)
                prefix = prompt[:-1]
        for message in messages:  # answered without the model: the prefix, the message
            prompts.setdefault(message, ([*prefix, {"role": "user", "content": message}], False))
        return token, prompts
    finally:
        services.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_platform(
    data_dir: Path, llm_env: dict[str, str], log_path: Path, timeout_s: float = 300.0
) -> tuple[subprocess.Popen[bytes], str]:
    """`persona serve` in a child process, on loopback; returns it once /healthz answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    env.update(llm_env)
    env.update(
        {
            "PERSONA_DATA_DIR": str(data_dir),
            "PERSONA_REPLY_CANDIDATES": "1",
            "PERSONA_LOG_LEVEL": "WARNING",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    port = free_port()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "channels.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-demo",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the platform exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_process(proc)
    raise RuntimeError(f"the platform did not answer in {timeout_s:.0f} s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by pid, then SIGKILL if it has not exited 30 s later."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


# -- the raw prompt --------------------------------------------------------------------------


def uncached(prompt: Prompt) -> Prompt:
    """The engine's prompt with its per-message part (the last message) made new for the
    model server's cache: a first line of its own, each list of notes in reverse order."""
    *prefix, last = prompt
    blocks = []
    for block in last["content"].split("\n\n"):
        head, *lines = block.split("\n")
        if lines and all(line.startswith("- ") for line in lines):
            block = "\n".join([head, *reversed(lines)])
        blocks.append(block)
    content = f"(request {uuid.uuid4().hex[:8]})\n" + "\n\n".join(blocks)
    return [*prefix, {"role": last["role"], "content": content}]


# -- one request down each path ----------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    path: str
    message: str
    ttft_s: float
    total_s: float
    text: str
    streamed: bool  # text arrived before the end (content chunks or token events)
    outcome: str  # the persona's action and the finish reason (api), action (space), finish (raw)
    replaced: bool = False  # streamed text that the final reply replaced (withdrawn)
    engine_prompt: bool = True  # raw: the engine's prompt (False: prefix + bare message)
    completion_tokens: int = 0  # as the response's usage says (api: every model call)
    prompt_tokens: int = 0
    generated: float = float("nan")  # tokens the model server generated meanwhile
    evaluated: float = float("nan")  # prompt tokens it evaluated (not from its cache)

    @property
    def share(self) -> float:
        return self.ttft_s / self.total_s if self.total_s > 0 else float("nan")


def read_sse(
    client: httpx.Client, url: str, key: str, body: dict[str, Any]
) -> tuple[float, float | None, list[str], dict[str, Any], dict[str, Any]]:
    """(start, time of the first content, content pieces, usage, the finish reason and the
    persona extension of the last chunk); ends at [DONE]."""
    pieces: list[str] = []
    usage: dict[str, Any] = {}
    outcome: dict[str, Any] = {}
    first: float | None = None
    start = time.perf_counter()
    with client.stream(
        "POST", url, json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"{url}: HTTP {response.status_code} {response.text[:300]}")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                return start, first, pieces, usage, outcome
            event = json.loads(line[6:])
            if "error" in event:
                raise RuntimeError(f"{url}: error event {event['error']}")
            for choice in event.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    first = first or time.perf_counter()
                    pieces.append(content)
                if choice.get("finish_reason"):
                    outcome["finish"] = choice["finish_reason"]
            if event.get("persona"):
                outcome["persona"] = event["persona"]
            usage = event.get("usage") or usage
    raise RuntimeError(f"{url}: the stream ended without [DONE]")


def via_api(client: httpx.Client, url: str, token: str, message: str) -> Sample:
    body = {
        "model": CREATOR,
        "messages": [{"role": "user", "content": message}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start, first, pieces, usage, outcome = read_sse(
        client, f"{url}/v1/chat/completions", token, body
    )
    end = time.perf_counter()
    persona = outcome.get("persona") or {}
    return Sample(
        "api",
        message,
        ttft_s=(first or end) - start,
        total_s=end - start,
        text=persona.get("text") or "".join(pieces),
        streamed=first is not None and end - first > 0.05,
        outcome=f"{persona.get('action')}/{outcome.get('finish')}",
        replaced=bool(persona.get("text")),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
    )


def via_space(url: str, message: str) -> Sample:
    ws_url = (
        url.replace("http://", "ws://") + f"/ws/space/{CREATOR}?visitor=bench-{uuid.uuid4().hex}"
    )
    pieces: list[str] = []
    first: float | None = None
    with connect(ws_url, open_timeout=60, close_timeout=5) as ws:
        ready = json.loads(ws.recv(timeout=60))
        if ready.get("type") != "ready":
            raise RuntimeError(f"space: {ready}")
        start = time.perf_counter()
        ws.send(json.dumps({"type": "message", "text": message}))
        while True:
            event = json.loads(ws.recv(timeout=900))
            now = time.perf_counter()
            if event["type"] == "token" and event.get("delta"):
                first = first or now
                pieces.append(event["delta"])
            elif event["type"] == "final":
                text = str(event.get("text") or "")
                streamed_text = "".join(pieces)
                return Sample(
                    "space",
                    message,
                    ttft_s=(first or now) - start,
                    total_s=now - start,
                    text=text,
                    streamed=first is not None and now - first > 0.05,
                    outcome=str(event.get("action")),
                    replaced=bool(streamed_text) and not text.startswith(streamed_text),
                )
            elif event["type"] == "error":
                raise RuntimeError(f"space: {event}")


def via_raw(
    client: httpx.Client,
    backend: Any,
    prompts: dict[str, tuple[Prompt, bool]],
    message: str,
    max_tokens: int,
) -> Sample:
    prompt, engine_prompt = prompts[message]
    body = {
        "model": backend.config.model,
        "messages": uncached(prompt),
        **RAW_SAMPLING,
        "max_completion_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start, first, pieces, usage, outcome = read_sse(
        client, f"{backend.base_url}/chat/completions", backend.api_key, body
    )
    end = time.perf_counter()
    return Sample(
        "raw",
        message,
        ttft_s=(first or end) - start,
        total_s=end - start,
        text="".join(pieces),
        streamed=first is not None and end - first > 0.05,
        outcome=str(outcome.get("finish")),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        engine_prompt=engine_prompt,
    )


def counted(server: Any, run: Callable[[], Sample]) -> Sample:
    """Run one request and attach what the model server did meanwhile (its /metrics)."""
    before = server.metrics()
    sample = run()
    after = server.metrics()
    nan = float("nan")
    for attr, name in (
        ("generated", "llamacpp:tokens_predicted_total"),
        ("evaluated", "llamacpp:prompt_tokens_total"),
    ):
        setattr(sample, attr, after.get(name, nan) - before.get(name, nan))
    return sample


# -- report ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(samples: list[Sample]) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for path in PATHS:
        mine = [s for s in samples if s.path == path]
        ttft = [s.ttft_s for s in mine]
        total = [s.total_s for s in mine]
        rows[path] = {
            "n": len(mine),
            "ttft_p50": pct(ttft, 0.5),
            "ttft_p95": pct(ttft, 0.95),
            "total_p50": pct(total, 0.5),
            "total_p95": pct(total, 0.95),
            "share_p50": statistics.median([s.share for s in mine]),
            "late": sum(s.share >= LATE_SHARE for s in mine),
            "no_text": sum(not s.text.strip() for s in mine),
            "replaced": sum(s.replaced for s in mine),
            "generated_p50": statistics.median([s.generated for s in mine]),
            "evaluated_p50": statistics.median([s.evaluated for s in mine]),
        }
    raw_ttft = rows["raw"]["ttft_p50"]
    raw_total = rows["raw"]["total_p50"]
    for row in rows.values():
        row["ttft_ratio"] = row["ttft_p50"] / raw_ttft
        row["total_ratio"] = row["total_p50"] / raw_total
    return rows


def render(rows: dict[str, dict[str, float]]) -> str:
    return table(
        [
            "path",
            "TTFT p50 / p95 s",
            "total p50 / p95 s",
            "TTFT p50 / raw",
            "total p50 / raw",
            "first text at (TTFT / total, median)",
            f"first text in the last {1 - LATE_SHARE:.0%}",
            "streamed text replaced",
            "tokens generated (median)",
            "prompt tokens evaluated (median)",
        ],
        [
            [
                PATH_NAMES[path],
                f"{r['ttft_p50']:.2f} / {r['ttft_p95']:.2f}",
                f"{r['total_p50']:.2f} / {r['total_p95']:.2f}",
                f"{r['ttft_ratio']:.2f}",
                f"{r['total_ratio']:.2f}",
                f"{r['share_p50']:.2f}",
                f"{r['late']:.0f} of {r['n']:.0f}",
                f"{r['replaced']:.0f}",
                f"{r['generated_p50']:.0f}",
                f"{r['evaluated_p50']:.0f}",
            ]
            for path, r in rows.items()
        ],
    )


def per_message(samples: list[Sample], messages: list[str]) -> str:
    by = {(s.path, s.message): s for s in samples}
    return table(
        ["#", "message", *(f"{p} TTFT / total s" for p in PATHS)],
        [
            [
                str(i + 1),
                message[:40] + ("…" if len(message) > 40 else ""),
                *(
                    f"{by[p, message].ttft_s:.2f} / {by[p, message].total_s:.2f}"
                    + ("" if by[p, message].streamed else " (not streamed)")
                    + (" (replaced)" if by[p, message].replaced else "")
                    for p in PATHS
                ),
            ]
            for i, message in enumerate(messages)
        ],
    )


def section(
    args: argparse.Namespace,
    rows: dict[str, dict[str, float]],
    samples: list[Sample],
    load: tuple[float, float],
    llama_version: str,
) -> str:
    api, space = rows["api"], rows["space"]
    raw = [s for s in samples if s.path == "raw"]
    raw_tokens = statistics.median([s.prompt_tokens for s in raw])
    bare = sum(not s.engine_prompt for s in raw)
    return (
        f"`python bench/bench_streaming.py --model {args.model} --messages {args.messages} "
        f"--threads {args.threads}` — {machine_line()}, 1-minute load average "
        f"{load[0]:.1f} at the start and {load[1]:.1f} at the end (other jobs shared the "
        f"machine). One embedded llama.cpp server ({args.model}, Q4, {args.threads} thread(s), "
        f"one slot, xllamacpp {llama_version}) serves both the platform (`persona serve`: "
        "uvicorn, one process, SQLite, the demo creator, PERSONA_LLM_BACKEND=openai, "
        "PERSONA_REPLY_CANDIDATES=1) and the baseline. "
        f"{args.messages} fan messages (English and French, questions and compliments), one "
        "request at a time, the order of the three paths rotated per message, after one "
        "warm-up message per path.\n\n"
        "TTFT: from the request (space: the message frame, on a connected socket) to the first "
        "text a fan can read: the first non-empty content delta (API), the first `token` "
        "event (space; the `final` when no token came first). Total: `data: [DONE]` (API), "
        "the `final` event (space). Baseline: the same model server's own "
        "`/v1/chat/completions`, streamed with the engine's draft sampling and the prompt "
        f"the engine builds for the message on the API ({raw_tokens:.0f} tokens, median): its "
        "creator-constant prefix comes from llama.cpp's prompt cache as the engine's does, "
        "its per-message part (notes, message) gets a first line of its own and its notes "
        "in reverse order so that it is evaluated afresh, as the engine's is"
        + (
            f" ({bare:.0f} message(s) the engine answers without the model: the prefix and "
            "the bare message)"
            if bare
            else ""
        )
        + ". Tokens generated and prompt tokens evaluated (not cached) are the "
        "model server's own counters over each request: every model call a reply made.\n\n"
        f"{render(rows)}\n\n"
        f"- The first text reaches a fan of the API at {api['share_p50']:.2f} of the reply's "
        f"time and in the space at {space['share_p50']:.2f} (median; the raw server's: "
        f"{rows['raw']['share_p50']:.2f}, as with short replies the prompt's evaluation is "
        f"most of a reply's time); {api['late']:.0f} API and {space['late']:.0f} space "
        f"replies of {args.messages} had their first text in the last "
        f"{1 - LATE_SHARE:.0%} of their time (the release gate lets nothing out of a factual "
        "answer or a held message before the final check, nor out of a reply not much longer "
        f"than its 8 held-back words); {api['replaced']:.0f} API and "
        f"{space['replaced']:.0f} space replies had streamed text that the final reply "
        "replaced.\n"
        f"- TTFT p50 through the platform is {api['ttft_ratio']:.2f}x (API) and "
        f"{space['ttft_ratio']:.2f}x (space) the raw server's on the same prompt: the work "
        "before the model (inbound checks, retrieval), any model call before the draft (the "
        "fact check) and the release gate's 8 held-back words come on top of the model's own "
        "first token.\n"
        "- Absolute times follow the machine's load and the model; compare the paths measured "
        "together in this run.\n"
    )


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default="qwen2.5-coder-1.5b",
        choices=["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"],
        help="packaged model (PERSONA_PACKAGED_MODEL)",
    )
    parser.add_argument("--messages", type=int, default=len(FAN_MESSAGES))
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    parser.add_argument("--max-tokens", type=int, default=120, help="PERSONA_REPLY_MAX_TOKENS")
    parser.add_argument(
        "--models-data-dir",
        type=Path,
        default=REPO / ".data" / "bench-models",
        help="where the packaged model is assembled (its models/), shared with bench_models",
    )
    parser.add_argument(
        "--benchmarks", action="store_true", help=f'write the "{TITLE}" section of BENCHMARKS.md'
    )
    args = parser.parse_args()
    if not 1 <= args.messages <= len(FAN_MESSAGES):
        parser.error(f"--messages: 1 to {len(FAN_MESSAGES)}")
    messages = FAN_MESSAGES[: args.messages]

    load_start = os.getloadavg()[0]
    print(
        f"{machine_line()}, load average {load_start:.2f} at the start; {args.model}, "
        f"{args.threads} thread(s), {len(messages)} messages",
        flush=True,
    )
    samples: list[Sample] = []
    platform: subprocess.Popen[bytes] | None = None
    backend: Any = None
    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as tmp:
        try:
            started = time.perf_counter()
            backend = start_model(args.model, args.threads, args.models_data_dir)
            server = backend.server
            print(
                f"model server pid {server.pid} at {backend.base_url}, ready in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            llm_env = {
                "PERSONA_LLM_BACKEND": "openai",
                "PERSONA_LLM_BASE_URL": backend.base_url,
                "PERSONA_LLM_API_KEY": backend.api_key,
                "PERSONA_LLM_MODEL": backend.config.model,
                "PERSONA_REPLY_MAX_TOKENS": str(args.max_tokens),
            }
            data_dir = Path(tmp) / "data"
            token, prompts = prepare_data(data_dir, llm_env, [WARM_UP, *messages])
            started = time.perf_counter()
            platform, url = start_platform(data_dir, llm_env, Path(tmp) / "server.log")
            print(
                f"platform pid {platform.pid} at {url}, ready in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )

            # No keep-alive: llama.cpp may close a connection after a streamed reply.
            limits = httpx.Limits(max_keepalive_connections=0)
            with httpx.Client(timeout=900, limits=limits) as client:
                runs: dict[str, Callable[[str], Sample]] = {
                    "api": lambda m: via_api(client, url, token, m),
                    "space": lambda m: via_space(url, m),
                    "raw": lambda m: via_raw(client, backend, prompts, m, args.max_tokens),
                }
                for path in PATHS:
                    warm = counted(server, lambda p=path: runs[p](WARM_UP))
                    print(
                        f"warm-up {path}: ttft {warm.ttft_s:.2f} s, total {warm.total_s:.2f} s",
                        flush=True,
                    )
                for i, message in enumerate(messages):
                    order = PATHS[i % 3 :] + PATHS[: i % 3]
                    for path in order:
                        sample = counted(server, lambda p=path, m=message: runs[p](m))
                        samples.append(sample)
                        print(
                            f"[{i + 1}/{len(messages)}] {path:5} ttft {sample.ttft_s:6.2f} s, "
                            f"total {sample.total_s:6.2f} s ({sample.share:.2f}), "
                            f"{sample.generated:.0f} tok generated, {sample.evaluated:.0f} "
                            f"prompt tok evaluated, {sample.outcome}: {sample.text[:60]!r}",
                            flush=True,
                        )
        finally:
            if platform is not None:
                stop_process(platform)
            if backend is not None:
                backend.stop()
    load_end = os.getloadavg()[0]

    import xllamacpp  # only for its version string

    rows = summarise(samples)
    print()
    print(per_message(samples, messages))
    print()
    print(render(rows))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "date": str(date.today()),
                "model": args.model,
                "threads": args.threads,
                "load_average": [load_start, load_end],
                "summary": rows,
                "samples": [asdict(s) | {"share": s.share} for s in samples],
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    print(f"\nreplies: {OUT.relative_to(REPO)}")
    if args.benchmarks:
        body = section(args, rows, samples, (load_start, load_end), xllamacpp.__version__)
        write_section(TITLE, body)
        print(f"updated BENCHMARKS.md ({TITLE})")


if __name__ == "__main__":
    main()
