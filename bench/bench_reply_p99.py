"""Where the reply overhead's p99 comes from: the same replies as bench_text_path (300, the
creators of tweets_dev.csv in turn, the scripted model), with each creator's first reply
told apart from the rest.

    python -m bench.bench_reply_p99
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(round(q * (len(ordered) - 1)))]


def main() -> None:
    sys.path.insert(0, str(REPO))
    import tests.doubles  # noqa: F401 - the scripted model isolates the engine's own cost
    from bench.bench_text_path import DEFAULT_CSV, FAN_MESSAGES
    from channels.services import Services
    from channels.settings import Settings
    from ingest.pipeline import ingest_file
    from persona.engine import Channel, ReplyRequest

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            llm_backend="scripted",
            embed_threads=1,
            log_level="WARNING",
        )
        services = Services.build(settings)
        services.embeddings.warm_up()
        report = ingest_file(services.ingestor(), DEFAULT_CSV, creator_column="name")
        creators = sorted(report.creators)
        engine = services.engine
        overheads: list[float] = []
        load = os.getloadavg()[0]

        async def replies() -> None:
            for i in range(300):
                request = ReplyRequest(
                    creators[i % len(creators)],
                    f"{FAN_MESSAGES[i % len(FAN_MESSAGES)]} ({i})",
                    Channel.DM,
                    fan_handle=f"fan{i % 50}",
                )
                t = (await engine.reply(request)).timings_ms
                overheads.append(t["total"] - t.get("generate", 0.0))

        asyncio.run(replies())
        services.close()
    first, rest = overheads[: len(creators)], overheads[len(creators) :]
    print(f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}; {len(creators)} creators")
    print("each creator's first reply (ms):", [round(x, 1) for x in first])
    print(f"all {len(overheads)}: p50 {pct(overheads, 0.5):.1f} p99 {pct(overheads, 0.99):.1f}")
    print(f"without the first replies: p50 {pct(rest, 0.5):.1f} p99 {pct(rest, 0.99):.1f}")


if __name__ == "__main__":
    main()
