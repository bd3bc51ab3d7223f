r"""`persona card export|import`: a creator's persona as a Character Card V2 (SillyTavern).

persona card export --creator ana --out ana.card.json
persona card import ana.card.json --creator ana-copy
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from channels.cli.common import console, err, open_services

card_app = typer.Typer(
    help="Export a creator's persona as a Character Card V2 (JSON or PNG), or create a "
    "creator from one.",
    no_args_is_help=True,
)


@card_app.command("export")
def export_card(
    creator: Annotated[str, typer.Option(help="The creator's id")],
    out: Annotated[
        Path | None,
        typer.Option(help="Write here (.json, or .png for a PNG card); default: print JSON"),
    ] = None,
) -> None:
    """Write the creator's card: voice summary, greeting, boundaries, example replies."""
    from channels.cards import build_card

    with open_services() as services:
        try:
            card = build_card(services.db, creator.strip().lstrip("@").lower())
        except LookupError as exc:
            err.print(f"[red]cannot export:[/red] {exc} (see `persona creators`)")
            raise typer.Exit(1) from None
    if out is None:
        console.out(json.dumps(card, ensure_ascii=False, indent=2), highlight=False)
        return
    if out.suffix.lower() == ".png":
        from channels.card_png import card_to_png

        out.write_bytes(card_to_png(card))
    else:
        out.write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    err.print(f"wrote {out} ({len(card['data']['mes_example'].split('<START>')) - 1} examples)")


@card_app.command("import")
def import_card(
    path: Annotated[Path, typer.Argument(help="A Character Card: V2 or V1 JSON, or PNG")],
    creator: Annotated[str, typer.Option(help="Id of the new creator to create")],
) -> None:
    """Create a new creator from a card; its example replies become their first posts."""
    from channels.card_import import (
        CardError,
        card_persona,
        import_persona,
        new_creator_id,
        read_card_file,
    )

    try:
        creator_id = new_creator_id(creator)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--creator") from None
    if not path.exists():
        err.print(f"[red]no such file:[/red] {path}")
        raise typer.Exit(2)
    try:
        persona = card_persona(read_card_file(path), str(path))
    except CardError as exc:
        err.print(f"[red]cannot import:[/red] {exc}\nNothing was written.", highlight=False)
        raise typer.Exit(1) from None
    with open_services() as services:
        try:
            result = import_persona(services, persona, creator_id, path.name)
        except FileExistsError as exc:
            err.print(f"[red]cannot import:[/red] {exc}\nNothing was written.")
            raise typer.Exit(1) from None
    upgraded = " (a V1 card, upgraded)" if persona.upgraded_from_v1 else ""
    console.print(
        f"created {result.creator_id} ({result.name}){upgraded}: {result.posts_added} example "
        f"repl{'y' if result.posts_added == 1 else 'ies'} ingested as posts"
    )
    if not result.has_profile:
        console.print(
            f"No voice profile yet: add posts with `persona ingest FILE --creator {creator_id}`."
        )
