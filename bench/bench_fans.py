"""End-to-end latency as fans see it, with 1, 4 and 8 fans at once, against the bare model.

One run sets up what `persona serve` runs on this machine, with the real embedded model:

- ONE embedded llama.cpp server started the way the product starts it (the packaged model of
  `--model`, `--threads` threads, PERSONA_REPLY_CANDIDATES=`--candidates`, which is also its
  number of slots: requests decoded together);
- a counting pass-through (a TCP relay in this process) in front of it, through which BOTH
  the platform and the baseline reach it, so that each pays the same hop and the model calls
  of every request are counted (`POST /v1/chat/completions` seen on the wire);
- the platform (`python -m channels.cli serve --no-demo`, uvicorn, one process, SQLite) with
  the demo creator (Camille Roux), her API token, a webhook secret, callbacks allowed to
  loopback, and the DM policy's human-like reply delay (2-8 s by default) set to 0: the delay
  is a product choice on top of the latency measured here.

Then for each level of concurrency (`--fans 1,4,8`) and each path, N fans write at the same
moment (a barrier), each with a different message; then the baseline sends the same N
messages' prompts straight to the model server, N at once:

- `api`: `POST /v1/chat/completions`, `stream: true`. TTFT = first content delta; total =
  `[DONE]`. Baseline: one streamed call with the engine's prompt for the message;
- `space`: the space websocket (a new visitor a fan). TTFT = first `token` event (or the
  `final`); total = `final`. Baseline: as for `api`, with the space's prompt;
- `dm`: a signed DM webhook -> the inbox worker -> the engine (not streamed, `--candidates`
  drafts ranked) -> the outbox -> the callback on loopback. Total = from sending the webhook
  to the callback's arrival (no TTFT: a DM arrives whole). Baseline: the `--candidates` calls
  that reply needs at the least (the engine's DM prompt, seeds 0..n-1, not streamed), at once.

The baseline's prompt is the engine's own (its private `ReplyEngine._prepare`, run in this
process on the same data before the platform starts) with its per-message part made new for
the model server's prompt cache (bench_streaming.uncached), so that it is evaluated afresh as
the engine's is. Reported per level and path: p50 and max of TTFT and total, the same for the
baseline, the ratios of the p50s, the model calls, prompt tokens evaluated (not cached) and
tokens generated per fan (the model server's counters over the batch), and the load average.

    python -m bench.bench_fans [--model qwen2.5-coder-1.5b] [--fans 1,4,8] [--paths api,space,dm]
        [--candidates 3] [--threads 1] [--benchmarks]

`--benchmarks` writes the "End-to-end latency with concurrent fans" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.bench_streaming import (  # noqa: E402
    RAW_SAMPLING,
    ROLES,
    free_port,
    read_sse,
    stop_process,
    uncached,
    via_space,
)
from bench.report import machine_line, table, write_section  # noqa: E402

TITLE = "End-to-end latency with concurrent fans"
OUT = REPO / "bench" / "out" / "fans.json"
CREATOR = "camille.cuisine"
PLATFORM = "benchgram"
SECRET = "bench-secret-0123456789abcdef"
PATHS = ("api", "space", "dm")
CHANNEL_OF = {"api": "api", "space": "space", "dm": "dm"}

# 24 distinct fan messages (English and French, questions and compliments): each fan of a
# batch writes its own, so that no platform request finds another's per-message part cached.
FAN_MESSAGES = [
    "Made your lemon tart last night and my whole family loved it, thank you Camille!",
    "J'adore tes recettes, elles sont simples et tellement bonnes !",
    "What's your favourite thing to cook on a lazy Sunday?",
    "Tu as un conseil pour réussir une pâte brisée bien croustillante ?",
    "Your videos make me want to cook every day. How did you get started?",
    "Quelle est ta recette préférée pour un dîner entre amis ?",
    "Any tips for someone who always burns the garlic?",
    "Merci pour le gratin dauphinois, un vrai succès à la maison !",
    "Do you have a go-to dessert when you only have twenty minutes?",
    "Comment tu fais pour garder tes herbes fraîches plus longtemps ?",
    "Your kitchen looks so cozy! Where do you find ideas for new recipes?",
    "Bravo pour ta dernière vidéo ! Tu cuisines quoi ce week-end ?",
    "I tried your ratatouille with zucchini from my garden, so good!",
    "Tu utilises quel beurre pour tes croissants maison ?",
    "Is there a vegetarian version of your boeuf bourguignon?",
    "Ma fille veut apprendre à cuisiner, tu conseilles quelle recette pour commencer ?",
    "How do you keep your crêpes from sticking to the pan?",
    "Ton clafoutis aux cerises est devenu un classique chez nous, merci !",
    "What knife would you buy first if you were starting a kitchen?",
    "Tu as une idée de goûter rapide pour les enfants après l'école ?",
    "Your bread looked amazing, how long do you let the dough rise?",
    "C'est quoi ton secret pour une mayonnaise qui ne rate jamais ?",
    "Can I freeze your pesto or is it better fresh?",
    "Quel vin tu servirais avec ta tarte à l'oignon ?",
]

Prompt = list[dict[str, str]]


# -- the model server and a counting relay in front of it -------------------------------------


def start_model(model: str, threads: int, slots: int, models_data_dir: Path) -> Any:
    """The embedded llama.cpp server, as the product starts it (slots = reply candidates)."""
    from channels.services import llm_config
    from channels.settings import Settings
    from persona.llm import open_backend

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=models_data_dir,  # only its models/: the packaged GGUF, assembled once
        packaged_model=model,
        llm_threads=threads,
        reply_candidates=slots,
    )
    return open_backend(llm_config(settings))


class CountingRelay:
    """A TCP relay on loopback that counts chat-completion requests on their way through.

    A byte relay, not an HTTP proxy: it adds one loopback hop and no parsing, and the
    platform and the baseline both go through it, so the hop is in both sides of a ratio."""

    MARK = b"POST /v1/chat/completions"

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.calls = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def pump(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, up: bool
        ) -> None:
            try:
                while data := await reader.read(65536):
                    if up:
                        self.calls += data.count(self.MARK)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))

        async def serve() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            async with server:
                await server.serve_forever()

        self._loop.run_until_complete(serve())


class TimingModel:
    """A stand-in model server that costs no CPU: OpenAI-compatible chat completions
    (streamed or not) that take a model's time, `ttft_s` before the first token and
    `per_token_s` a token after it, `slots` at a time (more wait, as in llama.cpp). The
    platform's added time shows on a busy 2-core machine without the model eating the cores;
    its replies are short varied sentences the engine's checks accept."""

    def __init__(self, slots: int, ttft_s: float, per_token_s: float, tokens: int) -> None:
        self.slots = threading.BoundedSemaphore(slots)
        self.ttft_s, self.per_token_s, self.tokens = ttft_s, per_token_s, tokens
        self.prompt_tokens = 0
        self.generated = 0
        self._n = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.api_key = "none"
        self.model = "timing-stub"
        self.pid = os.getpid()

    # Natural short replies with no numbers, in the language the prompt asks for, varied:
    # a stub reply the engine's checks reject would measure its rescue round instead.
    PARTS = {
        "en": (
            (
                "Aww thank you so much!",
                "Oh that makes me so happy!",
                "Thanks for the sweet message!",
                "You just made my day!",
            ),
            (
                "I love hearing that the recipes work for you at home.",
                "Cooking for the people you love is the best part.",
                "Keep it simple, good butter and a little patience.",
                "Take your time and taste as you go.",
            ),
            ("Happy cooking!", "Enjoy every bite!", "Tell me how it goes!", "Bon appétit!"),
        ),
        "fr": (
            (
                "Oh merci beaucoup !",
                "Ça me fait tellement plaisir !",
                "Merci pour ton gentil message !",
                "Tu as illuminé ma journée !",
            ),
            (
                "J'adore savoir que les recettes marchent chez toi.",
                "Cuisiner pour ceux qu'on aime, c'est le meilleur.",
                "Reste simple, du bon beurre et un peu de patience.",
                "Prends ton temps et goûte au fur et à mesure.",
            ),
            ("Bonne cuisine !", "Régale-toi !", "Tu me diras !", "Bon appétit !"),
        ),
    }

    def _words(self, prompt: str) -> list[str]:
        with self._lock:
            self._n += 1
            n = self._n
        a, b, c = self.PARTS["fr" if "Reply in French" in prompt else "en"]
        text = f"{a[n % 4]} {b[(n // 4) % 4]} {c[(n // 16) % 4]}"
        return text.split(" ")[: self.tokens]

    def metrics(self) -> dict[str, float]:
        with self._lock:
            return {
                "llamacpp:prompt_tokens_total": float(self.prompt_tokens),
                "llamacpp:tokens_predicted_total": float(self.generated),
            }

    def start(self) -> int:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._send({"object": "list", "data": [{"id": stub.model, "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = sum(len(str(m.get("content", ""))) for m in request["messages"]) // 4
                limit = int(request.get("max_completion_tokens") or request.get("max_tokens") or 9)
                last = str(request["messages"][-1].get("content", ""))
                words = stub._words(last)[: max(1, limit)]
                base = {"id": "stub", "created": 0, "model": stub.model}
                usage = {
                    "prompt_tokens": prompt,
                    "completion_tokens": len(words),
                    "total_tokens": prompt + len(words),
                }
                with stub.slots:
                    with stub._lock:
                        stub.prompt_tokens += prompt
                        stub.generated += len(words)
                    time.sleep(stub.ttft_s)
                    if not request.get("stream"):
                        time.sleep(stub.per_token_s * (len(words) - 1))
                        message = {"role": "assistant", "content": " ".join(words)}
                        choice = {"index": 0, "message": message, "finish_reason": "stop"}
                        self._send(
                            {
                                **base,
                                "object": "chat.completion",
                                "choices": [choice],
                                "usage": usage,
                            }
                        )
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for i, word in enumerate(words):
                        if i:
                            time.sleep(stub.per_token_s)
                        delta = {"role": "assistant", "content": ("" if i == 0 else " ") + word}
                        event = {
                            **base,
                            "object": "chat.completion.chunk",
                            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                        }
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    end = {"index": 0, "delta": {}, "finish_reason": "stop"}
                    for event in (
                        {**base, "object": "chat.completion.chunk", "choices": [end]},
                        {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage},
                    ):
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def prime_slots(base: str, key: str, model: str, prefix: Prompt, slots: int) -> None:
    """Leave the path's constant prompt prefix in every slot of the model server, before
    the platform's batch and before the baseline's alike: neither then finds the other's
    prefix (another channel's) in the cache, nor its own left there by the side before."""

    def one(i: int) -> None:
        body = {
            "model": model,
            "messages": [*prefix, {"role": "user", "content": f"(prime {i}) hello"}],
            "max_completion_tokens": 1,
        }
        httpx.post(
            f"{base}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=1800,
        ).raise_for_status()

    with ThreadPoolExecutor(slots) as pool:
        list(pool.map(one, range(slots)))


# -- data and the platform -------------------------------------------------------------------


def prepare_data(
    data_dir: Path, llm_env: dict[str, str], messages: list[str], paths: list[str]
) -> tuple[str, dict[tuple[str, str], Prompt]]:
    """The demo creator in a fresh data dir, her API token, DM replies without the human-like
    delay, and the engine's prompt for each (path, message) (the constant prefix and the bare
    message where the engine would answer without the model)."""
    from channels.demo_creator import ensure_demo
    from channels.deps import new_api_token
    from channels.inbox.policy import load_policy, store_policy
    from channels.services import Services
    from channels.settings import Settings
    from persona.engine import Channel, ReplyRequest, ReplyResult
    from persona.store import Creator

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
        with services.db.session() as session:
            row = session.get(Creator, creator)
            assert row is not None
            policy = load_policy(row.settings or {}, "dm")
            policy = type(policy).model_validate(
                policy.model_dump() | {"reply_delay": {"min_s": 0.0, "max_s": 0.0}}
            )
            row.settings = store_policy(row.settings or {}, "dm", policy)
        engine = services.engine
        prompts: dict[tuple[str, str], Prompt] = {}
        for path in paths:
            prefix: Prompt = []
            channel = Channel(CHANNEL_OF[path])
            for message in messages:
                prepared = engine._prepare(ReplyRequest(creator, message, channel, record=False))
                if not isinstance(prepared, ReplyResult):
                    prompt = [
                        {"role": ROLES[m.type], "content": str(m.content)}
                        for m in prepared.messages
                    ]
                    prompts[path, message] = prompt
                    prefix = prompt[:-1]
            for message in messages:
                prompts.setdefault((path, message), [*prefix, {"role": "user", "content": message}])
        return token, prompts
    finally:
        services.close()


def start_platform(
    data_dir: Path, env_extra: dict[str, str], log_path: Path, timeout_s: float = 300.0
) -> tuple[subprocess.Popen[bytes], str]:
    """`persona serve` in a child process on loopback; returns it once /healthz answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    env.update(env_extra)
    env.update(
        {
            "PERSONA_DATA_DIR": str(data_dir),
            "PERSONA_LOG_LEVEL": "WARNING",
            "PERSONA_WEBHOOK_SECRETS": json.dumps({PLATFORM: SECRET}),
            "PERSONA_CALLBACK_ALLOW_PRIVATE": "true",
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


class Callbacks:
    """The platform's callback endpoint: the arrival time and text of each DM reply."""

    def __init__(self) -> None:
        self.arrived: dict[str, tuple[float, str]] = {}
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                now = time.perf_counter()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with sink._cond:
                    sink.arrived.setdefault(
                        str(body.get("in_reply_to")), (now, body.get("text", ""))
                    )
                    sink._cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/callback"

    def wait(self, message_id: str, timeout_s: float) -> tuple[float, str] | None:
        with self._cond:
            self._cond.wait_for(lambda: message_id in self.arrived, timeout_s)
            return self.arrived.get(message_id)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# -- one fan ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    level: int
    path: str  # api | space | dm, or raw-api | raw-space | raw-dm
    message: str
    ttft_s: float  # nan for a DM (it arrives whole)
    total_s: float
    text: str
    outcome: str


@dataclass(slots=True)
class Batch:
    level: int
    path: str
    samples: list[Sample] = field(default_factory=list)
    calls: int = 0  # chat completions seen by the relay during the batch
    evaluated: float = float("nan")  # prompt tokens the model evaluated (not from its cache)
    generated: float = float("nan")
    wall_s: float = 0.0
    load: float = 0.0


def fan_api(url: str, token: str, message: str, level: int) -> Sample:
    body = {
        "model": CREATOR,
        "messages": [{"role": "user", "content": message}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.Client(timeout=1800, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        start, first, pieces, _usage, outcome = read_sse(
            client, f"{url}/v1/chat/completions", token, body
        )
    end = time.perf_counter()
    persona = outcome.get("persona") or {}
    return Sample(
        level,
        "api",
        message,
        (first or end) - start,
        end - start,
        persona.get("text") or "".join(pieces),
        f"{persona.get('action')}/{outcome.get('finish')}",
    )


def fan_space(url: str, message: str, level: int) -> Sample:
    s = via_space(url, message)
    return Sample(level, "space", message, s.ttft_s, s.total_s, s.text, s.outcome)


def fan_dm(url: str, callbacks: Callbacks, callback_url: str, message: str, level: int) -> Sample:
    from channels.inbox.signing import signed_headers

    message_id = f"m-{uuid.uuid4().hex[:12]}"
    fan = f"fan-{uuid.uuid4().hex[:8]}"
    event = {
        "type": "dm",
        "creator_id": CREATOR,
        "message_id": message_id,
        "fan": {"id": fan, "handle": fan, "name": "Sam"},
        "text": message,
        "callback_url": callback_url,
    }
    body = json.dumps(event).encode()
    headers = {**signed_headers(SECRET, body), "Content-Type": "application/json"}
    start = time.perf_counter()
    response = httpx.post(f"{url}/webhooks/{PLATFORM}", content=body, headers=headers, timeout=60)
    if response.status_code != 202:
        raise RuntimeError(f"webhook: HTTP {response.status_code} {response.text[:200]}")
    arrived = callbacks.wait(message_id, 1800)
    if arrived is None:  # held, skipped or lost: counted as no reply, at the timeout
        return Sample(level, "dm", message, float("nan"), float("nan"), "", "no callback")
    return Sample(level, "dm", message, float("nan"), arrived[0] - start, arrived[1], "sent")


def raw_stream(
    base: str, key: str, model: str, prompt: Prompt, max_tokens: int
) -> tuple[float, float, str]:
    body = {
        "model": model,
        "messages": uncached(prompt),
        **RAW_SAMPLING,
        "max_completion_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.Client(timeout=1800, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        start, first, pieces, _usage, _outcome = read_sse(
            client, f"{base}/chat/completions", key, body
        )
    end = time.perf_counter()
    return (first or end) - start, end - start, "".join(pieces)


def raw_fan(
    base: str,
    key: str,
    model: str,
    path: str,
    prompt: Prompt,
    message: str,
    level: int,
    candidates: int,
    max_tokens: int,
) -> Sample:
    if path != "dm":
        ttft, total, text = raw_stream(base, key, model, prompt, max_tokens)
        return Sample(level, f"raw-{path}", message, ttft, total, text, "stream")
    # A DM's bare need: its candidates, at once, not streamed (as the engine's `reply`).
    fresh = uncached(prompt)

    def one(seed: int) -> str:
        body = {
            "model": model,
            "messages": fresh,
            **RAW_SAMPLING,
            "seed": seed,
            "logprobs": True,
            "max_completion_tokens": max_tokens,
        }
        response = httpx.post(
            f"{base}/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=1800,
        )
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])

    start = time.perf_counter()
    with ThreadPoolExecutor(candidates) as pool:
        texts = list(pool.map(one, range(candidates)))
    return Sample(level, "raw-dm", message, float("nan"), time.perf_counter() - start, texts[0], "")


def run_batch(
    level: int,
    path: str,
    fans: list[Callable[[], Sample]],
    relay: CountingRelay,
    server: Any,
) -> Batch:
    """All of a batch's fans at the same moment (a barrier), with the model's counters."""
    before_calls = relay.calls
    before = server.metrics()
    barrier = threading.Barrier(len(fans))

    def go(fan: Callable[[], Sample]) -> Sample:
        barrier.wait()
        return fan()

    started = time.perf_counter()
    with ThreadPoolExecutor(len(fans)) as pool:
        samples = list(pool.map(go, fans))
    batch = Batch(level, path, samples, wall_s=time.perf_counter() - started)
    time.sleep(0.5)  # the relay counts on its own thread
    after = server.metrics()
    batch.calls = relay.calls - before_calls
    nan = float("nan")
    batch.evaluated = after.get("llamacpp:prompt_tokens_total", nan) - before.get(
        "llamacpp:prompt_tokens_total", nan
    )
    batch.generated = after.get("llamacpp:tokens_predicted_total", nan) - before.get(
        "llamacpp:tokens_predicted_total", nan
    )
    batch.load = os.getloadavg()[0]
    return batch


# -- report ----------------------------------------------------------------------------------


def p50(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def vmax(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return max(values) if values else float("nan")


def summarise(batches: list[Batch]) -> list[dict[str, Any]]:
    by = {(b.level, b.path): b for b in batches}
    rows = []
    for (level, path), b in by.items():
        if path.startswith("raw-"):
            continue
        raw = by.get((level, f"raw-{path}"))
        if raw is None:
            continue
        n = len(b.samples)
        row: dict[str, Any] = {
            "level": level,
            "path": path,
            "ttft_p50": p50([s.ttft_s for s in b.samples]),
            "ttft_max": vmax([s.ttft_s for s in b.samples]),
            "total_p50": p50([s.total_s for s in b.samples]),
            "total_max": vmax([s.total_s for s in b.samples]),
            "raw_ttft_p50": p50([s.ttft_s for s in raw.samples]),
            "raw_total_p50": p50([s.total_s for s in raw.samples]),
            "raw_total_max": vmax([s.total_s for s in raw.samples]),
            "calls": b.calls / n,
            "raw_calls": raw.calls / n,
            "evaluated": b.evaluated / n,
            "raw_evaluated": raw.evaluated / n,
            "generated": b.generated / n,
            "raw_generated": raw.generated / n,
            "no_reply": sum(not s.text.strip() for s in b.samples),
            "load": (b.load + raw.load) / 2,
        }
        row["ttft_ratio"] = row["ttft_p50"] / row["raw_ttft_p50"]
        row["total_ratio"] = row["total_p50"] / row["raw_total_p50"]
        rows.append(row)
    order = {p: i for i, p in enumerate(PATHS)}
    return sorted(rows, key=lambda r: (r["level"], order[r["path"]]))


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def render(rows: list[dict[str, Any]]) -> str:
    names = {"api": "`/v1` stream", "space": "space websocket", "dm": "DM (webhook -> callback)"}
    return table(
        [
            "fans",
            "path",
            "TTFT p50 / max s",
            "raw TTFT p50 s",
            "TTFT ratio",
            "total p50 / max s",
            "raw total p50 / max s",
            "total ratio",
            "model calls a reply (raw)",
            "prompt tok evaluated a reply (raw)",
            "tok generated a reply (raw)",
            "no reply",
            "load (1 min)",
        ],
        [
            [
                str(r["level"]),
                names[r["path"]],
                f"{fmt(r['ttft_p50'])} / {fmt(r['ttft_max'])}",
                fmt(r["raw_ttft_p50"]),
                fmt(r["ttft_ratio"], 2),
                f"{fmt(r['total_p50'])} / {fmt(r['total_max'])}",
                f"{fmt(r['raw_total_p50'])} / {fmt(r['raw_total_max'])}",
                f"**{fmt(r['total_ratio'], 2)}**",
                f"{fmt(r['calls'])} ({fmt(r['raw_calls'])})",
                f"{fmt(r['evaluated'], 0)} ({fmt(r['raw_evaluated'], 0)})",
                f"{fmt(r['generated'], 0)} ({fmt(r['raw_generated'], 0)})",
                str(r["no_reply"]),
                fmt(r["load"]),
            ]
            for r in rows
        ],
    )


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default="qwen2.5-coder-1.5b",
        choices=["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "stub"],
        help="a packaged model on the embedded llama.cpp server, or `stub` (TimingModel)",
    )
    parser.add_argument("--stub-ttft", type=float, default=1.0, help="stub: s to 1st token")
    parser.add_argument("--stub-token", type=float, default=0.05, help="stub: s a token")
    parser.add_argument("--stub-tokens", type=int, default=24, help="stub: tokens a reply")
    parser.add_argument("--fans", default="1,4,8", help="levels of concurrency")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    parser.add_argument(
        "--candidates", type=int, default=3, help="PERSONA_REPLY_CANDIDATES (= model slots)"
    )
    parser.add_argument("--max-tokens", type=int, default=120, help="PERSONA_REPLY_MAX_TOKENS")
    parser.add_argument("--models-data-dir", type=Path, default=REPO / ".data" / "bench-models")
    parser.add_argument("--benchmarks", action="store_true")
    args = parser.parse_args()
    levels = [int(x) for x in args.fans.split(",")]
    paths = [p for p in args.paths.split(",") if p]
    if any(p not in PATHS for p in paths) or max(levels) > len(FAN_MESSAGES) // len(paths):
        parser.error(f"paths among {PATHS}; at most {len(FAN_MESSAGES) // len(paths)} fans")

    load_start = os.getloadavg()[0]
    print(
        f"{machine_line()}, load {load_start:.2f}; {args.model}, {args.threads} thread(s), "
        f"{args.candidates} candidates/slots, levels {levels}, paths {paths}",
        flush=True,
    )
    batches: list[Batch] = []
    platform: subprocess.Popen[bytes] | None = None
    backend: Any = None
    stub: TimingModel | None = None
    callbacks = Callbacks()
    with tempfile.TemporaryDirectory(prefix="bench-fans-") as tmp:
        try:
            started = time.perf_counter()
            if args.model == "stub":
                stub = TimingModel(
                    args.candidates, args.stub_ttft, args.stub_token, args.stub_tokens
                )
                server, port, key, model_name = stub, stub.start(), stub.api_key, stub.model
            else:
                backend = start_model(
                    args.model, args.threads, args.candidates, args.models_data_dir
                )
                server, key, model_name = backend.server, backend.api_key, backend.config.model
                port = int(backend.base_url.rsplit(":", 1)[1].split("/")[0])
            direct = f"http://127.0.0.1:{port}/v1"
            relay = CountingRelay(port)
            base = f"http://127.0.0.1:{relay.start()}/v1"
            print(
                f"model server pid {server.pid}, ready in "
                f"{time.perf_counter() - started:.1f} s; relay {base}",
                flush=True,
            )
            llm_env = {
                "PERSONA_LLM_BACKEND": "openai",
                "PERSONA_LLM_BASE_URL": base,
                "PERSONA_LLM_API_KEY": key,
                "PERSONA_LLM_MODEL": model_name,
                "PERSONA_REPLY_MAX_TOKENS": str(args.max_tokens),
                "PERSONA_REPLY_CANDIDATES": str(args.candidates),
            }
            data_dir = Path(tmp) / "data"
            token, prompts = prepare_data(data_dir, llm_env, FAN_MESSAGES, paths)
            callback_url = callbacks.start()
            platform, url = start_platform(data_dir, llm_env, Path(tmp) / "server.log")
            print(f"platform pid {platform.pid} at {url}", flush=True)
            fan_of: dict[str, Callable[[str, int], Sample]] = {
                "api": lambda m, lv: fan_api(url, token, m, lv),
                "space": lambda m, lv: fan_space(url, m, lv),
                "dm": lambda m, lv: fan_dm(url, callbacks, callback_url, m, lv),
            }
            # Warm-up, not counted: each path once (the start-up's warm-up, the first DM).
            for path in paths:
                warm = run_batch(
                    0, path, [lambda p=path: fan_of[p]("Hello Camille!", 0)], relay, server
                )
                print(f"warm-up {path}: {warm.samples[0].total_s:.1f} s", flush=True)
            for i, level in enumerate(levels):
                order = paths[i % len(paths) :] + paths[: i % len(paths)]
                for j, path in enumerate(order):
                    messages = FAN_MESSAGES[j * level : (j + 1) * level]
                    for kind in (path, f"raw-{path}"):
                        if kind == path:
                            fans = [
                                lambda m=m, p=path, lv=level: fan_of[p](m, lv) for m in messages
                            ]
                        else:
                            fans = [
                                lambda m=m, p=path, lv=level: raw_fan(
                                    base,
                                    key,
                                    model_name,
                                    p,
                                    prompts[p, m],
                                    m,
                                    lv,
                                    args.candidates,
                                    args.max_tokens,
                                )
                                for m in messages
                            ]
                        if args.model != "stub":
                            prefix = prompts[path, messages[0]][:-1]
                            prime_slots(direct, key, model_name, prefix, args.candidates)
                        batch = run_batch(level, kind, fans, relay, server)
                        batches.append(batch)
                        print(
                            f"[{level} fans] {kind:9} wall {batch.wall_s:6.1f} s, TTFT p50 "
                            f"{fmt(p50([s.ttft_s for s in batch.samples]))} s, total p50 "
                            f"{fmt(p50([s.total_s for s in batch.samples]))} max "
                            f"{fmt(vmax([s.total_s for s in batch.samples]))} s, calls "
                            f"{batch.calls}, evaluated {batch.evaluated:.0f}, generated "
                            f"{batch.generated:.0f}, load {batch.load:.2f}",
                            flush=True,
                        )
        finally:
            if platform is not None:
                stop_process(platform)
            if backend is not None:
                backend.stop()
            if stub is not None:
                stub.stop()
            callbacks.stop()
    load_end = os.getloadavg()[0]
    rows = summarise(batches)
    print()
    print(render(rows))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "load": [load_start, load_end],
                "rows": rows,
                "batches": [asdict(b) for b in batches],
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    print(f"\nsamples: {OUT.relative_to(REPO)}")
    if args.benchmarks:
        write_section(TITLE, section(args, rows, (load_start, load_end)))
        print(f"updated BENCHMARKS.md ({TITLE})")


def section(args: argparse.Namespace, rows: list[dict[str, Any]], load: tuple[float, float]) -> str:
    if args.model == "stub":
        model = (
            f"A stand-in model server (`TimingModel`: {args.stub_ttft:g} s to the first token, "
            f"{args.stub_token:g} s a token, {args.stub_tokens} tokens a reply, "
            f"{args.candidates} requests at a time, no CPU)"
        )
        command_model = (
            f"stub --stub-ttft {args.stub_ttft:g} --stub-token {args.stub_token:g} "
            f"--stub-tokens {args.stub_tokens}"
        )
    else:
        import xllamacpp  # only for its version string

        model = (
            f"One embedded llama.cpp server ({args.model}, Q4, {args.threads} thread(s), "
            f"{args.candidates} slots, xllamacpp {xllamacpp.__version__}; before each batch "
            "every slot is primed with the path's constant prompt prefix)"
        )
        command_model = f"{args.model} --threads {args.threads}"
    return (
        f"`python -m bench.bench_fans --model {command_model} --fans {args.fans} --paths "
        f"{args.paths} --candidates {args.candidates}` — {machine_line()}, 1-minute load "
        f"average {load[0]:.1f} at the start and {load[1]:.1f} at the end, per row in the "
        f"table (other jobs shared the machine). {model} serves the platform (`persona "
        "serve`: uvicorn, one process, SQLite, the demo creator, "
        f"PERSONA_REPLY_CANDIDATES={args.candidates}, the DM reply delay set to 0) and the "
        "baseline, both through one counting TCP relay. For each row N fans write at once, "
        "each a different message; then the bare model gets the same N prompts at once (the "
        "engine's own prompt, its per-message part made new for the prompt cache): one "
        f"streamed call a fan for `/v1` and the space, {args.candidates} calls (the "
        "candidates, not streamed) a fan for a DM. Ratio = platform p50 / bare p50 of the "
        "same row.\n\n"
        f"{render(rows)}\n"
    )


if __name__ == "__main__":
    main()
