"""Latency of the packaged chat models, side by side in one run (issue 13, item 4).

For each configuration (the packaged Qwen2.5-Coder-0.5B; the 1.5B; the 1.5B with the 0.5B as
llama.cpp's draft model) the embedded server is started the way the product starts it
(`channels.services.llm_config` -> `persona.llm.open_backend`, production settings: 1 thread,
PERSONA_REPLY_CANDIDATES slots), then the same persona prompts (built with
`persona.engine.prompt` from real posts of three creators of the dev file, fan messages written
here) are streamed one at a time with the product's sampling (temperature 0.7, top_p 0.9) and a
fixed seed. Measured per configuration:

- load: `open_backend` until the server answers (packaged model already assembled);
- time to first token (first content chunk), p50 / p95;
- decode tok/s = (completion tokens - 1) / (last chunk - first chunk), median;
- prompt tok/s: llama.cpp's `timings.prompt_per_second` on the prompts it did not have cached;
- total time per reply p50 / p95; draft tokens accepted / drafted (speculative only).

The configurations run sequentially in one process so that the figures compare; the load
average at the start is printed. Replies go to bench/out/model_compare_replies.json.

    python bench/bench_models.py [--configs 0.5b,1.5b,1.5b+draft] [--max-tokens 120]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from channels.services import llm_config  # noqa: E402
from channels.settings import Settings  # noqa: E402
from persona.engine.prompt import (  # noqa: E402
    Example,
    build_messages,
    context_block,
    example_messages,
    system_prompt,
)
from persona.engine.types import Channel  # noqa: E402
from persona.llm import open_backend  # noqa: E402
from persona.llm.packaged_model import packaged_model_installed  # noqa: E402
from persona.retrieval.index import Hit  # noqa: E402

TWEETS = REPO.parent / "shared" / "data" / "creators" / "tweets_dev.csv"
OUT = REPO / "bench" / "out" / "model_compare_replies.json"
ROLES = {"system": "system", "human": "user", "ai": "assistant"}  # langchain -> OpenAI

# name -> PERSONA_PACKAGED_MODEL, PERSONA_DRAFT_MODEL and the draft knobs (settings otherwise)
CONFIGS: dict[str, dict[str, Any]] = {
    "0.5b": {"packaged_model": "qwen2.5-coder-0.5b"},
    "1.5b": {"packaged_model": "qwen2.5-coder-1.5b"},
    "1.5b+draft": {"packaged_model": "qwen2.5-coder-1.5b", "draft_model": "qwen2.5-coder-0.5b"},
    "1.5b+draft(4,0.75)": {
        "packaged_model": "qwen2.5-coder-1.5b",
        "draft_model": "qwen2.5-coder-0.5b",
        "draft_max": 4,
        "draft_p_min": 0.75,
    },
}

STYLE = {
    "KimKardashian": "Short, upbeat posts about her brands, family and projects; exclamation "
    "marks, a few emojis, thanks fans warmly.",
    "hadleywickham": "Plain, precise and friendly; talks about R, the tidyverse, data science "
    "and teaching; dry humour, no emojis.",
    "khloekardashian": "Warm, chatty and motivational; fitness, family and her daughter; "
    "hearts and exclamation marks.",
}
FAN_MESSAGES = {
    "KimKardashian": [
        "omg I love the new perfume!! which one is your favourite?",
        "What are you working on these days?",
        "How do you stay motivated when things get hard?",
        "happy birthday to your little one!! 🎉",
    ],
    "hadleywickham": [
        "What's the best way to start learning R in 2019?",
        "I love your stuff!! What's your favorite thing right now?",
        "Any tips for writing a first R package?",
        "Thanks for the tidyverse style guide, it helped my team a lot",
    ],
    "khloekardashian": [
        "How do you stay motivated to work out every day?",
        "What are you working on these days?",
        "Bonjour Khloé ! Tu as un conseil pour garder la forme ?",
        "You made my day with your last post, thank you!",
    ],
}


@dataclass
class Reply:
    creator: str
    fan: str
    text: str = ""
    ttft_s: float = 0.0
    total_s: float = 0.0
    decode_tps: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConfigResult:
    name: str
    packaged_model: str
    draft_model: str | None
    overrides: dict[str, Any] = field(default_factory=dict)
    load_s: float = 0.0
    replies: list[Reply] = field(default_factory=list)
    error: str | None = None


def _creator_posts() -> dict[str, list[dict[str, str]]]:
    rows: dict[str, list[dict[str, str]]] = {name: [] for name in FAN_MESSAGES}
    with TWEETS.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["name"] in rows:
                rows[row["name"]].append(row)
    return rows


def _strip_handles(text: str) -> str:
    words = text.split()
    while words and words[0].startswith("@"):
        words.pop(0)
    return " ".join(words)


def build_prompts() -> list[tuple[str, str, list[dict[str, str]]]]:
    """(creator, fan message, OpenAI messages) built with the product's prompt code."""
    posts = _creator_posts()
    prompts = []
    for creator, fans in FAN_MESSAGES.items():
        mine = sorted(posts[creator], key=lambda r: r["created"], reverse=True)
        replies = [_strip_handles(r["text"]) for r in mine if r["text"].startswith("@")]
        broadcasts = [r["text"] for r in mine if not r["text"].startswith("@")]
        examples = [Example(None, text[:280]) for text in replies if len(text.split()) >= 3][:6]
        notes = [
            Hit(id=str(i), text=text[:280], kind="post", score=0.5, metadata={})
            for i, text in enumerate(t for t in broadcasts if len(t.split()) >= 5)
        ][:4]
        system = system_prompt(creator, STYLE[creator], "")
        shots = example_messages(creator, examples)
        for fan in fans:
            context = context_block(creator, Channel.DM, None, "", [], notes, [], [], None, 60)
            messages = build_messages(system, shots, context, fan)
            prompts.append(
                (creator, fan, [{"role": ROLES[m.type], "content": m.content} for m in messages])
            )
    return prompts


