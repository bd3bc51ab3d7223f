"""`persona avatar ...`: the avatar studio on the command line.

persona avatar styles                                  the catalog, one style id per line
persona avatar a.jpg b.jpg c.jpg --styles x,y --out DIR  make avatars into DIR
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from channels.avatar_config import avatar_config
from channels.cli.common import console, err
from channels.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from avatar import AvatarService


class _RunByDefault(TyperGroup):
    """`persona avatar SELFIES...` means `persona avatar run SELFIES...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


avatar_app = typer.Typer(
    cls=_RunByDefault,
    help="Avatar studio: turn 3-10 selfies into painted avatars. "
    "`persona avatar styles` lists the styles; `persona avatar SELFIES... --styles a,b --out DIR`.",
    no_args_is_help=True,
)


@contextmanager
def _service() -> Iterator[AvatarService]:
    from avatar import AvatarBase, AvatarService
    from persona.store import Database, DatabaseConfig

    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the field and the problem
        err.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None
    settings.ensure_dirs()
    db = Database(DatabaseConfig(settings.resolved_database_url))
    # The CLI may run before any server has migrated the database.
    AvatarBase.metadata.create_all(db.engine)
    service = AvatarService(avatar_config(settings), db.engine)
    try:
        service.sweep()
        yield service
    finally:
        service.stop()
        db.dispose()


@avatar_app.command("styles")
def styles() -> None:
    """List the styles: each line starts with the style id, then its description."""
    with _service() as service:
        catalog = service.styles()
        reason = service.availability()
    width = max(len(s.id) for s in catalog)
    for style in catalog:
        console.print(
            f"{style.id:<{width}}  {style.name}: {style.description} ({style.technique})",
            highlight=False,
            soft_wrap=True,
        )
    if reason:
        err.print(f"[yellow]avatars cannot be made here yet:[/yellow] {reason}")


@avatar_app.command("run")
def run(
    selfies: Annotated[list[Path], typer.Argument(help="3-10 photos of yourself")],
    styles: Annotated[str, typer.Option("--styles", help="2-5 style ids, comma-separated")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the avatars")],
    creator: Annotated[
        str, typer.Option(help="Whose avatars (the daily limit is per creator)")
    ] = "me",
    visible_mark: Annotated[
        bool, typer.Option("--visible-mark/--no-visible-mark", help="Add a visible AI badge")
    ] = False,
) -> None:
    """Check the selfies, make the avatars with a progress bar, and write them to --out."""
    from avatar import AvatarError, Upload

    missing = [str(p) for p in selfies if not p.is_file()]
    if missing:
        err.print(f"[red]no such file:[/red] {', '.join(missing)}")
        raise typer.Exit(2)
    uploads = [Upload(p.name, p.read_bytes()) for p in selfies]
    chosen = [s.strip() for s in styles.split(",") if s.strip()]
    with _service() as service:
        try:
            with err.status("checking your photos…"):
                submission = service.submit(creator, uploads, chosen, visible_mark=visible_mark)
        except AvatarError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        _print_verdicts(submission)
        if submission.job is None:
            raise typer.Exit(1)
        job_id = submission.job.id
        with Progress(
            TextColumn("[bold]avatars"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[made]}/{task.fields[wanted]} made"),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            task = progress.add_task(
                "avatars", total=100, made=0, wanted=submission.job.images_total
            )

            def report(status) -> None:  # avatar.JobStatus
                progress.update(task, completed=status.percent, made=status.images_done)

            service.run_pending(on_progress=report)
        status = service.status(creator, job_id)
        if status.state.value != "done":
            err.print(f"[red]{status.message or status.state.value}[/red]")
            raise typer.Exit(1)
        out.mkdir(parents=True, exist_ok=True)
        outputs = service.outputs(creator, job_id)
        for output in outputs:
            source = service.output_file(creator, output.id)
            shutil.copyfile(source, out / f"{output.rank:02d}-{output.style}-{output.id[:8]}.jpg")
    console.print(f"{len(outputs)} avatars written to {out}")
    if status.message:
        console.print(status.message)
    if status.outputs_expire_at:
        console.print(
            "The studio has deleted its copies of your photos (your own files are untouched); "
            f"its copies of these avatars are deleted on "
            f"{status.outputs_expire_at:%Y-%m-%d %H:%M} UTC unless you keep them."
        )


def _print_verdicts(submission) -> None:  # avatar.Submission
    table = Table("photo", "verdict", "why", title="Photo checks")
    for verdict in submission.verdicts:
        why = " ".join(r.message for r in verdict.reasons) or "-"
        table.add_row(verdict.filename, "ok" if verdict.accepted else "[red]not used[/red]", why)
    err.print(table)
    err.print(submission.message)
