"""`persona connect`: connect a creator's double to a chat network (a Twitch channel's or a
YouTube live chat into a live stream, a Matrix account's DMs and group rooms into the inbox),
list, disconnect.

The spec is stored with the creator; the running server (`persona serve`) connects within
PERSONA_CONNECTOR_POLL_S seconds and reconnects on its own. The bot's token is read by the
server from PERSONA_TWITCH_TOKENS / PERSONA_MATRIX_TOKENS / PERSONA_YOUTUBE_TOKENS (never
from the command line: shell history)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from channels.cli.common import console, err, open_services
from channels.connectors import store
from channels.connectors.base import ConnectorSpec
from channels.connectors.matrix.spec import MatrixSpec
from channels.connectors.twitch.spec import TWITCH_IRC, TwitchSpec
from channels.connectors.youtube.spec import YOUTUBE_API, YouTubeSpec

connect_app = typer.Typer(
    help="Connect the AI double to chat networks (Twitch chat, YouTube live chat, Matrix).",
    no_args_is_help=True,
)


@connect_app.command("twitch")
def twitch(
    creator: Annotated[str, typer.Argument(help="Creator id")],
    channel: Annotated[str, typer.Argument(help="Twitch channel, e.g. '#somestreamer'")],
    nick: Annotated[
        str, typer.Option(help="The bot account's login (its token: PERSONA_TWITCH_TOKENS)")
    ],
    stream: Annotated[str, typer.Option(help="Live stream id the chat feeds")] = "twitch",
    server: Annotated[str, typer.Option(help="IRC server")] = TWITCH_IRC,
    port: Annotated[int, typer.Option(help="IRC port")] = 6697,
    tls: Annotated[bool, typer.Option("--tls/--no-tls", help="TLS (Twitch: on)")] = True,
) -> None:
    """Answer a Twitch channel's chat as the creator's live stream."""
    spec = _valid(
        TwitchSpec, channel=channel, nick=nick, stream_id=stream, server=server, port=port, tls=tls
    )
    has_token = _save(creator, spec, lambda settings: nick in settings.twitch_tokens)
    console.print(f"stored {spec.id}: {spec.remote()} -> live stream {spec.stream_id!r}")
    if not has_token:
        err.print(
            f"[yellow]no token for {nick!r} in PERSONA_TWITCH_TOKENS[/yellow]: the server "
            "connects without one (Twitch then refuses the login)",
            highlight=False,
        )
    err.print("a running `persona serve` connects within PERSONA_CONNECTOR_POLL_S seconds")


@connect_app.command("matrix")
def matrix(
    creator: Annotated[str, typer.Argument(help="Creator id")],
    user_id: Annotated[
        str,
        typer.Argument(
            help="The bot's Matrix id, e.g. '@camille-ai:example.org' (its token: "
            "PERSONA_MATRIX_TOKENS)"
        ),
    ],
    homeserver: Annotated[str, typer.Option(help="Homeserver URL, e.g. https://example.org")],
) -> None:
    """Answer the DMs (rooms of two) and group rooms of a Matrix account."""
    spec = _valid(MatrixSpec, user_id=user_id, homeserver=homeserver)
    has_token = _save(creator, spec, lambda settings: user_id in settings.matrix_tokens)
    console.print(f"stored {spec.id}: {spec.remote()} -> the DM and group channels")
    if not has_token:
        err.print(
            f"[yellow]no token for {user_id!r} in PERSONA_MATRIX_TOKENS[/yellow]: the server "
            "does not connect it until there is one",
            highlight=False,
        )
    err.print("a running `persona serve` connects within PERSONA_CONNECTOR_POLL_S seconds")


@connect_app.command("youtube")
def youtube(
    creator: Annotated[str, typer.Argument(help="Creator id")],
    live_chat_id: Annotated[
        str, typer.Argument(help="The broadcast's liveChatId (liveBroadcasts.list snippet)")
    ],
    stream: Annotated[str, typer.Option(help="Live stream id the chat feeds")] = "youtube",
    account: Annotated[
        str | None,
        typer.Option(help="Key of the token in PERSONA_YOUTUBE_TOKENS (default: the creator id)"),
    ] = None,
    api_base: Annotated[str, typer.Option(help="YouTube Data API base URL")] = YOUTUBE_API,
) -> None:
    """Answer a YouTube live chat as the creator's live stream (Data API polling)."""
    spec = _valid(
        YouTubeSpec,
        live_chat_id=live_chat_id,
        stream_id=stream,
        account=account,
        api_base=api_base,
    )
    key = account or creator
    has_token = _save(creator, spec, lambda settings: key in settings.youtube_tokens)
    console.print(f"stored {spec.id}: {spec.remote()} -> live stream {spec.stream_id!r}")
    if not has_token:
        err.print(
            f"[yellow]no token for {key!r} in PERSONA_YOUTUBE_TOKENS[/yellow]: the server "
            "does not poll the chat until there is one",
            highlight=False,
        )
    err.print("a running `persona serve` connects within PERSONA_CONNECTOR_POLL_S seconds")


def _valid(model: type[ConnectorSpec], **values: object) -> ConnectorSpec:
    try:
        return model(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err.print(f"[red]invalid connector:[/red] {problems}")
        raise typer.Exit(2) from None


def _save(creator: str, spec: ConnectorSpec, has_token: Callable[[Any], bool]) -> bool:
    """Store the spec; whether the server's settings hold the bot's token."""
    with open_services() as services:
        try:
            store.save(services.db, creator, spec)
        except LookupError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        return has_token(services.settings)


@connect_app.command("list")
def list_connectors(creator: Annotated[str, typer.Argument(help="Creator id")]) -> None:
    """The creator's stored connectors (their live status: GET /api/creators/ID/connectors)."""
    with open_services() as services:
        try:
            specs = store.creator_specs(services.db, creator)
        except LookupError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    table = Table("id", "where", "into")
    for spec in specs:
        table.add_row(
            spec.id,
            spec.remote(),
            f"live stream {spec.stream_id}" if spec.stream_id else spec.feeds,
        )
    console.print(table)


@connect_app.command("remove")
def remove(
    creator: Annotated[str, typer.Argument(help="Creator id")],
    connector_id: Annotated[str, typer.Argument(help="Connector id, e.g. 'twitch:#name'")],
) -> None:
    """Disconnect (the running server leaves the room within PERSONA_CONNECTOR_POLL_S)."""
    with open_services() as services:
        try:
            removed = store.remove(services.db, creator, connector_id)
        except LookupError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    if not removed:
        err.print(f"[red]no connector {connector_id!r}[/red]")
        raise typer.Exit(1)
    console.print(f"removed {connector_id}")
