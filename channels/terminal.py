"""The terminal that commands and evaluation runs write to: results on stdout, progress
and problems on stderr. One pair of consoles for the process, so the command line and the
runners it calls (the red team, the demo loader) share one output."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from channels.services import Platform
    from ingest.pipeline import IngestReport

console = Console()
err = Console(stderr=True)


def progress_bars() -> Progress:
    """Progress bars on stderr, kept on screen once done."""
    return Progress(
        TextColumn("[bold]{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def ingest_with_progress(services: Platform, path: Path, **kwargs: Any) -> IngestReport:
    """Ingest with one progress bar per stage."""
    from ingest.pipeline import ingest_file

    with progress_bars() as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total or None)
            progress.update(tasks[stage], completed=done, total=total or None)

        return ingest_file(services.ingestor(), path, progress=report, **kwargs)


def print_ingest_report(report: IngestReport) -> None:
    table = Table(title=f"Ingested {report.source}")
    for column in ("creator", "parsed", "added", "duplicates"):
        table.add_column(column, justify="right" if column != "creator" else "left")
    for creator, stats in sorted(report.creators.items()):
        table.add_row(creator, str(stats.parsed), str(stats.added), str(stats.duplicates))
    console.print(table)
    console.print(
        f"{report.added} new post{'' if report.added == 1 else 's'} of {report.parsed} in "
        f"{report.seconds:.1f} s ({len(report.creators)} "
        f"creator{'' if len(report.creators) == 1 else 's'})"
    )
