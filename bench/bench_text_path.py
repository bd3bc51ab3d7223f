"""Text path benchmarks, each against its raw baseline in the same run:

1. ingest throughput vs a bare sentence-transformers encode of the same texts (target >= 0.8);
2. the reply path's own overhead (everything but the model call) at ~7k posts (p50 <= 20 ms).

Usage: python -m bench.bench_text_path [--csv ../shared/data/creators/tweets_dev.csv]
Model decode speed and time to first token are in bench/bench_llm.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.report import machine_line, table, write_section

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = REPO.parent / "shared" / "data" / "creators" / "tweets_dev.csv"

FAN_MESSAGES = [
    "I love you so much!!",
    "what's your favourite recipe?",
    "Happy birthday!! 🎉",
    "how do you stay so positive?",
    "when is the next launch?",
    "any advice for learning to code?",
    "you're my inspiration",
    "can you follow me back please",
]


# The engine's own step timings (ReplyResult.timings_ms), as reported per step.
STEPS = ("inbound", "embed", "search", "memory", "prompt", "check", "fact_check")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--replies", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    import tests.doubles  # noqa: F401 - the scripted model isolates the engine's own cost
    from channels.services import Services
    from channels.settings import Settings
    from ingest.pipeline import ingest_file
    from ingest.sources import load_posts
    from persona.engine import Channel, ReplyRequest

    if args.csv.exists():
        source, kwargs = args.csv, {"creator_column": "name"}
    else:
        from ingest.demo import DEMO_CREATOR_ID, demo_posts_path

        print(f"{args.csv} not found: using the demo creator (smaller)")
        source, kwargs = demo_posts_path(), {"creator": DEMO_CREATOR_ID}

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            llm_backend="scripted",
            embed_threads=args.threads,
            log_level="WARNING",
        )
        services = Services.build(settings)
        records = list(load_posts(source, **kwargs))
        texts = [r.clean_text for r in records]
        model = services.embeddings.model  # load outside both timings
        model.encode(texts[:64])
        services.embeddings.warm_up()  # the query path's ONNX export, outside the timings

        t0 = time.perf_counter()
        services.embeddings.encode(texts)
        bare_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        report = ingest_file(services.ingestor(), source, **kwargs)
        ours_s = time.perf_counter() - t0
        n = len(texts)
        ratio = (report.added / ours_s) / (n / bare_s)

        creators = sorted(report.creators)
        engine = services.engine
        overheads: list[float] = []
        totals: list[float] = []
        steps: dict[str, list[float]] = {}
        load_start = os.getloadavg()[0]

        async def replies() -> None:
            for i in range(args.replies):
                request = ReplyRequest(
                    creators[i % len(creators)],
                    f"{FAN_MESSAGES[i % len(FAN_MESSAGES)]} ({i})",
                    Channel.DM,
                    fan_handle=f"fan{i % 50}",
                )
                result = await engine.reply(request)
                t = result.timings_ms
                totals.append(t["total"])
                overheads.append(t["total"] - t.get("generate", 0.0))
                for step in STEPS:
                    if step in t:
                        steps.setdefault(step, []).append(t[step])

        asyncio.run(replies())
        load_end = os.getloadavg()[0]
        services.close()

    rows = [
        ["ingest: bare encode", f"{n / bare_s:.0f} posts/s", f"{bare_s:.1f} s for {n} posts"],
        [
            "ingest: full pipeline",
            f"{report.added / ours_s:.0f} posts/s",
            f"{ours_s:.1f} s (parse, DB, embed, Chroma, profile)",
        ],
        ["ingest ratio (target >= 0.8)", f"{ratio:.2f}", ""],
        [
            "reply overhead p50 (target <= 20 ms)",
            f"{statistics.median(overheads):.1f} ms",
            f"{args.replies} replies, {report.added} posts indexed",
        ],
        ["reply overhead p99", f"{pct(overheads, 0.99):.1f} ms", "everything but the model"],
    ]
    rows += [
        [f"step p50: {step}", f"{statistics.median(v):.1f} ms", f"{len(v)} replies"]
        for step, v in steps.items()
    ]
    print(table(["measure", "value", "notes"], rows))
    if not args.no_write:
        body = (
            f"Measured {machine_line()}, embedding threads = {args.threads}, source "
            f"`{source.name}`. Command: `python -m bench.bench_text_path`. 1-minute load "
            f"average {load_start:.1f} before the replies, {load_end:.1f} after (shared machine)."
            "\n\n"
            + table(["measure", "value", "notes"], rows)
            + "\n\nThe reply overhead uses the scripted test model, so it is the engine's own"
            " cost: inbound checks, query embedding (MiniLM on onnxruntime), one exact search"
            " over the creator's vectors in memory (after a version check against Chroma),"
            " fan memory (SQLite), prompt, candidate checks (the `check` step, with style"
            " ranking) and recording. Fan messages are all different: no embedding cache hits."
        )
        write_section("Text path: ingest and reply overhead", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
