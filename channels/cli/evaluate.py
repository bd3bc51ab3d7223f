"""`persona eval ...`: measure the AI double. `voice` and `answers` are here; `overlap` and
`selection` have modules of their own (mounted by channels/cli/main.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from channels.cli.common import console, err, open_services, progress_bars

eval_app = typer.Typer(
    help="Measure the AI double: how much it sounds like the creator, how often fans get answers."
)


def _eval_tuned(
    chosen: list[str] | None,
    per_creator: int,
    candidates: int | None,
    out: Path | None,
    activate: bool,
) -> None:
    import json
    import math

    from channels.evaluation.voice import run_tuned_comparison

    def pct(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.0%}"

    with open_services() as services, progress_bars() as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage[:12], total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            comparisons, accuracy = run_tuned_comparison(
                services, chosen, per_creator, candidates, report, activate=activate
            )
        except (LookupError, ValueError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    table = Table(title="Voice adapters: base pipeline vs tuned (same held-out fan messages)")
    for column in ("adapter", "attribution base", "tuned", "style dist base", "tuned", "copy"):
        table.add_column(column, justify="left" if column == "adapter" else "right")
    table.add_column("decision")
    for comp in comparisons:
        table.add_row(
            comp.adapter,
            pct(comp.base.attribution),
            pct(comp.tuned.attribution),
            f"{comp.base.style_distance:.2f}",
            f"{comp.tuned.style_distance:.2f}",
            pct(comp.tuned.copy_rate),
            f"{comp.decision}: {comp.reason}",
        )
    console.print(table)
    console.print(f"judge accuracy on real held-out posts: {pct(accuracy)}")
    if out:
        payload = {"judge_accuracy": accuracy, "comparisons": [c.to_dict() for c in comparisons]}
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")


@eval_app.command("voice")
def eval_voice(
    creators_csv: Annotated[
        str | None, typer.Option("--creators", help="Comma-separated ids (default: all)")
    ] = None,
    per_creator: Annotated[int, typer.Option(min=1, max=200, help="Fan messages each")] = 20,
    candidates: Annotated[int | None, typer.Option(min=1, max=8)] = None,
    out: Annotated[Path | None, typer.Option(help="Write the full report as JSON")] = None,
    tuned: Annotated[
        bool,
        typer.Option(
            "--tuned",
            help="Compare each creator's newest candidate voice adapter (persona tune) with "
            "the base pipeline; activate it only if it wins",
        ),
    ] = False,
    activate: Annotated[
        bool, typer.Option("--activate/--no-activate", help="With --tuned: apply the decision")
    ] = True,
) -> None:
    """Hold out part of each creator's posts, answer fan messages, and score the voice."""
    import math

    from channels.evaluation.voice import run_voice_eval

    chosen = [c.strip() for c in creators_csv.split(",")] if creators_csv else None
    if tuned:
        _eval_tuned(chosen, per_creator, candidates, out, activate)
        return
    with open_services() as services, progress_bars() as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage[:12], total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            result = run_voice_eval(services, chosen, per_creator, candidates, report)
        except LookupError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None

    def pct(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.0%}"

    table = Table(title="Voice evaluation (attribution by a function-word + compression judge)")
    for column in (
        "creator",
        "replies",
        "attribution",
        "real posts",
        "style dist",
        "real dist",
        "copy rate",
    ):
        table.add_column(column, justify="right" if column != "creator" else "left")
    for c in result.creators:
        table.add_row(
            c.creator_id,
            str(c.replies),
            pct(c.attribution),
            pct(c.real_attribution),
            f"{c.style_distance:.2f}",
            f"{c.real_style_distance:.2f}",
            pct(c.copy_rate),
        )
    table.add_row(
        "mean",
        "",
        pct(result.mean_attribution),
        pct(result.mean_real_attribution),
        "",
        "",
        pct(result.mean_copy_rate),
    )
    console.print(table)
    console.print(
        f"judge accuracy on real held-out posts: {pct(result.judge_accuracy)} "
        f"(chance {pct(result.chance)})"
    )
    if out:
        import json

        payload = {
            "judge_accuracy": result.judge_accuracy,
            "chance": result.chance,
            "creators": [c.to_dict() for c in result.creators],
        }
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")


