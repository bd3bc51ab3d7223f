"""`persona eval overlap`: near-duplicates between the evaluation sets and what the safety
layers learn from or match (persona.evaluation.overlap). Exit status 1 when an evaluation
item has one, so CI can run it as a gate.

Mounted by channels/cli/main.py: `eval_app.command("overlap")(overlap)`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer


def overlap(
    out: Annotated[Path | None, typer.Option(help="Write every overlap as JSON")] = None,
    show: Annotated[int, typer.Option(min=0, help="Overlaps to print, per set")] = 5,
    root: Annotated[
        Path | None,
        typer.Option(help="Source checkout holding tests/data (default: this package's)"),
    ] = None,
    record_blind: Annotated[
        bool,
        typer.Option(
            help="Record the blind split's overlaps as known (tests/data/blind_overlaps.json): "
            "the split is frozen, so they are reported, not fixed"
        ),
    ] = False,
) -> None:
    """Report evaluation items that near-duplicate training data, lexicons or few-shots."""
    from rich.console import Console
    from rich.table import Table

    from persona.evaluation import overlap_sets
    from persona.evaluation.overlap_sets import PACKAGE, check, unexpected

    console = Console()
    logging.getLogger("persona.safety").setLevel(logging.ERROR)
    base = root or PACKAGE
    if not (base / "tests" / "data").is_dir():
        Console(stderr=True).print(
            f"[red]no tests/data under {base}[/red]: run from a source checkout or pass --root"
        )
        raise typer.Exit(2)
    report = check(base)
    table = Table(title="Evaluation sets against training, lexicon and few-shot data")
    for column in ("set", "items", "near-duplicates", "of"):
        table.add_column(column, justify="left" if column in ("set", "of") else "right")
    for name, total, dirty, refs in report.rows():
        table.add_row(name, str(total), str(dirty) if not dirty else f"[red]{dirty}[/red]", refs)
    console.print(table)
    console.print("references: " + ", ".join(f"{k} {v}" for k, v in report.references.items()))
    shown: dict[str, int] = {}
    for o in report.overlaps:
        if shown.get(o.item.source, 0) < show:
            shown[o.item.source] = shown.get(o.item.source, 0) + 1
            console.print(
                f"{o.item.source} {o.item.id}: {o.item.text!r} ~ {o.match.source} "
                f"{o.match.id}: {o.match.text!r} (Jaccard {o.jaccard:.2f}, run {o.run})"
            )
    if out:
        out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")
    if record_blind:
        known = base / overlap_sets.KNOWN_BLIND_FILE
        record = overlap_sets.record_blind(report, base)
        known.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        console.print(f"blind-split overlaps recorded in {known}")
    new = unexpected(report, base)
    if new:
        console.print(f"[red]{len(new)} near-duplicates not recorded as known[/red]")
        raise typer.Exit(1)
