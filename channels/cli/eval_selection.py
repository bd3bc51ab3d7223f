"""`persona eval selection`: which group messages, comments and live questions the double
chooses to answer, measured on labelled threads (channels/evaluation/selection.py).

Mounted by channels/cli/main.py: `eval_app.command("selection")(selection)`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

TARGET = 0.95  # precision and recall per channel (issue 21)


def selection(
    channel: Annotated[
        list[str] | None,
        typer.Option(help="group, comment or live (repeat the option); default: all three"),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Threads to run (JSON, the format of the packaged set)"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write figures and misses as JSON")] = None,
    show_misses: Annotated[bool, typer.Option("--misses", help="List every miss")] = False,
    check: Annotated[
        bool,
        typer.Option(
            help=f"Exit 1 when precision or recall < {TARGET} on a channel, or a "
            "share or cap does not hold"
        ),
    ] = False,
) -> None:
    """Run labelled group chats, comment threads and live chats through the real selection
    (inbox worker, live intake and queue) with an instant model: precision and recall of
    "should the double answer this", the AI's share of each group, the per-post caps."""
    from channels.evaluation.selection import CHANNELS, run_selection, summary_lines

    console = Console()
    chosen = channel or list(CHANNELS)
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown:
        Console(stderr=True).print(f"[red]unknown channel(s) {unknown}[/red]: {CHANNELS}")
        raise typer.Exit(2)
    report = run_selection(data, chosen)
    table = Table(title="Choosing what to answer (stub model, real selection)")
    for column in ("channel", "threads", "messages", "precision", "recall", "withheld"):
        table.add_column(column)
    for name in CHANNELS:
        if (fig := report.figures.get(name)) is None:
            continue
        wanted = fig.true_positives + fig.false_negatives
        table.add_row(
            name,
            str(fig.threads),
            str(fig.messages),
            f"{fig.precision:.3f} ({fig.true_positives}/{fig.answered})",
            f"{fig.recall:.3f} ({fig.true_positives}/{wanted})",
            str(fig.withheld_by_limits),
        )
    console.print(table)
    for line in summary_lines(report)[len(report.figures) :]:
        console.print(line, markup=False, soft_wrap=True)
    if show_misses:
        for miss in report.misses():
            kind = "answered, should not" if miss.answered else "missed"
            console.print(
                f"{kind}: {miss.thread}#{miss.index} {miss.text!r} ({miss.reason})", markup=False
            )
    console.print(f"{report.seconds:.1f} s")
    if out:
        out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")
    if check:
        low = [
            f.channel for f in report.figures.values() if f.precision < TARGET or f.recall < TARGET
        ]
        broken = [s.thread for s in report.shares if not s.held]
        broken += [c.thread for c in report.caps if not (c.held and c.slots_to_sent_replies)]
        if low or broken:
            Console(stderr=True).print(f"[red]below target: {low}; limits: {broken}[/red]")
            raise typer.Exit(1)
