"""Benchmark LoRA voice tuning: minutes per 1,000 training examples with the defaults.

Runs the real training loop (`persona.tune.trainer.train_lora`) for a few optimizer steps on
a creator's real examples and extrapolates from the time per example (said so in the output):

    PERSONA_DATA_DIR=/tmp/evaldata python bench/bench_tune.py --creator khloekardashian \
        --base /tmp/vllm-model/qwen2.5-0.5b-instruct [--steps 4] [--threads 1] [--write]

On a GPU machine without weights, `--random-init` builds a randomly initialised model of the
base's exact architecture from its config.json (+ tokenizer files), which costs the same.
Without a data dir, `--synthetic` makes examples of typical length (a ~330-token system prompt,
a short fan message and a ~20-token reply).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from persona.tune.dataset import TrainingExample, TuneDataset, reply_user_message  # noqa: E402
from persona.tune.trainer import TrainConfig, TrainProgress, train_lora  # noqa: E402

TITLE = "Voice tuning (LoRA)"


def synthetic_dataset(n: int) -> TuneDataset:
    system = ("You are the AI double of Camille, a content creator. " * 3) + (
        "How Camille writes: short replies, lots of exclamation marks, emoji about one reply "
        "in five, normal capitalisation, rarely hashtags. " * 12
    )
    examples = [
        TrainingExample(
            system,
            reply_user_message("Camille", f"Hey! What do you think about recipe {i}?"),
            f"Omg yes!! recipe {i} is my favourite, try it with lemon zest this weekend 🍋",
            "reply",
        )
        for i in range(n)
    ]
    return TuneDataset(examples[: n - 8], examples[n - 8 :])


def real_dataset(data_dir: Path, creator: str, n: int) -> TuneDataset:
    from persona.store import Database, DatabaseConfig
    from persona.tune.job import creator_dataset

    db = Database(DatabaseConfig(f"sqlite:///{data_dir / 'persona.db'}"))
    try:
        return creator_dataset(db, creator, max_examples=n)
    finally:
        db.dispose()


def random_base(source: Path, out: Path) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(source))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


def measure(base: Path, dataset: TuneDataset, steps: int, config: TrainConfig) -> dict:
    stamps: list[tuple[int, float, float]] = []

    def progress(p: TrainProgress) -> None:
        if p.phase == "train":
            stamps.append((p.step, time.perf_counter(), time.process_time()))

    with tempfile.TemporaryDirectory(prefix="bench-tune-") as tmp:
        started = time.perf_counter()
        result = train_lora(base, dataset, Path(tmp) / "a", Path(tmp) / "w", config, progress)
        total = time.perf_counter() - started
    # Step 1 pays the one-off prefix pass: time steps 2..N.
    (s0, w0, c0), (s1, w1, c1) = stamps[0], stamps[-1]
    examples = (s1 - s0) * config.grad_accum
    return {
        "wall_per_example": (w1 - w0) / examples,
        "cpu_per_example": (c1 - c0) / examples,
        "examples_timed": examples,
        "run_seconds": total,
        "val_examples": result.val_examples,
        "initial_val_loss": result.initial_val_loss,
        "best_val_loss": result.best_val_loss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="Hugging Face model folder")
    parser.add_argument("--creator", help="Creator id in PERSONA_DATA_DIR's database")
    parser.add_argument("--synthetic", action="store_true", help="Examples of typical length")
    parser.add_argument("--random-init", action="store_true", help="Random weights, same arch")
    parser.add_argument("--steps", type=int, default=4, help="Optimizer steps to time")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default=None)
    parser.add_argument("--exact", action="store_true", help="Exact prefix gradients (slower)")
    parser.add_argument("--write", action="store_true", help="Write BENCHMARKS.md's section")
    args = parser.parse_args()

    n = args.steps * TrainConfig().grad_accum + 8
    if args.synthetic or not args.creator:
        dataset = synthetic_dataset(n + 8)
    else:
        data_dir = Path(os.environ.get("PERSONA_DATA_DIR", ""))
        dataset = real_dataset(data_dir, args.creator, n + 8)
    dataset.validation = dataset.validation[:4]
    config = TrainConfig(
        max_steps=args.steps,
        eval_every=10_000,
        threads=args.threads,
        device=args.device,
        exact_prefix=args.exact,
    )
    with tempfile.TemporaryDirectory(prefix="bench-base-") as tmp:
        base = random_base(args.base, Path(tmp)) if args.random_init else args.base
        figures = measure(base, dataset, args.steps, config)
    from persona.tune.trainer import resolve_device

    device = resolve_device(args.device)
    per_1000 = figures["wall_per_example"] * 1000 / 60
    cpu_1000 = figures["cpu_per_example"] * 1000 / 60
    mode = "exact" if args.exact else "cached prefix"
    print(f"device {device}, {args.threads} threads, {mode}, {figures['examples_timed']} timed")
    print(
        f"wall {figures['wall_per_example']:.2f} s/example -> {per_1000:.1f} min per 1,000 "
        f"examples (one epoch, extrapolated); CPU time {cpu_1000:.1f} min per 1,000"
    )
    if args.write:
        from bench.report import machine_line, table, write_section

        body = (
            f"{machine_line()}; device {device}; defaults (LoRA r=8 on attention + MLP of the "
            "top 4 layers, cached prompt prefix, grad_accum 4); extrapolated from "
            f"{figures['examples_timed']} timed examples.\n\n"
            + table(
                ["device", "threads", "s/example (wall)", "min per 1,000 (wall)", "CPU min"],
                [
                    [
                        device,
                        str(args.threads),
                        f"{figures['wall_per_example']:.2f}",
                        f"{per_1000:.1f}",
                        f"{cpu_1000:.1f}",
                    ]
                ],
            )
        )
        write_section(TITLE, body)


if __name__ == "__main__":
    main()
