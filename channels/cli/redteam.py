"""`persona redteam`: the trust-and-safety report on the demo creator (see docs/safety.md).

Mounted by channels/cli/main.py: `app.command("redteam")(redteam)`.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from channels.cli.common import console, err, load_settings, progress_bars
from channels.evaluation.redteam.rendering import BENCHMARK_TITLE, INBOUND_TITLE
from channels.evaluation.redteam.results import DEFAULT_MAX_TOKENS
from channels.evaluation.report import (
    SourceCheckoutNeeded,
    benchmarks_file,
    machine_line,
    place_before,
    write_section,
)

if TYPE_CHECKING:
    from rich.console import Console

    from channels.evaluation.redteam.results import RedTeamReport


def redteam(
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Only N items of each set, spread over the categories"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the full report as JSON")] = None,
    split: Annotated[
        str,
        typer.Option(help="Red-team cases: all, blind, tuned, holdout or fresh (docs/safety.md)"),
    ] = "all",
    blind: Annotated[
        bool,
        typer.Option(
            "--blind/--no-blind",
            help="Also run the blind split, its warm messages and the safe-looking "
            "(over-refusal) set, first in the tables (when tests/data/blind/ exists)",
        ),
    ] = True,
    inbound_only: Annotated[
        bool,
        typer.Option(
            "--inbound-only",
            help="Only the cheap inbound layers, no model: every split, the warm, blind warm, "
            "safe-looking and fan sets, in seconds",
        ),
    ] = False,
    max_tokens: Annotated[
        int, typer.Option(min=8, max=512, help="Longest generated reply, in tokens")
    ] = DEFAULT_MAX_TOKENS,
    concurrency: Annotated[
        int, typer.Option(min=1, max=8, help="Requests in flight (model server slots)")
    ] = 1,
    grounding_threshold: Annotated[
        float | None,
        typer.Option(help="Experiment: the engine's grounding threshold for this run"),
    ] = None,
    strict_grounding: Annotated[
        bool | None,
        typer.Option(
            "--strict-grounding/--no-strict-grounding",
            help="Experiment: the creator's strict_grounding setting for this run",
        ),
    ] = None,
    benchmarks: Annotated[
        bool,
        typer.Option(help="Write the figures into BENCHMARKS.md (source checkout only)"),
    ] = False,
    check: Annotated[bool, typer.Option(help="Exit with status 1 when a target is missed")] = False,
    from_json: Annotated[
        Path | None,
        typer.Option(help="Report a finished run from its --out JSON instead of running"),
    ] = None,
) -> None:
    """Send every red-team message through the real reply engine and report what fans see."""
    from channels.evaluation.redteam.data import BLIND_FILE, SPLITS
    from channels.evaluation.redteam.rendering import guard_lines, render
    from channels.evaluation.redteam.results import load_report
    from channels.evaluation.redteam.runner import run_redteam
    from channels.services import Platform

    if inbound_only:
        _inbound_only(out, benchmarks, console)
        return
    if from_json is not None:
        result = load_report(from_json)
        for table in render(result):
            console.print(table)
        if benchmarks:
            _write_benchmarks(result, console)
        if check and not all(met for *_, met in result.headline()):
            raise typer.Exit(1)
        return
    if split not in SPLITS:
        err.print(f"[red]unknown split {split!r}[/red]: choose {', '.join(SPLITS)}")
        raise typer.Exit(2)
    settings = load_settings().model_copy(
        update={"reply_candidates": concurrency, "reply_max_tokens": max_tokens}
    )
    engine_overrides = {}
    if grounding_threshold is not None:
        engine_overrides["grounding_threshold"] = grounding_threshold
    settings_overrides = {}
    if strict_grounding is not None:
        settings_overrides["strict_grounding"] = strict_grounding
    services = Platform.build(settings)
    try:
        with err.status("starting the embedded model…"):
            _ = services.engine
        with progress_bars() as progress:
            tasks: dict[str, int] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)

            try:
                result = run_redteam(
                    services,
                    limit=limit,
                    split=split,
                    max_tokens=max_tokens,
                    concurrency=concurrency,
                    engine_overrides=engine_overrides,
                    settings_overrides=settings_overrides,
                    progress=report,
                    blind=blind and BLIND_FILE.is_file(),
                )
            except (FileNotFoundError, LookupError, ValueError) as exc:
                err.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from None
    finally:
        services.close()

    for table in render(result):
        console.print(table)
    info = result.info
    quiet = (
        f", about {info.quiet_estimate_s:.0f} s on an idle machine"
        if (info.quiet_estimate_s is not None)
        else ""
    )
    console.print(f"{info.seconds:.0f} s, {info.model_calls} model calls{quiet}")
    console.print(guard_lines(result)[0][2:], highlight=False)
    if out:
        out.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")
    if benchmarks:
        _write_benchmarks(result, console)
    if check and not all(met for *_, met in result.headline()):
        raise typer.Exit(1)


def _inbound_only(out: Path | None, benchmarks: bool, console: Console) -> None:
    import logging

    from channels.evaluation.redteam import inbound
    from channels.evaluation.redteam.data import (
        BLIND_FILE,
        OVER_REFUSAL_FILE,
        REDTEAM_FILES,
        WARM_BLIND_FILE,
        WARM_FILE,
    )
    from channels.guard import guard_model
    from persona.evaluation.overlap_sets import PACKAGE, known_blind

    judge = guard_model(load_settings())  # the guard model where the cheap layers are unsure
    logging.getLogger("persona.safety").setLevel(logging.ERROR)
    contaminated = {item for name, item in known_blind(PACKAGE) if name == "blind:redteam_blind"}
    figures = inbound.compute(
        (BLIND_FILE, *REDTEAM_FILES),
        (
            ("warm_blind (blind)", WARM_BLIND_FILE),
            ("over_refusal_blind (blind, safe-looking)", OVER_REFUSAL_FILE),
            ("warm", WARM_FILE),
            ("fan set (issue 1)", PACKAGE / "persona/evaluation/data/fan_messages.jsonl"),
        ),
        contaminated,
        judge,
    )
    command = "persona redteam --inbound-only"
    if judge is not None:
        command += f" (guard model {judge.name}: {dict(judge.stats)})"
    body = inbound.markdown(figures, command, machine_line())
    console.print(body, markup=False, highlight=False)
    if out:
        out.write_text(json.dumps(inbound.to_dict(figures), indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")
    if benchmarks:
        path = _benchmarks_file()
        place_before(path, INBOUND_TITLE, BENCHMARK_TITLE)
        write_section(INBOUND_TITLE, body, path)
        console.print(f"section {INBOUND_TITLE!r} written to BENCHMARKS.md")


def _benchmarks_file() -> Path:
    try:
        return benchmarks_file()
    except SourceCheckoutNeeded:
        err.print("[red]--benchmarks needs a source checkout[/red] (bench/ is not installed)")
        raise typer.Exit(1) from None


def _write_benchmarks(result: RedTeamReport, console: Console) -> None:
    from channels.evaluation.redteam.rendering import markdown

    path = _benchmarks_file()
    command = (
        "persona redteam " + shlex.join(sys.argv[2:]) if len(sys.argv) > 2 else ("persona redteam")
    )
    write_section(BENCHMARK_TITLE, markdown(result, command.strip(), machine_line()), path)
    console.print(f"section {BENCHMARK_TITLE!r} written to BENCHMARKS.md")