def stream_reply(
    client: httpx.Client, url: str, key: str, messages: list[dict[str, str]], max_tokens: int
) -> tuple[str, float, float, float, dict[str, Any], dict[str, Any]]:
    body = {
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": max_tokens,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 7,
    }
    text, first, last, usage, timings = [], 0.0, 0.0, {}, {}
    start = time.perf_counter()
    with client.stream(
        "POST", f"{url}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            usage = chunk.get("usage") or usage
            timings = chunk.get("timings") or timings
            for choice in chunk.get("choices", []):
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    text.append(delta)
    end = time.perf_counter()
    return "".join(text), start, first or end, last or end, usage, timings | {"_end": end}


def run_config(name: str, data_dir: Path, prompts: list[Any], max_tokens: int) -> ConfigResult:
    overrides = CONFIGS[name]
    packaged, draft = overrides["packaged_model"], overrides.get("draft_model")
    result = ConfigResult(name, packaged, draft, dict(overrides))
    if not all(packaged_model_installed(m) for m in (packaged, draft) if m):
        result.error = "packaged model not installed (pip install -e '.[model-1-5b]')"
        return result
    settings = Settings(data_dir=data_dir, **overrides)
    start = time.perf_counter()
    backend = open_backend(llm_config(settings))
    result.load_s = time.perf_counter() - start
    draft_knobs = f", draft_max={settings.draft_max}, draft_p_min={settings.draft_p_min}"
    print(
        f"[{name}] ready in {result.load_s:.1f} s (threads={settings.llm_threads}, "
        f"parallel={settings.reply_candidates}{draft_knobs if draft else ''})",
        flush=True,
    )
    try:
        # No keep-alive: llama.cpp's server may close a connection after a streamed reply, and
        # httpx would then fail the next request on it ("Server disconnected").
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=600, limits=limits) as client:
            for creator, fan, messages in prompts:
                text, t0, first, last, usage, timings = stream_reply(
                    client, backend.base_url, backend.api_key, messages, max_tokens
                )
                done = timings.pop("_end")
                tokens = int(usage.get("completion_tokens", 0))
                reply = Reply(
                    creator,
                    fan,
                    text.strip(),
                    ttft_s=first - t0,
                    total_s=done - t0,
                    decode_tps=(tokens - 1) / (last - first) if tokens > 1 and last > first else 0,
                    prompt_tokens=int(usage.get("prompt_tokens", 0)),
                    completion_tokens=tokens,
                    timings=timings,
                )
                result.replies.append(reply)
                print(
                    f"[{name}] {creator}: ttft {reply.ttft_s:.1f} s, total "
                    f"{reply.total_s:.1f} s, {tokens} tok, {reply.decode_tps:.1f} tok/s: "
                    f"{reply.text[:70]!r}",
                    flush=True,
                )
    finally:
        backend.stop()
    return result


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(result: ConfigResult) -> dict[str, Any]:
    replies = result.replies
    ttft = [r.ttft_s for r in replies]
    total = [r.total_s for r in replies]
    prompt_rates = [
        r.timings["prompt_per_second"]
        for r in replies
        if r.timings.get("prompt_n", 0) >= 32 and "prompt_per_second" in r.timings
    ]
    drafted = sum(int(r.timings.get("draft_n", 0)) for r in replies)
    accepted = sum(int(r.timings.get("draft_n_accepted", 0)) for r in replies)
    return {
        "config": result.name,
        "load_s": result.load_s,
        "ttft_p50": _pct(ttft, 0.5),
        "ttft_p95": _pct(ttft, 0.95),
        "decode_tps": statistics.median([r.decode_tps for r in replies]) if replies else 0.0,
        "prompt_tps": statistics.median(prompt_rates) if prompt_rates else 0.0,
        "total_p50": _pct(total, 0.5),
        "total_p95": _pct(total, 0.95),
        "tokens_mean": statistics.mean([r.completion_tokens for r in replies]) if replies else 0,
        "draft": f"{accepted}/{drafted} ({accepted / drafted:.0%})" if drafted else "-",
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| configuration | load | TTFT p50 / p95 | decode tok/s (median) | prompt tok/s "
        "(median, uncached >= 32 tok) | reply total p50 / p95 | mean reply tokens | draft "
        "accepted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['config']} | {r['load_s']:.1f} s | {r['ttft_p50']:.1f} / {r['ttft_p95']:.1f} s "
            f"| {r['decode_tps']:.1f} | {r['prompt_tps']:.1f} | {r['total_p50']:.1f} / "
            f"{r['total_p95']:.1f} s | {r['tokens_mean']:.0f} | {r['draft']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--max-tokens", type=int, default=120)  # PERSONA_REPLY_MAX_TOKENS
    parser.add_argument("--limit", type=int, default=0, help="first N prompts only")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO / ".data" / "bench-models",
        help="where the packaged models are assembled (models/)",
    )
    args = parser.parse_args()
    prompts = build_prompts()
    if args.limit:
        prompts = prompts[: args.limit]
    load = os.getloadavg()
    print(
        f"{date.today()} {platform.machine()} {os.cpu_count()} cores, load average at start "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; {len(prompts)} prompts, "
        f"max {args.max_tokens} tokens",
        flush=True,
    )
    results = [
        run_config(name, args.data_dir, prompts, args.max_tokens)
        for name in args.configs.split(",")
    ]
    rows = [summary(r) for r in results if r.error is None]
    for r in results:
        if r.error:
            print(f"[{r.name}] skipped: {r.error}")
    print()
    print(table(rows))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "date": str(date.today()),
                "load_average_at_start": load,
                "max_tokens": args.max_tokens,
                "summary": rows,
                "configs": [asdict(r) for r in results],
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    print(f"\nreplies: {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
