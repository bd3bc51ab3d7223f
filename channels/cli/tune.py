"""`persona tune CREATOR`: train a LoRA voice adapter on the creator's own posts.

Mounted by channels/cli/main.py: `app.command("tune")(tune)`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from channels.cli.common import console, err, load_settings


def tune(
    creator: Annotated[str, typer.Argument(help="Creator id")],
    base: Annotated[
        Path | None,
        typer.Option(
            help="Hugging Face model folder to train on (default: the packaged chat model, "
            "converted once into the data dir)"
        ),
    ] = None,
    max_examples: Annotated[
        int, typer.Option(min=8, help="Use at most N of the creator's posts (cost budget)")
    ] = 400,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="Stop after N optimizer steps (cost budget)")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 2,
    top_layers: Annotated[
        int, typer.Option(min=1, help="LoRA on the last N decoder layers only (cheaper)")
    ] = 4,
    rank: Annotated[int, typer.Option(min=1, max=256, help="LoRA rank")] = 8,
    learning_rate: Annotated[float, typer.Option(min=1e-6, max=1e-1)] = 1e-3,
    max_answer_tokens: Annotated[int, typer.Option(min=8, max=1024)] = 96,
    mlp: Annotated[
        bool, typer.Option("--mlp/--no-mlp", help="Adapt the MLP projections too")
    ] = True,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact/--fast",
            help="Back-propagate through the prompt's keys/values too (slower on CPU)",
        ),
    ] = False,
    threads: Annotated[
        int | None, typer.Option(min=1, max=256, help="Torch threads (default: CPU cores)")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda if any)")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the latest interrupted training")
    ] = False,
) -> None:
    """Train a voice adapter (LoRA) on the creator's posts; the voice evaluation's held-out
    posts are left out. The adapter is stored, versioned, in the data directory."""
    import importlib.util

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if importlib.util.find_spec("peft") is None:
        err.print(
            "[red]persona tune needs peft[/red]: install the extra with "
            "`pip install 'persona-platform[tune]'` (or `.venv/bin/pip install peft`)"
        )
        raise typer.Exit(2)
    from persona.store import Database, DatabaseConfig
    from persona.tune.base_model import BaseModelError
    from persona.tune.job import tune_creator
    from persona.tune.trainer import (
        ATTENTION_TARGETS,
        MLP_TARGETS,
        ResumeMismatch,
        TrainConfig,
        TrainProgress,
    )

    settings = load_settings()
    targets = ATTENTION_TARGETS + (MLP_TARGETS if mlp else ())
    config = TrainConfig(
        rank=rank,
        alpha=2 * rank,
        top_layers=top_layers,
        target_modules=targets,
        learning_rate=learning_rate,
        epochs=epochs,
        max_steps=max_steps,
        max_answer_tokens=max_answer_tokens,
        exact_prefix=exact,
        seed=seed,
        threads=threads or os.cpu_count() or 1,
        device=device,
    )
    try:
        base_dir = base or _packaged_base(settings, err)
    except BaseModelError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    db = Database(DatabaseConfig(settings.resolved_database_url))
    columns = (
        TextColumn("[bold]{task.description:<6}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("load", total=None, info="loading the base model…")

            def report(p: TrainProgress) -> None:
                info = f"loss {p.loss:.3f}" if p.loss is not None else ""
                if p.phase == "eval":
                    info = "validating…" if p.val_loss is None else f"val {p.val_loss:.3f}"
                progress.update(
                    task, description=p.phase, completed=p.step, total=p.total, info=info
                )

            outcome = tune_creator(
                db,
                settings.data_dir,
                creator,
                base_dir,
                config,
                max_examples=max_examples,
                resume=resume,
                progress=report,
            )
    except (LookupError, ResumeMismatch, BaseModelError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted[/yellow]: `persona tune {creator} --resume` continues")
        raise typer.Exit(130) from None
    finally:
        db.dispose()
    manifest, result = outcome.adapter.manifest, outcome.result
    stop = "stopped early" if result.stopped_early else "ran to the end"
    console.print(
        f"adapter [bold]{outcome.adapter.name}[/bold] ({manifest.status}) in {outcome.adapter.path}"
    )
    console.print(
        f"{result.train_examples} training / {result.val_examples} validation examples, "
        f"{result.steps}/{result.total_steps} steps ({stop}) in {result.seconds / 60:.1f} min"
    )
    console.print(
        f"validation loss {_fmt(manifest.initial_val_loss)} (base) -> "
        f"{_fmt(manifest.val_loss)} (kept: step {result.best_step})"
    )


def _packaged_base(settings, err) -> Path:  # noqa: ANN001 - Settings and a rich Console
    from persona.llm.packaged_model import QWEN_CODER_05B_Q4, assemble_packaged_model
    from persona.tune.base_model import ensure_hf_base, hf_base_dir

    if settings.llm_model_path is not None:
        gguf, sha = settings.llm_model_path, None
    else:
        gguf, sha = assemble_packaged_model(settings.models_dir), QWEN_CODER_05B_Q4.sha256
    if not (hf_base_dir(settings.models_dir, gguf) / "config.json").is_file():
        err.print("converting the chat model for training (once, about a minute)…")
    return ensure_hf_base(gguf, settings.models_dir, sha)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
