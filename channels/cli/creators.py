"""Commands on a creator's data: `persona ingest`, `creators`, `profile`, `reindex`,
`token`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from channels.cli.common import console, err, open_services, progress_bars
from channels.terminal import ingest_with_progress, print_ingest_report


def ingest(
    path: Annotated[Path, typer.Argument(help="CSV, JSON, JSONL, TikTok export or .txt")],
    creator: Annotated[str | None, typer.Option(help="Creator id for every post")] = None,
    creator_column: Annotated[
        str | None, typer.Option(help="Column/field naming each post's creator")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, json, jsonl, tiktok or text")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name of --creator")] = None,
    text_column: Annotated[str, typer.Option(help="Column/field with the post text")] = "text",
    id_column: Annotated[str, typer.Option(help="Column/field with the post id")] = "id",
    time_column: Annotated[str, typer.Option(help="Column/field with the date")] = "created",
    reply_to_column: Annotated[
        str | None, typer.Option(help="Column/field with the fan message a reply answered")
    ] = None,
) -> None:
    """Import a creator's past posts: clean, de-duplicate, embed, and build the voice profile."""
    from ingest.sources import IngestFormatError

    if not path.exists():
        err.print(f"[red]no such file:[/red] {path}")
        raise typer.Exit(2)
    is_tiktok = fmt == "tiktok"  # a TikTok export names its own user
    if not creator and not creator_column and not is_tiktok:
        err.print("[red]say whose posts these are:[/red] --creator ID or --creator-column COLUMN")
        raise typer.Exit(2)
    columns = {"text_column": text_column, "id_column": id_column, "time_column": time_column}
    if reply_to_column:
        columns["reply_to_column"] = reply_to_column
    with open_services() as services:
        try:
            report = ingest_with_progress(
                services,
                path,
                creator=creator,
                creator_column=creator_column,
                fmt=fmt,
                display_name=name,
                **columns,
            )
        except IngestFormatError as exc:
            err.print(f"[red]cannot ingest:[/red] {exc}\nNothing was written.")
            raise typer.Exit(1) from None
    print_ingest_report(report)


def creators() -> None:
    """List creators and their post counts."""
    from sqlalchemy import func, select

    from persona.store import Creator, Post

    with open_services() as services, services.db.session() as session:
        rows = session.execute(
            select(Creator.id, Creator.display_name, func.count(Post.id))
            .outerjoin(Post, Post.creator_id == Creator.id)
            .group_by(Creator.id)
            .order_by(Creator.id)
        ).all()
    table = Table("creator", "name", "posts")
    for creator_id, display, count in rows:
        table.add_row(creator_id, display, str(count))
    console.print(table)


def profile(
    creator: Annotated[str, typer.Argument(help="Creator id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw profile")] = False,
) -> None:
    """Show a creator's measured voice profile."""
    from persona.store import Creator
    from persona.style import VoiceProfile, render_table

    with open_services() as services, services.db.session() as session:
        row = session.get(Creator, creator)
        data = row.profile if row else None
    if not data:
        err.print(
            f"[red]no profile for {creator!r}[/red]: run `persona ingest ... --creator {creator}`"
        )
        raise typer.Exit(1)
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(render_table(VoiceProfile.from_dict(data)))


def reindex(creator: Annotated[str, typer.Argument(help="Creator id")]) -> None:
    """Rebuild a creator's retrieval index from the database."""
    with open_services() as services, progress_bars() as progress:
        task = progress.add_task("embed", total=None)

        def report(_stage: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        count = services.ingestor().reindex(creator, report)
    console.print(f"re-indexed {count} posts of {creator}")


def token(creator: Annotated[str, typer.Argument(help="Creator id")]) -> None:
    """Issue a new API token for a creator (the previous one stops working)."""
    from channels.deps import new_api_token

    with open_services() as services:
        try:
            value = new_api_token(services, creator)
        except LookupError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(value)
