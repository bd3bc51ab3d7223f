"""`persona demo`: the demo creator's AI double answering a few fan messages; also what
`persona serve` shows first."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from channels.cli.common import console, err, open_services
from channels.cli.reply import print_result
from channels.demo_creator import ensure_demo

if TYPE_CHECKING:
    from channels.services import Platform

DEMO_MESSAGES = [
    "Coucou Camille ! Tu fais quoi ce week-end ?",
    "Your lemon tart recipe changed my life 🍋 any tips for the crust?",
    "Are you a real person or a bot?",
]


def answer_demo_messages(services: Platform, creator_id: str, messages: list[str]) -> None:
    from persona.engine import ReplyRequest

    with err.status("starting the embedded model…"):
        engine = services.engine

    async def answer_all() -> None:
        for text in messages:
            console.print(f"\n[cyan]fan:[/cyan] {text}")
            result = await engine.reply(ReplyRequest(creator_id, text, record=False))
            print_result(result, False)

    asyncio.run(answer_all())


def where_next(base: str, creator_id: str, name: str, *, serving: bool) -> str:
    """What a newcomer does after the demo: the pages to open and how to get a console
    account (an admin command; nobody signs up on the web)."""
    rows = [] if serving else [("start the platform", "persona serve")]
    rows += [
        ("landing page", f"{base}/"),
        ("chat with the double", f"{base}/space/{creator_id}"),
        ("API docs", f"{base}/docs"),
        ("creator console", f"{base}/console (sign-in; make the account first with"),
        ("", f'persona admin create-creator {creator_id} --name "{name}")'),
    ]
    lines = [f"  {label + ':' if label else '':22} {value}" for label, value in rows]
    return "\nWhere to go next:\n" + "\n".join(lines)


def demo(
    message: Annotated[list[str] | None, typer.Argument(help="Fan messages to answer")] = None,
) -> None:
    """Load the demo creator and show their AI double answering a few fan messages."""
    from ingest.demo import DEMO_DISPLAY_NAME

    with open_services() as services:
        creator_id = ensure_demo(services)
        answer_demo_messages(services, creator_id, message or DEMO_MESSAGES)
        base = f"http://{services.settings.host}:{services.settings.port}"
    err.print(where_next(base, creator_id, DEMO_DISPLAY_NAME, serving=False), highlight=False)
