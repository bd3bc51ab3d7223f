"""`persona reply`: one fan message answered by the creator's AI double."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from channels.cli.common import console, err, open_services

if TYPE_CHECKING:
    from persona.engine import ReplyResult


def reply(
    message: Annotated[str, typer.Argument(help="The fan's message")],
    creator: Annotated[str, typer.Option(help="Creator id")],
    channel: Annotated[str, typer.Option(help="dm, comment, group, live, space")] = "dm",
    fan: Annotated[str | None, typer.Option(help="Fan handle (enables memory)")] = None,
    candidates: Annotated[int | None, typer.Option(min=1, max=8)] = None,
    sources: Annotated[bool, typer.Option("--sources", help="Show retrieved posts")] = False,
) -> None:
    """Answer one fan message as the creator's AI double."""
    from persona.engine import Channel, ReplyRequest, fan_key
    from persona.engine.engine import CreatorNotFound
    from persona.engine.types import CLI_FANS

    with open_services() as services:
        try:
            with err.status("starting the model…"):
                engine = services.engine
            request = ReplyRequest(
                creator,
                message,
                Channel(channel),
                fan_handle=fan_key(CLI_FANS, fan) if fan else None,
                candidates=candidates,
                record=fan is not None,
            )
            with err.status("writing…"):
                result = asyncio.run(engine.reply(request))
        except CreatorNotFound as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    print_result(result, sources)


def print_result(result: ReplyResult, show_sources: bool) -> None:
    label = f" [dim]({result.label})[/dim]" if result.label else ""
    console.print(f"[bold]{result.creator_id}[/bold]{label}: {result.text}")
    if str(result.action) != "send":
        console.print(f"[yellow]{result.action}[/yellow] {result.category}: {result.reason}")
    if show_sources:
        for source in result.sources:
            console.print(f"  [dim]{source.score:.2f} {source.kind}: {source.text[:100]}[/dim]")
    timings = result.timings_ms
    if timings:
        console.print(
            f"[dim]{timings.get('total', 0):.0f} ms total, "
            f"{timings.get('generate', 0):.0f} ms in the model[/dim]"
        )