@eval_app.command("answers")
def eval_answers(
    creator: Annotated[
        list[str] | None,
        typer.Option(help="A creator of the set (repeat the option); default: all of them"),
    ] = None,
    split: Annotated[str, typer.Option(help="Fan messages: dev, holdout or all")] = "dev",
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Only N messages per creator, spread over kinds and languages"),
    ] = None,
    channel: Annotated[
        str, typer.Option(help="space (streamed, with time to first token) or dm")
    ] = "space",
    concurrency: Annotated[
        int, typer.Option(min=1, max=8, help="Requests in flight (model server slots)")
    ] = 1,
    out: Annotated[Path | None, typer.Option(help="Write every reply and verdict as JSON")] = None,
    benchmarks: Annotated[
        bool, typer.Option(help="Write the figures into BENCHMARKS.md (source checkout only)")
    ] = False,
    with_redteam: Annotated[
        bool,
        typer.Option(
            "--redteam/--no-redteam",
            help="Also run the red team in the same process (same services, same model)",
        ),
    ] = False,
    redteam_limit: Annotated[
        int | None,
        typer.Option(min=1, help="With --redteam: only N items of each red-team set"),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Eight everyday messages for each --creator (any creator id)"),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            help="Exit 1 when useful < 90% overall or < 80% for a creator, language match < 95%, "
            "or a red-team leak counter > 0"
        ),
    ] = False,
) -> None:
    """Send ordinary fan messages through the real engine: how often fans get a real answer,
    in their language, and how fast (with --redteam, beside the red team's figures)."""
    import shlex

    from channels.evaluation.answers import CHANNELS, missed, render, run_answers, write_benchmarks
    from channels.evaluation.report import SourceCheckoutNeeded

    if channel not in CHANNELS:
        err.print(f"[red]unknown channel {channel!r}[/red]: choose {', '.join(CHANNELS)}")
        raise typer.Exit(2)
    if split not in ("dev", "holdout", "all"):
        err.print(f"[red]unknown split {split!r}[/red]: choose dev, holdout or all")
        raise typer.Exit(2)
    redteam_report = None
    with open_services() as services:
        with err.status("starting the model…"):
            _ = services.engine
        with progress_bars() as progress:
            tasks: dict[str, int] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage[:12], total=total or None)
                progress.update(tasks[stage], completed=done, total=total or None)

            try:
                result = run_answers(
                    services,
                    creators=creator or None,
                    split=split,
                    limit=limit,
                    channel=channel,
                    concurrency=concurrency,
                    quick=quick,
                    progress=report,
                )
                if with_redteam:
                    from channels.evaluation.redteam.runner import run_redteam

                    redteam_report = run_redteam(
                        services, limit=redteam_limit, concurrency=concurrency, progress=report
                    )
            except (FileNotFoundError, LookupError, ValueError) as exc:
                err.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from None
    for table in render(result):
        console.print(table)
    if redteam_report is not None:
        from channels.evaluation.redteam.rendering import render as render_redteam

        for table in render_redteam(redteam_report):
            console.print(table)
    console.print(f"{result.run['seconds']:.0f} s for {len(result.records)} fan messages")
    if out:
        payload = result.to_dict()
        if redteam_report is not None:
            payload["redteam"] = redteam_report.to_dict()
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")
    if benchmarks:
        command = "persona " + shlex.join(sys.argv[1:]) if len(sys.argv) > 1 else "persona"
        try:
            titles = write_benchmarks(result, command, redteam_report)
        except SourceCheckoutNeeded:
            err.print("[red]--benchmarks needs a source checkout[/red] (bench/ is not installed)")
            raise typer.Exit(1) from None
        console.print(f"section(s) {', '.join(map(repr, titles))} written to BENCHMARKS.md")
    if check and (problems := missed(result, redteam_report)):
        for problem in problems:
            err.print(f"[red]missed[/red] {problem}")
        raise typer.Exit(1)
